// Package backfill evaluates a pipeline's open deals from the evidence
// already stored in the table and moves those that qualify, through the same
// path as the stream: the intent engine decides, the decision is recorded
// under a deterministic key (deal, backfill run), and mover.Mover claims,
// checks and patches it. A run keeps to a token budget, never outruns the
// burst limit (the Pipedrive client paces itself), and keeps a progress
// document in the table so an interrupted run resumes where it stopped
// without repeating a move.
package backfill

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/stagemover/stagemover/shared/core/evaluator"
	"github.com/stagemover/stagemover/shared/core/intent"
	"github.com/stagemover/stagemover/shared/core/mover"
	"github.com/stagemover/stagemover/shared/core/stagemap"
	"github.com/stagemover/stagemover/shared/pipedrive"
	"github.com/stagemover/stagemover/shared/store"
)

// Token costs (x-token-cost in Pipedrive's v2 spec) the budget is planned with.
const (
	CostPage      = 10 // GET /api/v2/deals, one page
	CostMoveLive  = 6  // GET /api/v2/deals/{id} (1) + PATCH /api/v2/deals/{id} (5)
	CostMoveDry   = 1  // the mover reads the deal; a dry run patches nothing
	progressTTL   = 400 * 24 * time.Hour
	defaultPage   = 500
	maxEvidence   = 200
	saveEvery     = 50 // deals without a move between progress saves
	handleTimeout = 60 * time.Second
)

// Pipedrive is what a backfill calls: listing plus what the mover needs,
// and the client's usage counters the budget is kept with.
type Pipedrive interface {
	mover.Pipedrive
	ListDealsPage(ctx context.Context, q pipedrive.DealsPageQuery) ([]pipedrive.Deal, string, error)
	Usage() pipedrive.Usage
}

// Store is the table: evidence, decisions (and the mover's state machine)
// and the progress document.
type Store interface {
	mover.Store
	SignalsForDeal(ctx context.Context, dealID int64, since time.Time, limit int) ([]store.SignalRecord, error)
	PutDecision(ctx context.Context, d store.Decision) (bool, error)
	GetJSON(ctx context.Context, name string, v any) (time.Time, error)
	PutJSON(ctx context.Context, name string, v any, ttl time.Duration) error
}

// Backfill runs backfills. Mover is the stream's mover (its Live says
// whether a non-dry run patches); Backfill points its Store, Pipedrive and
// Stages at its own for the run.
type Backfill struct {
	Store           Store
	Pipedrive       Pipedrive
	Stages          mover.Stages
	Engine          intent.Engine
	Mover           mover.Mover // a template: copied per run
	InternalDomains []string
	Window          time.Duration // how far back evidence counts (EVIDENCE_WINDOW_DAYS)
	PageSize        int           // deals per listing page; 0 = 500
	Now             func() time.Time
	Log             *slog.Logger
	Out             io.Writer     // progress lines for the operator; nil discards
	ReportEvery     time.Duration // at most this long between progress lines; 0 = 2 s
}

// Options is one invocation.
type Options struct {
	RunID    string // "" starts a new run with a generated id; an existing id resumes
	Pipeline string // pipeline name; may be "" when resuming
	Budget   int    // token units this invocation may spend
	DryRun   bool   // shadow: record nothing in Pipedrive, nor decisions in the table
}

