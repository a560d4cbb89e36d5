package pandadoc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stagemover/stagemover/shared/dev/ddblocal"
	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/source/pandadoc"
)

// SampleSharedKey is the key events/ingest-pandadoc.json is signed with.
// Never use it in a deployment.
const SampleSharedKey = "pandadoc-sample-shared-key-not-for-production"

// Route is the HTTP API route the sample (and the lead's template) use.
const Route = "POST /webhooks/pandadoc"

const (
	sampleFile     = "ingest-pandadoc.json"
	sampleTestdata = "completed-batch"
)

var sampleAt = time.Date(2026, 3, 10, 8, 12, 46, 0, time.UTC)

// sampleEvent has the members of an API Gateway HTTP API (payload 2.0)
// request in the order events/ingest-generic.json has them.
type sampleEvent struct {
	Version               string            `json:"version"`
	RouteKey              string            `json:"routeKey"`
	RawPath               string            `json:"rawPath"`
	RawQueryString        string            `json:"rawQueryString"`
	Headers               map[string]string `json:"headers"`
	QueryStringParameters map[string]string `json:"queryStringParameters"`
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
	Body            string `json:"body"`
	IsBase64Encoded bool   `json:"isBase64Encoded"`
}

func buildSample(t testing.TB) []byte {
	t.Helper()
	var body bytes.Buffer
	if err := json.Compact(&body, readTestdata(t, sampleTestdata)); err != nil {
		t.Fatal(err)
	}
	sig := pandadoc.Sign([]byte(SampleSharedKey), body.Bytes())
	var e sampleEvent
	e.Version, e.RouteKey, e.RawPath = "2.0", Route, "/webhooks/pandadoc"
	e.RawQueryString = "signature=" + sig
	e.QueryStringParameters = map[string]string{"signature": sig}
	host := "r8k2m4x7q1.execute-api.us-east-1.amazonaws.com"
	ip := "34.210.167.51"
	e.Headers = map[string]string{
		"content-length":              strconv.Itoa(body.Len()),
		"content-type":                "application/json",
		"host":                        host,
		"user-agent":                  "PandaDoc-Webhooks/1.0",
		"x-amzn-trace-id":             "Root=1-" + strconv.FormatInt(sampleAt.Unix(), 16) + "-5d2e8a1f3c7b9e0d4a6f2c81",
		"x-forwarded-for":             ip,
		"x-forwarded-port":            "443",
		"x-forwarded-proto":           "https",
		"x-pandadoc-webhook-event-id": "b1f7c2a9-3d4e-4f60-8a1b-9c2d3e4f5a6b",
	}
	rc := &e.RequestContext
	rc.AccountID, rc.APIID, rc.DomainName, rc.DomainPrefix = "123456789012", "r8k2m4x7q1", host, "r8k2m4x7q1"
	rc.HTTP.Method, rc.HTTP.Path, rc.HTTP.Protocol, rc.HTTP.SourceIP, rc.HTTP.UserAgent = "POST", "/webhooks/pandadoc", "HTTP/1.1", ip, "PandaDoc-Webhooks/1.0"
	rc.RequestID, rc.RouteKey, rc.Stage = "Pd4wQkR7oAMEdZa=", Route, "$default"
	rc.Time = sampleAt.Format("02/Jan/2006:15:04:05 -0700")
	rc.TimeEpoch = sampleAt.UnixMilli() + 187
	e.Body = body.String()

	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(e); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func samplePath(t testing.TB) string {
	t.Helper()
	root, err := ddblocal.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "events", sampleFile)
}

func readSample(t testing.TB) events.APIGatewayV2HTTPRequest {
	t.Helper()
	raw, err := os.ReadFile(samplePath(t))
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	var req events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		t.Fatalf("%s is not an API Gateway v2 event: %v", sampleFile, err)
	}
	return req
}

// TestSampleEventIsGenerated: events/ingest-pandadoc.json is exactly what
// the testdata delivery and the signing scheme produce (-update rewrites
// it), decodes as an API Gateway v2 request and verifies with
// SampleSharedKey.
func TestSampleEventIsGenerated(t *testing.T) {
	want := buildSample(t)
	if *update {
		if err := os.WriteFile(samplePath(t), want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(samplePath(t))
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("events/%s is not what the code generates; run go test ./shared/source/pandadoc -run TestSampleEventIsGenerated -update", sampleFile)
	}
	req := readSample(t)
	if req.RouteKey != Route || req.RequestContext.HTTP.Method != "POST" {
		t.Fatalf("route %q", req.RouteKey)
	}
	if err := pandadoc.Verify([][]byte{[]byte(SampleSharedKey)}, (&ingest.Request{HTTP: req}).Query(pandadoc.QueryParamSignature), []byte(req.Body)); err != nil {
		t.Fatalf("sample signature: %v", err)
	}
}

// TestSampleEvent: the sample, handled as the Lambda receives it, stores
// the golden signals; handled again, nothing.
func TestSampleEvent(t *testing.T) {
	f := newFixture(t, SampleSharedKey)
	f.h.Now = func() time.Time { return sampleAt }
	req := readSample(t)
	resp, err := f.h.Handle(context.Background(), req)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("%d %s %v, want 202", resp.StatusCode, resp.Body, err)
	}
	resp, _ = f.h.Handle(context.Background(), req)
	if resp.StatusCode != http.StatusOK || !bytes.Contains([]byte(resp.Body), []byte(`"status":"duplicate"`)) {
		t.Fatalf("redelivered: %d %s", resp.StatusCode, resp.Body)
	}
	want := parse(t, sampleTestdata)
	recs := f.records(t)
	if len(recs) != len(want) {
		t.Fatalf("%d items, want %d", len(recs), len(want))
	}
	for _, w := range want {
		found := false
		for _, r := range recs {
			gj, _ := json.Marshal(r.Signal)
			wj, _ := json.Marshal(w.Signal)
			if r.EventID == w.EventID && string(gj) == string(wj) && r.PersonEmail == w.PersonEmail && r.ReceivedAt.Equal(sampleAt) {
				found = true
			}
		}
		if !found {
			t.Errorf("no stored record equals the golden item %+v", w)
		}
	}
}
