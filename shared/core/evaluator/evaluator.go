// Package evaluator turns each new signal into a decision: it loads the
// deal's recent evidence, asks the intent engine, and records the decision
// under a key derived from the signal, so re-running a batch writes nothing new.
package evaluator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stagemover/stagemover/shared/core/intent"
	"github.com/stagemover/stagemover/shared/core/signal"
	"github.com/stagemover/stagemover/shared/pipedrive"
	"github.com/stagemover/stagemover/shared/platform/metrics"
	"github.com/stagemover/stagemover/shared/platform/retry"
	"github.com/stagemover/stagemover/shared/platform/stream"
	"github.com/stagemover/stagemover/shared/store"
)

// Store is what the evaluator reads and writes.
type Store interface {
	SignalsForDeal(ctx context.Context, dealID int64, since time.Time, limit int) ([]store.SignalRecord, error)
	GetDealState(ctx context.Context, dealID int64) (store.DealState, error)
	PutDecision(ctx context.Context, d store.Decision) (bool, error)
	AssignSignal(ctx context.Context, rec store.SignalRecord, dealID int64) error
	MarkSignalUnresolved(ctx context.Context, rec store.SignalRecord, reason string, candidates []int64) error
}

// Resolver finds the open deals of the person with an email address.
type Resolver interface {
	OpenDealsFor(ctx context.Context, email string) ([]int64, error)
}

// Evaluator is the stream handler's logic.
type Evaluator struct {
	Store           Store
	Engine          intent.Engine
	Resolver        Resolver // nil: signals without a deal id stay unresolved
	InternalDomains []string
	Window          time.Duration // how far back evidence counts
	MaxSignals      int           // evidence per evaluation, newest kept
	Now             func() time.Time
	Log             *slog.Logger
	Metrics         *metrics.Recorder
}

// Handle processes a stream batch and reports the records to retry.
func (e *Evaluator) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	return stream.Batch[store.SignalRecord]{
		Decode: store.SignalFromItem, Process: e.record,
		Unusable: "signal not evaluated", Log: e.Log, Metrics: e.Metrics,
	}.Handle(ctx, ev)
}

// errRejected marks records that can never be evaluated; retrying them would
// only block the shard, so they are logged and counted instead. Only
// failures of our dependencies (DynamoDB, Pipedrive, the engine), marked
// retry.Later, are retried; decoding problems are not.
var errRejected = errors.New("rejected")

func (e *Evaluator) record(ctx context.Context, _ int, r events.DynamoDBEventRecord, rec store.SignalRecord) error {
	err := e.evaluate(ctx, rec)
	if errors.Is(err, errRejected) || (err != nil && !retry.IsLater(err)) {
		e.Metrics.Inc(metrics.SignalRejected)
		e.Log.WarnContext(ctx, "signal not evaluated", "sequence", r.Change.SequenceNumber, "reason", err.Error())
		return nil
	}
	if err != nil {
		e.Log.ErrorContext(ctx, "evaluation failed; the stream will retry from this record", "sequence", r.Change.SequenceNumber, "error", err)
	}
	return err
}

func (e *Evaluator) evaluate(ctx context.Context, rec store.SignalRecord) error {
	log := e.Log.With("event_id", rec.EventID, "signal_key", rec.Key(), "deal_id", rec.DealID)
	if rec.DealID == 0 {
		dealID, err := e.resolve(ctx, log, rec)
		if err != nil || dealID == 0 {
			return err
		}
		rec.DealID = dealID
		log = log.With("deal_id", dealID)
	}

	in := intent.Input{Now: e.Now(), InternalDomains: e.InternalDomains, Deal: intent.Deal{ID: rec.DealID, PersonEmail: rec.PersonEmail}}
	if st, err := e.Store.GetDealState(ctx, rec.DealID); err == nil {
		if st.Deleted() {
			// Deleted in Pipedrive (the delete webhook): nothing to decide.
			log.InfoContext(ctx, "deal deleted in Pipedrive; signal not evaluated")
			return nil
		}
		in.Deal.Pipeline, in.Deal.Stage, in.Deal.Status = st.Pipeline, st.Stage, st.Status
	} else if !errors.Is(err, store.ErrNotFound) {
		return retry.Later(err)
	}
	history, err := e.Store.SignalsForDeal(ctx, rec.DealID, e.Now().Add(-e.Window), e.maxSignals())
	if err != nil {
		return retry.Later(err)
	}
	history = withSignal(history, rec)
	for _, h := range history {
		in.Signals = append(in.Signals, h.Signal)
		// A sender may name the buyer contact with the deal; it tells the
		// engine which side of the conversation is the buyer's.
		if in.Deal.PersonEmail == "" && h.PersonEmail != "" {
			in.Deal.PersonEmail = h.PersonEmail
		}
	}

	dec, err := e.Engine.Decide(ctx, in)
	if err != nil {
		return retry.Later(fmt.Errorf("intent engine: %w", err))
	}
	pipeline := in.Deal.Pipeline
	if rec.Signal.Kind == signal.KindStageRequest && rec.Signal.Pipeline != "" && dec.Stage != "" {
		pipeline = rec.Signal.Pipeline
	}
	d := NewDecision(Subject{DealID: rec.DealID, SignalKey: rec.Key(), EventID: rec.EventID, Pipeline: pipeline, Status: in.Deal.Status}, dec)
	created, err := e.Store.PutDecision(ctx, d)
	if err != nil {
		return retry.Later(err)
	}
	if created {
		e.Metrics.Inc(metrics.DecisionRecorded)
	}
	log.InfoContext(ctx, "decision", "action", d.Action, "stage", d.TargetStage, "status", d.Status,
		"flag", d.Flag, "rule", d.Rule, "reasons", len(d.Reasons), "new", created)
	return nil
}

