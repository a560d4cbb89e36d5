package docusign_test

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stagemover/stagemover/shared/dev/ddblocal"
	"github.com/stagemover/stagemover/shared/source/docusign"
	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/source/ingest/ingesttest"
)

func TestMain(m *testing.M) { os.Exit(ddblocal.RunTests(m)) }

type fixture struct {
	*ingesttest.Fixture
	key string
}

func newFixture(t *testing.T, key string) *fixture {
	t.Helper()
	return &fixture{Fixture: ingesttest.New(t, Route, "ingest-docusign", docusign.Webhook{InternalDomains: internal}, key), key: key}
}

// post sends body as Connect does, with one X-DocuSign-Signature-N header
// per signature.
func (f *fixture) post(t *testing.T, body []byte, sigs ...string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.URL+"/webhooks/docusign", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Authorization-Digest", "HMACSHA256")
	for i, s := range sigs {
		req.Header.Set(docusign.HeaderSignaturePrefix+string(rune('1'+i)), s)
	}
	return f.DoJSON(t, req)
}

func (f *fixture) sign(b []byte) string { return docusign.Sign([]byte(f.key), b) }

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
	if n := len(f.Signals(t)); n != len(names) {
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
			ingesttest.AssertRefused(t, code, out, tc.want, tc.reason)
		})
	}
	f.AssertAllRejected(t, len(tests))
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
	if n := len(f.Signals(t)); n != 0 || f.Metrics.Total(ingest.MetricIgnored) != 1 {
		t.Fatalf("%d items, ignored %v", n, f.Metrics.Total(ingest.MetricIgnored))
	}
}
