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

	"github.com/stagemover/stagemover/shared/core/explain"
	"github.com/stagemover/stagemover/shared/core/intent"
	"github.com/stagemover/stagemover/shared/core/stagemap"
	"github.com/stagemover/stagemover/shared/pipedrive"
	"github.com/stagemover/stagemover/shared/platform/metrics"
	"github.com/stagemover/stagemover/shared/platform/retry"
	"github.com/stagemover/stagemover/shared/platform/stream"
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
	MarkPatchSent(ctx context.Context, dealID int64, sortKey, owner string) error
	PutDealState(ctx context.Context, d store.DealState) error
}

// Explainer writes explanations on the deal after outcomes (a note after a
// move, a follow-up activity for a vague reply); nil writes none.
type Explainer interface {
	AfterMove(ctx context.Context, d store.Decision, out store.Outcome) (explain.Result, error)
	FollowUp(ctx context.Context, d store.Decision) (explain.Result, error)
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
	Explain   Explainer // optional
}

// errUncertain is a patch whose outcome is unknown (timeout, 5xx): retried
// later like any retry.ErrLater, but the decision keeps its lease. Any
// other retry.ErrLater means nothing was written to Pipedrive, and the
// decision is given back for the retry.
var errUncertain = retry.Later(errors.New("patch outcome unknown"))

// Handle processes a batch of decision records.
func (m *Mover) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	// Owners must differ between concurrent invocations; outside Lambda
	// there is no request id, so a random one stands in.
	owner := randomID()
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		owner = lc.AwsRequestID
	}
	return stream.Batch[store.Decision]{
		Decode: store.DecisionFromItem,
		Process: func(ctx context.Context, i int, _ events.DynamoDBEventRecord, d store.Decision) error {
			return m.process(ctx, d, fmt.Sprintf("%s/%d", owner, i))
		},
		Unusable: "decision record not usable", Log: m.Log, Metrics: m.Metrics,
	}.Handle(ctx, ev)
}

// Process runs one decision through the claim, the checks and the patch,
// exactly as a stream delivery would; the sweeper and backfill use it. An
// error means the decision was left for a later attempt.
func (m *Mover) Process(ctx context.Context, d store.Decision) error {
	owner := randomID()
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		owner = lc.AwsRequestID + "/" + owner
	}
	return m.process(ctx, d, owner)
}

func (m *Mover) process(ctx context.Context, d store.Decision, owner string) error {
	log := m.Log.With("deal_id", d.DealID, "event_id", d.EventID, "decision", d.SortKey())
	if d.Action != store.ActionMove {
		if d.Flag == intent.FlagFollowUp && m.Explain != nil {
			m.explainFollowUp(ctx, log, d)
		}
		return nil
	}
	claimed, err := m.claim(ctx, log, d, owner)
	if err != nil || claimed == nil {
		return err
	}
	// Never act after the lease ends: another invocation may own it by then.
	rctx, cancel := context.WithDeadline(ctx, claimed.LeaseUntil.Add(-leaseMargin(m.Lease)))
	defer cancel()
	out, err := m.move(rctx, log, *claimed)
	switch {
	case errors.Is(err, errUncertain):
		// The patch may have been applied. Keep the lease: the retry waits
		// it out, then reads the deal before deciding anything.
		m.Metrics.Inc(metrics.MoveRetried)
		log.WarnContext(ctx, "patch outcome unknown; the decision stays leased until the stream retries", "reason", out.Reason)
		return err
	case retry.IsLater(err):
		m.Metrics.Inc(metrics.MoveRetried)
		log.WarnContext(ctx, "move deferred; the stream will retry", "reason", out.Reason)
		// Nothing was written to Pipedrive: give the decision back so the
		// retry can take it at once.
		if ferr := m.Store.Finish(ctx, d.DealID, d.SortKey(), owner, store.Outcome{State: store.StatePending, Reason: out.Reason}); ferr != nil {
			log.ErrorContext(ctx, "release decision failed; it frees when the lease ends", "error", ferr)
		}
		return err
	}
	if ferr := m.Store.Finish(ctx, d.DealID, d.SortKey(), owner, out); ferr != nil {
		if errors.Is(ferr, store.ErrConflict) {
			// The lease ran out: whoever holds it now re-reads the deal first.
			log.ErrorContext(ctx, "lease lost before the outcome was recorded", "state", out.State, "error", ferr)
			return nil
		}
		log.ErrorContext(ctx, "recording the outcome failed; the stream will retry", "state", out.State, "error", ferr)
		return fmt.Errorf("%w: %v", retry.ErrLater, ferr)
	}
	m.count(out)
	log.InfoContext(ctx, "decision "+out.State, "reason", out.Reason, "from_stage_id", out.FromStageID,
		"to_stage_id", out.ToStageID, "shadow", out.Shadow, "attempt", claimed.Attempts)
	m.explainMove(ctx, log, d, out)
	return nil
}