// Subject is what a decision is recorded for: the deal, the signal key and
// event it is recorded under, the pipeline it targets and the deal's status
// when the engine judged it.
type Subject struct {
	DealID    int64
	SignalKey string
	EventID   string
	Pipeline  string // the pipeline the decision targets
	Status    string // the deal's current status; "" = open
}

// NewDecision assembles the decision recorded for the engine's verdict on
// a deal. The evaluator and backfill both record decisions through it: a
// move when the verdict changes the deal given its status, otherwise a stay
// whose target is the stage the evidence supported, so a person moving the
// deal there later counts as a miss (shared/source/pdhooks).
func NewDecision(s Subject, dec intent.Decision) store.Decision {
	d := store.Decision{
		DealID:         s.DealID,
		SignalKey:      s.SignalKey,
		EventID:        s.EventID,
		Action:         store.ActionStay,
		TargetStage:    dec.Stage,
		TargetPipeline: s.Pipeline,
		Status:         dec.Status,
		Flag:           dec.Flag,
		Rule:           dec.Rule,
		Reasons:        storeReasons(dec.Reasons),
	}
	status := s.Status
	if status == "" {
		status = "open"
	}
	if dec.IsMove(status) {
		d.Action = store.ActionMove
	} else if dec.Evidence != "" {
		d.TargetStage = dec.Evidence
	}
	return d
}

// storeReasons converts the engine's reasons to the store's type (the same
// fields: a field added to one and not the other stops the build here).
func storeReasons(rs []intent.Reason) []store.Reason {
	if rs == nil {
		return nil
	}
	out := make([]store.Reason, len(rs))
	for i, r := range rs {
		out[i] = store.Reason(r)
	}
	return out
}

// resolve files a person's signal under their single open deal. Zero or
// several candidates are recorded for review; nothing is guessed.
func (e *Evaluator) resolve(ctx context.Context, log *slog.Logger, rec store.SignalRecord) (int64, error) {
	if e.Resolver == nil || rec.PersonEmail == "" {
		return 0, fmt.Errorf("%w: signal has no deal id and no resolver is configured", errRejected)
	}
	deals, err := e.Resolver.OpenDealsFor(ctx, rec.PersonEmail)
	if errors.Is(err, pipedrive.ErrUnauthorized) || errors.Is(err, pipedrive.ErrForbidden) && !pipedrive.IsRateLimitLockout(err) {
		// Retrying a refused token only locks it out; record why and move on.
		e.Metrics.Inc(metrics.DealUnresolved)
		log.ErrorContext(ctx, "pipedrive refused the token while finding the deal", "error", err)
		if merr := e.Store.MarkSignalUnresolved(ctx, rec, "pipedrive refused access: "+err.Error(), nil); merr != nil {
			return 0, retry.Later(merr)
		}
		return 0, nil
	}
	if err != nil {
		return 0, retry.Later(fmt.Errorf("resolve deal: %w", err))
	}
	if len(deals) != 1 {
		reason := "no open deal for this person"
		if len(deals) > 1 {
			reason = "several open deals: review"
		}
		e.Metrics.Inc(metrics.DealUnresolved)
		log.InfoContext(ctx, "signal not matched to one deal", "reason", reason, "candidates", deals)
		if err := e.Store.MarkSignalUnresolved(ctx, rec, reason, deals); err != nil {
			return 0, retry.Later(err)
		}
		return 0, nil
	}
	if err := e.Store.AssignSignal(ctx, rec, deals[0]); err != nil {
		return 0, retry.Later(err)
	}
	return deals[0], nil
}

// withSignal makes sure the triggering signal is in the evidence: the index
// the history comes from is eventually consistent.
func withSignal(history []store.SignalRecord, rec store.SignalRecord) []store.SignalRecord {
	for _, h := range history {
		if h.Key() == rec.Key() {
			return history
		}
	}
	i := len(history)
	for i > 0 && history[i-1].Signal.At.After(rec.Signal.At) {
		i--
	}
	history = append(history, store.SignalRecord{})
	copy(history[i+1:], history[i:])
	history[i] = rec
	return history
}

func (e *Evaluator) maxSignals() int {
	if e.MaxSignals > 0 {
		return e.MaxSignals
	}
	return 200
}
