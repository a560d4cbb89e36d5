// Package mover applies move decisions to Pipedrive exactly once. Each
// decision is a small state machine in DynamoDB (pending, in flight under a
// lease, then done, skipped or failed with a reason); the deal is read before
// any patch, so a re-run after a crash finds the deal already moved and does
// not patch again.
package mover

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/stagemover/stagemover/shared/ddbevent"
	"github.com/stagemover/stagemover/shared/metrics"
	"github.com/stagemover/stagemover/shared/pipedrive"
	"github.com/stagemover/stagemover/shared/stagemap"
	"github.com/stagemover/stagemover/shared/store"
)

// Pipedrive is the part of the API the mover uses.
type Pipedrive interface {
	GetDeal(ctx context.Context, id int64) (pipedrive.Deal, error)
	UpdateDeal(ctx context.Context, id int64, p pipedrive.DealPatch) (pipedrive.Deal, error)
}

// Stages resolves stage names; Refresh is called when Pipedrive disagrees.
type Stages interface {
	Get(ctx context.Context) (*stagemap.Snapshot, error)
	Refresh(ctx context.Context) (*stagemap.Snapshot, error)
}

// Store holds the decisions' state and the deal mirror.
type Store interface {
	Claim(ctx context.Context, dealID int64, sortKey, owner string, lease time.Duration) (store.Decision, error)
	GetDecision(ctx context.Context, dealID int64, sortKey string) (store.Decision, error)
	Finish(ctx context.Context, dealID int64, sortKey, owner string, o store.Outcome) error
	PutDealState(ctx context.Context, d store.DealState) error
}

// Mover is the stream handler's logic.
type Mover struct {
	Store     Store
	Pipedrive Pipedrive
	Stages    Stages
	Live      bool          // false: shadow mode, record what would happen, write nothing to Pipedrive
	Lease     time.Duration // longer than the function timeout, so a live holder is never overtaken
	Poll      time.Duration // how often to look at a decision another invocation holds
	Now       func() time.Time
	Log       *slog.Logger
	Metrics   *metrics.Recorder
}

// errRetry asks the stream to deliver the record again later.
var errRetry = errors.New("retry later")

// Handle processes a batch of decision records.
func (m *Mover) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	var resp events.DynamoDBEventResponse
	// Owners must differ between concurrent invocations; outside Lambda
	// there is no request id, so a random one stands in.
	owner := randomID()
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		owner = lc.AwsRequestID
	}
	for i, r := range ev.Records {
		if err := m.record(ctx, r, fmt.Sprintf("%s/%d", owner, i)); err != nil {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: r.Change.SequenceNumber})
		}
	}
	return resp, nil
}

func (m *Mover) record(ctx context.Context, r events.DynamoDBEventRecord, owner string) error {
	item, err := ddbevent.ToAttributeValueMap(r.Change.NewImage)
	var d store.Decision
	if err == nil {
		d, err = store.DecisionFromItem(item)
	}
	if err != nil {
		m.Metrics.Inc(metrics.SignalRejected)
		m.Log.WarnContext(ctx, "decision record not usable", "sequence", r.Change.SequenceNumber, "reason", err.Error())
		return nil // retrying cannot fix a malformed record
	}
	if d.Action != store.ActionMove {
		return nil
	}
	log := m.Log.With("deal_id", d.DealID, "event_id", d.EventID, "decision", d.SortKey())
	claimed, err := m.claim(ctx, log, d, owner)
	if err != nil || claimed == nil {
		return err
	}
	// Never act after the lease ends: another invocation may own it by then.
	rctx, cancel := context.WithDeadline(ctx, claimed.LeaseUntil.Add(-leaseMargin(m.Lease)))
	defer cancel()
	out, err := m.move(rctx, log, *claimed)
	if errors.Is(err, errRetry) {
		m.Metrics.Inc(metrics.MoveRetried)
		log.WarnContext(ctx, "move deferred; the stream will retry", "reason", out.Reason)
		// Give the decision back so the retry can take it at once.
		if ferr := m.Store.Finish(ctx, d.DealID, d.SortKey(), owner, store.Outcome{State: store.StatePending, Reason: out.Reason}); ferr != nil {
			log.ErrorContext(ctx, "release decision failed; it frees when the lease ends", "error", ferr)
		}
		return err
	}
	if ferr := m.Store.Finish(ctx, d.DealID, d.SortKey(), owner, out); ferr != nil {
		// The lease ran out: whoever holds it now re-reads the deal first.
		log.ErrorContext(ctx, "recording the outcome failed", "state", out.State, "error", ferr)
		return nil
	}
	m.count(out)
	log.InfoContext(ctx, "decision "+out.State, "reason", out.Reason, "from_stage_id", out.FromStageID,
		"to_stage_id", out.ToStageID, "shadow", out.Shadow, "attempt", claimed.Attempts)
	return nil
}

