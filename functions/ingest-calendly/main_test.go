package main

// These tests run the real bootstrap (built as for Lambda) under the Lambda
// Runtime Interface Emulator, against DynamoDB Local and an in-process
// Secrets Manager (kumo) holding the webhook signing key, configured only
// through the environment template.yaml gives the function. The samples
// events/ingest-calendly-created.json and -canceled.json are re-signed with
// the stored key at the current time, as Calendly signs each delivery.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stagemover/stagemover/shared/dev/ddblocal"
	"github.com/stagemover/stagemover/shared/source/calendly"
	"github.com/stagemover/stagemover/shared/store"
	"github.com/stagemover/stagemover/shared/testkit/lambdatest"
)

func TestMain(m *testing.M) {
	code := ddblocal.RunTests(m)
	lambdatest.Cleanup()
	os.Exit(code)
}

func randomSecret(t *testing.T, prefix string) string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b)
}

type fixture struct {
	tbl        *ddblocal.TestTable
	env        map[string]string
	bootstrap  string
	signingKey string
}

func setup(t *testing.T) *fixture {
	bootstrap := lambdatest.Build(t, "ingest-calendly")
	tbl := ddblocal.ForTest(t)
	sm := lambdatest.StartSecretsManager(t)
	key := randomSecret(t, "cal-")
	f := &fixture{tbl: tbl, bootstrap: bootstrap, signingKey: key}
	f.env = map[string]string{
		// Globals.Function.Environment and the function's own variables.
		"TABLE_NAME":                      tbl.Name,
		"STAGEMOVER_MODE":                 "live",
		"PIPEDRIVE_BASE_URL":              "https://api.pipedrive.com",
		"PIPEDRIVE_INTEGRATION_USER_ID":   "1000",
		"INTERNAL_DOMAINS":                "acme-routing.io",
		"METRICS_NAMESPACE":               "StageMover",
		"CALENDLY_SIGNING_KEY_SECRET_ARN": sm.Put(t, "stagemover/calendly-signing-key", `{"signing_key":"`+key+`"}`),
		// Where the AWS SDK finds the stand-ins.
		"AWS_ENDPOINT_URL_DYNAMODB":        tbl.Instance.Endpoint(),
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": sm.Endpoint,
	}
	return f
}

// signed returns the sample with its Calendly-Webhook-Signature made with
// key at now (body nil keeps the sample's body).
func signed(t *testing.T, sample, body []byte, key string, now time.Time) []byte {
	t.Helper()
	if body == nil {
		var req events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(sample, &req); err != nil {
			t.Fatal(err)
		}
		body = []byte(req.Body)
	}
	h := calendly.Sign([]byte(key), now, body)
	return lambdatest.WithHeaders(t, sample, body, map[string]string{"calendly-webhook-signature": h})
}

func invoke(t *testing.T, rie *lambdatest.RIE, event []byte) events.APIGatewayV2HTTPResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := rie.Invoke(ctx, event)
	if err != nil {
		t.Fatalf("invoke: %v\nfunction output:\n%s", err, rie.Output())
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode == 0 {
		t.Fatalf("not an HTTP API response: %s\nfunction output:\n%s", out, rie.Output())
	}
	return resp
}

func (f *fixture) signals(t *testing.T) []store.SignalRecord {
	t.Helper()
	var out []store.SignalRecord
	for _, item := range lambdatest.Items(t, f.tbl.DB, f.tbl.Name, store.TypeSignal) {
		rec, err := store.SignalFromItem(item)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rec)
	}
	return out
}

