package main

// These tests run the real bootstrap (built as for Lambda) under the Lambda
// Runtime Interface Emulator, against DynamoDB Local and an in-process
// Secrets Manager (kumo) holding the subscriptions' clientState, configured
// only through the environment template.yaml gives the function. The samples
// are events/ingest-graph-validation.json (the handshake) and
// events/ingest-graph-notification.json, whose clientState is replaced by
// the stored secret, as Graph sends the clientState the subscription was
// created with.

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
	"github.com/stagemover/stagemover/shared/source/graph"
	"github.com/stagemover/stagemover/shared/store"
	"github.com/stagemover/stagemover/shared/testkit/lambdatest"
)

func TestMain(m *testing.M) {
	code := ddblocal.RunTests(m)
	lambdatest.Cleanup()
	os.Exit(code)
}

// sampleClientState is the clientState events/ingest-graph-notification.json carries.
const sampleClientState = "stagemover-graph-sample-client-state-not-for-production"

// sampleMailbox is the mailbox the sample notification's URL names.
const sampleMailbox = "sam.ortega@acme-routing.io"

func randomSecret(t *testing.T, prefix string) string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b)
}

type fixture struct {
	tbl         *ddblocal.TestTable
	env         map[string]string
	bootstrap   string
	clientState string
}

func setup(t *testing.T) *fixture {
	bootstrap := lambdatest.Build(t, "ingest-graph")
	tbl := ddblocal.ForTest(t)
	sm := lambdatest.StartSecretsManager(t)
	cs := randomSecret(t, "cs")
	f := &fixture{tbl: tbl, bootstrap: bootstrap, clientState: cs}
	f.env = map[string]string{
		// Globals.Function.Environment and the function's own variables.
		"TABLE_NAME":                    tbl.Name,
		"STAGEMOVER_MODE":               "live",
		"PIPEDRIVE_BASE_URL":            "https://api.pipedrive.com",
		"PIPEDRIVE_INTEGRATION_USER_ID": "1000",
		"INTERNAL_DOMAINS":              "acme-routing.io",
		"METRICS_NAMESPACE":             "StageMover",
		"GRAPH_CLIENT_STATE_SECRET_ARN": sm.Put(t, "stagemover/graph-client-state", `{"client_state":"`+cs+`"}`),
		"GRAPH_MAILBOXES":               sampleMailbox + ",li.chen@acme-routing.io",
		// Where the AWS SDK finds the stand-ins.
		"AWS_ENDPOINT_URL_DYNAMODB":        tbl.Instance.Endpoint(),
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": sm.Endpoint,
	}
	return f
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

// withClientState returns the notification sample carrying clientState.
func withClientState(t *testing.T, sample []byte, clientState string) []byte {
	t.Helper()
	var req events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(sample, &req); err != nil {
		t.Fatal(err)
	}
	body := strings.ReplaceAll(req.Body, `"clientState":"`+sampleClientState+`"`, `"clientState":"`+clientState+`"`)
	if body == req.Body {
		t.Fatal("the notification sample no longer carries the sample clientState; update the test")
	}
	return lambdatest.WithHeaders(t, sample, []byte(body), nil)
}

func (f *fixture) fetches(t *testing.T) []store.FetchRecord {
	t.Helper()
	var out []store.FetchRecord
	for _, item := range lambdatest.Items(t, f.tbl.DB, f.tbl.Name, store.TypeFetch) {
		rec, err := store.FetchFromItem(item)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rec)
	}
	return out
}

func (f *fixture) countAll(t *testing.T) int {
	return len(lambdatest.Items(t, f.tbl.DB, f.tbl.Name, store.TypeFetch)) +
		len(lambdatest.Items(t, f.tbl.DB, f.tbl.Name, store.TypeSignal))
}

func TestIngestGraphValidationHandshake(t *testing.T) {
	f := setup(t)
	rie := lambdatest.Start(t, f.bootstrap, f.env)
	sample := lambdatest.Event(t, "ingest-graph-validation.json")
	var req events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(sample, &req); err != nil {
		t.Fatal(err)
	}
	token := req.QueryStringParameters[graph.QueryValidationToken]
	if token == "" {
		t.Fatal("the validation sample carries no validationToken")
	}
	start := time.Now()
	resp := invoke(t, rie, sample)
	took := time.Since(start)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("validation: %d %s, want 200\n%s", resp.StatusCode, resp.Body, rie.Output())
	}
	ct := ""
	for k, v := range resp.Headers {
		if strings.EqualFold(k, "Content-Type") {
			ct = v
		}
	}
	if !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("validation answered Content-Type %q, want text/plain", ct)
	}
	if resp.Body != token || resp.IsBase64Encoded {
		t.Errorf("validation echoed %q (base64 %v), want the decoded token %q", resp.Body, resp.IsBase64Encoded, token)
	}
	if took > 10*time.Second {
		t.Errorf("validation took %s; Graph waits 10 s", took)
	}
	if n := f.countAll(t); n != 0 {
		t.Errorf("%d items stored by a validation request, want 0", n)
	}
	lambdatest.AssertNoSecrets(t, rie.Output(), f.clientState)
}

