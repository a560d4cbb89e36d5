package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/stagemover/stagemover/shared/dev/ddblocal"
	"github.com/stagemover/stagemover/shared/platform/apigw"
	"github.com/stagemover/stagemover/shared/platform/metrics"
	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/store"
	"github.com/stagemover/stagemover/shared/testkit"
)

func TestMain(m *testing.M) { os.Exit(ddblocal.RunTests(m)) }

const secret = "ingest-test-secret"

type fixture struct {
	srv     *httptest.Server
	tbl     *ddblocal.TestTable
	metrics *metrics.Recorder
	logs    *testkit.LogBuffer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	tbl := ddblocal.ForTest(t)
	f := &fixture{tbl: tbl, metrics: metrics.New(nil, "StageMover", "ingest-generic"), logs: &testkit.LogBuffer{}}
	h := &ingest.Handler{
		Source:  ingest.Generic{Tolerance: 5 * time.Minute},
		Key:     func(context.Context) ([]byte, error) { return []byte(secret), nil },
		Store:   store.New(tbl.DB, tbl.Name),
		Now:     time.Now,
		Log:     f.logs.LoggerAt(slog.LevelInfo),
		Metrics: f.metrics,
	}
	f.srv = httptest.NewServer(apigw.Handler("POST /signals", h.Handle))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) post(t *testing.T, body []byte, sign func(r *http.Request)) (int, map[string]string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/signals", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if sign != nil {
		sign(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0, nil
	}
	defer resp.Body.Close()
	var out map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Errorf("response is not JSON: %v", err)
	}
	return resp.StatusCode, out
}

func signed(body []byte) func(r *http.Request) {
	return func(r *http.Request) {
		ts, sig := ingest.Sign([]byte(secret), time.Now(), body)
		r.Header.Set(ingest.HeaderTimestamp, ts)
		r.Header.Set(ingest.HeaderSignature, sig)
	}
}

func (f *fixture) items(t *testing.T) int {
	t.Helper()
	out, err := f.tbl.DB.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(f.tbl.Name), Select: "COUNT"})
	if err != nil {
		t.Fatal(err)
	}
	return int(out.Count)
}

const validBody = `{"event_id":"evt-100","deal_id":42,"signal":{"kind":"email","at":"2026-03-02T10:00:00Z","from":"jane@acme.example","to":["rep@vendor.example"],"subject":"Re: pricing","body":"Could you send the order form? We want to sign by Friday."}}`

