package main

// These tests run the real bootstrap (built as for Lambda) under the Lambda
// Runtime Interface Emulator with the scheduled event events/schedule.json,
// against DynamoDB Local, an in-process Secrets Manager (kumo) holding the
// mailbox's OAuth credentials (authorized_user JSON with a refresh token),
// and the Google stand-in (shared/source/gmail/gmailtest) over real HTTP,
// configured only through the environment template.yaml gives the function.

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/dev/ddblocal"
	"github.com/stagemover/stagemover/shared/source/gmail"
	"github.com/stagemover/stagemover/shared/source/gmail/gmailtest"
	"github.com/stagemover/stagemover/shared/store"
	"github.com/stagemover/stagemover/shared/testkit/lambdatest"
)

func TestMain(m *testing.M) {
	code := ddblocal.RunTests(m)
	lambdatest.Cleanup()
	os.Exit(code)
}

const (
	mailbox = "sam.ortega@acme-routing.io"
	topic   = "projects/acme-routing-mail/topics/stagemover-gmail"
)

type fixture struct {
	tbl       *ddblocal.TestTable
	state     gmail.StoreState
	google    *gmailtest.Server
	env       map[string]string
	bootstrap string
	secrets   []string // values that must never reach the logs
}

func setup(t *testing.T) *fixture {
	bootstrap := lambdatest.Build(t, "gmail-renew")
	tbl := ddblocal.ForTest(t)
	sm := lambdatest.StartSecretsManager(t)
	google, err := gmailtest.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(google.Close)
	creds := google.AddRefreshToken(mailbox)
	var c struct {
		ClientSecret string `json:"client_secret"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(creds, &c); err != nil || c.RefreshToken == "" {
		t.Fatalf("authorized_user JSON: %s %v", creds, err)
	}
	f := &fixture{tbl: tbl, state: gmail.StoreState{Docs: store.New(tbl.DB, tbl.Name)}, google: google,
		bootstrap: bootstrap, secrets: []string{c.ClientSecret, c.RefreshToken}}
	f.env = map[string]string{
		// Globals.Function.Environment and the function's own variables.
		"TABLE_NAME":                    tbl.Name,
		"STAGEMOVER_MODE":               "live",
		"PIPEDRIVE_BASE_URL":            "https://api.pipedrive.com",
		"PIPEDRIVE_INTEGRATION_USER_ID": "1000",
		"INTERNAL_DOMAINS":              "acme-routing.io",
		"METRICS_NAMESPACE":             "StageMover",
		"GMAIL_MAILBOXES":               mailbox,
		"GMAIL_PUBSUB_TOPIC":            topic,
		"GMAIL_CREDENTIALS_SECRET_ARN":  sm.Put(t, "stagemover/gmail-credentials", string(creds)),
		// Where the function finds the stand-ins.
		"GMAIL_BASE_URL":                   google.URL,
		"GOOGLE_TOKEN_URL":                 google.TokenURL(),
		"AWS_ENDPOINT_URL_DYNAMODB":        tbl.Instance.Endpoint(),
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": sm.Endpoint,
	}
	return f
}

// invoke runs the job and returns its error payload ("" for success).
func invoke(t *testing.T, rie *lambdatest.RIE, event []byte) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := rie.Invoke(ctx, event)
	if err != nil {
		t.Fatalf("invoke: %v\nfunction output:\n%s", err, rie.Output())
	}
	if s := strings.TrimSpace(string(out)); s != "null" {
		var e struct {
			ErrorMessage string `json:"errorMessage"`
		}
		if json.Unmarshal(out, &e) != nil || e.ErrorMessage == "" {
			t.Fatalf("the scheduled run answered %s, want null or a Lambda error", out)
		}
		return e.ErrorMessage
	}
	return ""
}

func TestGmailRenewWatchesTheMailbox(t *testing.T) {
	f := setup(t)
	event := lambdatest.Event(t, "schedule.json")
	rie := lambdatest.Start(t, f.bootstrap, f.env)
	ctx := context.Background()

	if msg := invoke(t, rie, event); msg != "" {
		t.Fatalf("first run failed: %s\n%s", msg, rie.Output())
	}
	ws := f.google.Watches()
	if len(ws) != 1 || ws[0].Mailbox != mailbox || ws[0].TopicName != topic {
		t.Fatalf("users.watch calls %+v, want one for %s on %s\n%s", ws, mailbox, topic, rie.Output())
	}
	exp, found, err := f.state.GetWatchExpiry(ctx, mailbox)
	if err != nil || !found || exp.Before(time.Now().Add(6*24*time.Hour)) || exp.After(time.Now().Add(7*24*time.Hour+time.Minute)) {
		t.Errorf("stored watch expiry %s (found %v, %v), want Gmail's 7 days ahead", exp, found, err)
	}
	// The watch's history id is the mailbox's first cursor, so the first
	// notification's change is fetched too.
	c, found, err := f.state.GetCursor(ctx, mailbox)
	if err != nil || !found || c.HistoryID != f.google.HistoryID(mailbox) {
		t.Errorf("cursor %+v (found %v, %v), want the watch's history id %d", c, found, err, f.google.HistoryID(mailbox))
	}

	// Twelve hours later (the next run) the watch is still good for days:
	// no call to Gmail.
	if msg := invoke(t, rie, event); msg != "" {
		t.Fatalf("second run failed: %s", msg)
	}
	if n := f.google.Count(gmailtest.OpWatch); n != 1 {
		t.Errorf("%d users.watch calls after two runs, want 1", n)
	}

	out := rie.Output()
	if !strings.Contains(out, "gmail watch renewed") || !strings.Contains(out, "gmail watch still valid") {
		t.Errorf("expected the function's JSON log lines in its output:\n%s", out)
	}
	lambdatest.AssertNoSecrets(t, out, f.secrets...)
}

// Gmail failing makes the run fail (Lambda counts an error, which the
// GmailRenewErrorsAlarm watches) and stores no watch.
func TestGmailRenewFailureIsAnError(t *testing.T) {
	f := setup(t)
	rie := lambdatest.Start(t, f.bootstrap, f.env)
	f.google.Fail(gmailtest.OpWatch, http.StatusServiceUnavailable)
	msg := invoke(t, rie, lambdatest.Event(t, "schedule.json"))
	if msg == "" || !strings.Contains(msg, mailbox) {
		t.Fatalf("run with Gmail answering 503: error %q, want one naming %s\n%s", msg, mailbox, rie.Output())
	}
	if _, found, _ := f.state.GetWatchExpiry(context.Background(), mailbox); found {
		t.Error("a watch expiry was stored although users.watch failed")
	}
	lambdatest.AssertNoSecrets(t, rie.Output()+msg, f.secrets...)
}

// A missing variable stops the function at init, naming the variable.
func TestGmailRenewMissingEnvFailsInit(t *testing.T) {
	f := setup(t)
	event := lambdatest.Event(t, "schedule.json")
	for _, name := range []string{"GMAIL_MAILBOXES", "GMAIL_PUBSUB_TOPIC", "GMAIL_CREDENTIALS_SECRET_ARN", "TABLE_NAME"} {
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
			if n := f.google.Count(gmailtest.OpWatch); n != 0 {
				t.Errorf("%d users.watch calls by a function that failed init", n)
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