func TestIngestGraphNotification(t *testing.T) {
	f := setup(t)
	rie := lambdatest.Start(t, f.bootstrap, f.env)
	sample := lambdatest.Event(t, "ingest-graph-notification.json")

	// The fetch item the fetcher's sample (events/fetcher-graph.json) holds
	// is the one this notification must become.
	want, err := store.FetchFromItem(lambdatest.NewImage(t, lambdatest.StreamEvent(t, lambdatest.Event(t, "fetcher-graph.json")), 0))
	if err != nil {
		t.Fatal(err)
	}

	// Refused, storing nothing: a clientState that is not the secret (the
	// sample's own), and none at all.
	if resp := invoke(t, rie, sample); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("sample clientState: %d %s, want 401", resp.StatusCode, resp.Body)
	}
	if resp := invoke(t, rie, withClientState(t, sample, "")); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("empty clientState: %d %s, want 401", resp.StatusCode, resp.Body)
	}
	if n := f.countAll(t); n != 0 {
		t.Fatalf("%d items stored by refused notifications, want 0", n)
	}

	good := withClientState(t, sample, f.clientState)
	start := time.Now()
	resp := invoke(t, rie, good)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("notification answered after %s; Graph wants a 2xx within 3 s", took)
	}
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("notification: %d %s, want 202\n%s", resp.StatusCode, resp.Body, rie.Output())
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil || body["stored"] != float64(1) {
		t.Errorf("notification body %s, want stored 1", resp.Body)
	}
	got := f.fetches(t)
	if len(got) != 1 {
		t.Fatalf("%d fetch items after one notification, want 1", len(got))
	}
	if n := len(lambdatest.Items(t, f.tbl.DB, f.tbl.Name, store.TypeSignal)); n != 0 {
		t.Errorf("%d signals stored by the ingest function; the fetcher stores them", n)
	}
	g := got[0]
	if g.Key() != want.Key() || g.Source != want.Source || g.Mailbox != want.Mailbox || g.Resource != want.Resource || g.Payload != want.Payload {
		t.Errorf("stored fetch item differs from events/fetcher-graph.json:\n got  %+v\n want %+v", g, want)
	}
	if strings.Contains(g.Payload, f.clientState) {
		t.Error("the stored payload keeps the clientState secret")
	}

	// Graph redelivers the same notification.
	resp = invoke(t, rie, good)
	if resp.StatusCode != http.StatusAccepted || !strings.Contains(resp.Body, `"duplicate":1`) {
		t.Errorf("redelivery: %d %s, want 202 with duplicate 1", resp.StatusCode, resp.Body)
	}
	if resp := invoke(t, rie, sample); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("sample clientState after a stored one: %d, want 401", resp.StatusCode)
	}
	if n := f.countAll(t); n != 1 {
		t.Errorf("%d items after a redelivery and a refused notification, want still 1", n)
	}

	out := rie.Output()
	if !strings.Contains(out, `"result":"stored"`) || !strings.Contains(out, `"msg":"ingest rejected"`) {
		t.Errorf("expected the function's JSON log lines in its output:\n%s", out)
	}
	lambdatest.AssertNoSecrets(t, out, f.clientState)
}

// Issue 8, point 3: the function stores notifications only for the
// mailboxes in GRAPH_MAILBOXES; one whose notification URL names another
// mailbox is acknowledged, counted and logged, and nothing is stored for it.
func TestIngestGraphRefusesUnwatchedMailbox(t *testing.T) {
	f := setup(t)
	f.env["GRAPH_MAILBOXES"] = "li.chen@acme-routing.io, Priya.Nair@acme-routing.io"
	rie := lambdatest.Start(t, f.bootstrap, f.env)
	good := withClientState(t, lambdatest.Event(t, "ingest-graph-notification.json"), f.clientState)
	resp := invoke(t, rie, good)
	if resp.StatusCode != http.StatusAccepted || !strings.Contains(resp.Body, `"stored":0`) || !strings.Contains(resp.Body, `"unwatched":1`) {
		t.Fatalf("notification for %s: %d %s, want 202 with unwatched 1\n%s", sampleMailbox, resp.StatusCode, resp.Body, rie.Output())
	}
	if n := f.countAll(t); n != 0 {
		t.Fatalf("%d items stored for a mailbox that is not watched", n)
	}
	out := rie.Output()
	if !strings.Contains(out, "its mailbox is not watched") || !strings.Contains(out, `"IngestIgnored"`) {
		t.Errorf("the refusal is not logged and counted:\n%s", out)
	}
	lambdatest.AssertNoSecrets(t, out, f.clientState)
}

// A missing variable stops the function at init, naming the variable.
func TestIngestGraphMissingEnvFailsInit(t *testing.T) {
	f := setup(t)
	event := withClientState(t, lambdatest.Event(t, "ingest-graph-notification.json"), f.clientState)
	for _, name := range []string{"GRAPH_CLIENT_STATE_SECRET_ARN", "GRAPH_MAILBOXES", "TABLE_NAME"} {
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
			if n := f.countAll(t); n != 0 {
				t.Errorf("%d items stored by a function that failed init", n)
			}
			lambdatest.AssertNoSecrets(t, logs, f.clientState)
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
