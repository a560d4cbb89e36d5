package main

// These tests run the real bootstrap (built as for Lambda) under the Lambda
// Runtime Interface Emulator, against DynamoDB Local, an in-process Secrets
// Manager (kumo) holding the Pipedrive token and the webhook's basic auth
// pair, and the Pipedrive sandbox (the stage map), configured only through
// the environment. The sample events/ingest-pipedrive.json (a person moves
// deal 4217 from Proposal Made back to Demo Scheduled) is sent with the
// stored credentials, as Pipedrive sends each delivery.

import (
	"context"
	"encoding/base64"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/pipedrive/pipedrivetest"
	"github.com/stagemover/stagemover/shared/source/pdhooks"
	"github.com/stagemover/stagemover/shared/store"
	"github.com/stagemover/stagemover/shared/testkit"
	"github.com/stagemover/stagemover/shared/testkit/lambdatest"
)

func TestMain(m *testing.M) { os.Exit(lambdatest.RunTests(m)) }

// The sample's deal and stages in the sandbox's "Sales" pipeline.
const (
	sampleDealID       = 4217
	stageDemoScheduled = 3
	stageProposalMade  = 4
)

type fixture struct {
	*lambdatest.Fixture
	store    *store.Store
	pd       *pipedrivetest.Server
	user     string
	password string
}

func setup(t *testing.T) *fixture {
	f := &fixture{Fixture: lambdatest.NewFixture(t, "ingest-pipedrive"), user: "stagemover", password: testkit.RandomSecret(t, "pw-")}
	f.store = f.Store()
	f.pd, _ = f.Pipedrive(t)
	f.PutSecret(t, "PIPEDRIVE_WEBHOOK_SECRET_ARN", "stagemover/pipedrive-webhook",
		testkit.SecretJSON("http_auth_user", f.user, "http_auth_password", f.password), f.password)
	f.Env["REVERT_WINDOW_DAYS"] = "14"
	return f
}