// explainMove never fails the move: the deal has moved and the decision is
// recorded; an explanation problem is logged.
func (m *Mover) explainMove(ctx context.Context, log *slog.Logger, d store.Decision, out store.Outcome) {
	if m.Explain == nil || out.State != store.StateDone || out.Shadow {
		return
	}
	if r, err := m.Explain.AfterMove(ctx, d, out); err != nil {
		log.WarnContext(ctx, "note not written", "error", err)
	} else if r.Posted {
		log.InfoContext(ctx, "note written", "note_id", r.ID)
	}
}

func (m *Mover) explainFollowUp(ctx context.Context, log *slog.Logger, d store.Decision) {
	if r, err := m.Explain.FollowUp(ctx, d); err != nil {
		log.WarnContext(ctx, "follow-up activity not created", "error", err)
	} else if r.Posted {
		log.InfoContext(ctx, "follow-up activity created", "activity_id", r.ID)
	}
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
			return nil, fmt.Errorf("%w: %v", retry.ErrLater, err)
		}
		switch cur.State {
		case store.StateDone, store.StateSkipped, store.StateFailed:
			log.InfoContext(ctx, "decision already "+cur.State, "reason", cur.StateReason)
			// A note an earlier run could not post (refused, released) gets
			// another chance; a posted one is never posted twice.
			m.explainMove(ctx, log, cur, store.Outcome{State: cur.State, FromStageID: cur.FromStageID, ToStageID: cur.ToStageID, Shadow: cur.Shadow})
			return nil, nil
		case store.StateInFlight:
			if err := m.waitWhileHeld(ctx, d, cur.LeaseUntil); err != nil {
				log.InfoContext(ctx, "decision held by another invocation; the stream will retry")
				return nil, err
			}
		case store.StatePending:
			// released by another invocation since our attempt: claim again
		default:
			log.WarnContext(ctx, "decision in a state the mover does not handle", "state", cur.State)
			return nil, nil
		}
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
			return retry.ErrLater
		}
		select {
		case <-ctx.Done():
			return retry.ErrLater
		case <-time.After(poll):
		}
		cur, err := m.Store.GetDecision(ctx, d.DealID, d.SortKey())
		if err != nil {
			return fmt.Errorf("%w: %v", retry.ErrLater, err)
		}
		if cur.State != store.StateInFlight || m.Now().After(cur.LeaseUntil) {
			return nil
		}
	}
}