// Progress is the run's persisted state and counters, across invocations.
type Progress struct {
	RunID      string `json:"run_id"`
	Pipeline   string `json:"pipeline"`
	PipelineID int64  `json:"pipeline_id"`
	DryRun     bool   `json:"dry_run"`
	// Cursor fetches the page being worked on ("" = the first page);
	// LastDealID is the last deal of that page that is finished.
	Cursor      string    `json:"cursor"`
	LastDealID  int64     `json:"last_deal_id"`
	Done        bool      `json:"done"`
	Scanned     int       `json:"scanned"`     // deals looked at
	NoEvidence  int       `json:"no_evidence"` // no stored signals in the window
	Stays       int       `json:"stays"`       // the engine saw no progress
	Moves       int       `json:"moves"`       // moved (dry run: would move)
	Skips       int       `json:"skips"`       // qualified, but already at or past the target, closed, archived...
	Failed      int       `json:"failed"`      // the mover recorded a failure
	Tokens      int       `json:"tokens"`      // token units spent by this run's client
	Invocations int       `json:"invocations"`
	StartedAt   time.Time `json:"started_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	Stopped     string    `json:"stopped,omitempty"` // why the last invocation stopped
}

// DocName is the progress document's name in the table (GetJSON/PutJSON).
func DocName(runID string) string { return "backfill#" + runID }

// SignalKey is the decisions' signal key for a run: with the deal id it
// makes the key, so a re-run of a deal finds its decision.
func SignalKey(runID string) string { return "BACKFILL#" + runID }

// Stop reasons.
const (
	StoppedDone        = "done"
	StoppedBudget      = "budget"
	StoppedInterrupted = "interrupted"
	StoppedError       = "error"
)

// ErrMismatch means the options contradict the run being resumed.
var ErrMismatch = errors.New("backfill run mismatch")

// run is one invocation's state.
type run struct {
	b         *Backfill
	opts      Options
	p         *Progress
	mv        *mover.Mover
	decisions decisionStore // where the decision is recorded and read back
	snap      *stagemap.Snapshot
	pipe      stagemap.Pipeline
	usage0    int // client usage when the invocation started
	tokens0   int // run tokens before this invocation
	start     time.Time
	scanned0  int
	moves0    int
	lastLine  time.Time
	unsaved   int
}

// decisionStore records and reads decisions: the table, or memory for a dry run.
type decisionStore interface {
	PutDecision(ctx context.Context, d store.Decision) (bool, error)
	GetDecision(ctx context.Context, dealID int64, sortKey string) (store.Decision, error)
}

// Run processes the run until it is done, the budget would be exceeded, ctx
// ends (the deal in hand is finished first) or an error stops it. The
// progress is saved in every case; the returned Progress says why it stopped.
func (b *Backfill) Run(ctx context.Context, opts Options) (Progress, error) {
	if b.Now == nil {
		b.Now = time.Now
	}
	if b.Log == nil {
		b.Log = slog.New(slog.DiscardHandler)
	}
	if b.Out == nil {
		b.Out = io.Discard
	}
	if opts.Budget <= 0 {
		return Progress{}, fmt.Errorf("backfill: a positive token budget is required")
	}
	p, err := b.load(ctx, opts)
	if err != nil {
		return Progress{}, err
	}
	r := &run{b: b, opts: opts, p: &p, usage0: b.Pipedrive.Usage().TokenCost, tokens0: p.Tokens,
		start: b.Now(), scanned0: p.Scanned, moves0: p.Moves}
	r.mv = r.mover()
	if p.Done {
		fmt.Fprintf(b.Out, "backfill %s: already complete\n", p.RunID)
		r.line(true)
		return p, nil
	}
	p.Invocations++
	stopped, err := r.loop(ctx)
	p.Stopped = stopped
	p.Tokens = r.tokens()
	if stopped == StoppedDone {
		p.Done = true
	}
	if serr := r.save(ctx); serr != nil && err == nil {
		err = serr
	}
	r.line(true)
	switch stopped {
	case StoppedDone:
		fmt.Fprintf(b.Out, "backfill %s: complete\n", p.RunID)
	case StoppedBudget:
		fmt.Fprintf(b.Out, "backfill %s: stopped at the budget of %d token units; resume with --run %s\n", p.RunID, opts.Budget, p.RunID)
	case StoppedInterrupted:
		fmt.Fprintf(b.Out, "backfill %s: interrupted; resume with --run %s\n", p.RunID, p.RunID)
	default:
		fmt.Fprintf(b.Out, "backfill %s: stopped by an error; resume with --run %s\n", p.RunID, p.RunID)
	}
	return p, err
}

// load reads the run's progress, or starts a new one.
func (b *Backfill) load(ctx context.Context, opts Options) (Progress, error) {
	var p Progress
	if opts.RunID != "" {
		_, err := b.Store.GetJSON(ctx, DocName(opts.RunID), &p)
		switch {
		case err == nil:
			if opts.Pipeline != "" && !stagemap.SameName(opts.Pipeline, p.Pipeline) {
				return p, fmt.Errorf("%w: run %s is for pipeline %q, not %q", ErrMismatch, opts.RunID, p.Pipeline, opts.Pipeline)
			}
			if opts.DryRun != p.DryRun {
				return p, fmt.Errorf("%w: run %s has dry run %v; a live and a dry run need different run ids", ErrMismatch, opts.RunID, p.DryRun)
			}
			return p, nil
		case !errors.Is(err, store.ErrNotFound):
			return p, fmt.Errorf("backfill: load run %s: %w", opts.RunID, err)
		}
	}
	if opts.Pipeline == "" {
		return p, fmt.Errorf("backfill: a pipeline name is required to start a run")
	}
	id := opts.RunID
	if id == "" {
		id = NewRunID(b.Now())
	}
	if !validRunID(id) {
		return p, fmt.Errorf("backfill: run id %q: use letters, digits, '-', '_' and '.' (at most 64)", id)
	}
	return Progress{RunID: id, Pipeline: opts.Pipeline, DryRun: opts.DryRun, StartedAt: b.Now()}, nil
}

// NewRunID returns a fresh run id: the date and a random suffix.
func NewRunID(now time.Time) string {
	buf := make([]byte, 3)
	_, _ = rand.Read(buf)
	return "bf-" + now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(buf)
}

func validRunID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.", c)) {
			return false
		}
	}
	return true
}

// mover copies the template mover for the run: a dry run is shadow and keeps
// its decisions in memory, so no decision reaches the deployed mover's stream.
func (r *run) mover() *mover.Mover {
	m := r.b.Mover
	m.Pipedrive = r.b.Pipedrive
	m.Stages = r.b.Stages
	if m.Now == nil {
		m.Now = r.b.Now
	}
	if m.Log == nil {
		m.Log = r.b.Log
	}
	if m.Lease <= 0 {
		m.Lease = 90 * time.Second
	}
	m.Log = m.Log.With("backfill_run", r.p.RunID)
	if r.p.DryRun {
		mem := newMemStore(r.b.Now)
		m.Store, m.Live = mem, false
		r.decisions = mem
	} else {
		m.Store = r.b.Store
		r.decisions = r.b.Store
	}
	return &m
}

// tokens is the run's spend so far, across invocations.
func (r *run) tokens() int { return r.tokens0 + r.spent() }

// spent is this invocation's spend.
func (r *run) spent() int { return r.b.Pipedrive.Usage().TokenCost - r.usage0 }

func (r *run) fits(cost int) bool { return r.spent()+cost <= r.opts.Budget }

func (r *run) loop(ctx context.Context) (string, error) {
	if ctx.Err() != nil {
		return StoppedInterrupted, nil
	}
	snap, err := r.b.Stages.Get(ctx)
	if err != nil {
		return StoppedError, fmt.Errorf("backfill: stage map: %w", err)
	}
	r.snap = snap
	if err := r.findPipeline(ctx); err != nil {
		return StoppedError, err
	}
	for {
		if ctx.Err() != nil {
			return StoppedInterrupted, nil
		}
		if !r.fits(CostPage) {
			return StoppedBudget, nil
		}
		deals, next, err := r.b.Pipedrive.ListDealsPage(ctx, pipedrive.DealsPageQuery{
			PipelineID: r.p.PipelineID, Status: pipedrive.StatusOpen, Cursor: r.p.Cursor, Limit: r.pageSize()})
		if err != nil {
			if ctx.Err() != nil {
				return StoppedInterrupted, nil
			}
			return StoppedError, fmt.Errorf("backfill: list deals: %w", err)
		}
		for _, d := range deals {
			if d.ID <= r.p.LastDealID {
				continue // finished before the run was interrupted
			}
			if ctx.Err() != nil {
				return StoppedInterrupted, nil
			}
			moved, stop, err := r.deal(ctx, d)
			if err != nil && ctx.Err() != nil {
				return StoppedInterrupted, nil // the deal is not finished: the resumed run starts with it
			}
			if err != nil {
				return StoppedError, err
			}
			if stop != "" {
				return stop, nil
			}
			r.p.Scanned++
			r.p.LastDealID = d.ID
			r.unsaved++
			// A move is saved at once, so an interrupt never costs its read again.
			if moved || r.unsaved >= saveEvery {
				if err := r.save(ctx); err != nil {
					return StoppedError, err
				}
			}
			r.line(false)
		}
		if next == "" {
			return StoppedDone, nil
		}
		r.p.Cursor, r.p.LastDealID = next, 0
		if err := r.save(ctx); err != nil {
			return StoppedError, err
		}
	}
}

func (r *run) pageSize() int {
	if r.b.PageSize > 0 {
		return r.b.PageSize
	}
	return defaultPage
}

// findPipeline resolves the run's pipeline by id (a resumed run) or name.
func (r *run) findPipeline(ctx context.Context) error {
	find := func(s *stagemap.Snapshot) (stagemap.Pipeline, bool) {
		for _, p := range s.Pipelines {
			if (r.p.PipelineID != 0 && p.ID == r.p.PipelineID) || (r.p.PipelineID == 0 && stagemap.SameName(p.Name, r.p.Pipeline)) {
				return p, true
			}
		}
		return stagemap.Pipeline{}, false
	}
	p, ok := find(r.snap)
	if !ok {
		fresh, err := r.b.Stages.Refresh(ctx)
		if err != nil {
			return fmt.Errorf("backfill: stage map: %w", err)
		}
		r.snap = fresh
		if p, ok = find(fresh); !ok {
			return fmt.Errorf("backfill: pipeline %q not found in Pipedrive", r.p.Pipeline)
		}
	}
	r.pipe, r.p.PipelineID, r.p.Pipeline = p, p.ID, p.Name
	return nil
}

// deal evaluates one deal and, when it qualifies, moves it. It reports
// whether the mover handled a decision, or a stop reason (or error) when the
// run must stop before this deal is finished.
func (r *run) deal(ctx context.Context, d pipedrive.Deal) (moved bool, stop string, err error) {
	log := r.b.Log.With("backfill_run", r.p.RunID, "deal_id", d.ID)
	if d.Status != pipedrive.StatusOpen || d.IsArchived || d.IsDeleted {
		r.p.Skips++
		return false, "", nil
	}
	window := r.b.Window
	if window <= 0 {
		window = 90 * 24 * time.Hour
	}
	sigs, err := r.b.Store.SignalsForDeal(ctx, d.ID, r.b.Now().Add(-window), maxEvidence)
	if err != nil {
		return false, StoppedError, fmt.Errorf("backfill: evidence of deal %d: %w", d.ID, err)
	}
	if len(sigs) == 0 {
		r.p.NoEvidence++
		return false, "", nil
	}
	// A deal this run already decided (its progress was not saved) keeps
	// that decision: the evidence is judged once per run, and a decision
	// the mover finished costs nothing to look at again.
	sk := store.Decision{SignalKey: SignalKey(r.p.RunID)}.SortKey()
	if prev, err := r.decisions.GetDecision(ctx, d.ID, sk); err == nil {
		if prev.Action != store.ActionMove {
			r.p.Stays++
			return false, "", nil
		}
		return r.move(ctx, d, prev)
	} else if !errors.Is(err, store.ErrNotFound) {
		return false, StoppedError, fmt.Errorf("backfill: decision of deal %d: %w", d.ID, err)
	}
	in := intent.Input{Now: r.b.Now(), InternalDomains: r.b.InternalDomains, Deal: intent.Deal{
		ID: d.ID, Title: d.Title, Pipeline: r.pipe.Name, Status: d.Status, Value: d.Value, Currency: d.Currency}}
	cur, curPos, curErr := r.pipe.StageByID(d.StageID)
	if curErr == nil {
		in.Deal.Stage = cur.Name
	}
	for _, s := range sigs {
		in.Signals = append(in.Signals, s.Signal)
		if in.Deal.PersonEmail == "" && s.PersonEmail != "" {
			in.Deal.PersonEmail = s.PersonEmail
		}
	}
	dec, err := r.b.Engine.Decide(ctx, in)
	if err != nil {
		return false, StoppedError, fmt.Errorf("backfill: intent engine on deal %d: %w", d.ID, err)
	}
	// The evaluator's assembly: a stay names the stage the evidence
	// supported, so a person's later move there counts as a miss.
	rec := evaluator.NewDecision(evaluator.Subject{DealID: d.ID, SignalKey: SignalKey(r.p.RunID), EventID: "backfill-" + r.p.RunID,
		Pipeline: r.pipe.Name, Status: d.Status}, dec)
	if rec.Action != store.ActionMove {
		if err := r.recordStay(ctx, rec); err != nil {
			return false, StoppedError, err
		}
		r.p.Stays++
		return false, "", nil
	}
	// The listing already says where the deal is: a target at or behind it
	// is not worth the mover's read (the mover would skip it).
	if curErr == nil && dec.Status == d.Status && dec.Stage != "" {
		if _, pos, err := r.pipe.StageByName(dec.Stage); err == nil && pos <= curPos {
			rec.Action = store.ActionStay
			if err := r.recordStay(ctx, rec); err != nil {
				return false, StoppedError, err
			}
			r.p.Skips++
			log.InfoContext(ctx, "backfill: already at or past the target", "stage", cur.Name, "target", dec.Stage, "rule", dec.Rule)
			return false, "", nil
		}
	}

	return r.move(ctx, d, rec)
}

// move records the move decision (unless it exists) and hands it to the
// mover, within the budget.
func (r *run) move(ctx context.Context, d pipedrive.Deal, rec store.Decision) (bool, string, error) {
	finished := rec.State == store.StateDone || rec.State == store.StateSkipped || rec.State == store.StateFailed
	cost := CostMoveDry
	if r.mv.Live {
		cost = CostMoveLive
	}
	if !finished && !r.fits(cost) {
		return false, StoppedBudget, nil
	}
	if rec.State == "" {
		if _, err := r.decisions.PutDecision(ctx, rec); err != nil {
			return false, StoppedError, fmt.Errorf("backfill: record decision for deal %d: %w", d.ID, err)
		}
	}
	// The mover gets the decision as the stream would deliver it. An
	// interrupt lets the move in hand finish rather than leave it leased.
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), handleTimeout)
	err := r.mv.Process(hctx, rec)
	cancel()
	if err != nil {
		err = fmt.Errorf("the mover deferred the decision (Pipedrive or DynamoDB unavailable, or another mover holds it): %w", err)
	}
	if err != nil {
		return false, StoppedError, fmt.Errorf("backfill: move deal %d: %w", d.ID, err)
	}
	out, err := r.decisions.GetDecision(ctx, d.ID, rec.SortKey())
	if err != nil {
		return false, StoppedError, fmt.Errorf("backfill: read back decision for deal %d: %w", d.ID, err)
	}
	switch out.State {
	case store.StateDone:
		r.p.Moves++
		verb := "moved"
		if out.Shadow {
			verb = "would move"
		}
		what := strings.TrimPrefix(strings.TrimPrefix(out.StateReason, "shadow mode: would move "), "moved ")
		fmt.Fprintf(r.b.Out, "deal %d: %s %s (rule %s)\n", d.ID, verb, what, rec.Rule)
	case store.StateSkipped:
		r.p.Skips++
	case store.StateFailed:
		r.p.Failed++
		fmt.Fprintf(r.b.Out, "deal %d: failed: %s\n", d.ID, out.StateReason)
	default:
		return false, StoppedError, fmt.Errorf("backfill: deal %d: decision left %s", d.ID, out.State)
	}
	return true, "", nil
}

// recordStay keeps the engine's verdict for the audit trail (live runs).
func (r *run) recordStay(ctx context.Context, rec store.Decision) error {
	if r.p.DryRun {
		return nil
	}
	if _, err := r.b.Store.PutDecision(ctx, rec); err != nil {
		return fmt.Errorf("backfill: record decision for deal %d: %w", rec.DealID, err)
	}
	return nil
}

// save writes the progress document, also after ctx has ended: that is
// what makes an interrupted run resumable.
func (r *run) save(ctx context.Context) error {
	r.p.Tokens = r.tokens()
	r.p.UpdatedAt = r.b.Now()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := r.b.Store.PutJSON(ctx, DocName(r.p.RunID), r.p, progressTTL); err != nil {
		return fmt.Errorf("backfill: save progress: %w", err)
	}
	r.unsaved = 0
	return nil
}

// line prints a progress line, at most every ReportEvery unless final.
func (r *run) line(final bool) {
	every := r.b.ReportEvery
	if every <= 0 {
		every = 2 * time.Second
	}
	now := r.b.Now()
	if !final && now.Sub(r.lastLine) < every {
		return
	}
	r.lastLine = now
	el := now.Sub(r.start).Seconds()
	rate, moveRate := 0.0, 0.0
	if el > 0 {
		rate = float64(r.p.Scanned-r.scanned0) / el
		moveRate = float64(r.p.Moves-r.moves0) / el
	}
	mode := ""
	if r.p.DryRun {
		mode = " (dry run)"
	}
	fmt.Fprintf(r.b.Out, "backfill %s%s %q: scanned %d, moves %d, skips %d, stays %d, no evidence %d, failed %d, tokens %d (this run %d of %d), %.1f deals/s, %.1f moves/s\n",
		r.p.RunID, mode, r.p.Pipeline, r.p.Scanned, r.p.Moves, r.p.Skips, r.p.Stays, r.p.NoEvidence, r.p.Failed,
		r.tokens(), r.spent(), r.opts.Budget, rate, moveRate)
}