func (m *Mover) count(o store.Outcome) {
	switch {
	case o.State == store.StateDone && o.Shadow:
		m.Metrics.Inc(metrics.MoveShadow)
	case o.State == store.StateDone:
		m.Metrics.Inc(metrics.MoveDone)
	case o.State == store.StateSkipped:
		m.Metrics.Inc(metrics.MoveSkipped)
	case o.State == store.StateFailed:
		m.Metrics.Inc(metrics.MoveFailed)
	}
}

// claim takes the decision, or waits while another invocation holds it. It
// returns nil, nil when the decision is already finished.
func (m *Mover) claim(ctx context.Context, log *slog.Logger, d store.Decision, owner string) (*store.Decision, error) {
	for {
		cur, err := m.Store.Claim(ctx, d.DealID, d.SortKey(), owner, m.Lease)
		if err == nil {
			return &cur, nil
		}
		if !errors.Is(err, store.ErrConflict) {
			log.ErrorContext(ctx, "claim failed", "error", err)
			return nil, fmt.Errorf("%w: %v", errRetry, err)
		}
		switch cur.State {
		case store.StateDone, store.StateSkipped, store.StateFailed:
			log.InfoContext(ctx, "decision already "+cur.State, "reason", cur.StateReason)
			return nil, nil
		case store.StateInFlight:
			if err := m.waitWhileHeld(ctx, d, cur.LeaseUntil); err != nil {
				log.InfoContext(ctx, "decision held by another invocation; the stream will retry")
				return nil, err
			}
		}
		// pending again, or the lease ran out: claim once more.
	}
}

// waitWhileHeld polls until the decision is no longer in flight or its lease
// ends, and gives up when the invocation's own deadline comes first.
func (m *Mover) waitWhileHeld(ctx context.Context, d store.Decision, leaseUntil time.Time) error {
	poll := m.Poll
	if poll <= 0 {
		poll = 250 * time.Millisecond
	}
	for {
		if deadline, ok := ctx.Deadline(); ok && m.Now().Add(poll+time.Second).After(deadline) {
			return errRetry
		}
		select {
		case <-ctx.Done():
			return errRetry
		case <-time.After(poll):
		}
		cur, err := m.Store.GetDecision(ctx, d.DealID, d.SortKey())
		if err != nil {
			return fmt.Errorf("%w: %v", errRetry, err)
		}
		if cur.State != store.StateInFlight || m.Now().After(cur.LeaseUntil) {
			return nil
		}
	}
}