// move decides and, in live mode, patches. The outcome's state is done,
// skipped or failed; a retry.ErrLater (errUncertain among them) leaves the
// decision for the stream to retry.
func (m *Mover) move(ctx context.Context, log *slog.Logger, d store.Decision) (store.Outcome, error) {
	// The mirror is as of the read: a deletion (or change) Pipedrive
	// reports with a later timestamp is not overwritten by what we read.
	readAt := m.Now()
	deal, err := m.Pipedrive.GetDeal(ctx, d.DealID)
	if err != nil {
		return m.apiFailure(ctx, log, "read deal", err)
	}
	snap, err := m.Stages.Get(ctx)
	if err != nil {
		return m.apiFailure(ctx, log, "load stage map", err)
	}
	pos, err := m.locate(ctx, &snap, deal.PipelineID, deal.StageID, d.TargetStage)
	if err != nil {
		if errors.Is(err, stagemap.ErrUnknown) {
			return failed(err.Error()), nil
		}
		return m.apiFailure(ctx, log, "refresh stage map", err)
	}
	m.mirror(ctx, log, deal, pos.pipeline, pos.current, readAt)
	ours := !d.PatchSentAt.IsZero() // an earlier attempt of this decision sent a patch

	switch {
	case d.Status == pipedrive.StatusWon && deal.Status == pipedrive.StatusWon && ours:
		return store.Outcome{State: store.StateDone, Reason: "deal already won after an earlier attempt", FromStageID: deal.StageID, ToStageID: deal.StageID}, nil
	case deal.IsDeleted || deal.Status == store.DealDeleted:
		return skipped("deal is deleted in Pipedrive; deleted deals are never moved"), nil
	case deal.Status != pipedrive.StatusOpen:
		return skipped(fmt.Sprintf("deal is %s; closed deals are never reopened or moved", deal.Status)), nil
	case deal.IsArchived:
		return skipped("deal is archived and cannot be edited"), nil
	case d.TargetPipeline != "" && !stagemap.SameName(d.TargetPipeline, pos.pipeline.Name):
		return skipped(fmt.Sprintf("deal is in pipeline %q but the decision is for %q, and no cross-pipeline rule applies", pos.pipeline.Name, d.TargetPipeline)), nil
	}

	patch, what := plan(d, pos)
	if len(what) == 0 {
		if ours && pos.target != nil && pos.target.ID == deal.StageID {
			return store.Outcome{State: store.StateDone, Reason: fmt.Sprintf("deal already at %q after an earlier attempt", pos.current.Name), FromStageID: deal.StageID, ToStageID: deal.StageID}, nil
		}
		return skipped(fmt.Sprintf("deal is already at or past %q (now %q); deals only move forward", d.TargetStage, pos.current.Name)), nil
	}
	out := store.Outcome{State: store.StateDone, FromStageID: deal.StageID, ToStageID: deal.StageID}
	if !m.Live {
		if patch.StageID != nil {
			out.ToStageID = *patch.StageID
		}
		out.Shadow = true
		out.Reason = "shadow mode: would move " + strings.Join(what, ", ")
		return out, nil
	}

	patchAt := m.Now()
	updated, err := m.patch(ctx, d, patch)
	if pipedrive.IsUnknownStage(err) && patch.StageID != nil {
		// Renamed or rebuilt since the map was cached: refresh, re-resolve
		// by name, check "forward" again on the fresh map, try once more.
		log.WarnContext(ctx, "pipedrive does not know the stage; refreshing the stage map", "stage_id", *patch.StageID)
		fresh, rerr := m.Stages.Refresh(ctx)
		if rerr != nil {
			return m.apiFailure(ctx, log, "refresh stage map", rerr)
		}
		snap = fresh
		if pos, err = m.locate(ctx, &snap, deal.PipelineID, deal.StageID, d.TargetStage); err != nil {
			return failed(fmt.Sprintf("after a stage map refresh: %v", err)), nil
		}
		if patch, what = plan(d, pos); patch.StageID == nil {
			return skipped(fmt.Sprintf("after a stage map refresh the deal is already at or past %q", d.TargetStage)), nil
		}
		updated, err = m.patch(ctx, d, patch)
	}
	if err != nil {
		return m.apiFailure(ctx, log, "patch deal", err)
	}
	if patch.StageID != nil {
		out.ToStageID = *patch.StageID
	}
	if p, perr := snap.Pipeline(updated.PipelineID); perr == nil {
		if st, _, serr := p.StageByID(updated.StageID); serr == nil {
			m.mirror(ctx, log, updated, p, st, patchAt)
		}
	}
	out.Reason = "moved " + strings.Join(what, ", ")
	return out, nil
}

// position is where the deal and the decision's target sit in the deal's pipeline.
type position struct {
	pipeline   stagemap.Pipeline
	current    stagemap.Stage
	currentPos int
	target     *stagemap.Stage // nil when the decision names no stage
	targetPos  int
}

// locate resolves the deal's pipeline, its stage and the target stage by
// name, refreshing the map once when any of them is unknown. Errors wrap
// stagemap.ErrUnknown when they are still unknown after the refresh.
func (m *Mover) locate(ctx context.Context, snap **stagemap.Snapshot, pipelineID, stageID int64, target string) (position, error) {
	resolve := func(s *stagemap.Snapshot) (position, error) {
		var p position
		var err error
		if p.pipeline, err = s.Pipeline(pipelineID); err != nil {
			return p, err
		}
		if p.current, p.currentPos, err = p.pipeline.StageByID(stageID); err != nil {
			return p, err
		}
		if target != "" {
			st, pos, err := p.pipeline.StageByName(target)
			if err != nil {
				return p, err
			}
			p.target, p.targetPos = &st, pos
		}
		return p, nil
	}
	p, err := resolve(*snap)
	if err == nil || !errors.Is(err, stagemap.ErrUnknown) {
		return p, err
	}
	fresh, rerr := m.Stages.Refresh(ctx)
	if rerr != nil {
		return p, rerr
	}
	*snap = fresh
	return resolve(fresh)
}