// seedMove records our done, live move of the sample's deal from Demo
// Scheduled to Proposal Made, an hour before the sample's change.
func (f *fixture) seedMove(t *testing.T, at time.Time) store.Decision {
	t.Helper()
	ctx := context.Background()
	st := store.New(f.Table.DB, f.Table.Name, store.WithClock(func() time.Time { return at }))
	d := store.Decision{DealID: sampleDealID, SignalKey: "SIG#generic#crm-7781", EventID: "crm-7781", Action: store.ActionMove,
		TargetStage: "Proposal Made", TargetPipeline: "Sales", Rule: "proposal-asked"}
	if created, err := st.PutDecision(ctx, d); err != nil || !created {
		t.Fatalf("PutDecision: %v %v", created, err)
	}
	if _, err := st.Claim(ctx, d.DealID, d.SortKey(), "seed", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := st.Finish(ctx, d.DealID, d.SortKey(), "seed", store.Outcome{State: store.StateDone, FromStageID: stageDemoScheduled, ToStageID: stageProposalMade}); err != nil {
		t.Fatal(err)
	}
	return d
}

func (f *fixture) basic(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// stored counts the items the handler writes: webhook records, the deal
// mirror and reverts.
func (f *fixture) stored(t *testing.T) (hooks, mirrors, reverts int) {
	return len(f.Items(t, store.TypeWebhook)), len(f.Items(t, store.TypeDeal)), len(f.Items(t, store.TypeRevert))
}

func TestIngestPipedriveSample(t *testing.T) {
	f := setup(t)
	sample := testkit.Event(t, "ingest-pipedrive.json")
	req := testkit.DecodeHTTPEvent(t, sample)
	ev, err := pdhooks.Parse([]byte(req.Body))
	if err != nil {
		t.Fatal(err)
	}
	move := f.seedMove(t, ev.Meta.Timestamp.Add(-time.Hour))
	rie := f.Start(t)

	// Refused, storing nothing: the sample's own credentials, a wrong
	// password, and no Authorization at all.
	for name, auth := range map[string]string{
		"sample credentials": "",
		"wrong password":     f.basic(f.user, "not-the-password"),
		"wrong user":         f.basic("someone", f.password),
		"no authorization":   "-",
	} {
		event := sample
		switch auth {
		case "":
		case "-":
			event = testkit.EditEvent(t, sample, func(doc map[string]any) {
				delete(doc["headers"].(map[string]any), "authorization")
			})
		default:
			event = testkit.WithHeaders(t, sample, nil, map[string]string{"authorization": auth})
		}
		resp := rie.InvokeHTTP(t, event)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %d %s, want 401", name, resp.StatusCode, resp.Body)
		}
	}
	if h, m, r := f.stored(t); h+m+r != 0 {
		t.Fatalf("refused deliveries stored %d webhook records, %d mirror items, %d reverts; want none", h, m, r)
	}

	good := testkit.WithHeaders(t, sample, nil, map[string]string{"authorization": f.basic(f.user, f.password)})
	resp := rie.InvokeHTTP(t, good)
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, `"processed"`) || !strings.Contains(resp.Body, `"revert"`) {
		t.Fatalf("valid delivery: %d %s, want 200 processed, outcome revert\n%s", resp.StatusCode, resp.Body, rie.Output())
	}
	mirror, err := f.store.GetDealState(context.Background(), sampleDealID)
	if err != nil {
		t.Fatalf("mirror of deal %d: %v", sampleDealID, err)
	}
	if mirror.StageID != stageDemoScheduled || mirror.PipelineID != 1 || mirror.Status != "open" || mirror.Stage != "Demo Scheduled" || mirror.Pipeline != "Sales" {
		t.Errorf("mirror after the delivery: %+v, want Sales / Demo Scheduled (3), open", mirror)
	}
	ms, err := f.store.MeasuresForDeal(context.Background(), sampleDealID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].Type != store.TypeRevert || ms[0].Rule != move.Rule || ms[0].DecisionKey != move.SortKey() {
		t.Errorf("measures after a person moved our move back: %+v, want one revert against rule %s", ms, move.Rule)
	}
	h1, m1, r1 := f.stored(t)
	if h1 != 1 || m1 != 1 || r1 != 1 {
		t.Errorf("after one delivery: %d webhook records, %d mirror items, %d reverts; want 1, 1, 1", h1, m1, r1)
	}

	// Pipedrive redelivers the event (attempt 2, same meta.id).
	redelivered := testkit.WithHeaders(t, good, []byte(strings.Replace(req.Body, `"attempt":1`, `"attempt":2`, 1)), nil)
	resp = rie.InvokeHTTP(t, redelivered)
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, `"duplicate"`) {
		t.Errorf("redelivery: %d %s, want 200 duplicate", resp.StatusCode, resp.Body)
	}
	if h, m, r := f.stored(t); h != h1 || m != m1 || r != r1 {
		t.Errorf("after a redelivery: %d webhook records, %d mirror items, %d reverts; want %d, %d, %d", h, m, r, h1, m1, r1)
	}

	out := rie.Output()
	for _, want := range []string{`"result":"stored"`, `"msg":"ingest rejected"`, `"result":"duplicate"`, `"Reverts"`} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in the function's output:\n%s", want, out)
		}
	}
	for _, v := range f.pd.ValidationErrors() {
		t.Errorf("request broke Pipedrive's OpenAPI spec: %s", v)
	}
	f.AssertNoSecrets(t, out)
}

// Init fails, naming the variable, when a required variable is missing or
// the integration user is unset (0): our own changes would be judged.
func TestIngestPipedriveBadEnvFailsInit(t *testing.T) {
	f := setup(t)
	event := testkit.WithHeaders(t, testkit.Event(t, "ingest-pipedrive.json"), nil,
		map[string]string{"authorization": f.basic(f.user, f.password)})
	for _, c := range []struct{ name, value string }{
		{"PIPEDRIVE_INTEGRATION_USER_ID", "0"},
		{"PIPEDRIVE_WEBHOOK_SECRET_ARN", ""},
		{"PIPEDRIVE_TOKEN_SECRET_ARN", ""},
		{"TABLE_NAME", ""},
	} {
		t.Run(c.name+"="+c.value, func(t *testing.T) {
			env := f.Environment(t)
			delete(env, c.name)
			if c.value != "" {
				env[c.name] = c.value
			}
			logs := lambdatest.Start(t, f.Bootstrap, env).InitFailure(t, event)
			if !strings.Contains(logs, "init failed") || !strings.Contains(logs, c.name) {
				t.Errorf("init failure does not name %s:\n%s", c.name, logs)
			}
			if h, m, r := f.stored(t); h+m+r != 0 {
				t.Errorf("a function that failed init stored %d webhook records, %d mirror items, %d reverts", h, m, r)
			}
			f.AssertNoSecrets(t, logs)
		})
	}
}
