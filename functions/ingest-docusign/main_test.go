package main

// These tests run the real bootstrap (built as for Lambda) under the Lambda
// Runtime Interface Emulator, against DynamoDB Local and an in-process
// Secrets Manager (kumo) holding the DocuSign Connect HMAC key, configured only
// through the environment. The sample events/ingest-docusign.json is
// re-signed with the stored key, as Connect signs each message (the
// X-DocuSign-Signature-1 header).

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
	"github.com/stagemover/stagemover/shared/source/docusign"
	"github.com/stagemover/stagemover/shared/store"
	"github.com/stagemover/stagemover/shared/testkit/lambdatest"
)

func TestMain(m *testing.M) {
	code := ddblocal.RunTests(m)
	lambdatest.Cleanup()
	os.Exit(code)
}

type fixture struct {
	tbl       *ddblocal.TestTable
	env       map[string]string
	bootstrap string
	key       string
}

func setup(t *testing.T) *fixture {
	bootstrap := lambdatest.Build(t, "ingest-docusign")
	tbl := ddblocal.ForTest(t)
	sm := lambdatest.StartSecretsManager(t)
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	key := "dsgn-" + hex.EncodeToString(b)
	f := &fixture{tbl: tbl, bootstrap: bootstrap, key: key}
	f.env = map[string]string{
		"TABLE_NAME":                    tbl.Name,
		"STAGEMOVER_MODE":               "live",
		"PIPEDRIVE_BASE_URL":            "https://api.pipedrive.com",
		"PIPEDRIVE_INTEGRATION_USER_ID": "1000",
		"INTERNAL_DOMAINS":              "acme-routing.io",
		"METRICS_NAMESPACE":             "StageMover",
		"DOCUSIGN_HMAC_SECRET_ARN":      sm.Put(t, "stagemover/docusign-hmac-keys", `{"hmac_keys":"`+key+`"}`),
		// Where the AWS SDK finds the stand-ins.
		"AWS_ENDPOINT_URL_DYNAMODB":        tbl.Instance.Endpoint(),
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": sm.Endpoint,
	}
	return f
}

// signed returns the sample with X-DocuSign-Signature-1 made with key.
func signed(t *testing.T, sample []byte, key string) []byte {
	t.Helper()
	var req events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(sample, &req); err != nil {
		t.Fatal(err)
	}
	return lambdatest.WithHeaders(t, sample, nil, map[string]string{"x-docusign-signature-1": docusign.Sign([]byte(key), []byte(req.Body))})
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

func TestIngestDocuSignSample(t *testing.T) {
	f := setup(t)
	rie := lambdatest.Start(t, f.bootstrap, f.env)
	sample := lambdatest.Event(t, "ingest-docusign.json")

	// Refused, storing nothing: the sample's own signature (made with the
	// sample key) and a signature made with another key.
	for name, ev := range map[string][]byte{"sample signature": sample, "wrong key": signed(t, sample, "not-the-hmac-key")} {
		if resp := invoke(t, rie, ev); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %d %s, want 401", name, resp.StatusCode, resp.Body)
		}
	}
	if n := len(f.signals(t)); n != 0 {
		t.Fatalf("%d signals stored by refused deliveries, want 0", n)
	}

	good := signed(t, sample, f.key)
	resp := invoke(t, rie, good)
	if resp.StatusCode != http.StatusAccepted || !strings.Contains(resp.Body, `"stored"`) {
		t.Fatalf("signed sample: %d %s, want 202 stored\n%s", resp.StatusCode, resp.Body, rie.Output())
	}
	sigs := f.signals(t)
	if len(sigs) != 1 {
		t.Fatalf("%d signals after one delivery, want 1", len(sigs))
	}
	if s := sigs[0]; s.Source != docusign.Source || s.Signal.Kind != "document" || s.Signal.Action != "completed" {
		t.Errorf("stored signal %+v", s)
	}

	// The provider redelivers the same notification.
	resp = invoke(t, rie, good)
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, `"duplicate"`) {
		t.Errorf("redelivery: %d %s, want 200 duplicate", resp.StatusCode, resp.Body)
	}
	if n := len(f.signals(t)); n != 1 {
		t.Errorf("%d signals after a redelivery, want still 1", n)
	}

	out := rie.Output()
	if !strings.Contains(out, `"result":"stored"`) || !strings.Contains(out, `"msg":"ingest rejected"`) {
		t.Errorf("expected the function's JSON log lines in its output:\n%s", out)
	}
	lambdatest.AssertNoSecrets(t, out, f.key)
}

// A missing variable stops the function at init, naming the variable.
func TestIngestDocuSignMissingEnvFailsInit(t *testing.T) {
	f := setup(t)
	event := signed(t, lambdatest.Event(t, "ingest-docusign.json"), f.key)
	for _, name := range []string{"DOCUSIGN_HMAC_SECRET_ARN", "TABLE_NAME"} {
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
			out, err := rie.Invoke(ctx, event)
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
			lambdatest.AssertNoSecrets(t, logs, f.key)
		})
	}
}

// initLogs waits for the init failure to reach the captured output.
func initLogs(rie *lambdatest.RIE) string {
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(rie.Output(), "init failed") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	return rie.Output()
}

// An HMAC key nobody should sign with (the template's own placeholder, an
// empty or short key) verifies nothing: the route answers 503 "not
// configured" before reading the body, stores nothing, and the log names
// the secret's variable but never the key.
func TestIngestDocuSignRefusesUnusableKey(t *testing.T) {
	f := setup(t)
	sm := lambdatest.StartSecretsManager(t)
	sample := lambdatest.Event(t, "ingest-docusign.json")
	template := lambdatest.TemplateSecretString(t, "DocuSignHmacSecret")
	for _, tc := range []struct{ name, secret string }{
		{"the template's secret", template},
		{"empty", `{"hmac_keys":""}`},
		{"15 bytes", `{"hmac_keys":"dsgn-15-bytes-k"}`},
		{"a placeholder among keys", `{"hmac_keys":"` + f.key + `,REPLACE_ME"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys := lambdatest.SecretField(t, tc.secret, "hmac_keys")
			env := map[string]string{}
			for k, v := range f.env {
				env[k] = v
			}
			env["DOCUSIGN_HMAC_SECRET_ARN"] = sm.Put(t, "stagemover/docusign-unusable", tc.secret)
			rie := lambdatest.Start(t, f.bootstrap, env)
			for _, k := range strings.Split(keys, ",") {
				resp := invoke(t, rie, signed(t, sample, k))
				if resp.StatusCode != http.StatusServiceUnavailable || resp.Body != `{"error":"not configured"}` {
					t.Errorf("signed with the secret's key: %d %s, want 503 not configured", resp.StatusCode, resp.Body)
				}
			}
			if n := len(f.signals(t)); n != 0 {
				t.Fatalf("%d signals stored with an unusable key, want 0", n)
			}
			out := rie.Output()
			if !strings.Contains(out, "DOCUSIGN_HMAC_SECRET_ARN") {
				t.Errorf("the log does not name the secret's variable:\n%s", out)
			}
			lambdatest.AssertNoSecrets(t, out, strings.Split(keys, ",")...)
		})
	}
}