// plan builds the patch: the target stage only when it is ahead of the
// deal's stage, and status won when the decision says so.
func plan(d store.Decision, pos position) (pipedrive.DealPatch, []string) {
	var patch pipedrive.DealPatch
	var what []string
	if pos.target != nil && pos.targetPos > pos.currentPos {
		patch.StageID = pipedrive.Ptr(pos.target.ID)
		what = append(what, fmt.Sprintf("stage %q -> %q", pos.current.Name, pos.target.Name))
	}
	if d.Status == pipedrive.StatusWon {
		patch.Status = pipedrive.Ptr(pipedrive.StatusWon)
		what = append(what, "status open -> won")
	}
	return patch, what
}

// patch marks the decision as having sent a write, then sends it. A failure
// after sending, other than a refusal, leaves the outcome unknown.
func (m *Mover) patch(ctx context.Context, d store.Decision, p pipedrive.DealPatch) (pipedrive.Deal, error) {
	if err := m.Store.MarkPatchSent(ctx, d.DealID, d.SortKey(), d.LeaseOwner); err != nil {
		return pipedrive.Deal{}, fmt.Errorf("%w: %v", retry.ErrLater, err)
	}
	deal, err := m.Pipedrive.UpdateDeal(ctx, d.DealID, p)
	if err != nil && !errors.Is(err, pipedrive.ErrRateLimited) && (errors.Is(err, pipedrive.ErrServer) || errors.Is(err, pipedrive.ErrNetwork) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
		return deal, fmt.Errorf("%w: %w", errUncertain, err)
	}
	return deal, err
}

// apiFailure sorts Pipedrive errors: auth errors fail at once and alert (a
// retry storm would only lock the token out), transient ones retry later,
// a deleted deal is skipped, anything else fails with its reason.
func (m *Mover) apiFailure(ctx context.Context, log *slog.Logger, what string, err error) (store.Outcome, error) {
	switch {
	case errors.Is(err, errUncertain):
		return store.Outcome{Reason: fmt.Sprintf("%s: %v", what, err)}, errUncertain
	case retry.IsLater(err):
		return store.Outcome{Reason: fmt.Sprintf("%s: %v", what, err)}, retry.ErrLater
	case pipedrive.IsRateLimitLockout(err):
		// Pipedrive's lockout page after ignored 429s: wait, never fail the decision.
		return store.Outcome{Reason: fmt.Sprintf("%s: rate-limit lockout: %v", what, err)}, retry.ErrLater
	case errors.Is(err, pipedrive.ErrUnauthorized) || errors.Is(err, pipedrive.ErrForbidden):
		log.ErrorContext(ctx, what+": pipedrive rejected the token; check the secret and the integration user's permissions", "error", err)
		return failed(fmt.Sprintf("%s: pipedrive refused access: %v", what, err)), nil
	case errors.Is(err, pipedrive.ErrNotFound):
		return skipped(fmt.Sprintf("%s: deal not found (deleted?)", what)), nil
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		return store.Outcome{Reason: fmt.Sprintf("%s: %v", what, err)}, retry.ErrLater
	default:
		return failed(fmt.Sprintf("%s: %v", what, err)), nil
	}
}

// mirror remembers the deal's stage so later evaluations know it without a request.
func (m *Mover) mirror(ctx context.Context, log *slog.Logger, deal pipedrive.Deal, p stagemap.Pipeline, st stagemap.Stage, seenAt time.Time) {
	status := deal.Status
	if deal.IsDeleted {
		status = store.DealDeleted
	}
	err := m.Store.PutDealState(ctx, store.DealState{
		DealID: deal.ID, PipelineID: p.ID, Pipeline: p.Name, StageID: st.ID, Stage: st.Name,
		Status: status, PersonID: deal.PersonID, SeenAt: seenAt,
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
