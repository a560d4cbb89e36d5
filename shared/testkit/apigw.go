package testkit

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// HTTPEvent is an API Gateway HTTP API (payload 2.0) request with its
// members in the order API Gateway sends them (aws-lambda-go's struct
// order differs), for writing sample events.
type HTTPEvent struct {
	Version               string            `json:"version"`
	RouteKey              string            `json:"routeKey"`
	RawPath               string            `json:"rawPath"`
	RawQueryString        string            `json:"rawQueryString"`
	Headers               map[string]string `json:"headers"`
	QueryStringParameters map[string]string `json:"queryStringParameters,omitempty"`
	RequestContext        struct {
		AccountID    string `json:"accountId"`
		APIID        string `json:"apiId"`
		DomainName   string `json:"domainName"`
		DomainPrefix string `json:"domainPrefix"`
		HTTP         struct {
			Method    string `json:"method"`
			Path      string `json:"path"`
			Protocol  string `json:"protocol"`
			SourceIP  string `json:"sourceIp"`
			UserAgent string `json:"userAgent"`
		} `json:"http"`
		RequestID string `json:"requestId"`
		RouteKey  string `json:"routeKey"`
		Stage     string `json:"stage"`
		Time      string `json:"time"`
		TimeEpoch int64  `json:"timeEpoch"`
	} `json:"requestContext"`
	Body            string `json:"body,omitempty"` // API Gateway sends none for an empty body
	IsBase64Encoded bool   `json:"isBase64Encoded"`
}

// HTTPRequest describes a request to the sample HTTP API.
type HTTPRequest struct {
	Method    string // POST when empty
	Path      string // rawPath, e.g. /signals
	Query     string // rawQueryString
	Headers   map[string]string
	Body      []byte
	SourceIP  string
	UserAgent string
	RequestID string
	At        time.Time // when API Gateway received it
	// EpochMillis is added to At's milliseconds in timeEpoch.
	EpochMillis int64
}

// NewHTTPEvent builds the event the sample HTTP API delivers for r: the
// route "METHOD path", the $default stage, the API's domain in host, and
// content-length, x-forwarded-* and user-agent headers (r.Headers adds to
// and overrides them; names are lowercased, as API Gateway sends them).
func NewHTTPEvent(r HTTPRequest) HTTPEvent {
	method := r.Method
	if method == "" {
		method = http.MethodPost
	}
	route := method + " " + r.Path
	var e HTTPEvent
	e.Version, e.RouteKey, e.RawPath, e.RawQueryString = "2.0", route, r.Path, r.Query
	e.Headers = map[string]string{
		"content-length":    strconv.Itoa(len(r.Body)),
		"host":              SampleAPIDomain,
		"x-forwarded-for":   r.SourceIP,
		"x-forwarded-port":  "443",
		"x-forwarded-proto": "https",
	}
	if r.UserAgent != "" {
		e.Headers["user-agent"] = r.UserAgent
	}
	for k, v := range r.Headers {
		e.Headers[strings.ToLower(k)] = v
	}
	rc := &e.RequestContext
	rc.AccountID, rc.APIID, rc.DomainName, rc.DomainPrefix = SampleAccount, SampleAPIID, SampleAPIDomain, SampleAPIID
	rc.HTTP.Method, rc.HTTP.Path, rc.HTTP.Protocol = method, r.Path, "HTTP/1.1"
	rc.HTTP.SourceIP, rc.HTTP.UserAgent = r.SourceIP, r.UserAgent
	rc.RequestID, rc.RouteKey, rc.Stage = r.RequestID, route, "$default"
	rc.Time = r.At.Format("02/Jan/2006:15:04:05 -0700")
	rc.TimeEpoch = r.At.UnixMilli() + r.EpochMillis
	e.Body = string(r.Body)
	return e
}

// DecodeHTTPEvent decodes an API Gateway v2 request (a sample from events/).
func DecodeHTTPEvent(t testing.TB, raw []byte) events.APIGatewayV2HTTPRequest {
	t.Helper()
	var req events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		t.Fatalf("testkit: not an API Gateway v2 event: %v", err)
	}
	return req
}

// WithHeaders returns event with headers set (names lowercased, as API
// Gateway sends them) and, when body
// is not nil, the body replaced, leaving every other field as it was.
func WithHeaders(t testing.TB, event []byte, body []byte, headers map[string]string) []byte {
	t.Helper()
	return EditEvent(t, event, func(doc map[string]any) {
		h, _ := doc["headers"].(map[string]any)
		if h == nil {
			h = map[string]any{}
		}
		for k, v := range headers {
			h[strings.ToLower(k)] = v
		}
		doc["headers"] = h
		if body != nil {
			doc["body"] = string(body)
			doc["isBase64Encoded"] = false
			if _, ok := h["content-length"]; ok {
				h["content-length"] = strconv.Itoa(len(body))
			}
		}
	})
}

// EditEvent decodes event as a JSON object (numbers kept as written), lets
// edit change it and encodes it again.
func EditEvent(t testing.TB, event []byte, edit func(doc map[string]any)) []byte {
	t.Helper()
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(event))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("testkit: event is not a JSON object: %v", err)
	}
	edit(doc)
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
