package main

// These tests run the real bootstrap (built as for Lambda) under the Lambda
// Runtime Interface Emulator with the scheduled event events/schedule.json,
// against an in-process Secrets Manager (kumo) holding the signing key and
// the API token, and the Calendly stand-in (shared/source/calendly/calendlytest)
// over real HTTP, configured only through the environment template.yaml
// gives the function. The function's role grants no table access, so
// DynamoDB is a guard that fails the test if the function calls it.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stagemover/stagemover/shared/dev/ddblocal"
	"github.com/stagemover/stagemover/shared/source/calendly"
	"github.com/stagemover/stagemover/shared/source/calendly/calendlytest"
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

type fixture struct {
	cal        *calendlytest.Server
	env        map[string]string
	bootstrap  string
	signingKey string
	apiToken   string
	dynamoDB   func() int64
	// verified counts webhook POSTs to the callback URL whose signature
	// verified with signingKey.
	verified atomic.Int64
}

func setup(t *testing.T) *fixture {
	bootstrap := lambdatest.Build(t, "calendly-subscribe")
	sm := lambdatest.StartSecretsManager(t)
	f := &fixture{bootstrap: bootstrap, signingKey: randomSecret(t, "cal-"), apiToken: randomSecret(t, "pat-")}
	f.cal = calendlytest.New(f.apiToken)
	t.Cleanup(f.cal.Close)

	// The callback: what POST /webhooks/calendly would check first.
	callback := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := calendly.Verify([]byte(f.signingKey), r.Header.Get(calendly.HeaderSignature), body, time.Now(), 0); err != nil {
			http.Error(w, `{"error":"signature"}`, http.StatusUnauthorized)
			return
		}
		f.verified.Add(1)
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(callback.Close)

	ddbURL, calls := noDynamoDB(t)
	f.dynamoDB = calls
	f.env = map[string]string{
		// Globals.Function.Environment and the function's own variables.
		"TABLE_NAME":                      "stagemover-Table-not-used",
		"STAGEMOVER_MODE":                 "live",
		"PIPEDRIVE_BASE_URL":              "https://api.pipedrive.com",
		"PIPEDRIVE_INTEGRATION_USER_ID":   "1000",
		"INTERNAL_DOMAINS":                "acme-routing.io",
		"METRICS_NAMESPACE":               "StageMover",
		"CALENDLY_SIGNING_KEY_SECRET_ARN": sm.Put(t, "stagemover/calendly-signing-key", `{"signing_key":"`+f.signingKey+`"}`),
		"CALENDLY_API_TOKEN_SECRET_ARN":   sm.Put(t, "stagemover/calendly-api-token", `{"api_token":"`+f.apiToken+`"}`),
		"CALENDLY_ORGANIZATION":           f.cal.Organization,
		"CALENDLY_WEBHOOK_URL":            callback.URL + "/webhooks/calendly",
		// Where the function finds the stand-ins.
		"CALENDLY_BASE_URL":                f.cal.URL,
		"AWS_ENDPOINT_URL_DYNAMODB":        ddbURL,
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": sm.Endpoint,
	}
	return f
}

func invoke(t *testing.T, rie *lambdatest.RIE, event []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := rie.Invoke(ctx, event)
	if err != nil {
		t.Fatalf("invoke: %v\nfunction output:\n%s", err, rie.Output())
	}
	if strings.TrimSpace(string(out)) != "null" {
		t.Fatalf("the scheduled run answered %s, want null (success)\nfunction output:\n%s", out, rie.Output())
	}
}

func TestCalendlySubscribeCreatesTheSubscription(t *testing.T) {
	f := setup(t)
	event := lambdatest.Event(t, "schedule.json")
	var ev events.CloudWatchEvent
	dec := json.NewDecoder(bytes.NewReader(event))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil || ev.Source != "aws.events" || ev.DetailType != "Scheduled Event" {
		t.Fatalf("events/schedule.json is not an EventBridge scheduled event: %+v %v", ev, err)
	}
	rie := lambdatest.Start(t, f.bootstrap, f.env)

	invoke(t, rie, event)
	subs := f.cal.Subscriptions()
	if len(subs) != 1 {
		t.Fatalf("%d subscriptions in the Calendly stand-in after the run, want 1\n%s", len(subs), rie.Output())
	}
	s := subs[0]
	if s.CallbackURL != f.env["CALENDLY_WEBHOOK_URL"] || s.State != "active" || s.Scope != "organization" ||
		s.Organization != f.cal.Organization || !slices.Contains(s.Events, "invitee.created") || !slices.Contains(s.Events, "invitee.canceled") {
		t.Errorf("subscription %+v", s)
	}

	// The subscription signs with the key in the secret: a delivery
	// verifies at the callback.
	body := []byte(`{"event":"invitee.created","created_at":"2026-03-02T10:15:08.000000Z","payload":{}}`)
	ds, err := f.cal.Deliver(context.Background(), body)
	if err != nil || len(ds) != 1 || ds[0].Status != http.StatusAccepted || f.verified.Load() != 1 {
		t.Errorf("delivery through the new subscription: %+v %v (verified %d), want one 202 verified with the stored key", ds, err, f.verified.Load())
	}

	// The next scheduled run keeps the subscription as it is.
	invoke(t, rie, event)
	if n := len(f.cal.Subscriptions()); n != 1 {
		t.Errorf("%d subscriptions after a second run, want still 1", n)
	}
	if n := f.cal.Requests("POST /webhook_subscriptions"); n != 1 {
		t.Errorf("%d create calls after two runs, want 1", n)
	}
	// Calendly disabled it after failed deliveries: the next run replaces it.
	f.cal.Disable(s.URI)
	invoke(t, rie, event)
	subs = f.cal.Subscriptions()
	if len(subs) != 1 || subs[0].State != "active" || subs[0].URI == s.URI {
		t.Errorf("after the disabled subscription's run: %+v, want one new active subscription", subs)
	}

	if n := f.dynamoDB(); n != 0 {
		t.Errorf("the function made %d DynamoDB calls; its role grants none", n)
	}
	out := rie.Output()
	if !strings.Contains(out, "calendly webhook subscription ensured") {
		t.Errorf("expected the function's JSON log lines in its output:\n%s", out)
	}
	lambdatest.AssertNoSecrets(t, out, f.signingKey, f.apiToken)
}

// A missing variable stops the function at init, naming the variable.
func TestCalendlySubscribeMissingEnvFailsInit(t *testing.T) {
	f := setup(t)
	event := lambdatest.Event(t, "schedule.json")
	for _, name := range []string{"CALENDLY_SIGNING_KEY_SECRET_ARN", "CALENDLY_API_TOKEN_SECRET_ARN", "CALENDLY_ORGANIZATION", "CALENDLY_WEBHOOK_URL", "TABLE_NAME"} {
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
			if n := len(f.cal.Subscriptions()); n != 0 {
				t.Errorf("%d subscriptions created by a function that failed init", n)
			}
			lambdatest.AssertNoSecrets(t, logs, f.signingKey, f.apiToken)
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
