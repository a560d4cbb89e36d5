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
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stagemover/stagemover/shared/dev/ddblocal"
	"github.com/stagemover/stagemover/shared/pipedrive/pipedrivetest"
	"github.com/stagemover/stagemover/shared/source/pdhooks"
	"github.com/stagemover/stagemover/shared/store"
	"github.com/stagemover/stagemover/shared/testkit/lambdatest"
)

func TestMain(m *testing.M) {
	code := ddblocal.RunTests(m)
	lambdatest.Cleanup()
	os.Exit(code)
}

// The sample's deal and stages in the sandbox's "Sales" pipeline.
const (
	sampleDealID       = 4217
	stageDemoScheduled = 3
	stageProposalMade  = 4
)

type fixture struct {
	tbl       *ddblocal.TestTable
	store     *store.Store
	pd        *pipedrivetest.Server
	env       map[string]string
	bootstrap string
	token     string
	user      string
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
	bootstrap := lambdatest.Build(t, "ingest-pipedrive")
	tbl := ddblocal.ForTest(t)
	sm := lambdatest.StartSecretsManager(t)
	token := random(t, "pd-")
	pd, err := pipedrivetest.Start(pipedrivetest.Options{Token: token})
	if err != nil {
		t.Fatalf("pipedrive sandbox: %v", err)
	}
	t.Cleanup(pd.Close)
	f := &fixture{tbl: tbl, store: store.New(tbl.DB, tbl.Name), pd: pd,
		bootstrap: bootstrap, token: token, user: "stagemover", password: random(t, "pw-")}
	f.env = map[string]string{
		// Globals.Function.Environment and the function's own variables.
		"TABLE_NAME":                    tbl.Name,
		"STAGEMOVER_MODE":               "live",
		"PIPEDRIVE_BASE_URL":            pd.URL(),
		"PIPEDRIVE_INTEGRATION_USER_ID": fmt.Sprint(pd.IntegrationUserID()),
		"INTERNAL_DOMAINS":              "acme-routing.io",
		"METRICS_NAMESPACE":             "StageMover",
		"PIPEDRIVE_TOKEN_SECRET_ARN":    sm.Put(t, "stagemover/pipedrive-token", `{"api_token":"`+token+`"}`),
		"PIPEDRIVE_WEBHOOK_SECRET_ARN": sm.Put(t, "stagemover/pipedrive-webhook",
			`{"http_auth_user":"`+f.user+`","http_auth_password":"`+f.password+`"}`),
		"REVERT_WINDOW_DAYS": "14",
		// Where the AWS SDK finds the stand-ins.
		"AWS_ENDPOINT_URL_DYNAMODB":        tbl.Instance.Endpoint(),
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": sm.Endpoint,
	}
	return f
}

// seedMove records our done, live move of the sample's deal from Demo
// Scheduled to Proposal Made, an hour before the sample's change.
func (f *fixture) seedMove(t *testing.T, at time.Time) store.Decision {
	t.Helper()
	ctx := context.Background()
	st := store.New(f.tbl.DB, f.tbl.Name, store.WithClock(func() time.Time { return at }))
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

// stored counts the items the handler writes: webhook records, the deal
// mirror and reverts.
func (f *fixture) stored(t *testing.T) (hooks, mirrors, reverts int) {
	return len(lambdatest.Items(t, f.tbl.DB, f.tbl.Name, store.TypeWebhook)),
		len(lambdatest.Items(t, f.tbl.DB, f.tbl.Name, store.TypeDeal)),
		len(lambdatest.Items(t, f.tbl.DB, f.tbl.Name, store.TypeRevert))
}

func TestIngestPipedriveSample(t *testing.T) {
	f := setup(t)
	sample := lambdatest.Event(t, "ingest-pipedrive.json")
	var req events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(sample, &req); err != nil {
		t.Fatal(err)
	}
	ev, err := pdhooks.Parse([]byte(req.Body))
	if err != nil {
		t.Fatal(err)
	}
	move := f.seedMove(t, ev.Meta.Timestamp.Add(-time.Hour))
	rie := lambdatest.Start(t, f.bootstrap, f.env)

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
			var doc map[string]any
			_ = json.Unmarshal(sample, &doc)
			delete(doc["headers"].(map[string]any), "authorization")
			event, _ = json.Marshal(doc)
		default:
			event = lambdatest.WithHeaders(t, sample, nil, map[string]string{"authorization": auth})
		}
		resp := invoke(t, rie, event)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %d %s, want 401", name, resp.StatusCode, resp.Body)
		}
	}
	if h, m, r := f.stored(t); h+m+r != 0 {
		t.Fatalf("refused deliveries stored %d webhook records, %d mirror items, %d reverts; want none", h, m, r)
	}

	good := lambdatest.WithHeaders(t, sample, nil, map[string]string{"authorization": f.basic(f.user, f.password)})
	resp := invoke(t, rie, good)
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
	redelivered := lambdatest.WithHeaders(t, good, []byte(strings.Replace(req.Body, `"attempt":1`, `"attempt":2`, 1)), nil)
	resp = invoke(t, rie, redelivered)
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
	lambdatest.AssertNoSecrets(t, out, f.token, f.password)
}

// Init fails, naming the variable, when a required variable is missing or
// the integration user is unset (0): our own changes would be judged.
func TestIngestPipedriveBadEnvFailsInit(t *testing.T) {
	f := setup(t)
	event := lambdatest.WithHeaders(t, lambdatest.Event(t, "ingest-pipedrive.json"), nil,
		map[string]string{"authorization": f.basic(f.user, f.password)})
	for _, c := range []struct{ name, value string }{
		{"PIPEDRIVE_INTEGRATION_USER_ID", "0"},
		{"PIPEDRIVE_WEBHOOK_SECRET_ARN", ""},
		{"PIPEDRIVE_TOKEN_SECRET_ARN", ""},
		{"TABLE_NAME", ""},
	} {
		t.Run(c.name+"="+c.value, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range f.env {
				if k != c.name {
					env[k] = v
				}
			}
			if c.value != "" {
				env[c.name] = c.value
			}
			rie := lambdatest.Start(t, f.bootstrap, env)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			out, err := rie.Invoke(ctx, event)
			var ie *lambdatest.InvokeError
			if !errors.As(err, &ie) {
				t.Fatalf("invoke with %s=%q: %s, %v; want an init failure", c.name, c.value, out, err)
			}
			logs := initLogs(rie)
			if !strings.Contains(logs, "init failed") || !strings.Contains(logs, c.name) {
				t.Errorf("init failure does not name %s:\n%s", c.name, logs)
			}
			if h, m, r := f.stored(t); h+m+r != 0 {
				t.Errorf("a function that failed init stored %d webhook records, %d mirror items, %d reverts", h, m, r)
			}
			lambdatest.AssertNoSecrets(t, logs, f.token, f.password)
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
