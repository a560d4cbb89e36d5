package main

// These tests run the real bootstrap (built as for Lambda) under the Lambda
// Runtime Interface Emulator with lambdatest.Fixture: DynamoDB Local and an
// in-process Secrets Manager (kumo), in the environment template.yaml gives
// the function.

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/testkit"
	"github.com/stagemover/stagemover/shared/testkit/lambdatest"
)

func TestMain(m *testing.M) { os.Exit(lambdatest.RunTests(m)) }

// setup returns the fixture and the HMAC secret senders sign with. The
// Pipedrive token is stored too (the function must not need it), and
// hidden like the secret.
func setup(t *testing.T) (*lambdatest.Fixture, string) {
	f := lambdatest.NewFixture(t, "ingest-generic")
	secret := testkit.RandomSecret(t, "hmac-")
	token := testkit.RandomSecret(t, "pd-")
	f.PutSecret(t, "INGEST_SECRET_ARN", "stagemover/ingest-hmac", secret, secret)
	f.PutSecret(t, "", "stagemover/pipedrive-token", testkit.SecretJSON("api_token", token), token)
	return f, secret
}

func TestIngestSampleEvent(t *testing.T) {
	f, secret := setup(t)
	rie := f.Start(t)
	sample := testkit.Event(t, "ingest-generic.json")
	wantKey := "SIG#generic#gmail-18e0f4c2a7b9d316"

	// The sample as it is carries a stale signature.
	if resp := rie.InvokeHTTP(t, sample); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("unsigned-for-now sample: %d %s, want 401", resp.StatusCode, resp.Body)
	}

	resp := rie.InvokeHTTP(t, lambdatest.SignHTTPEvent(t, sample, nil, secret, time.Now()))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("first delivery: %d %s, want 202\n%s", resp.StatusCode, resp.Body, rie.Output())
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil || body["status"] != "stored" || body["signal_key"] != wantKey {
		t.Errorf("first delivery body %s", resp.Body)
	}
	sigs := f.Signals(t)
	if len(sigs) != 1 {
		t.Fatalf("%d signal items after one delivery, want 1", len(sigs))
	}
	if rec := sigs[0]; rec.Key() != wantKey || rec.DealID != 4217 || rec.Signal.Kind != "email" || !strings.Contains(rec.Signal.Body, "proposal") {
		t.Errorf("stored signal %+v", rec)
	}

	// A redelivery (the sender retries with the same event id, signed anew).
	time.Sleep(1100 * time.Millisecond) // a different timestamp, as a real retry has
	f.AssertRedelivered(t, rie, lambdatest.SignHTTPEvent(t, sample, nil, secret, time.Now()), 1)

	// Tampered: a validly signed request whose body was then changed (a new
	// event id and deal, so storing it would show).
	signed := lambdatest.SignHTTPEvent(t, sample, nil, secret, time.Now())
	req := testkit.DecodeHTTPEvent(t, signed)
	tampered := strings.Replace(req.Body, `"event_id":"gmail-18e0f4c2a7b9d316","deal_id":4217`, `"event_id":"forged-1","deal_id":9999`, 1)
	if tampered == req.Body {
		t.Fatal("sample body changed shape; update the tamper test")
	}
	resp = rie.InvokeHTTP(t, testkit.WithHeaders(t, signed, []byte(tampered), nil))
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("tampered body: %d %s, want 401", resp.StatusCode, resp.Body)
	}
	// Signed with the wrong secret.
	resp = rie.InvokeHTTP(t, lambdatest.SignHTTPEvent(t, sample, []byte(tampered), "not-the-secret", time.Now()))
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong secret: %d %s, want 401", resp.StatusCode, resp.Body)
	}
	if n := len(f.Signals(t)); n != 1 {
		t.Errorf("%d signal items after rejected requests, want 1 (nothing stored on 4xx)", n)
	}

	f.AssertIngestLogged(t, rie)
}

// A missing variable stops the function at init, naming the variable, as a
// misconfigured deploy should show in CloudWatch.
func TestIngestMissingEnvFailsInit(t *testing.T) {
	f, secret := setup(t)
	for _, name := range []string{"INGEST_SECRET_ARN", "TABLE_NAME"} {
		t.Run(name, func(t *testing.T) {
			rie := f.StartWithout(t, name)
			logs := rie.InitFailure(t, lambdatest.SignHTTPEvent(t, testkit.Event(t, "ingest-generic.json"), nil, secret, time.Now()))
			if !strings.Contains(logs, "init failed") || !strings.Contains(logs, name+" is required") {
				t.Errorf("init failure does not name %s:\n%s", name, logs)
			}
			if n := len(f.Signals(t)); n != 0 {
				t.Errorf("%d signal items stored by a function that failed init", n)
			}
			f.AssertNoSecrets(t, logs)
		})
	}
}
