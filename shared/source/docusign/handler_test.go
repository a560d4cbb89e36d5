package docusign_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/stagemover/stagemover/shared/dev/ddblocal"
	"github.com/stagemover/stagemover/shared/platform/apigw"
	"github.com/stagemover/stagemover/shared/platform/metrics"
	"github.com/stagemover/stagemover/shared/source/docusign"
	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/store"
	"github.com/stagemover/stagemover/shared/testkit"
)

func TestMain(m *testing.M) { os.Exit(ddblocal.RunTests(m)) }

type fixture struct {
	h       *ingest.Handler
	srv     *httptest.Server
	tbl     *ddblocal.TestTable
	metrics *metrics.Recorder
	logs    *testkit.LogBuffer
	key     string
}

func newFixture(t *testing.T, key string) *fixture {
	t.Helper()
	tbl := ddblocal.ForTest(t)
	f := &fixture{tbl: tbl, metrics: metrics.New(nil, "StageMover", "ingest-docusign"), logs: &testkit.LogBuffer{}, key: key}
	f.h = &ingest.Handler{
		Source:  docusign.Webhook{InternalDomains: internal},
		Key:     func(context.Context) ([]byte, error) { return []byte(key), nil },
		Store:   store.New(tbl.DB, tbl.Name),
		Log:     f.logs.LoggerAt(slog.LevelInfo),
		Metrics: f.metrics,
	}
	f.srv = httptest.NewServer(apigw.Handler(Route, f.h.Handle))
	t.Cleanup(f.srv.Close)
	t.Cleanup(func() {
		if strings.Contains(f.logs.String(), key) {
			t.Errorf("the HMAC key appears in the logs")
		}
	})
	return f
}

// post sends body as Connect does, with one X-DocuSign-Signature-N header
// per signature.
func (f *fixture) post(t *testing.T, body []byte, sigs ...string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/webhooks/docusign", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Authorization-Digest", "HMACSHA256")
	for i, s := range sigs {
		req.Header.Set(docusign.HeaderSignaturePrefix+string(rune('1'+i)), s)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0, nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if strings.Contains(string(raw), f.key) {
		t.Errorf("the HMAC key appears in a response")
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Errorf("response %q is not a JSON object: %v", raw, err)
	}
	return resp.StatusCode, out
}

func (f *fixture) sign(b []byte) string { return docusign.Sign([]byte(f.key), b) }

func (f *fixture) records(t *testing.T) []store.SignalRecord {
	t.Helper()
	out, err := f.tbl.DB.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(f.tbl.Name)})
	if err != nil {
		t.Fatal(err)
	}
	var recs []store.SignalRecord
	for _, item := range out.Items {
		rec, err := store.SignalFromItem(item)
		if err != nil {
			t.Fatalf("an item that is not a signal was stored: %v", err)
		}
		recs = append(recs, rec)
	}
	return recs
}

// TestEveryEventStoresOnce: each sample is a distinct signal; Connect's
// retry (new retryCount, new generatedDateTime, signed anew) stores nothing.
func TestEveryEventStoresOnce(t *testing.T) {
	f := newFixture(t, testKey)
	names := goldenNames[:len(goldenNames)-1] // all but the ignored one
	for _, name := range names {
		body := readTestdata(t, name)
		if code, out := f.post(t, body, f.sign(body)); code != http.StatusAccepted || out["status"] != "stored" {
			t.Fatalf("%s: %d %v, want 202 stored", name, code, out)
		}
		retry := bytes.Replace(body, []byte(`"retryCount": 0`), []byte(`"retryCount": 1`), 1)
		if code, out := f.post(t, retry, f.sign(retry)); code != http.StatusOK || out["status"] != "duplicate" {
			t.Fatalf("%s retried: %d %v, want 200 duplicate", name, code, out)
		}
	}
	if n := len(f.records(t)); n != len(names) {
		t.Fatalf("%d items, want %d", n, len(names))
	}
}

func TestRejectionsStoreNothing(t *testing.T) {
	f := newFixture(t, testKey)
	good := readTestdata(t, "envelope-completed")
	big := append([]byte(`{"event":"envelope-completed","pad":"`), bytes.Repeat([]byte("x"), ingest.MaxBody)...)
	big = append(big, `"}`...)
	unsupported := []byte(`{"event":"invoice.paid","data":{}}`)
	noSummary := readTestdata(t, "no-summary")
	tampered := bytes.Replace(good, []byte("Dana"), []byte("Dora"), 1)
	legacyXML, err := os.ReadFile(filepath.Join("testdata", "legacy-xml.xml"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		body   []byte
		sigs   []string
		want   int
		reason string
	}{
		{"unsigned", good, nil, 401, "required"},
		{"wrong key", good, []string{docusign.Sign([]byte("not-the-key"), good)}, 401, "no signature matches"},
		{"signed then altered", tampered, []string{f.sign(good)}, 401, "no signature matches"},
		{"not base64", good, []string{"%%%"}, 401, "base64"},
		{"not JSON", []byte("nope"), []string{f.sign([]byte("nope"))}, 400, "invalid JSON"},
		{"legacy XML", legacyXML, []string{f.sign(legacyXML)}, 400, "DocuSign Connect must send JSON (SIM); XML is not supported"},
		{"unsupported event", unsupported, []string{f.sign(unsupported)}, 400, "not supported"},
		{"no envelope summary", noSummary, []string{f.sign(noSummary)}, 400, "includeData"},
		{"oversized", big, []string{f.sign(big)}, 413, "larger than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out := f.post(t, tc.body, tc.sigs...)
			if code != tc.want {
				t.Fatalf("status %d %v, want %d", code, out, tc.want)
			}
			if reason, _ := out["error"].(string); !strings.Contains(reason, tc.reason) {
				t.Fatalf("reason %q does not say %q", reason, tc.reason)
			}
		})
	}
	if n := len(f.records(t)); n != 0 {
		t.Fatalf("%d items stored by rejected messages", n)
	}
	if got := f.metrics.Total(ingest.MetricRejected); got != float64(len(tests)) {
		t.Errorf("IngestRejected = %v, want %d", got, len(tests))
	}
}

func TestKeyRotation(t *testing.T) {
	f := newFixture(t, "old-key-AAAA,"+testKey)
	body := readTestdata(t, "envelope-sent")
	// Connect signs with each active key, one header each
	code, out := f.post(t, body, docusign.Sign([]byte("some-other-account-key"), body), docusign.Sign([]byte(testKey), body))
	if code != http.StatusAccepted {
		t.Fatalf("%d %v, want 202", code, out)
	}
}

func TestIgnoredStoresNothing(t *testing.T) {
	f := newFixture(t, testKey)
	body := readTestdata(t, "ignored-voided")
	code, out := f.post(t, body, f.sign(body))
	if code != http.StatusOK || out["status"] != "ignored" {
		t.Fatalf("%d %v, want 200 ignored", code, out)
	}
	if code, _ := f.post(t, body, docusign.Sign([]byte("wrong"), body)); code != http.StatusUnauthorized {
		t.Fatalf("wrongly signed ignored event: %d, want 401", code)
	}
	if n := len(f.records(t)); n != 0 || f.metrics.Total(ingest.MetricIgnored) != 1 {
		t.Fatalf("%d items, ignored %v", n, f.metrics.Total(ingest.MetricIgnored))
	}
}
