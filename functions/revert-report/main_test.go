package main

// These tests run the real bootstrap (built as for Lambda) under the Lambda
// Runtime Interface Emulator with the scheduled event events/schedule.json,
// against DynamoDB Local seeded with our done move and a person's revert of
// it, configured only through the environment. The job prints CloudWatch
// Embedded Metric Format lines, which Lambda's log stream turns into metrics.

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/dev/ddblocal"
	"github.com/stagemover/stagemover/shared/store"
	"github.com/stagemover/stagemover/shared/testkit/lambdatest"
)

func TestMain(m *testing.M) {
	code := ddblocal.RunTests(m)
	lambdatest.Cleanup()
	os.Exit(code)
}

// seed records two done, live moves by rule proposal-asked in "Sales" and a
// person's revert of the first.
func seed(t *testing.T, tbl *ddblocal.TestTable) {
	t.Helper()
	ctx := context.Background()
	st := store.New(tbl.DB, tbl.Name)
	for i, dealID := range []int64{4217, 4218} {
		d := store.Decision{DealID: dealID, SignalKey: "SIG#generic#crm-" + string(rune('a'+i)), EventID: "crm-" + string(rune('a'+i)),
			Action: store.ActionMove, TargetStage: "Proposal Made", TargetPipeline: "Sales", Rule: "proposal-asked"}
		if created, err := st.PutDecision(ctx, d); err != nil || !created {
			t.Fatalf("PutDecision: %v %v", created, err)
		}
		if _, err := st.Claim(ctx, dealID, d.SortKey(), "seed", time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := st.Finish(ctx, dealID, d.SortKey(), "seed", store.Outcome{State: store.StateDone, FromStageID: 3, ToStageID: 4}); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			m := store.Measure{Type: store.TypeRevert, DealID: dealID, EventID: "7f1c2a4e-0b9d-4c3e-9a51-2d8e6f0b7c19", DecisionKey: d.SortKey(),
				Rule: "proposal-asked", Pipeline: "Sales", PipelineID: 1, Kind: "backward", FromStageID: 4, ToStageID: 3, UserID: 1001, At: time.Now()}
			if created, err := st.PutMeasure(ctx, m, time.Now()); err != nil || !created {
				t.Fatalf("PutMeasure: %v %v", created, err)
			}
		}
	}
}

func env(tbl *ddblocal.TestTable) map[string]string {
	return map[string]string{
		// Globals.Function.Environment and the function's own variables.
		"TABLE_NAME":                    tbl.Name,
		"STAGEMOVER_MODE":               "live",
		"PIPEDRIVE_BASE_URL":            "https://api.pipedrive.com",
		"PIPEDRIVE_INTEGRATION_USER_ID": "1000",
		"INTERNAL_DOMAINS":              "acme-routing.io",
		"METRICS_NAMESPACE":             "StageMover",
		// Where the AWS SDK finds the stand-in.
		"AWS_ENDPOINT_URL_DYNAMODB": tbl.Instance.Endpoint(),
	}
}

// emf returns the EMF lines of the output with the given dimensions.
func emf(out, pipeline, rule string) []map[string]any {
	var lines []map[string]any
	for _, l := range strings.Split(out, "\n") {
		if !strings.Contains(l, `"_aws"`) {
			continue
		}
		var m map[string]any
		if json.Unmarshal([]byte(strings.TrimSpace(l)), &m) != nil {
			continue
		}
		if m["Pipeline"] == pipeline && m["Rule"] == rule {
			lines = append(lines, m)
		}
	}
	return lines
}

func TestRevertReportEmitsRevertRate(t *testing.T) {
	bootstrap := lambdatest.Build(t, "revert-report")
	tbl := ddblocal.ForTest(t)
	seed(t, tbl)
	rie := lambdatest.Start(t, bootstrap, env(tbl))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := rie.Invoke(ctx, lambdatest.Event(t, "schedule.json"))
	if err != nil {
		t.Fatalf("invoke: %v\n%s", err, rie.Output())
	}
	if strings.TrimSpace(string(out)) != "null" {
		t.Fatalf("the scheduled run answered %s, want null (success)\n%s", out, rie.Output())
	}
	var logs string
	lambdatest.WaitFor(t, 5*time.Second, "the EMF lines", func() bool {
		logs = rie.Output()
		return len(emf(logs, "all", "all")) > 0
	})
	for _, c := range []struct {
		pipeline, rule string
		moves, reverts float64
		rate           float64
	}{{"Sales", "proposal-asked", 2, 1, 50}, {"all", "all", 2, 1, 50}} {
		lines := emf(logs, c.pipeline, c.rule)
		if len(lines) != 1 {
			t.Fatalf("%d EMF lines for %s/%s, want 1:\n%s", len(lines), c.pipeline, c.rule, logs)
		}
		l := lines[0]
		if l["Moves"] != c.moves || l["Reverts"] != c.reverts || l["RevertRate"] != c.rate {
			t.Errorf("%s/%s: %v", c.pipeline, c.rule, l)
		}
		aws, _ := json.Marshal(l["_aws"])
		if !strings.Contains(string(aws), `"Namespace":"StageMover"`) || !strings.Contains(string(aws), `{"Name":"RevertRate","Unit":"Percent"}`) {
			t.Errorf("%s/%s: EMF metadata %s", c.pipeline, c.rule, aws)
		}
	}
}

// Without TABLE_NAME the job stops at init, naming it.
func TestRevertReportMissingTableFailsInit(t *testing.T) {
	bootstrap := lambdatest.Build(t, "revert-report")
	tbl := ddblocal.ForTest(t)
	e := env(tbl)
	delete(e, "TABLE_NAME")
	rie := lambdatest.Start(t, bootstrap, e)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := rie.Invoke(ctx, lambdatest.Event(t, "schedule.json"))
	var ie *lambdatest.InvokeError
	if !errors.As(err, &ie) {
		t.Fatalf("invoke without TABLE_NAME: %s, %v; want an init failure", out, err)
	}
	lambdatest.WaitFor(t, 5*time.Second, "the init failure", func() bool { return strings.Contains(rie.Output(), "init failed") })
	if !strings.Contains(rie.Output(), "TABLE_NAME") {
		t.Errorf("init failure does not name TABLE_NAME:\n%s", rie.Output())
	}
}
