package main

// These tests run the real bootstrap (built as for Lambda) under the Lambda
// Runtime Interface Emulator, against DynamoDB Local and an in-process
// Secrets Manager (kumo), configured only through the environment the
// template gives the function.

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
	"github.com/stagemover/stagemover/shared/store"
	"github.com/stagemover/stagemover/shared/testkit/lambdatest"
)

func TestMain(m *testing.M) {
	code := ddblocal.RunTests(m)
	lambdatest.Cleanup()
	os.Exit(code)
}

func randomSecret(t *testing.T, prefix string) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b)
}

type fixture struct {
	tbl       *ddblocal.TestTable
	env       map[string]string
	bootstrap string
	secrets   []string // values that must never reach the logs
}

func setup(t *testing.T) *fixture {
	bootstrap := lambdatest.Build(t, "ingest-generic")
	tbl := ddblocal.ForTest(t)
	sm := lambdatest.StartSecretsManager(t)
	hmacSecret := randomSecret(t, "hmac-")
	token := randomSecret(t, "pd-")
	f := &fixture{tbl: tbl, bootstrap: bootstrap, secrets: []string{hmacSecret, token}}
	f.env = map[string]string{
		// Globals.Function.Environment and the function's own variables.
		"TABLE_NAME":                    tbl.Name,
		"STAGEMOVER_MODE":               "live",
		"PIPEDRIVE_BASE_URL":            "https://api.pipedrive.com",
		"PIPEDRIVE_INTEGRATION_USER_ID": "1000",
		"INTERNAL_DOMAINS":              "acme-routing.io",
		"METRICS_NAMESPACE":             "StageMover",
		"INGEST_SECRET_ARN":             sm.Put(t, "stagemover/ingest-hmac", hmacSecret),
		// Where the AWS SDK finds the stand-ins.
		"AWS_ENDPOINT_URL_DYNAMODB":        tbl.Instance.Endpoint(),
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": sm.Endpoint,
	}
	sm.Put(t, "stagemover/pipedrive-token", `{"api_token":"`+token+`"}`)
	return f
}

func invoke(t *testing.T, rie *lambdatest.RIE, event []byte) events.APIGatewayV2HTTPResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
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

func TestIngestSampleEvent(t *testing.T) {
	f := setup(t)
	rie := lambdatest.Start(t, f.bootstrap, f.env)
	sample := lambdatest.Event(t, "ingest-generic.json")
	secret := f.secrets[0]
	wantKey := "SIG#generic#gmail-18e0f4c2a7b9d316"

	// The sample as it is carries a stale signature.
	if resp := invoke(t, rie, sample); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("unsigned-for-now sample: %d %s, want 401", resp.StatusCode, resp.Body)
	}

	resp := invoke(t, rie, lambdatest.SignHTTPEvent(t, sample, nil, secret, time.Now()))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("first delivery: %d %s, want 202\n%s", resp.StatusCode, resp.Body, rie.Output())
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil || body["status"] != "stored" || body["signal_key"] != wantKey {
		t.Errorf("first delivery body %s", resp.Body)
	}
	items := lambdatest.Items(t, f.tbl.DB, f.tbl.Name, store.TypeSignal)
	if len(items) != 1 {
		t.Fatalf("%d signal items after one delivery, want 1", len(items))
	}
	rec, err := store.SignalFromItem(items[0])
	if err != nil {
		t.Fatal(err)
	}
	if rec.Key() != wantKey || rec.DealID != 4217 || rec.Signal.Kind != "email" || !strings.Contains(rec.Signal.Body, "proposal") {
		t.Errorf("stored signal %+v", rec)
	}

	// A redelivery (the sender retries with the same event id, signed anew).
	time.Sleep(1100 * time.Millisecond) // a different timestamp, as a real retry has
	resp = invoke(t, rie, lambdatest.SignHTTPEvent(t, sample, nil, secret, time.Now()))
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, `"duplicate"`) {
		t.Errorf("redelivery: %d %s, want 200 duplicate", resp.StatusCode, resp.Body)
	}
	if n := len(lambdatest.Items(t, f.tbl.DB, f.tbl.Name, store.TypeSignal)); n != 1 {
		t.Errorf("%d signal items after a redelivery, want 1", n)
	}

	// Tampered: a validly signed request whose body was then changed (a new
	// event id and deal, so storing it would show).
	signed := lambdatest.SignHTTPEvent(t, sample, nil, secret, time.Now())
	var req events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(signed, &req); err != nil {
		t.Fatal(err)
	}
	tampered := strings.Replace(req.Body, `"event_id":"gmail-18e0f4c2a7b9d316","deal_id":4217`, `"event_id":"forged-1","deal_id":9999`, 1)
	if tampered == req.Body {
		t.Fatal("sample body changed shape; update the tamper test")
	}
	resp = invoke(t, rie, lambdatest.WithHeaders(t, signed, []byte(tampered), nil))
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("tampered body: %d %s, want 401", resp.StatusCode, resp.Body)
	}
	// Signed with the wrong secret.
	resp = invoke(t, rie, lambdatest.SignHTTPEvent(t, sample, []byte(tampered), "not-the-secret", time.Now()))
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong secret: %d %s, want 401", resp.StatusCode, resp.Body)
	}
	if n := len(lambdatest.Items(t, f.tbl.DB, f.tbl.Name, store.TypeSignal)); n != 1 {
		t.Errorf("%d signal items after rejected requests, want 1 (nothing stored on 4xx)", n)
	}

	out := rie.Output()
	if !strings.Contains(out, `"result":"stored"`) || !strings.Contains(out, `"msg":"ingest rejected"`) {
		t.Errorf("expected the function's JSON log lines in its output:\n%s", out)
	}
	lambdatest.AssertNoSecrets(t, out, f.secrets...)
}

// A missing variable stops the function at init, naming the variable, as a
// misconfigured deploy should show in CloudWatch.
func TestIngestMissingEnvFailsInit(t *testing.T) {
	f := setup(t)
	for _, name := range []string{"INGEST_SECRET_ARN", "TABLE_NAME"} {
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
			signed := lambdatest.SignHTTPEvent(t, lambdatest.Event(t, "ingest-generic.json"), nil, f.secrets[0], time.Now())
			out, err := rie.Invoke(ctx, signed)
			var ie *lambdatest.InvokeError
			if !errors.As(err, &ie) {
				t.Fatalf("invoke without %s: %s, %v; want an init failure", name, out, err)
			}
			logs := initLogs(rie)
			if !strings.Contains(logs, "init failed") || !strings.Contains(logs, name+" is required") {
				t.Errorf("init failure does not name %s:\n%s", name, logs)
			}
			if n := len(lambdatest.Items(t, f.tbl.DB, f.tbl.Name, store.TypeSignal)); n != 0 {
				t.Errorf("%d signal items stored by a function that failed init", n)
			}
			lambdatest.AssertNoSecrets(t, logs, f.secrets...)
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