func TestRejectionsStoreNothing(t *testing.T) {
	f := newFixture(t)
	big := []byte(`{"event_id":"big","deal_id":1,"signal":{"kind":"email","at":"2026-03-02T10:00:00Z","from":"a@b.example","body":"` + strings.Repeat("x", ingest.MaxBody) + `"}}`)
	tests := []struct {
		name     string
		body     string
		sign     func(body []byte) func(*http.Request)
		want     int
		inReason string
	}{
		{name: "unsigned", body: validBody, sign: func([]byte) func(*http.Request) { return nil }, want: 401, inReason: "required"},
		{name: "signed with another secret", body: validBody, want: 401, inReason: "does not match", sign: func(b []byte) func(*http.Request) {
			return func(r *http.Request) {
				ts, sig := ingest.Sign([]byte("wrong"), time.Now(), b)
				r.Header.Set(ingest.HeaderTimestamp, ts)
				r.Header.Set(ingest.HeaderSignature, sig)
			}
		}},
		{name: "replayed", body: validBody, want: 401, inReason: "tolerance", sign: func(b []byte) func(*http.Request) {
			return func(r *http.Request) {
				ts, sig := ingest.Sign([]byte(secret), time.Now().Add(-time.Hour), b)
				r.Header.Set(ingest.HeaderTimestamp, ts)
				r.Header.Set(ingest.HeaderSignature, sig)
			}
		}},
		{name: "too large", body: string(big), sign: signed, want: 413},
		{name: "not json", body: `hello`, sign: signed, want: 400, inReason: "invalid JSON"},
		{name: "unknown field", body: `{"event_id":"e","deal_id":1,"signl":{}}`, sign: signed, want: 400, inReason: "signl"},
		{name: "no event id", body: `{"deal_id":1,"signal":{"kind":"call","at":"2026-03-02T10:00:00Z"}}`, sign: signed, want: 400, inReason: "event_id"},
		{name: "no deal or person", body: `{"event_id":"e","signal":{"kind":"call","at":"2026-03-02T10:00:00Z"}}`, sign: signed, want: 400, inReason: "deal_id or person_email"},
		{name: "no signal", body: `{"event_id":"e","deal_id":1}`, sign: signed, want: 400, inReason: "signal is required"},
		{name: "bad kind", body: `{"event_id":"e","deal_id":1,"signal":{"kind":"fax","at":"2026-03-02T10:00:00Z"}}`, sign: signed, want: 400, inReason: "fax"},
		{name: "bad time", body: `{"event_id":"e","deal_id":1,"signal":{"kind":"call","at":"yesterday"}}`, sign: signed, want: 400, inReason: "RFC 3339"},
		{name: "wrong type", body: `{"event_id":"e","deal_id":"one","signal":{"kind":"call","at":"2026-03-02T10:00:00Z"}}`, sign: signed, want: 400, inReason: "deal_id"},
		{name: "two objects", body: validBody + validBody, sign: signed, want: 400, inReason: "exactly one"},
		{name: "stage request without deal", body: `{"event_id":"e","person_email":"a@b.example","signal":{"kind":"stage_request","stage":"Proposal Made"}}`, sign: signed, want: 400, inReason: "deal_id"},
		{name: "person email too long", body: `{"event_id":"e","person_email":"` + strings.Repeat("a", 250) + `@b.example","signal":{"kind":"call","at":"2026-03-02T10:00:00Z"}}`, sign: signed, want: 400, inReason: "254"},
		{name: "bad meeting status", body: `{"event_id":"e","deal_id":1,"signal":{"kind":"meeting","at":"2026-03-02T10:00:00Z","status":"maybe"}}`, sign: signed, want: 400, inReason: "meeting.status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := f.post(t, []byte(tt.body), tt.sign([]byte(tt.body)))
			if code != tt.want {
				t.Fatalf("status = %d (%v), want %d", code, out, tt.want)
			}
			if out["error"] == "" || !strings.Contains(out["error"], tt.inReason) {
				t.Fatalf("reason = %q, want it to mention %q", out["error"], tt.inReason)
			}
		})
	}
	if n := f.items(t); n != 0 {
		t.Fatalf("items = %d after rejected requests, want 0", n)
	}
	if got := f.metrics.Total(ingest.MetricRejected); int(got) != len(tests) {
		t.Fatalf("rejections counted = %v, want %d", got, len(tests))
	}
}

func TestStageRequestAndPersonSignalAccepted(t *testing.T) {
	f := newFixture(t)
	for i, body := range []string{
		`{"event_id":"form-1","deal_id":42,"signal":{"kind":"stage_request","stage":"Proposal Made","pipeline":"Sales"}}`,
		`{"event_id":"m-1","person_email":"Jane@Acme.example","signal":{"kind":"meeting","at":"2026-03-02T10:00:00Z","status":"scheduled","starts_at":"2026-03-09T10:00:00Z","attendees":["jane@acme.example"]}}`,
	} {
		code, out := f.post(t, []byte(body), signed([]byte(body)))
		if code != http.StatusAccepted || out["status"] != "stored" {
			t.Fatalf("body %d: status %d %v", i, code, out)
		}
	}
	if n := f.items(t); n != 2 {
		t.Fatalf("items = %d, want 2", n)
	}
	if strings.Contains(f.logs.String(), secret) {
		t.Fatal("the ingest secret appeared in the logs")
	}
	for _, line := range strings.Split(strings.TrimSpace(f.logs.String()), "\n") {
		if !strings.Contains(line, `"event_id"`) {
			t.Fatalf("log line without event_id: %s", line)
		}
	}
}

// An HTML email close to the size limit is stored: encoding must not grow it
// past DynamoDB's item limit.
func TestLargeHTMLBodyIsStored(t *testing.T) {
	f := newFixture(t)
	html := strings.Repeat("<p>Terms &amp; pricing</p>", (ingest.MaxBody-400)/26)
	env := []byte(`{"event_id":"html-1","deal_id":7,"signal":{"kind":"email","at":"2026-03-02T10:00:00Z","from":"a@b.example","body":"` + html + `"}}`)
	if len(env) > ingest.MaxBody {
		t.Fatalf("test body is %d bytes, over the limit", len(env))
	}
	code, out := f.post(t, env, signed(env))
	if code != http.StatusAccepted {
		t.Fatalf("status = %d %v, want 202", code, out)
	}
	if n := f.items(t); n != 1 {
		t.Fatalf("items = %d, want 1", n)
	}
}
