package pdhooks_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stagemover/stagemover/shared/dev/ddblocal"
	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/source/pdhooks"
	"github.com/stagemover/stagemover/shared/store"
)

var update = flag.Bool("update", false, "rewrite events/ingest-pipedrive.json")

// Sample credentials of events/ingest-pipedrive.json. Never deploy them.
const (
	SampleUser     = "stagemover"
	SamplePassword = "pipedrive-sample-password-not-for-production"
	Route          = "POST /pipedrive"
	sampleFile     = "ingest-pipedrive.json"
)

type sampleEvent struct {
	Version        string            `json:"version"`
	RouteKey       string            `json:"routeKey"`
	RawPath        string            `json:"rawPath"`
	RawQueryString string            `json:"rawQueryString"`
	Headers        map[string]string `json:"headers"`
	RequestContext struct {
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
	raw, err := os.ReadFile(filepath.Join("testdata", "deal-stage-change.json"))
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	if err := json.Compact(&body, raw); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 5, 9, 12, 45, 0, time.UTC)
	host := "r8k2m4x7q1.execute-api.us-east-1.amazonaws.com"
	var e sampleEvent
	e.Version, e.RouteKey, e.RawPath = "2.0", Route, "/pipedrive"
	e.Headers = map[string]string{
		"authorization":     "Basic " + base64.StdEncoding.EncodeToString([]byte(SampleUser+":"+SamplePassword)),
		"content-length":    strconv.Itoa(body.Len()),
		"content-type":      "application/json",
		"host":              host,
		"x-amzn-trace-id":   "Root=1-" + strconv.FormatInt(at.Unix(), 16) + "-5d2a7c9e1f3b4a6c8e0d2f41",
		"x-forwarded-for":   "185.166.142.20",
		"x-forwarded-port":  "443",
		"x-forwarded-proto": "https",
	}
	rc := &e.RequestContext
	rc.AccountID, rc.APIID, rc.DomainName, rc.DomainPrefix = "123456789012", "r8k2m4x7q1", host, "r8k2m4x7q1"
	rc.HTTP.Method, rc.HTTP.Path, rc.HTTP.Protocol, rc.HTTP.SourceIP = "POST", "/pipedrive", "HTTP/1.1", "185.166.142.20"
	rc.RequestID, rc.RouteKey, rc.Stage = "Pd4kQw7ZoAMEbXa=", Route, "$default"
	rc.Time = at.Format("02/Jan/2006:15:04:05 -0700")
	rc.TimeEpoch = at.UnixMilli() + 87
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

// TestSampleEventIsGenerated: events/ingest-pipedrive.json is what the
// testdata delivery produces (-update rewrites it), and the handler accepts
// it with the sample credentials and mirrors the deal.
func TestSampleEventIsGenerated(t *testing.T) {
	root, err := ddblocal.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "events", sampleFile)
	want := buildSample(t)
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run go test ./shared/source/pdhooks -run TestSampleEventIsGenerated -update", sampleFile)
	}
	var req events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(got, &req); err != nil {
		t.Fatal(err)
	}
	tt := ddblocal.ForTest(t)
	st := store.New(tt.DB, tt.Name)
	h := &ingest.Handler{
		Source: &pdhooks.Webhook{Table: pdhooks.Table{Store: st}, Mirror: st, IntegrationUserID: 1000},
		Key: pdhooks.Key(func(context.Context) (pdhooks.Credentials, error) {
			return pdhooks.Credentials{User: SampleUser, Password: SamplePassword}, nil
		}),
	}
	resp, err := h.Handle(context.Background(), req)
	if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, "processed") {
		t.Fatalf("%d %s %v", resp.StatusCode, resp.Body, err)
	}
	ds, err := st.GetDealState(context.Background(), 4217)
	if err != nil || ds.StageID != 3 || ds.PipelineID != 1 {
		t.Fatalf("mirror %+v %v", ds, err)
	}
	if resp, _ := h.Handle(context.Background(), req); resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, "duplicate") {
		t.Fatalf("replay: %d %s", resp.StatusCode, resp.Body)
	}
}
