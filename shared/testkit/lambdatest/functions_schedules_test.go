package lambdatest_test

// The rows of functionCases for the scheduled functions that work on the
// table: the mover sweeper and the revert report.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/pipedrive/pipedrivetest"
	"github.com/stagemover/stagemover/shared/store"
	"github.com/stagemover/stagemover/shared/testkit"
	"github.com/stagemover/stagemover/shared/testkit/lambdatest"
)

func sweeperRedrivesAnOpenDecision(t *testing.T, f *lambdatest.Fixture, sample []byte) ([]byte, expect) {
	pd, _ := f.Pipedrive(t)
	// The pending move decision of events/mover.json, recorded an hour ago
	// (its stream delivery lost or its retries spent), for a deal the
	// sandbox has one stage before the target.
	d, err := store.DecisionFromItem(lambdatest.NewImage(t, lambdatest.StreamEvent(t, testkit.Event(t, "mover.json")), 0))
	if err != nil {
		t.Fatal(err)
	}
	pd.AddDeal(pipedrivetest.Deal{ID: d.DealID, StageID: stageDemoScheduled, Title: "Northwind Logistics - route optimisation, 40 seats"})
	ctx := context.Background()
	old := store.New(f.Table.DB, f.Table.Name, store.WithClock(func() time.Time { return time.Now().Add(-time.Hour) }))
	if created, err := old.PutDecision(ctx, d); err != nil || !created {
		t.Fatalf("PutDecision: %v %v", created, err)
	}
	// A second one made just now, for another deal: not the sweeper's yet.
	young := d
	young.DealID, young.SignalKey, young.EventID = d.DealID+1, d.SignalKey+"-2", d.EventID+"-2"
	pd.AddDeal(pipedrivetest.Deal{ID: young.DealID, StageID: stageDemoScheduled, Title: "Contoso - fleet pilot"})
	st := f.Store()
	if created, err := st.PutDecision(ctx, young); err != nil || !created {
		t.Fatalf("PutDecision: %v %v", created, err)
	}
	current := func(t *testing.T, d store.Decision) store.Decision {
		got, err := st.GetDecision(ctx, d.DealID, d.SortKey())
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	patches := func(d store.Decision) int { return pd.Count("PATCH", fmt.Sprintf("/api/v2/deals/%d", d.DealID)) }

	return sample, expect{
		untouched: func(t *testing.T) {
			if n := patches(d); n != 0 {
				t.Errorf("%d PATCH by a function that failed init", n)
			}
		},
		ran: func(t *testing.T, rie *lambdatest.RIE) {
			rie.RunScheduled(t, sample)
			if n := patches(d); n != 1 {
				t.Fatalf("%d PATCH of deal %d, want 1\n%s", n, d.DealID, rie.Output())
			}
			if deal, ok := pd.Deal(d.DealID); !ok || deal.StageID != stageProposalMade {
				t.Errorf("deal %d at stage %d, want %d (Proposal Made)", d.DealID, deal.StageID, stageProposalMade)
			}
			got := current(t, d)
			if got.State != store.StateDone || got.Shadow || got.FromStageID != stageDemoScheduled || got.ToStageID != stageProposalMade || got.Attempts != 1 {
				t.Errorf("decision after the sweep: %+v", got)
			}
			if n := patches(young); n != 0 {
				t.Errorf("%d PATCH of deal %d, whose decision is only minutes old; want 0", n, young.DealID)
			}
			if y := current(t, young); y.State != store.StatePending || y.Attempts != 0 {
				t.Errorf("young decision touched by the sweep: %+v", y)
			}

			// The next run (15 minutes later, or a duplicate schedule
			// delivery) finds nothing open: the deal is not patched again.
			rie.RunScheduled(t, sample)
			if n := patches(d); n != 1 {
				t.Errorf("%d PATCH of deal %d after a second sweep, want still 1", n, d.DealID)
			}
			if d2 := current(t, d); d2.State != store.StateDone || d2.Attempts != 1 {
				t.Errorf("decision changed by a second sweep: %+v", d2)
			}
			for _, v := range pd.ValidationErrors() {
				t.Errorf("request broke Pipedrive's OpenAPI spec: %s", v)
			}
			if !strings.Contains(rie.Output(), `"msg":"sweep"`) {
				t.Errorf("expected the sweeper's JSON log lines in its output:\n%s", rie.Output())
			}
		},
	}
}

func revertReportEmitsRevertRate(t *testing.T, f *lambdatest.Fixture, sample []byte) ([]byte, expect) {
	// Two done, live moves by rule proposal-asked in "Sales" and a
	// person's revert of the first.
	ctx := context.Background()
	st := f.Store()
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
	// emf returns the EMF lines of the output with the given dimensions.
	emf := func(out, pipeline, rule string) []map[string]any {
		var lines []map[string]any
		for _, m := range testkit.Records(out) {
			if _, ok := m["_aws"]; ok && m["Pipeline"] == pipeline && m["Rule"] == rule {
				lines = append(lines, m)
			}
		}
		return lines
	}

	return sample, expect{ran: func(t *testing.T, rie *lambdatest.RIE) {
		rie.RunScheduled(t, sample)
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
	}}
}
