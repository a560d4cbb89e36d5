package mover_test

import (
	"context"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/pipedrive/pipedrivetest"
	"github.com/stagemover/stagemover/shared/store"
)

// A decision whose stream retries ran out is still moved, once, by the sweeper.
func TestSweepRedrivesAbandonedDecisions(t *testing.T) {
	f := newFixture(t, pipedrivetest.Options{})
	ctx := context.Background()
	abandoned := f.SB.AddDeal(pipedrivetest.Deal{Title: "Abandoned", PipelineID: 1, StageID: pipedrivetest.StageContactMade, Status: "open"})
	finished := f.SB.AddDeal(pipedrivetest.Deal{Title: "Finished", PipelineID: 1, StageID: pipedrivetest.StageContactMade, Status: "open"})
	held := f.SB.AddDeal(pipedrivetest.Deal{Title: "Held", PipelineID: 1, StageID: pipedrivetest.StageContactMade, Status: "open"})

	f.decision(store.Decision{DealID: abandoned, TargetStage: "Proposal Made", Status: "open", SignalKey: "SIG#t#a"}) // never delivered
	handle(t, f.mover(true), f.decision(store.Decision{DealID: finished, TargetStage: "Proposal Made", Status: "open", SignalKey: "SIG#t#f"}))
	f.decision(store.Decision{DealID: held, TargetStage: "Proposal Made", Status: "open", SignalKey: "SIG#t#h"})
	if _, err := f.Store.Claim(ctx, held, "DEC#SIG#t#h", "someone-else", time.Hour); err != nil {
		t.Fatal(err)
	}

	m := f.mover(true)
	res, err := m.Sweep(ctx, f.Store, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if res.Found != 2 || res.Redriven != 1 || res.Held != 1 || res.Failed != 0 {
		t.Fatalf("sweep = %+v, want 2 found (the finished one is off the index), 1 redriven, 1 held", res)
	}
	if d := f.state(abandoned, "DEC#SIG#t#a"); d.State != store.StateDone || f.deal(abandoned).StageID != pipedrivetest.StageProposalMade {
		t.Fatalf("abandoned decision = %s, deal stage %d", d.State, f.deal(abandoned).StageID)
	}
	res, err = m.Sweep(ctx, f.Store, 0, 100)
	if err != nil || res.Found != 1 || res.Redriven != 0 {
		t.Fatalf("second sweep = %+v, %v; only the held decision is still open", res, err)
	}
	if f.patches(abandoned) != 1 || f.patches(finished) != 1 || f.patches(held) != 0 {
		t.Fatalf("patches: abandoned %d, finished %d, held %d", f.patches(abandoned), f.patches(finished), f.patches(held))
	}
}
