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
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/source/graph"
	"github.com/stagemover/stagemover/shared/store"
	"github.com/stagemover/stagemover/shared/testkit"
	"github.com/stagemover/stagemover/shared/testkit/lambdatest"
)

func TestMain(m *testing.M) { os.Exit(lambdatest.RunTests(m)) }

// sampleClientState is the clientState events/ingest-graph-notification.json carries.
const sampleClientState = "stagemover-graph-sample-client-state-not-for-production"

// sampleMailbox is the mailbox the sample notification's URL names.
const sampleMailbox = testkit.SampleMailbox

type fixture struct {
	*lambdatest.Fixture
	clientState string
}

func setup(t *testing.T) *fixture {
	f := &fixture{Fixture: lambdatest.NewFixture(t, "ingest-graph"), clientState: testkit.RandomSecret(t, "cs")}
	f.PutSecret(t, "GRAPH_CLIENT_STATE_SECRET_ARN", "stagemover/graph-client-state", testkit.SecretJSON("client_state", f.clientState), f.clientState)
	f.Env["GRAPH_MAILBOXES"] = sampleMailbox + ",li.chen@acme-routing.io"
	return f
}

// withClientState returns the notification sample carrying clientState.
func withClientState(t *testing.T, sample []byte, clientState string) []byte {
	t.Helper()
	req := testkit.DecodeHTTPEvent(t, sample)
	body := strings.ReplaceAll(req.Body, `"clientState":"`+sampleClientState+`"`, `"clientState":"`+clientState+`"`)
	if body == req.Body {
		t.Fatal("the notification sample no longer carries the sample clientState; update the test")
	}
	return testkit.WithHeaders(t, sample, []byte(body), nil)
}

func (f *fixture) countAll(t *testing.T) int {
	return len(f.Fetches(t)) + len(f.Signals(t))
}

func TestIngestGraphValidationHandshake(t *testing.T) {
	f := setup(t)
	rie := f.Start(t)
	sample := testkit.Event(t, "ingest-graph-validation.json")
	token := testkit.DecodeHTTPEvent(t, sample).QueryStringParameters[graph.QueryValidationToken]
	if token == "" {
		t.Fatal("the validation sample carries no validationToken")
	}
	start := time.Now()
	resp := rie.InvokeHTTP(t, sample)
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
	f.AssertNoSecrets(t, rie.Output())
}

func TestIngestGraphNotification(t *testing.T) {
	f := setup(t)
	rie := f.Start(t)
	sample := testkit.Event(t, "ingest-graph-notification.json")

	// The fetch item the fetcher's sample (events/fetcher-graph.json) holds
	// is the one this notification must become.
	want, err := store.FetchFromItem(lambdatest.NewImage(t, lambdatest.StreamEvent(t, testkit.Event(t, "fetcher-graph.json")), 0))
	if err != nil {
		t.Fatal(err)
	}

	// Refused, storing nothing: a clientState that is not the secret (the
	// sample's own), and none at all.
	if resp := rie.InvokeHTTP(t, sample); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("sample clientState: %d %s, want 401", resp.StatusCode, resp.Body)
	}
	if resp := rie.InvokeHTTP(t, withClientState(t, sample, "")); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("empty clientState: %d %s, want 401", resp.StatusCode, resp.Body)
	}
	if n := f.countAll(t); n != 0 {
		t.Fatalf("%d items stored by refused notifications, want 0", n)
	}

	good := withClientState(t, sample, f.clientState)
	start := time.Now()
	resp := rie.InvokeHTTP(t, good)
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
	g := f.AssertOneFetch(t, want, "notification", "fetcher-graph.json")
	if strings.Contains(g.Payload, f.clientState) {
		t.Error("the stored payload keeps the clientState secret")
	}

	// Graph redelivers the same notification.
	resp = rie.InvokeHTTP(t, good)
	if resp.StatusCode != http.StatusAccepted || !strings.Contains(resp.Body, `"duplicate":1`) {
		t.Errorf("redelivery: %d %s, want 202 with duplicate 1", resp.StatusCode, resp.Body)
	}
	if resp := rie.InvokeHTTP(t, sample); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("sample clientState after a stored one: %d, want 401", resp.StatusCode)
	}
	if n := f.countAll(t); n != 1 {
		t.Errorf("%d items after a redelivery and a refused notification, want still 1", n)
	}

	f.AssertIngestLogged(t, rie)
}

// Issue 8, point 3: the function stores notifications only for the
// mailboxes in GRAPH_MAILBOXES; one whose notification URL names another
// mailbox is acknowledged, counted and logged, and nothing is stored for it.
func TestIngestGraphRefusesUnwatchedMailbox(t *testing.T) {
	f := setup(t)
	f.Env["GRAPH_MAILBOXES"] = "li.chen@acme-routing.io, Priya.Nair@acme-routing.io"
	rie := f.Start(t)
	good := withClientState(t, testkit.Event(t, "ingest-graph-notification.json"), f.clientState)
	resp := rie.InvokeHTTP(t, good)
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
	f.AssertNoSecrets(t, out)
}

// A missing variable stops the function at init, naming the variable.
func TestIngestGraphMissingEnvFailsInit(t *testing.T) {
	f := setup(t)
	event := withClientState(t, testkit.Event(t, "ingest-graph-notification.json"), f.clientState)
	f.AssertInitFailsWithout(t, event, []string{"GRAPH_CLIENT_STATE_SECRET_ARN", "GRAPH_MAILBOXES", "TABLE_NAME"}, func(t *testing.T) {
		if n := f.countAll(t); n != 0 {
			t.Errorf("%d items stored by a function that failed init", n)
		}
	})
}
