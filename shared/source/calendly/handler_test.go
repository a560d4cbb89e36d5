package calendly_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stagemover/stagemover/shared/dev/ddblocal"
	"github.com/stagemover/stagemover/shared/source/calendly"
	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/source/ingest/ingesttest"
	"github.com/stagemover/stagemover/shared/store"
)

func TestMain(m *testing.M) { os.Exit(ddblocal.RunTests(m)) }

type fixture struct {
	*ingesttest.Fixture
	key string
}

func newFixture(t *testing.T, key string, now func() time.Time) *fixture {
	t.Helper()
	f := &fixture{Fixture: ingesttest.New(t, Route, "ingest-calendly", calendly.Webhook{}, key), key: key}
	f.Handler.Now = now
	return f
}

func (f *fixture) post(t *testing.T, body []byte, header string) (int, map[string]string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.URL+"/webhooks/calendly", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if header != "" {
		req.Header.Set(calendly.HeaderSignature, header)
	}
	code, raw := f.Do(t, req)
	if code == 0 {
		return 0, nil
	}
	var out map[string]string
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Errorf("response %q is not a JSON object of strings: %v", raw, err)
	}
	return code, out
}

// TestSampleEvents: the events/ samples, handled at their signing time,
// each store one meeting signal for the invitee; handled again, nothing.
func TestSampleEvents(t *testing.T) {
	var at time.Time
	f := newFixture(t, SampleSigningKey, func() time.Time { return at })
	ctx := context.Background()
	wantStatus := []string{"scheduled", "canceled"}
	for i, s := range samples {
		at = s.signedAt
		req := readSample(t, i)
		resp, err := f.Handler.Handle(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusAccepted || !strings.Contains(resp.Body, `"status":"stored"`) {
			t.Fatalf("%s: %d %s, want 202 stored", s.file, resp.StatusCode, resp.Body)
		}
		resp, _ = f.Handler.Handle(ctx, req)
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, `"status":"duplicate"`) {
			t.Fatalf("%s redelivered: %d %s, want 200 duplicate", s.file, resp.StatusCode, resp.Body)
		}
		recs := f.Signals(t)
		if len(recs) != i+1 {
			t.Fatalf("after %s: %d items, want %d", s.file, len(recs), i+1)
		}
		// the whole record as stored must equal the golden normalisation
		want := parse(t, s.testdata)
		var got *store.SignalRecord
		for j := range recs {
			if recs[j].EventID == want.EventID {
				got = &recs[j]
			}
		}
		if got == nil {
			t.Fatalf("%s: no item with event id %s", s.file, want.EventID)
		}
		gj, _ := json.Marshal(got.Signal)
		wj, _ := json.Marshal(want.Signal)
		if got.Source != calendly.Source || got.PersonEmail != want.PersonEmail || got.DealID != 0 ||
			!got.ReceivedAt.Equal(s.signedAt) || string(gj) != string(wj) || got.Signal.Status != wantStatus[i] {
			t.Fatalf("%s: stored %+v\nsignal %s\nwant %s", s.file, got, gj, wj)
		}
	}
	// a late replay of a sample is refused and stores nothing
	at = samples[0].signedAt.Add(10 * time.Minute)
	resp, _ := f.Handler.Handle(ctx, readSample(t, 0))
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("replay 10 minutes later: %d, want 401", resp.StatusCode)
	}
	if got := f.Metrics.Total(ingest.MetricStored); got != 2 {
		t.Errorf("IngestStored = %v, want 2", got)
	}
	if got := f.Metrics.Total(ingest.MetricDuplicate); got != 2 {
		t.Errorf("IngestDuplicate = %v, want 2", got)
	}
}

// TestDistinctDeliveriesAreDistinctSignals: each distinct delivery is a new
// signal; redeliveries of any of them add nothing.
func TestDistinctDeliveriesAreDistinctSignals(t *testing.T) {
	f := newFixture(t, testKey, time.Now)
	names := []string{"invitee-created", "invitee-canceled", "rescheduled-canceled", "rescheduled-created"}
	for round := 0; round < 2; round++ {
		for _, name := range names {
			body := readTestdata(t, name)
			code, out := f.post(t, body, calendly.Sign([]byte(testKey), time.Now(), body))
			want := http.StatusAccepted
			if round == 1 {
				want = http.StatusOK
			}
			if code != want {
				t.Fatalf("round %d %s: %d %v, want %d", round, name, code, out, want)
			}
		}
	}
	statuses := map[string]int{}
	for _, r := range f.Signals(t) {
		statuses[r.Signal.Status]++
	}
	if len(f.Signals(t)) != 4 || statuses["scheduled"] != 1 || statuses["canceled"] != 1 || statuses["rescheduled"] != 2 {
		t.Fatalf("stored statuses %v, want scheduled 1, canceled 1, rescheduled 2", statuses)
	}
}

