package main

// These tests run the real bootstrap (built as for Lambda) under the Lambda
// Runtime Interface Emulator, against DynamoDB Local and an in-process
// Secrets Manager (kumo) holding the PandaDoc shared key, configured only
// through the environment. The sample events/ingest-pandadoc.json is
// re-signed with the stored key, as PandaDoc signs each delivery (the
// signature query parameter).

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
	"github.com/stagemover/stagemover/shared/source/pandadoc"
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
	bootstrap := lambdatest.Build(t, "ingest-pandadoc")
	tbl := ddblocal.ForTest(t)
	sm := lambdatest.StartSecretsManager(t)
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	key := "pdoc-" + hex.EncodeToString(b)
	f := &fixture{tbl: tbl, bootstrap: bootstrap, key: key}
	f.env = map[string]string{
		"TABLE_NAME":                     tbl.Name,
		"STAGEMOVER_MODE":                "live",
		"PIPEDRIVE_BASE_URL":             "https://api.pipedrive.com",
		"PIPEDRIVE_INTEGRATION_USER_ID":  "1000",
		"INTERNAL_DOMAINS":               "acme-routing.io",
		"METRICS_NAMESPACE":              "StageMover",
		"PANDADOC_SHARED_KEY_SECRET_ARN": sm.Put(t, "stagemover/pandadoc-shared-key", `{"shared_key":"`+key+`"}`),
		// Where the AWS SDK finds the stand-ins.
		"AWS_ENDPOINT_URL_DYNAMODB":        tbl.Instance.Endpoint(),
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": sm.Endpoint,
	}
	return f
}

// signed returns the sample with its signature query parameter made with key.
func signed(t *testing.T, sample []byte, key string) []byte {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(sample, &doc); err != nil {
		t.Fatal(err)
	}
	body, _ := doc["body"].(string)
	sig := pandadoc.Sign([]byte(key), []byte(body))
	doc["rawQueryString"] = "signature=" + sig
	doc["queryStringParameters"] = map[string]string{"signature": sig}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
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

func TestIngestPandaDocSample(t *testing.T) {
	f := setup(t)
	rie := lambdatest.Start(t, f.bootstrap, f.env)
	sample := lambdatest.Event(t, "ingest-pandadoc.json")

	// Refused, storing nothing: the sample's own signature (made with the
	// sample key) and a signature made with another key.
	for name, ev := range map[string][]byte{"sample signature": sample, "wrong key": signed(t, sample, "not-the-shared-key")} {
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
	// The sample is one delivery of two notifications: the vendor's
	// countersignature (recipient_completed, kept as the vendor's: the
	// engine discounts it) and the buyer-side document.completed.
	sigs := f.signals(t)
	if len(sigs) != 2 {
		t.Fatalf("%d signals after one delivery of two notifications, want 2", len(sigs))
	}
	actors := map[string]bool{}
	for _, s := range sigs {
		if s.Source != pandadoc.Source || s.Signal.Kind != "document" || s.Signal.Action != "completed" || s.PersonEmail != "dana.whitfield@northwind-logistics.com" {
			t.Errorf("stored signal %+v", s)
		}
		actors[s.Signal.Actor] = true
	}
	if !actors["dana.whitfield@northwind-logistics.com"] || !actors["priya.nair@acme-routing.io"] {
		t.Errorf("signal actors %v, want the buyer and the vendor's countersigner", actors)
	}

	// The provider redelivers the same notification.
	resp = invoke(t, rie, good)
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, `"duplicate"`) {
		t.Errorf("redelivery: %d %s, want 200 duplicate", resp.StatusCode, resp.Body)
	}
	if n := len(f.signals(t)); n != 2 {
		t.Errorf("%d signals after a redelivery, want still 2", n)
	}

	out := rie.Output()
	if !strings.Contains(out, `"result":"stored"`) || !strings.Contains(out, `"msg":"ingest rejected"`) {
		t.Errorf("expected the function's JSON log lines in its output:\n%s", out)
	}
	lambdatest.AssertNoSecrets(t, out, f.key)
}

// A missing variable stops the function at init, naming the variable.
func TestIngestPandaDocMissingEnvFailsInit(t *testing.T) {
	f := setup(t)
	event := signed(t, lambdatest.Event(t, "ingest-pandadoc.json"), f.key)
	for _, name := range []string{"PANDADOC_SHARED_KEY_SECRET_ARN", "TABLE_NAME"} {
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

// A shared key nobody should sign with (the template's own placeholder, an
// empty or short key) verifies nothing: the route answers 503 "not
// configured" before reading the body, stores nothing, and the log names
// the secret's variable but never the key.
func TestIngestPandaDocRefusesUnusableKey(t *testing.T) {
	f := setup(t)
	sm := lambdatest.StartSecretsManager(t)
	sample := lambdatest.Event(t, "ingest-pandadoc.json")
	template := lambdatest.TemplateSecretString(t, "PandaDocSharedKeySecret")
	for _, tc := range []struct{ name, secret string }{
		{"the template's secret", template},
		{"empty", `{"shared_key":""}`},
		{"15 bytes", `{"shared_key":"pdoc-15-bytes-k"}`},
		{"a placeholder among keys", `{"shared_key":"` + f.key + `,changeme"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := lambdatest.SecretField(t, tc.secret, "shared_key")
			env := map[string]string{}
			for k, v := range f.env {
				env[k] = v
			}
			env["PANDADOC_SHARED_KEY_SECRET_ARN"] = sm.Put(t, "stagemover/pandadoc-unusable", tc.secret)
			rie := lambdatest.Start(t, f.bootstrap, env)
			for _, k := range strings.Split(key, ",") {
				resp := invoke(t, rie, signed(t, sample, k))
				if resp.StatusCode != http.StatusServiceUnavailable || resp.Body != `{"error":"not configured"}` {
					t.Errorf("signed with the secret's key: %d %s, want 503 not configured", resp.StatusCode, resp.Body)
				}
			}
			if n := len(f.signals(t)); n != 0 {
				t.Fatalf("%d signals stored with an unusable key, want 0", n)
			}
			out := rie.Output()
			if !strings.Contains(out, "PANDADOC_SHARED_KEY_SECRET_ARN") {
				t.Errorf("the log does not name the secret's variable:\n%s", out)
			}
			lambdatest.AssertNoSecrets(t, out, strings.Split(key, ",")...)
		})
	}
}