// move decides and, in live mode, patches. The outcome's state is done,
// skipped or failed; errRetry leaves the decision for the stream to retry.
func (m *Mover) move(ctx context.Context, log *slog.Logger, d store.Decision) (store.Outcome, error) {
	deal, err := m.Pipedrive.GetDeal(ctx, d.DealID)
	if err != nil {
		return m.apiFailure(ctx, log, "read deal", err)
	}
	snap, err := m.Stages.Get(ctx)
	if err != nil {
		return m.apiFailure(ctx, log, "load stage map", err)
	}
	pipeline, err := m.pipelineOf(ctx, &snap, deal.PipelineID)
	if err != nil {
		return failed(fmt.Sprintf("deal's pipeline %d is not in the stage map: %v", deal.PipelineID, err)), nil
	}
	cur, curPos, err := pipeline.StageByID(deal.StageID)
	if err != nil {
		if snap, err = m.Stages.Refresh(ctx); err != nil {
			return m.apiFailure(ctx, log, "refresh stage map", err)
		}
		if pipeline, err = snap.Pipeline(deal.PipelineID); err == nil {
			cur, curPos, err = pipeline.StageByID(deal.StageID)
		}
		if err != nil {
			return failed(fmt.Sprintf("deal's stage %d is not in the stage map", deal.StageID)), nil
		}
	}
	m.mirror(ctx, log, deal, pipeline, cur)

	switch {
	case d.Status == pipedrive.StatusWon && deal.Status == pipedrive.StatusWon && d.Attempts > 1:
		return store.Outcome{State: store.StateDone, Reason: "deal already won after an earlier attempt", FromStageID: deal.StageID, ToStageID: deal.StageID}, nil
	case deal.Status != pipedrive.StatusOpen:
		return skipped(fmt.Sprintf("deal is %s; closed deals are never reopened or moved", deal.Status)), nil
	case deal.IsArchived:
		return skipped("deal is archived and cannot be edited"), nil
	case d.TargetPipeline != "" && !stagemap.SameName(d.TargetPipeline, pipeline.Name):
		return skipped(fmt.Sprintf("deal is in pipeline %q but the decision is for %q, and no cross-pipeline rule applies", pipeline.Name, d.TargetPipeline)), nil
	}

	var patch pipedrive.DealPatch
	var target stagemap.Stage
	var what []string
	if d.TargetStage != "" {
		st, pos, err := pipeline.StageByName(d.TargetStage)
		if err != nil {
			if snap, err = m.Stages.Refresh(ctx); err != nil {
				return m.apiFailure(ctx, log, "refresh stage map", err)
			}
			if pipeline, err = snap.Pipeline(deal.PipelineID); err == nil {
				st, pos, err = pipeline.StageByName(d.TargetStage)
			}
			if err != nil {
				return failed(fmt.Sprintf("stage %q does not exist in pipeline %q", d.TargetStage, pipeline.Name)), nil
			}
		}
		if pos > curPos {
			target = st
			patch.StageID = pipedrive.Ptr(st.ID)
			what = append(what, fmt.Sprintf("stage %q -> %q", cur.Name, st.Name))
		}
	}
	if d.Status == pipedrive.StatusWon {
		patch.Status = pipedrive.Ptr(pipedrive.StatusWon)
		what = append(what, "status open -> won")
	}
	if len(what) == 0 {
		if d.Attempts > 1 && target.ID == 0 && stagemap.SameName(cur.Name, d.TargetStage) {
			return store.Outcome{State: store.StateDone, Reason: fmt.Sprintf("deal already at %q after an earlier attempt", cur.Name), FromStageID: deal.StageID, ToStageID: deal.StageID}, nil
		}
		return skipped(fmt.Sprintf("deal is already at or past %q (now %q); deals only move forward", d.TargetStage, cur.Name)), nil
	}
	out := store.Outcome{State: store.StateDone, FromStageID: deal.StageID, ToStageID: deal.StageID}
	if patch.StageID != nil {
		out.ToStageID = *patch.StageID
	}
	if !m.Live {
		out.Shadow = true
		out.Reason = "shadow mode: would move " + strings.Join(what, ", ")
		return out, nil
	}

	updated, err := m.Pipedrive.UpdateDeal(ctx, d.DealID, patch)
	if pipedrive.IsUnknownStage(err) && patch.StageID != nil {
		// Renamed or deleted since the map was cached: refresh, re-resolve by name, try once more.
		log.WarnContext(ctx, "pipedrive does not know the stage; refreshing the stage map", "stage_id", *patch.StageID)
		snap, rerr := m.Stages.Refresh(ctx)
		if rerr != nil {
			return m.apiFailure(ctx, log, "refresh stage map", rerr)
		}
		p, perr := snap.Pipeline(deal.PipelineID)
		st, _, serr := p.StageByName(d.TargetStage)
		if perr != nil || serr != nil {
			return failed(fmt.Sprintf("stage %q no longer exists in pipeline %q", d.TargetStage, pipeline.Name)), nil
		}
		patch.StageID = pipedrive.Ptr(st.ID)
		out.ToStageID = st.ID
		updated, err = m.Pipedrive.UpdateDeal(ctx, d.DealID, patch)
	}
	if err != nil {
		return m.apiFailure(ctx, log, "patch deal", err)
	}
	if p, perr := snap.Pipeline(updated.PipelineID); perr == nil {
		if st, _, serr := p.StageByID(updated.StageID); serr == nil {
			m.mirror(ctx, log, updated, p, st)
		}
	}
	out.Reason = "moved " + strings.Join(what, ", ")
	return out, nil
}

