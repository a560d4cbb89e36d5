package main

// These tests run the real bootstrap (built as for Lambda) under the Lambda
// Runtime Interface Emulator with the scheduled event events/schedule.json,
// against DynamoDB Local, an in-process Secrets Manager (kumo) holding the
// Pipedrive token, and the Pipedrive sandbox, configured only through the
// environment template.yaml gives the function.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/dev/ddblocal"
	"github.com/stagemover/stagemover/shared/pipedrive/pipedrivetest"
	"github.com/stagemover/stagemover/shared/store"
	"github.com/stagemover/stagemover/shared/testkit/lambdatest"
)

func TestMain(m *testing.M) {
	code := ddblocal.RunTests(m)
	lambdatest.Cleanup()
	os.Exit(code)
}

// In the sandbox's seeded "Sales" pipeline.
const (
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
	decision  store.Decision // the sample's, made an hour ago and never delivered
	young     store.Decision // made just now: the stream still has it
}

func setup(t *testing.T) *fixture {
	bootstrap := lambdatest.Build(t, "mover-sweeper")
	tbl := ddblocal.ForTest(t)
	sm := lambdatest.StartSecretsManager(t)
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	token := "pd-" + hex.EncodeToString(b)
	pd, err := pipedrivetest.Start(pipedrivetest.Options{Token: token})
	if err != nil {
		t.Fatalf("pipedrive sandbox: %v", err)
	}
	t.Cleanup(pd.Close)

	// The pending move decision of events/mover.json, recorded an hour ago
	// (its stream delivery lost or its retries spent), for a deal the
	// sandbox has one stage before the target.
	d, err := store.DecisionFromItem(lambdatest.NewImage(t, lambdatest.StreamEvent(t, lambdatest.Event(t, "mover.json")), 0))
	if err != nil {
		t.Fatal(err)
	}
	pd.AddDeal(pipedrivetest.Deal{ID: d.DealID, StageID: stageDemoScheduled, Title: "Northwind Logistics - route optimisation, 40 seats"})
	ctx := context.Background()
	old := store.New(tbl.DB, tbl.Name, store.WithClock(func() time.Time { return time.Now().Add(-time.Hour) }))
	if created, err := old.PutDecision(ctx, d); err != nil || !created {
		t.Fatalf("PutDecision: %v %v", created, err)
	}
	// A second one made just now, for another deal: not the sweeper's yet.
	young := d
	young.DealID, young.SignalKey, young.EventID = d.DealID+1, d.SignalKey+"-2", d.EventID+"-2"
	pd.AddDeal(pipedrivetest.Deal{ID: young.DealID, StageID: stageDemoScheduled, Title: "Contoso - fleet pilot"})
	st := store.New(tbl.DB, tbl.Name)
	if created, err := st.PutDecision(ctx, young); err != nil || !created {
		t.Fatalf("PutDecision: %v %v", created, err)
	}

	f := &fixture{tbl: tbl, store: st, pd: pd, bootstrap: bootstrap, token: token, decision: d, young: young}
	f.env = map[string]string{
		// Globals.Function.Environment and the function's own variables.
		"TABLE_NAME":                    tbl.Name,
		"STAGEMOVER_MODE":               "live",
		"PIPEDRIVE_BASE_URL":            pd.URL(),
		"PIPEDRIVE_INTEGRATION_USER_ID": fmt.Sprint(pd.IntegrationUserID()),
		"INTERNAL_DOMAINS":              "acme-routing.io",
		"METRICS_NAMESPACE":             "StageMover",
		"PIPEDRIVE_TOKEN_SECRET_ARN":    sm.Put(t, "stagemover/pipedrive-token", `{"api_token":"`+token+`"}`),
		"MOVER_LEASE_SECONDS":           "90",
		"MOVER_CONCURRENCY":             "3",
		// Where the AWS SDK finds the stand-ins.
		"AWS_ENDPOINT_URL_DYNAMODB":        tbl.Instance.Endpoint(),
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": sm.Endpoint,
	}
	return f
}

func invoke(t *testing.T, rie *lambdatest.RIE, event []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := rie.Invoke(ctx, event)
	var ie *lambdatest.InvokeError
	if errors.As(err, &ie) && strings.Contains(rie.Output(), "init failed") {
		t.Fatalf("the sweeper cannot start: %v\n%s", err, rie.Output())
	}
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

func (f *fixture) current(t *testing.T, d store.Decision) store.Decision {
	t.Helper()
	got, err := f.store.GetDecision(context.Background(), d.DealID, d.SortKey())
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func (f *fixture) patches(d store.Decision) int {
	return f.pd.Count("PATCH", fmt.Sprintf("/api/v2/deals/%d", d.DealID))
}

func TestMoverSweeperRedrivesAnOpenDecision(t *testing.T) {
	f := setup(t)
	event := lambdatest.Event(t, "schedule.json")
	rie := lambdatest.Start(t, f.bootstrap, f.env)

	invoke(t, rie, event)
	if n := f.patches(f.decision); n != 1 {
		t.Fatalf("%d PATCH of deal %d, want 1\n%s", n, f.decision.DealID, rie.Output())
	}
	if deal, ok := f.pd.Deal(f.decision.DealID); !ok || deal.StageID != stageProposalMade {
		t.Errorf("deal %d at stage %d, want %d (Proposal Made)", f.decision.DealID, deal.StageID, stageProposalMade)
	}
	d := f.current(t, f.decision)
	if d.State != store.StateDone || d.Shadow || d.FromStageID != stageDemoScheduled || d.ToStageID != stageProposalMade || d.Attempts != 1 {
		t.Errorf("decision after the sweep: %+v", d)
	}
	if n := f.patches(f.young); n != 0 {
		t.Errorf("%d PATCH of deal %d, whose decision is only minutes old; want 0", n, f.young.DealID)
	}
	if y := f.current(t, f.young); y.State != store.StatePending || y.Attempts != 0 {
		t.Errorf("young decision touched by the sweep: %+v", y)
	}

	// The next run (15 minutes later, or a duplicate schedule delivery)
	// finds nothing open: the deal is not patched again.
	invoke(t, rie, event)
	if n := f.patches(f.decision); n != 1 {
		t.Errorf("%d PATCH of deal %d after a second sweep, want still 1", n, f.decision.DealID)
	}
	if d2 := f.current(t, f.decision); d2.State != store.StateDone || d2.Attempts != 1 {
		t.Errorf("decision changed by a second sweep: %+v", d2)
	}
	for _, v := range f.pd.ValidationErrors() {
		t.Errorf("request broke Pipedrive's OpenAPI spec: %s", v)
	}
	out := rie.Output()
	if !strings.Contains(out, `"msg":"sweep"`) {
		t.Errorf("expected the sweeper's JSON log lines in its output:\n%s", out)
	}
	lambdatest.AssertNoSecrets(t, out, f.token)
}

// A missing variable stops the function at init, naming the variable.
func TestMoverSweeperMissingEnvFailsInit(t *testing.T) {
	f := setup(t)
	event := lambdatest.Event(t, "schedule.json")
	for _, name := range []string{"PIPEDRIVE_TOKEN_SECRET_ARN", "PIPEDRIVE_BASE_URL", "TABLE_NAME"} {
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
			if n := f.patches(f.decision); n != 0 {
				t.Errorf("%d PATCH by a function that failed init", n)
			}
			lambdatest.AssertNoSecrets(t, logs, f.token)
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
