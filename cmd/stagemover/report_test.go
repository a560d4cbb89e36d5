package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/dev/ddblocal"
	"github.com/stagemover/stagemover/shared/store"
)

func TestReportCommand(t *testing.T) {
	ctx := context.Background()
	tbl := ddblocal.ForTest(t)
	st := store.New(tbl.DB, tbl.Name)
	for i, dealID := range []int64{11, 12} {
		d := store.Decision{DealID: dealID, SignalKey: "SIG#generic#r" + string(rune('a'+i)), Action: store.ActionMove, TargetStage: "Proposal Made", TargetPipeline: "Sales", Rule: "proposal-asked"}
		if _, err := st.PutDecision(ctx, d); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Claim(ctx, dealID, d.SortKey(), "t", time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := st.Finish(ctx, dealID, d.SortKey(), "t", store.Outcome{State: store.StateDone, FromStageID: 1, ToStageID: 4}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.PutMeasure(ctx, store.Measure{Type: store.TypeRevert, DealID: 11, EventID: "e1", Rule: "proposal-asked", Pipeline: "Sales", Kind: "backward"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := dispatch(ctx, []string{"report", "--table", tbl.Name, "--endpoint", tbl.Instance.Endpoint(), "--emf"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var line string
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(l, "Sales") {
			line = l
		}
	}
	if f := strings.Fields(line); len(f) < 6 || f[1] != "proposal-asked" || f[2] != "2" || f[3] != "1" || f[4] != "50.0%" {
		t.Fatalf("report:\n%s", out.String())
	}
	if !strings.Contains(out.String(), `"RevertRate":50`) {
		t.Fatalf("no EMF line:\n%s", out.String())
	}
	t.Setenv("TABLE_NAME", "")
	if code := dispatch(ctx, []string{"report"}, &out, &errb); code != 2 {
		t.Fatalf("report without a table: exit %d, want 2", code)
	}
}
