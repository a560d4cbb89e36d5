package main

// The demo's human corrections: a person reverts one of the mover's moves
// and makes one the engine missed in Pipedrive; the sandbox's webhooks
// report both to POST /pipedrive.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/stagemover/stagemover/shared/dev/local"
	"github.com/stagemover/stagemover/shared/pipedrive/pipedrivetest"
	"github.com/stagemover/stagemover/shared/store"
)

// demoPersonID is the (human) sales rep who corrects the mover in the demo.
const demoPersonID = pipedrivetest.DefaultOwnerID

// humanCorrections has a person move one deal the mover moved back to where
// it was (a revert against the move's rule) and move one deal the engine
// decided to leave forward to the stage its evidence named (a miss), then
// waits for the sandbox's webhooks to reach POST /pipedrive.
func humanCorrections(ctx context.Context, w io.Writer, sys *local.System, ids []int64, secret []byte) error {
	type stay struct {
		dealID int64
		d      store.Decision
	}
	var reverted int64
	var stays []stay
	var revert store.Decision
	for _, id := range ids {
		decisions, err := sys.Store.DecisionsForDeal(ctx, id)
		if err != nil {
			return err
		}
		deal, ok := sys.Sandbox.Deal(id)
		if !ok || deal.Status != "open" {
			continue
		}
		for _, d := range decisions {
			switch {
			case reverted == 0 && d.Action == store.ActionMove && d.State == store.StateDone && !d.Shadow &&
				d.FromStageID != 0 && d.FromStageID != d.ToStageID && deal.StageID == d.ToStageID:
				reverted, revert = id, d
			case d.Action == store.ActionStay && d.TargetStage != "":
				stays = append(stays, stay{id, d})
			}
		}
	}
	fmt.Fprintln(w, "\npeople correct the mover in Pipedrive (the sandbox echoes each change to POST /pipedrive):")
	if reverted != 0 {
		before := stageName(ctx, sys, reverted)
		if err := sys.Sandbox.MoveDealAsUser(reverted, revert.FromStageID, demoPersonID); err != nil {
			return err
		}
		fmt.Fprintf(w, "  deal %d: user %d moves it back, %s -> %s (a revert of rule %s)\n", reverted, demoPersonID, before, stageName(ctx, sys, reverted), revert.Rule)
	}
	missed := false
	for _, c := range stays {
		if c.dealID == reverted {
			continue
		}
		deal, _ := sys.Sandbox.Deal(c.dealID)
		var target int64
		forward := false
		for _, st := range sys.Sandbox.Stages(deal.PipelineID) {
			if st.ID == deal.StageID {
				forward = true // stages come in pipeline order: the target must come later
			} else if forward && strings.EqualFold(st.Name, c.d.TargetStage) {
				target = st.ID
			}
		}
		if target == 0 {
			continue
		}
		before := stageName(ctx, sys, c.dealID)
		if err := sys.Sandbox.MoveDealAsUser(c.dealID, target, demoPersonID); err != nil {
			return err
		}
		rule := c.d.Rule
		if rule == "" {
			rule = "(none)"
		}
		fmt.Fprintf(w, "  deal %d: user %d moves it forward, %s -> %s, where the engine stayed (a miss, rule %s)\n", c.dealID, demoPersonID, before, stageName(ctx, sys, c.dealID), rule)
		missed = true
		break
	}
	if !missed {
		// The engine records a stay without a stage (it names a stage only
		// to move there), so the demo's stays cannot be missed. A move
		// Pipedrive refused can: the rep then makes it by hand.
		if err := failedMoveThenByHand(ctx, w, sys, secret, missDealID, missStage); err != nil {
			return err
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := sys.WaitWebhooks(wctx); err != nil {
		return fmt.Errorf("waiting for the sandbox's webhooks: %w", err)
	}
	ok, failed := 0, 0
	for _, d := range sys.Sandbox.Deliveries() {
		if d.OK {
			ok++
		} else {
			failed++
		}
	}
	fmt.Fprintf(w, "  webhooks delivered to POST /pipedrive: %d (%d failed attempts)\n", ok, failed)
	return nil
}

// The deal and stage of the demo's miss: Northwind – Finland stores, at
// Demo Scheduled, asked for Proposal Made.
const (
	missDealID = 8
	missStage  = "Proposal Made"
)

// failedMoveThenByHand posts a stage request for dealID while the sandbox
// refuses its PATCH (422), so the mover records a failed move; then a person
// moves the deal to stage by hand: a miss of the failed move's rule.
func failedMoveThenByHand(ctx context.Context, w io.Writer, sys *local.System, secret []byte, dealID int64, stage string) error {
	deal, ok := sys.Sandbox.Deal(dealID)
	if !ok || deal.Status != "open" {
		return nil
	}
	var target int64
	for _, st := range sys.Sandbox.Stages(deal.PipelineID) {
		if st.Name == stage {
			target = st.ID
		}
	}
	if target == 0 {
		return nil
	}
	body, _ := json.Marshal(map[string]any{"event_id": "demo-miss-stage-request", "deal_id": dealID,
		"signal": map[string]any{"kind": "stage_request", "stage": stage, "at": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)}})
	path := fmt.Sprintf("/api/v2/deals/%d", dealID)
	sys.Sandbox.InjectFault(pipedrivetest.Fault{Method: "PATCH", PathPrefix: path, Status: 422})
	code, resp, err := postSigned(ctx, sys.URL, secret, body)
	if err == nil && code >= 300 {
		err = fmt.Errorf("POST /signals: %d %s", code, strings.TrimSpace(string(resp)))
	}
	if err == nil {
		_, err = sys.Drain(ctx)
	}
	sys.Sandbox.ClearFaults()
	if err != nil {
		return err
	}
	state, rule := "", ""
	decisions, err := sys.Store.DecisionsForDeal(ctx, dealID)
	if err != nil {
		return err
	}
	for _, d := range decisions {
		if d.EventID == "demo-miss-stage-request" {
			state, rule = d.State, d.Rule
		}
	}
	fmt.Fprintf(w, "  deal %d: a stage request for %s; Pipedrive refuses the PATCH (422, simulated): move %s\n", dealID, stage, orDash(state))
	before := stageName(ctx, sys, dealID)
	if err := sys.Sandbox.MoveDealAsUser(dealID, target, demoPersonID); err != nil {
		return err
	}
	fmt.Fprintf(w, "  deal %d: user %d moves it forward by hand, %s -> %s (a miss of rule %s)\n", dealID, demoPersonID, before, stageName(ctx, sys, dealID), orDash(rule))
	return nil
}
