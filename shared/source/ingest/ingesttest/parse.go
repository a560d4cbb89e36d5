package ingesttest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stagemover/stagemover/shared/core/intent"
	"github.com/stagemover/stagemover/shared/core/signal"
	"github.com/stagemover/stagemover/shared/source/ingest"
)

// Swapper returns a function that replaces the first old in good with new,
// failing the test when good lacks old.
func Swapper(t testing.TB, good string) func(old, new string) string {
	return func(old, new string) string {
		t.Helper()
		if !strings.Contains(good, old) {
			t.Fatalf("sample lacks %q", old)
		}
		return strings.Replace(good, old, new, 1)
	}
}

// Reject is a body a parser must refuse, and what its error must say.
type Reject = struct{ Name, Body, Reason string }

// AssertRejects runs a subtest per case: parse(body) must fail with an
// error that is sentinel and says the case's reason.
func AssertRejects(t *testing.T, cases []Reject, sentinel error, parse func(body []byte) error) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			err := parse([]byte(tc.Body))
			if !errors.Is(err, sentinel) || !strings.Contains(err.Error(), tc.Reason) {
				t.Fatalf("error %v, want %v saying %q", err, sentinel, tc.Reason)
			}
		})
	}
}

// Decider returns decide(stage, items...): the default intent rules'
// decision at now on deal (its stage replaced) given the items' signals.
func Decider[T any](t *testing.T, now time.Time, internal []string, deal intent.Deal, sig func(T) signal.Signal) func(stage string, items ...T) intent.Decision {
	engine := intent.NewEngine(intent.DefaultRules())
	return func(stage string, items ...T) intent.Decision {
		t.Helper()
		d := deal
		d.Stage = stage
		in := intent.Input{Now: now, InternalDomains: internal, Deal: d}
		for _, it := range items {
			in.Signals = append(in.Signals, sig(it))
		}
		dec, err := engine.Decide(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		return dec
	}
}

// Stored is what a stored signal record must hold.
type Stored struct {
	EventID     string
	PersonEmail string
	Signal      signal.Signal
}

// AssertStoredExactly: the table holds exactly len(want) signals and each
// of want is among them, received at at.
func (f *Fixture) AssertStoredExactly(t *testing.T, want []Stored, at time.Time) {
	t.Helper()
	recs := f.Signals(t)
	if len(recs) != len(want) {
		t.Fatalf("%d items, want %d", len(recs), len(want))
	}
	for _, w := range want {
		found := false
		for _, r := range recs {
			gj, _ := json.Marshal(r.Signal)
			wj, _ := json.Marshal(w.Signal)
			if r.EventID == w.EventID && string(gj) == string(wj) && r.PersonEmail == w.PersonEmail && r.ReceivedAt.Equal(at) {
				found = true
			}
		}
		if !found {
			t.Errorf("no stored record equals the golden item %+v", w)
		}
	}
}

// AssertAcceptedOnce hands req to the handler twice: the first time it is
// accepted (202), the second it is a duplicate (200).
func (f *Fixture) AssertAcceptedOnce(t *testing.T, req events.APIGatewayV2HTTPRequest) {
	t.Helper()
	resp, err := f.Handler.Handle(context.Background(), req)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("%d %s %v, want 202", resp.StatusCode, resp.Body, err)
	}
	resp, _ = f.Handler.Handle(context.Background(), req)
	if resp.StatusCode != http.StatusOK || !bytes.Contains([]byte(resp.Body), []byte(`"status":"duplicate"`)) {
		t.Fatalf("redelivered: %d %s", resp.StatusCode, resp.Body)
	}
}

// DoJSON is Do with the response body decoded as a JSON object; a body
// that is not one is an error. A failed request is status 0 and no body.
func (f *Fixture) DoJSON(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	code, raw := f.Do(t, req)
	if code == 0 {
		return 0, nil
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Errorf("response %q is not a JSON object: %v", raw, err)
	}
	return code, out
}

// AssertRefused: the response has status want and its error says reason.
func AssertRefused(t *testing.T, code int, out map[string]any, want int, reason string) {
	t.Helper()
	if code != want {
		t.Fatalf("status %d %v, want %d", code, out, want)
	}
	if got, _ := out["error"].(string); !strings.Contains(got, reason) {
		t.Fatalf("reason %q does not say %q", got, reason)
	}
}

// AssertAllRejected: nothing is stored and rejected requests were counted
// as IngestRejected.
func (f *Fixture) AssertAllRejected(t *testing.T, rejected int) {
	t.Helper()
	if n := len(f.Signals(t)); n != 0 {
		t.Fatalf("%d items stored by rejected deliveries", n)
	}
	if got := f.Metrics.Total(ingest.MetricRejected); got != float64(rejected) {
		t.Errorf("IngestRejected = %v, want %d", got, rejected)
	}
}
