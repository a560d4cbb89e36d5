package pandadoc_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"testing"

	"github.com/stagemover/stagemover/shared/dev/ddblocal"
	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/source/ingest/ingesttest"
	"github.com/stagemover/stagemover/shared/source/pandadoc"
)

func TestMain(m *testing.M) { os.Exit(ddblocal.RunTests(m)) }

type fixture struct {
	*ingesttest.Fixture
	key string
}

func newFixture(t *testing.T, key string) *fixture {
	t.Helper()
	return &fixture{Fixture: ingesttest.New(t, Route, "ingest-pandadoc", pandadoc.Webhook{InternalDomains: internal}, key), key: key}
}

// post sends body as PandaDoc does: POST to the subscription URL with
// ?signature= appended.
func (f *fixture) post(t *testing.T, body []byte, sig string) (int, map[string]any) {
	t.Helper()
	u := f.URL + "/webhooks/pandadoc"
	if sig != "" {
		u += "?signature=" + sig
	}
	req, _ := http.NewRequest(http.MethodPost, u, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(pandadoc.HeaderEventID, "7c0d4bd1-2a55-4cf8-9f0a-0f7d3b1c2e4f")
	return f.DoJSON(t, req)
}

func (f *fixture) sign(b []byte) string { return pandadoc.Sign([]byte(f.key), b) }

// TestBatchStoresEveryNotification: a delivery of two notifications stores
// two signals for the buyer; redelivered, nothing.
func TestBatchStoresEveryNotification(t *testing.T) {
	f := newFixture(t, testKey)
	body := readTestdata(t, "completed-batch")
	code, out := f.post(t, body, f.sign(body))
	if code != http.StatusAccepted || out["status"] != "stored" || out["stored"] != 2.0 {
		t.Fatalf("%d %v, want 202 with 2 stored", code, out)
	}
	code, out = f.post(t, body, f.sign(body))
	if code != http.StatusOK || out["status"] != "duplicate" || out["duplicates"] != 2.0 {
		t.Fatalf("redelivery: %d %v, want 200 duplicate", code, out)
	}
	recs := f.Signals(t)
	if len(recs) != 2 {
		t.Fatalf("%d items, want 2", len(recs))
	}
	actors := map[string]bool{}
	for _, r := range recs {
		if r.PersonEmail != "dana.whitfield@northwind-logistics.com" || r.DealID != 0 {
			t.Errorf("record %+v: want the buyer as person, no deal yet", r)
		}
		actors[r.Signal.Actor] = true
	}
	if !actors["priya.nair@acme-routing.io"] || !actors["dana.whitfield@northwind-logistics.com"] {
		t.Errorf("actors %v", actors)
	}
}

func TestRejectionsStoreNothing(t *testing.T) {
	f := newFixture(t, testKey)
	good := readTestdata(t, "state-sent")
	big := append([]byte(`[{"event":"document_state_changed","pad":"`), bytes.Repeat([]byte("x"), ingest.MaxBody)...)
	big = append(big, `"}]`...)
	unsupported := []byte(`[{"event":"invoice_paid","data":{}}]`)
	tampered := bytes.Replace(good, []byte("Dana"), []byte("Dora"), 1)
	tests := []struct {
		name   string
		body   []byte
		sig    string
		want   int
		reason string
	}{
		{"unsigned", good, "", 401, "required"},
		{"wrong key", good, pandadoc.Sign([]byte("not-the-key"), good), 401, "does not match"},
		{"signed then altered", tampered, f.sign(good), 401, "does not match"},
		{"malformed signature", good, "xyz", 401, "hex"},
		{"not JSON", []byte("event=x"), f.sign([]byte("event=x")), 400, "invalid JSON"},
		{"unsupported event", unsupported, f.sign(unsupported), 400, "not supported"},
		{"oversized", big, f.sign(big), 413, "larger than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out := f.post(t, tc.body, tc.sig)
			ingesttest.AssertRefused(t, code, out, tc.want, tc.reason)
		})
	}
	f.AssertAllRejected(t, len(tests))
}

func TestIgnoredStoresNothing(t *testing.T) {
	f := newFixture(t, testKey)
	for _, name := range []string{"ignored-updated", "ignored-draft"} {
		body := readTestdata(t, name)
		code, out := f.post(t, body, f.sign(body))
		if code != http.StatusOK || out["status"] != "ignored" || out["ignored"] != 1.0 {
			t.Fatalf("%s: %d %v, want 200 ignored", name, code, out)
		}
		// an ignored event still has to be authentic
		if code, _ := f.post(t, body, pandadoc.Sign([]byte("wrong"), body)); code != http.StatusUnauthorized {
			t.Fatalf("%s wrongly signed: %d, want 401", name, code)
		}
	}
	if n := len(f.Signals(t)); n != 0 {
		t.Fatalf("%d items stored for ignored events", n)
	}
	if f.Metrics.Total(ingest.MetricIgnored) != 2 {
		t.Errorf("ignored not counted")
	}
}

// TestEmptyKeyListIs503: a key secret that lists no key verifies nothing
// (TestEverySourceAnswersAlike covers a key or table that cannot be read).
func TestEmptyKeyListIs503(t *testing.T) {
	f := newFixture(t, testKey)
	body := readTestdata(t, "state-sent")
	f.Handler.Key = func(context.Context) ([]byte, error) { return []byte(" ,\n"), nil }
	if code, _ := f.post(t, body, f.sign(body)); code != http.StatusServiceUnavailable {
		t.Fatalf("empty key: %d, want 503", code)
	}
	if n := len(f.Signals(t)); n != 0 {
		t.Fatalf("%d items stored", n)
	}
}
