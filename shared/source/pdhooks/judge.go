package pdhooks

import (
	"context"
	"log/slog"
	"strings"

	"github.com/stagemover/stagemover/shared/core/stagemap"
	"github.com/stagemover/stagemover/shared/store"
)

// position finds a stage in the snapshot: its pipeline and index.
func position(snap *stagemap.Snapshot, stageID int64) (stagemap.Pipeline, int, bool) {
	if snap == nil || stageID == 0 {
		return stagemap.Pipeline{}, -1, false
	}
	for _, p := range snap.Pipelines {
		if _, i, err := p.StageByID(stageID); err == nil {
			return p, i, true
		}
	}
	return stagemap.Pipeline{}, -1, false
}

// judge measures a person's (not our, not bulk) change of a deal:
//   - a revert: within the window after our latest done, live move, the deal
//     went back before that move's stage, or was marked lost;
//   - a miss: a forward move to a stage recent evidence named but the
//     engine did not move to (a stay, or a skipped/failed move);
//   - a confirmed shadow move: a forward move to (or past) a shadow move's
//     target: people made by hand the move shadow mode recorded.
func (w *Webhook) judge(ctx context.Context, log *slog.Logger, ev Event, snap *stagemap.Snapshot) (string, error) {
	stageChanged := ev.StageChanged()
	lost := ev.StatusChanged() && ev.Deal.Status == "lost" && ev.PrevStatus != "lost"
	if !stageChanged && !lost {
		return "mirrored", nil
	}
	decs, err := w.Table.Decisions(ctx, ev.Deal.ID)
	if err != nil {
		return "", err
	}
	at, win := ev.Meta.Timestamp, w.window()
	now := w.now()

	// Reverts: our latest done, live move (decisions are newest update first).
	for _, d := range decs {
		if d.Action != store.ActionMove || d.State != store.StateDone || d.Shadow {
			continue
		}
		if at.Before(d.UpdatedAt) || at.Sub(d.UpdatedAt) > win {
			break
		}
		kind := ""
		switch {
		case lost:
			kind = "lost"
		case stageChanged && backward(snap, d, ev.Deal.StageID):
			kind = "backward"
		}
		if kind == "" {
			break
		}
		m := w.measure(store.TypeRevert, ev, d, snap, kind)
		created, err := w.Table.Store.PutMeasure(ctx, m, now)
		if err != nil {
			return "", err
		}
		if created {
			w.emit(m)
		}
		log.InfoContext(ctx, "revert of our move recorded", "deal_id", m.DealID, "rule", m.Rule, "decision", m.DecisionKey, "kind", kind, "created", created)
		return "revert", nil
	}

	if !stageChanged || snap == nil {
		return "mirrored", nil
	}
	pipe, newIdx, ok := position(snap, ev.Deal.StageID)
	prevPipe, prevIdx, okPrev := position(snap, ev.PrevStageID)
	if !ok || !okPrev || prevPipe.ID != pipe.ID || newIdx <= prevIdx {
		return "mirrored", nil // not a forward move within one pipeline
	}
	var outcomes []string
	missed := false
	for _, d := range decs {
		if d.TargetStage == "" || d.CreatedAt.After(at) || at.Sub(d.CreatedAt) > win {
			continue
		}
		if d.TargetPipeline != "" && !stagemap.SameName(d.TargetPipeline, pipe.Name) {
			continue
		}
		_, tIdx, err := pipe.StageByName(d.TargetStage)
		if err != nil || tIdx <= prevIdx || tIdx > newIdx {
			continue
		}
		var m store.Measure
		switch {
		case d.Action == store.ActionMove && d.State == store.StateDone && d.Shadow:
			m = w.measure(store.TypeConfirmed, ev, d, snap, "shadow")
		case missed:
			continue // one miss per event: the newest evidence
		case d.Action == store.ActionStay:
			m = w.measure(store.TypeMiss, ev, d, snap, "stay")
		case d.Action == store.ActionMove && (d.State == store.StateSkipped || d.State == store.StateFailed):
			m = w.measure(store.TypeMiss, ev, d, snap, d.State)
		default:
			continue // pending, in flight, or our live move: not a miss
		}
		created, err := w.Table.Store.PutMeasure(ctx, m, now)
		if err != nil {
			return "", err
		}
		if created {
			w.emit(m)
		}
		if m.Type == store.TypeMiss {
			missed = true
			outcomes = append(outcomes, "miss")
		} else {
			outcomes = append(outcomes, "confirmed")
		}
		log.InfoContext(ctx, m.Type+" recorded", "deal_id", m.DealID, "rule", m.Rule, "decision", m.DecisionKey, "created", created)
	}
	if len(outcomes) == 0 {
		return "mirrored", nil
	}
	return strings.Join(dedupe(outcomes), "+"), nil
}

// backward: the deal now sits before our move's target in its pipeline, or
// back at the stage we moved it from.
func backward(snap *stagemap.Snapshot, d store.Decision, newStage int64) bool {
	if d.FromStageID != 0 && d.FromStageID != d.ToStageID && newStage == d.FromStageID {
		return true
	}
	tp, tIdx, ok := position(snap, d.ToStageID)
	if !ok {
		return false
	}
	np, nIdx, ok := position(snap, newStage)
	return ok && np.ID == tp.ID && nIdx < tIdx
}

func (w *Webhook) measure(typ string, ev Event, d store.Decision, snap *stagemap.Snapshot, kind string) store.Measure {
	m := store.Measure{
		Type: typ, DealID: ev.Deal.ID, EventID: ev.Meta.ID, DecisionKey: d.SortKey(), Rule: d.Rule,
		Pipeline: d.TargetPipeline, Kind: kind, FromStageID: ev.PrevStageID, ToStageID: ev.Deal.StageID,
		UserID: ev.Meta.UserID, At: ev.Meta.Timestamp, DecidedAt: d.UpdatedAt, PipelineID: ev.Deal.PipelineID,
	}
	if !ev.StageChanged() {
		m.FromStageID = ev.Deal.StageID
	}
	if snap != nil {
		if p, err := snap.Pipeline(ev.Deal.PipelineID); err == nil {
			m.Pipeline = p.Name
		}
	}
	return m
}

func dedupe(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
