package main

// These tests run the real bootstrap (built as for Lambda) under the Lambda
// Runtime Interface Emulator with the scheduled event events/schedule.json,
// against an in-process Secrets Manager (kumo) holding the Entra app
// credentials and the clientState, and the Microsoft Graph stand-in
// (shared/source/graph/graphtest) over real HTTP, configured only through the
// environment template.yaml gives the function. Graph validates every new
// subscription's notification URL; it points at the ingest-graph handler,
// served in-process through shared/platform/apigw as API Gateway would call it. The
// function's role grants no table access, so DynamoDB is a guard that fails
// the test if the function calls it.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/dev/ddblocal"
	"github.com/stagemover/stagemover/shared/platform/apigw"
	"github.com/stagemover/stagemover/shared/source/graph"
	"github.com/stagemover/stagemover/shared/source/graph/graphtest"
	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/store"
	"github.com/stagemover/stagemover/shared/testkit/lambdatest"
)

func TestMain(m *testing.M) {
	code := ddblocal.RunTests(m)
	lambdatest.Cleanup()
	os.Exit(code)
}

const mailbox = "sam.ortega@acme-routing.io"

func randomSecret(t *testing.T, prefix string) string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b)
}

// noDynamoDB is an endpoint that counts and refuses every DynamoDB call.
func noDynamoDB(t *testing.T) (url string, calls func() int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"__type":"com.amazonaws.dynamodb.v20120810#AccessDeniedException","message":"the function's role grants no table access"}`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, n.Load
}

// fetches keeps what the in-process ingest handler stores.
type fetches struct {
	mu   sync.Mutex
	recs map[string]store.FetchRecord
}

func (f *fetches) PutFetch(_ context.Context, r store.FetchRecord) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.recs[r.Key()]; ok {
		return false, nil
	}
	f.recs[r.Key()] = r
	return true, nil
}

// PutSignal completes ingest.Writer: the Graph route stores fetch items only.
func (f *fetches) PutSignal(context.Context, store.SignalRecord) (bool, error) {
	return false, errors.New("the Graph route stored a signal")
}

func (f *fetches) all() []store.FetchRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.FetchRecord
	for _, r := range f.recs {
		out = append(out, r)
	}
	return out
}

type fixture struct {
	graph       *graphtest.Server
	ingest      *fetches
	env         map[string]string
	bootstrap   string
	clientState string
	dynamoDB    func() int64
}

func setup(t *testing.T) *fixture {
	bootstrap := lambdatest.Build(t, "graph-subscriptions")
	sm := lambdatest.StartSecretsManager(t)
	gr := graphtest.New()
	t.Cleanup(gr.Close)
	gr.AddUser(mailbox)
	f := &fixture{graph: gr, ingest: &fetches{recs: map[string]store.FetchRecord{}}, bootstrap: bootstrap, clientState: randomSecret(t, "cs")}

	// POST /webhooks/graph: the ingest-graph handler with the same clientState.
	h := &ingest.Handler{
		Source: graph.Webhook{Mailboxes: []string{mailbox}},
		Key:    func(context.Context) ([]byte, error) { return []byte(f.clientState), nil },
		Store:  f.ingest,
		Now:    time.Now,
		Log:    slog.New(slog.DiscardHandler),
	}
	mux := http.NewServeMux()
	mux.Handle("POST /webhooks/graph", apigw.Handler("POST /webhooks/graph", h.Handle))
	api := httptest.NewServer(mux)
	t.Cleanup(api.Close)

	ddbURL, calls := noDynamoDB(t)
	f.dynamoDB = calls
	f.env = map[string]string{
		// Globals.Function.Environment and the function's own variables.
		"TABLE_NAME":                    "stagemover-Table-not-used",
		"STAGEMOVER_MODE":               "live",
		"PIPEDRIVE_BASE_URL":            "https://api.pipedrive.com",
		"PIPEDRIVE_INTEGRATION_USER_ID": "1000",
		"INTERNAL_DOMAINS":              "acme-routing.io",
		"METRICS_NAMESPACE":             "StageMover",
		"GRAPH_CLIENT_STATE_SECRET_ARN": sm.Put(t, "stagemover/graph-client-state", `{"client_state":"`+f.clientState+`"}`),
		"GRAPH_CREDENTIALS_SECRET_ARN":  sm.Put(t, "stagemover/graph-credentials", gr.CredentialsJSON()),
		"GRAPH_MAILBOXES":               mailbox,
		"GRAPH_NOTIFICATION_URL":        api.URL + "/webhooks/graph",
		// Where the function finds the stand-ins.
		"GRAPH_BASE_URL":                   gr.GraphURL(),
		"GRAPH_LOGIN_URL":                  gr.LoginURL(),
		"AWS_ENDPOINT_URL_DYNAMODB":        ddbURL,
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": sm.Endpoint,
	}
	return f
}

func invoke(t *testing.T, rie *lambdatest.RIE, event []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := rie.Invoke(ctx, event)
	if err != nil {
		t.Fatalf("invoke: %v\nfunction output:\n%s", err, rie.Output())
	}
	if strings.TrimSpace(string(out)) != "null" {
		t.Fatalf("the scheduled run answered %s, want null (success)\nfunction output:\n%s", out, rie.Output())
	}
}

func (f *fixture) creates() int {
	n := 0
	for _, r := range f.graph.Requests() {
		if r == "POST /v1.0/subscriptions" {
			n++
		}
	}
	return n
}

func TestGraphSubscriptionsCreatesSubscriptions(t *testing.T) {
	f := setup(t)
	event := lambdatest.Event(t, "schedule.json")
	rie := lambdatest.Start(t, f.bootstrap, f.env)

	invoke(t, rie, event)
	subs := f.graph.Subscriptions()
	if len(subs) != 2 {
		t.Fatalf("%d subscriptions in the Graph stand-in after the run, want 2 (mail, calendar)\n%s", len(subs), rie.Output())
	}
	kinds := map[string]string{}
	for _, s := range subs {
		u, err := url.Parse(s.NotificationURL)
		if err != nil || !strings.HasPrefix(s.NotificationURL, f.env["GRAPH_NOTIFICATION_URL"]+"?") || u.Query().Get("mailbox") != mailbox {
			t.Errorf("subscription %s notification URL %q", s.ID, s.NotificationURL)
		}
		if s.ClientState != f.clientState {
			t.Errorf("subscription %s does not carry the clientState secret", s.ID)
		}
		if s.Expires.Before(time.Now().Add(48*time.Hour)) || s.Expires.After(time.Now().Add(graphtest.MaxLifetime)) {
			t.Errorf("subscription %s expires %s: want close to Graph's maximum of %s", s.ID, s.Expires, graphtest.MaxLifetime)
		}
		kinds[strings.ToLower(s.Resource)] = s.ChangeType
	}
	if kinds["users/"+mailbox+"/messages"] != "created" || kinds["users/"+mailbox+"/events"] != "created,updated" {
		t.Errorf("subscriptions by resource: %v", kinds)
	}
	vs := f.graph.Validations()
	if len(vs) != 2 {
		t.Errorf("%d validation requests, want 2", len(vs))
	}
	for _, v := range vs {
		if v.Status != http.StatusOK || !strings.HasPrefix(v.ContentType, "text/plain") || v.Body != v.Token || v.Err != "" {
			t.Errorf("validation of %s: %d %q %q (%s)", v.URL, v.Status, v.ContentType, v.Body, v.Err)
		}
	}

	// The subscription delivers to the ingest handler, which accepts its
	// clientState.
	id := f.graph.AddMessage(mailbox, []byte(`{"subject":"Re: pilot","receivedDateTime":"2026-03-02T09:41:07Z"}`))
	codes, err := f.graph.Notify(context.Background(), mailbox, "messages", id, "created")
	if err != nil || len(codes) != 1 || codes[0] != http.StatusAccepted {
		t.Errorf("notification through the new subscription: %v %v, want one 202", codes, err)
	}
	if got := f.ingest.all(); len(got) != 1 || got[0].Mailbox != mailbox || got[0].Source != graph.Source {
		t.Errorf("fetch items stored by the ingest handler: %+v, want one for %s", got, mailbox)
	}

	// The next scheduled run finds both current: nothing created.
	invoke(t, rie, event)
	if n := len(f.graph.Subscriptions()); n != 2 {
		t.Errorf("%d subscriptions after a second run, want still 2", n)
	}
	if n := f.creates(); n != 2 {
		t.Errorf("%d create calls after two runs, want 2", n)
	}
	if n := f.graph.TokenRequests(); n != 1 {
		t.Errorf("%d token requests over two warm runs, want 1 (cached)", n)
	}

	if n := f.dynamoDB(); n != 0 {
		t.Errorf("the function made %d DynamoDB calls; its role grants none", n)
	}
	out := rie.Output()
	if !strings.Contains(out, "graph subscription created") {
		t.Errorf("expected the function's JSON log lines in its output:\n%s", out)
	}
	lambdatest.AssertNoSecrets(t, out, f.clientState, f.graph.ClientSecret)
}

// A missing variable stops the function at init, naming the variable.
func TestGraphSubscriptionsMissingEnvFailsInit(t *testing.T) {
	f := setup(t)
	event := lambdatest.Event(t, "schedule.json")
	for _, name := range []string{"GRAPH_CLIENT_STATE_SECRET_ARN", "GRAPH_CREDENTIALS_SECRET_ARN", "GRAPH_MAILBOXES", "GRAPH_NOTIFICATION_URL", "TABLE_NAME"} {
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
			if n := f.creates(); n != 0 {
				t.Errorf("%d subscriptions created by a function that failed init", n)
			}
			lambdatest.AssertNoSecrets(t, logs, f.clientState, f.graph.ClientSecret)
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
