package main

// These tests run the real bootstrap (built as for Lambda) under the Lambda
// Runtime Interface Emulator with lambdatest.Fixture: DynamoDB Local and an
// in-process Secrets Manager (kumo) holding the webhook signing key, in the
// environment template.yaml gives the function. The samples
// events/ingest-calendly-created.json and -canceled.json are re-signed with
// the stored key at the current time, as Calendly signs each delivery.

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/source/calendly"
	"github.com/stagemover/stagemover/shared/testkit"
	"github.com/stagemover/stagemover/shared/testkit/lambdatest"
)

func TestMain(m *testing.M) { os.Exit(lambdatest.RunTests(m)) }

func setup(t *testing.T) (*lambdatest.Fixture, string) {
	return lambdatest.NewKeyedFixture(t, "ingest-calendly", "cal-", "CALENDLY_SIGNING_KEY_SECRET_ARN", "stagemover/calendly-signing-key", "signing_key")
}

// signed returns the sample with its Calendly-Webhook-Signature made with
// key at now (body nil keeps the sample's body).
func signed(t *testing.T, sample, body []byte, key string, now time.Time) []byte {
	t.Helper()
	if body == nil {
		body = []byte(testkit.DecodeHTTPEvent(t, sample).Body)
	}
	h := calendly.Sign([]byte(key), now, body)
	return testkit.WithHeaders(t, sample, body, map[string]string{"calendly-webhook-signature": h})
}

func TestIngestCalendlySamples(t *testing.T) {
	f, signingKey := setup(t)
	rie := f.Start(t)
	created := testkit.Event(t, "ingest-calendly-created.json")
	canceled := testkit.Event(t, "ingest-calendly-canceled.json")

	// Refused, storing nothing: the sample's own (stale) signature, a
	// signature made with another key, and a body changed after signing.
	if resp := rie.InvokeHTTP(t, created); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("sample with its stale signature: %d %s, want 401", resp.StatusCode, resp.Body)
	}
	if resp := rie.InvokeHTTP(t, signed(t, created, nil, "not-the-signing-key", time.Now())); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("signed with another key: %d %s, want 401", resp.StatusCode, resp.Body)
	}
	good := signed(t, created, nil, signingKey, time.Now())
	req := testkit.DecodeHTTPEvent(t, good)
	tampered := strings.Replace(req.Body, "dana.whitfield@northwind-logistics.com", "mallory@example.com", 1)
	if tampered == req.Body {
		t.Fatal("sample body changed shape; update the tamper test")
	}
	if resp := rie.InvokeHTTP(t, testkit.WithHeaders(t, good, []byte(tampered), nil)); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("tampered body: %d %s, want 401", resp.StatusCode, resp.Body)
	}
	if n := len(f.Signals(t)); n != 0 {
		t.Fatalf("%d signals stored by refused deliveries, want 0", n)
	}

	// invitee.created: one meeting signal.
	sigs := f.DeliverStored(t, rie, good, "invitee.created", 1)
	first := sigs[0]
	if first.Source != calendly.Source || first.PersonEmail != "dana.whitfield@northwind-logistics.com" || first.Signal.Kind != "meeting" {
		t.Errorf("stored signal %+v", first)
	}

	// Calendly redelivers the same delivery, signed anew.
	time.Sleep(1100 * time.Millisecond) // a different t=, as a real retry has
	f.AssertRedelivered(t, rie, signed(t, created, nil, signingKey, time.Now()), 1)

	// invitee.canceled: one more signal, about the same invitee.
	resp := rie.InvokeHTTP(t, signed(t, canceled, nil, signingKey, time.Now()))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("invitee.canceled: %d %s, want 202\n%s", resp.StatusCode, resp.Body, rie.Output())
	}
	sigs = f.Signals(t)
	if len(sigs) != 2 {
		t.Fatalf("%d signals after the cancellation, want 2", len(sigs))
	}
	for _, s := range sigs {
		if s.Key() == first.Key() {
			continue
		}
		if s.PersonEmail != first.PersonEmail || s.Signal.Kind != "meeting" || s.Signal.Status != "canceled" {
			t.Errorf("cancellation signal %+v (status %q), want a canceled meeting with %s", s, s.Signal.Status, first.PersonEmail)
		}
	}
	resp = rie.InvokeHTTP(t, signed(t, canceled, nil, "not-the-signing-key", time.Now()))
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("cancellation signed with another key: %d, want 401", resp.StatusCode)
	}
	if n := len(f.Signals(t)); n != 2 {
		t.Errorf("%d signals after a refused delivery, want still 2", n)
	}

	f.AssertIngestLogged(t, rie)
}

// A missing variable stops the function at init, naming the variable.
func TestIngestCalendlyMissingEnvFailsInit(t *testing.T) {
	f, signingKey := setup(t)
	event := signed(t, testkit.Event(t, "ingest-calendly-created.json"), nil, signingKey, time.Now())
	f.AssertInitFailsStoringNoSignals(t, event, []string{"CALENDLY_SIGNING_KEY_SECRET_ARN", "TABLE_NAME"})
}
