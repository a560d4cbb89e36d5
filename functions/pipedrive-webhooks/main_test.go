package main

// These tests run the real bootstrap (built as for Lambda) under the Lambda
// Runtime Interface Emulator with the scheduled event events/schedule.json,
// against an in-process Secrets Manager (kumo) holding the Pipedrive token
// and the webhook's basic auth pair, and the Pipedrive sandbox (its v1
// webhooks API, checked against openapi-v1.yaml), configured only through
// the environment.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/dev/ddblocal"
	"github.com/stagemover/stagemover/shared/pipedrive/pipedrivetest"
	"github.com/stagemover/stagemover/shared/testkit/lambdatest"
)

func TestMain(m *testing.M) {
	code := ddblocal.RunTests(m)
	lambdatest.Cleanup()
	os.Exit(code)
}

const hookURL = "https://r8k2m4x7q1.execute-api.us-east-1.amazonaws.com/pipedrive"

type fixture struct {
	pd        *pipedrivetest.Server
	env       map[string]string
	bootstrap string
	token     string
	password  string
}

func random(t *testing.T, prefix string) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b)
}

func setup(t *testing.T) *fixture {
	bootstrap := lambdatest.Build(t, "pipedrive-webhooks")
	sm := lambdatest.StartSecretsManager(t)
	token := random(t, "pd-")
	pd, err := pipedrivetest.Start(pipedrivetest.Options{Token: token})
	if err != nil {
		t.Fatalf("pipedrive sandbox: %v", err)
	}
	t.Cleanup(pd.Close)
	f := &fixture{pd: pd, bootstrap: bootstrap, token: token, password: random(t, "pw-")}
	f.env = map[string]string{
		// Globals.Function.Environment and the function's own variables.
		"TABLE_NAME":                    "stagemover-table",
		"STAGEMOVER_MODE":               "live",
		"PIPEDRIVE_BASE_URL":            pd.URL(),
		"PIPEDRIVE_INTEGRATION_USER_ID": fmt.Sprint(pd.IntegrationUserID()),
		"INTERNAL_DOMAINS":              "acme-routing.io",
		"METRICS_NAMESPACE":             "StageMover",
		"PIPEDRIVE_TOKEN_SECRET_ARN":    sm.Put(t, "stagemover/pipedrive-token", `{"api_token":"`+token+`"}`),
		"PIPEDRIVE_WEBHOOK_SECRET_ARN": sm.Put(t, "stagemover/pipedrive-webhook",
			`{"http_auth_user":"stagemover","http_auth_password":"`+f.password+`"}`),
		"PIPEDRIVE_WEBHOOK_URL": hookURL,
		// Where the AWS SDK finds the stand-in.
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
		var e struct {
			ErrorMessage string `json:"errorMessage"`
		}
		_ = json.Unmarshal(out, &e)
		t.Fatalf("the scheduled run answered %s (%s), want null (success)\nfunction output:\n%s", out, e.ErrorMessage, rie.Output())
	}
}

// events lists the sandbox's webhooks to url as "action.object" (sorted).
func (f *fixture) events(url string) []string {
	var out []string
	for _, s := range f.pd.Subscriptions() {
		if s.URL == url {
			out = append(out, s.EventAction+"."+s.EventObject)
		}
	}
	sort.Strings(out)
	return out
}

func TestPipedriveWebhooksRegistersOncePerEvent(t *testing.T) {
	f := setup(t)
	// A webhook left from before a password rotation: replaced, not kept.
	stale := f.pd.Subscribe(hookURL, "stagemover", "old-password", "change", "deal")
	event := lambdatest.Event(t, "schedule.json")
	rie := lambdatest.Start(t, f.bootstrap, f.env)

	want := []string{"*.pipeline", "*.stage", "change.deal", "delete.deal"}
	invoke(t, rie, event)
	if got := f.events(hookURL); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("webhooks after the first run: %v, want %v\n%s", got, want, rie.Output())
	}
	first := f.pd.Subscriptions()
	for _, s := range first {
		if s.ID == stale {
			t.Errorf("the webhook with the old password was kept")
		}
		if s.User != "stagemover" || s.Password != f.password || s.Version != "2.0" {
			t.Errorf("webhook %d: user %q, version %q, password matches %v", s.ID, s.User, s.Version, s.Password == f.password)
		}
	}
	posts := f.pd.Count("POST", "/v1/webhooks")

	// The next day's run (or a duplicate schedule delivery) changes nothing.
	invoke(t, rie, event)
	second := f.pd.Subscriptions()
	if len(second) != len(first) {
		t.Fatalf("%d webhooks after the second run, want %d (one per event)", len(second), len(first))
	}
	for i := range second {
		if second[i].ID != first[i].ID {
			t.Errorf("webhook %d replaced by %d on the second run", first[i].ID, second[i].ID)
		}
	}
	if n := f.pd.Count("POST", "/v1/webhooks"); n != posts {
		t.Errorf("%d POST /v1/webhooks on the second run, want 0", n-posts)
	}
	for _, v := range f.pd.ValidationErrors() {
		t.Errorf("request broke Pipedrive's OpenAPI spec: %s", v)
	}
	out := rie.Output()
	for _, w := range []string{"pipedrive webhook created", "pipedrive webhook kept", "pipedrive webhook replaced"} {
		if !strings.Contains(out, w) {
			t.Errorf("no %q in the function's output:\n%s", w, out)
		}
	}
	lambdatest.AssertNoSecrets(t, out, f.token, f.password, "old-password")
}

// A missing variable stops the function at init, naming the variable.
func TestPipedriveWebhooksMissingEnvFailsInit(t *testing.T) {
	f := setup(t)
	event := lambdatest.Event(t, "schedule.json")
	for _, name := range []string{"PIPEDRIVE_WEBHOOK_URL", "PIPEDRIVE_WEBHOOK_SECRET_ARN", "PIPEDRIVE_TOKEN_SECRET_ARN"} {
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
			lambdatest.WaitFor(t, 5*time.Second, "the init failure", func() bool { return strings.Contains(rie.Output(), "init failed") })
			if logs := rie.Output(); !strings.Contains(logs, name) {
				t.Errorf("init failure does not name %s:\n%s", name, logs)
			}
			if n := len(f.pd.Subscriptions()); n != 0 {
				t.Errorf("%d webhooks registered by a function that failed init", n)
			}
			lambdatest.AssertNoSecrets(t, rie.Output(), f.token, f.password)
		})
	}
}