func TestIngestCalendlySamples(t *testing.T) {
	f := setup(t)
	rie := lambdatest.Start(t, f.bootstrap, f.env)
	created := lambdatest.Event(t, "ingest-calendly-created.json")
	canceled := lambdatest.Event(t, "ingest-calendly-canceled.json")

	// Refused, storing nothing: the sample's own (stale) signature, a
	// signature made with another key, and a body changed after signing.
	if resp := invoke(t, rie, created); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("sample with its stale signature: %d %s, want 401", resp.StatusCode, resp.Body)
	}
	if resp := invoke(t, rie, signed(t, created, nil, "not-the-signing-key", time.Now())); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("signed with another key: %d %s, want 401", resp.StatusCode, resp.Body)
	}
	good := signed(t, created, nil, f.signingKey, time.Now())
	var req events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(good, &req); err != nil {
		t.Fatal(err)
	}
	tampered := strings.Replace(req.Body, "dana.whitfield@northwind-logistics.com", "mallory@example.com", 1)
	if tampered == req.Body {
		t.Fatal("sample body changed shape; update the tamper test")
	}
	if resp := invoke(t, rie, lambdatest.WithHeaders(t, good, []byte(tampered), nil)); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("tampered body: %d %s, want 401", resp.StatusCode, resp.Body)
	}
	if n := len(f.signals(t)); n != 0 {
		t.Fatalf("%d signals stored by refused deliveries, want 0", n)
	}

	// invitee.created: one meeting signal.
	resp := invoke(t, rie, good)
	if resp.StatusCode != http.StatusAccepted || !strings.Contains(resp.Body, `"stored"`) {
		t.Fatalf("invitee.created: %d %s, want 202 stored\n%s", resp.StatusCode, resp.Body, rie.Output())
	}
	sigs := f.signals(t)
	if len(sigs) != 1 {
		t.Fatalf("%d signals after one delivery, want 1", len(sigs))
	}
	first := sigs[0]
	if first.Source != calendly.Source || first.PersonEmail != "dana.whitfield@northwind-logistics.com" || first.Signal.Kind != "meeting" {
		t.Errorf("stored signal %+v", first)
	}

	// Calendly redelivers the same delivery, signed anew.
	time.Sleep(1100 * time.Millisecond) // a different t=, as a real retry has
	resp = invoke(t, rie, signed(t, created, nil, f.signingKey, time.Now()))
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, `"duplicate"`) {
		t.Errorf("redelivery: %d %s, want 200 duplicate", resp.StatusCode, resp.Body)
	}
	if n := len(f.signals(t)); n != 1 {
		t.Errorf("%d signals after a redelivery, want still 1", n)
	}

	// invitee.canceled: one more signal, about the same invitee.
	resp = invoke(t, rie, signed(t, canceled, nil, f.signingKey, time.Now()))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("invitee.canceled: %d %s, want 202\n%s", resp.StatusCode, resp.Body, rie.Output())
	}
	sigs = f.signals(t)
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
	resp = invoke(t, rie, signed(t, canceled, nil, "not-the-signing-key", time.Now()))
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("cancellation signed with another key: %d, want 401", resp.StatusCode)
	}
	if n := len(f.signals(t)); n != 2 {
		t.Errorf("%d signals after a refused delivery, want still 2", n)
	}

	out := rie.Output()
	if !strings.Contains(out, `"result":"stored"`) || !strings.Contains(out, `"msg":"ingest rejected"`) {
		t.Errorf("expected the function's JSON log lines in its output:\n%s", out)
	}
	lambdatest.AssertNoSecrets(t, out, f.signingKey)
}

// A missing variable stops the function at init, naming the variable.
func TestIngestCalendlyMissingEnvFailsInit(t *testing.T) {
	f := setup(t)
	event := lambdatest.Event(t, "ingest-calendly-created.json")
	for _, name := range []string{"CALENDLY_SIGNING_KEY_SECRET_ARN", "TABLE_NAME"} {
		t.Run(name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range f.env {
				if k != name {
					env[k] = v
				}
			}
			rie := lambdatest.Start(t, f.bootstrap, env)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			out, err := rie.Invoke(ctx, signed(t, event, nil, f.signingKey, time.Now()))
			var ie *lambdatest.InvokeError
			if !errors.As(err, &ie) {
				t.Fatalf("invoke without %s: %s, %v; want an init failure", name, out, err)
			}
			logs := initLogs(rie)
			if !strings.Contains(logs, "init failed") || !strings.Contains(logs, name) {
				t.Errorf("init failure does not name %s:\n%s", name, logs)
			}
			if n := len(f.signals(t)); n != 0 {
				t.Errorf("%d signals stored by a function that failed init", n)
			}
			lambdatest.AssertNoSecrets(t, logs, f.signingKey)
		})
	}
}

// initLogs waits for the function's init failure to reach the captured
// output: the emulator may answer the invoke before it has copied the
// function's stderr.
func initLogs(rie *lambdatest.RIE) string {
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(rie.Output(), "init failed") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	return rie.Output()
}