func TestRejectionsStoreNothing(t *testing.T) {
	f := newFixture(t, testKey, time.Now)
	good := readTestdata(t, "invitee-created")
	sign := func(b []byte) string { return calendly.Sign([]byte(testKey), time.Now(), b) }
	big := append([]byte(`{"event":"invitee.created","pad":"`), bytes.Repeat([]byte("x"), ingest.MaxBody)...)
	big = append(big, `"}`...)
	unsupported := []byte(`{"event":"invitee.updated","created_at":"2026-03-02T10:00:00Z","payload":{}}`)
	noEmail := bytes.Replace(good, []byte(`"email": "dana.whitfield@northwind-logistics.com"`), []byte(`"email": null`), 1)
	tests := []struct {
		name   string
		body   []byte
		header string
		want   int
		reason string
	}{
		{"unsigned", good, "", 401, "required"},
		{"wrong key", good, calendly.Sign([]byte("not-the-key"), time.Now(), good), 401, "does not match"},
		{"stale", good, calendly.Sign([]byte(testKey), time.Now().Add(-4*time.Minute), good), 401, "tolerance"},
		{"future", good, calendly.Sign([]byte(testKey), time.Now().Add(4*time.Minute), good), 401, "tolerance"},
		{"malformed header", good, "v1=deadbeef", 401, "malformed"},
		{"generic scheme", good, "sha256=" + strings.Repeat("0", 64), 401, "malformed"},
		{"signed then altered", bytes.Replace(good, []byte("Dana"), []byte("Dora"), 1), sign(good), 401, "does not match"},
		{"not JSON", []byte("event=invitee.created"), sign([]byte("event=invitee.created")), 400, "invalid JSON"},
		{"unsupported event", unsupported, sign(unsupported), 400, "not supported"},
		{"no invitee email", noEmail, sign(noEmail), 400, "payload.email"},
		{"oversized", big, sign(big), 413, "larger than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out := f.post(t, tc.body, tc.header)
			if code != tc.want {
				t.Fatalf("status %d %v, want %d", code, out, tc.want)
			}
			if !strings.Contains(out["error"], tc.reason) {
				t.Fatalf("reason %q does not say %q", out["error"], tc.reason)
			}
		})
	}
	if n := len(f.Signals(t)); n != 0 {
		t.Fatalf("%d items stored by rejected deliveries", n)
	}
	if got := f.Metrics.Total(ingest.MetricRejected); got != float64(len(tests)) {
		t.Errorf("IngestRejected = %v, want %d", got, len(tests))
	}
}

func TestIgnoredEventStoresNothing(t *testing.T) {
	f := newFixture(t, testKey, time.Now)
	body := readTestdata(t, "invitee-no-show-created")
	code, out := f.post(t, body, calendly.Sign([]byte(testKey), time.Now(), body))
	if code != http.StatusOK || out["status"] != "ignored" || out["event"] != "invitee_no_show.created" {
		t.Fatalf("%d %v, want 200 ignored", code, out)
	}
	// an ignored event still has to be authentic
	code, _ = f.post(t, body, calendly.Sign([]byte("wrong"), time.Now(), body))
	if code != http.StatusUnauthorized {
		t.Fatalf("unsigned ignored event: %d, want 401", code)
	}
	if n := len(f.Signals(t)); n != 0 {
		t.Fatalf("%d items stored for an ignored event", n)
	}
	if f.Metrics.Total(ingest.MetricIgnored) != 1 {
		t.Errorf("ignored not counted")
	}
}

func TestBase64Body(t *testing.T) {
	f := newFixture(t, testKey, time.Now)
	body := readTestdata(t, "invitee-created")
	req := events.APIGatewayV2HTTPRequest{
		Headers:         map[string]string{"calendly-webhook-signature": calendly.Sign([]byte(testKey), time.Now(), body)},
		Body:            base64.StdEncoding.EncodeToString(body),
		IsBase64Encoded: true,
	}
	resp, err := f.Handler.Handle(context.Background(), req)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("base64 body: %d %s %v", resp.StatusCode, resp.Body, err)
	}
	req.Body = "!!not base64"
	resp, _ = f.Handler.Handle(context.Background(), req)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad base64: %d, want 400", resp.StatusCode)
	}
}