func (m *Mover) pipelineOf(ctx context.Context, snap **stagemap.Snapshot, id int64) (stagemap.Pipeline, error) {
	p, err := (*snap).Pipeline(id)
	if err == nil {
		return p, nil
	}
	fresh, rerr := m.Stages.Refresh(ctx)
	if rerr != nil {
		return stagemap.Pipeline{}, rerr
	}
	*snap = fresh
	return fresh.Pipeline(id)
}

// apiFailure sorts Pipedrive errors: auth errors fail at once and alert (a
// retry storm would only lock the token out), transient ones retry later,
// a deleted deal is skipped, anything else fails with its reason.
func (m *Mover) apiFailure(ctx context.Context, log *slog.Logger, what string, err error) (store.Outcome, error) {
	switch {
	case errors.Is(err, pipedrive.ErrUnauthorized) || errors.Is(err, pipedrive.ErrForbidden):
		log.ErrorContext(ctx, what+": pipedrive rejected the token; check the secret and the integration user's permissions", "error", err)
		return failed(fmt.Sprintf("%s: pipedrive refused access: %v", what, err)), nil
	case errors.Is(err, pipedrive.ErrNotFound):
		return skipped(fmt.Sprintf("%s: deal not found (deleted?)", what)), nil
	case pipedrive.IsRetryable(err) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		return store.Outcome{Reason: fmt.Sprintf("%s: %v", what, err)}, errRetry
	default:
		return failed(fmt.Sprintf("%s: %v", what, err)), nil
	}
}

// mirror remembers the deal's stage so later evaluations know it without a request.
func (m *Mover) mirror(ctx context.Context, log *slog.Logger, deal pipedrive.Deal, p stagemap.Pipeline, st stagemap.Stage) {
	err := m.Store.PutDealState(ctx, store.DealState{
		DealID: deal.ID, PipelineID: p.ID, Pipeline: p.Name, StageID: st.ID, Stage: st.Name,
		Status: deal.Status, PersonID: deal.PersonID, SeenAt: m.Now(),
	})
	if err != nil {
		log.WarnContext(ctx, "deal mirror not updated", "error", err)
	}
}

// leaseMargin is the time kept back at the end of a lease for recording the
// outcome: 2 s, or a quarter of very short leases.
func leaseMargin(lease time.Duration) time.Duration {
	return min(2*time.Second, lease/4)
}

func randomID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func skipped(reason string) store.Outcome {
	return store.Outcome{State: store.StateSkipped, Reason: reason}
}
func failed(reason string) store.Outcome {
	return store.Outcome{State: store.StateFailed, Reason: reason}
}
