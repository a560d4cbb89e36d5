package pdhooks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stagemover/stagemover/shared/core/stagemap"
	"github.com/stagemover/stagemover/shared/platform/logx"
	"github.com/stagemover/stagemover/shared/platform/metrics"
	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/store"
)

// MetricStageMapStale counts stage and pipeline changes that marked the
// cached stage map stale (Function dimension; the route's own counts are
// ingest's).
const MetricStageMapStale = "StageMapInvalidated"

// Source names this source in logs and metrics.
const Source = "pipedrive"

// DefaultWindow is how long after our move a person's backward move (or
// "lost") counts against it, and how old evidence may be to count a miss.
const DefaultWindow = 14 * 24 * time.Hour

// Mirror is what Webhook needs of shared/store (a *store.Store): the deal
// mirror and the stage-map cache it marks stale.
type Mirror interface {
	PutDealState(ctx context.Context, d store.DealState) error
	stagemap.Cache
}

// StageMap is a *stagemap.Map: stage order for judging, refreshed on stage
// and pipeline changes.
type StageMap interface {
	Get(ctx context.Context) (*stagemap.Snapshot, error)
	Refresh(ctx context.Context) (*stagemap.Snapshot, error)
}

// Webhook is the ingest.Source of POST /pipedrive (webhooks v2): the
// feedback source. It is not evidence: each event updates the deal mirror
// and, for a person's change of a deal, is judged against our moves
// (reverts, misses, confirmed shadow moves). The handler's key is the
// basic auth pair as "user:password" (Key); the answer is
//
//	200 {"status":"processed","outcome":...}  effects stored
//	200 {"status":"duplicate"}                a redelivery: nothing new stored
//
// and the handler's rejections otherwise.
type Webhook struct {
	Table  Table
	Mirror Mirror
	Stages StageMap // nil: no stage order (reverts only when back to the move's from-stage; no misses)
	// IntegrationUserID is the Pipedrive user our API token acts as: its
	// changes are ours and only update the mirror.
	IntegrationUserID int64
	Window            time.Duration     // 0: DefaultWindow
	Now               func() time.Time  // nil: time.Now; the clock of measures and stored events
	Log               *slog.Logger      // nil: slog.Default(); for the mirror and judge's warnings
	Metrics           *metrics.Recorder // nil: no counters (MetricStageMapStale, the measures')
	EMF               io.Writer         // nil: no per pipeline/rule metrics
	Namespace         string            // EMF namespace, "" = "StageMover"
}

// Key is the handler's key for Webhook: the pair auth returns, as
// "user:password" (what the Authorization header encodes). An empty user
// or password is not a key (503: Pipedrive retries).
func Key(auth CredentialsFunc) ingest.KeyFunc {
	return func(ctx context.Context) ([]byte, error) {
		c, err := auth(ctx)
		if err != nil {
			return nil, err
		}
		if c.User == "" || c.Password == "" {
			return nil, errors.New("pipedrive webhook credentials are empty")
		}
		return []byte(c.User + ":" + c.Password), nil
	}
}

// Name implements ingest.Source.
func (*Webhook) Name() string { return Source }

// Verify checks the basic auth credentials against the key.
func (*Webhook) Verify(_ context.Context, r *ingest.Request) error {
	user, pass, _ := strings.Cut(string(r.Key), ":")
	err := checkBasic(r.Header("Authorization"), Credentials{User: user, Password: pass})
	if errors.Is(err, errAuth) {
		return &ingest.RejectError{Status: http.StatusUnauthorized, Reason: errAuth.Error(), Err: err, Challenge: `Basic realm="stagemover"`}
	}
	return err
}

// Parse reads the event; storing it applies its effects once.
func (w *Webhook) Parse(_ context.Context, r *ingest.Request) ([]ingest.Item, error) {
	ev, err := Parse(r.Body)
	if err != nil {
		return nil, err
	}
	own := w.own(ev)
	return []ingest.Item{{
		Event: ev.Meta.Action + "." + ev.Meta.Entity,
		Attrs: []any{"event_id", ev.Meta.ID, "entity_id", ev.Meta.EntityID, "user_id", ev.Meta.UserID, "attempt", ev.Meta.Attempt,
			"own", own, "bulk", ev.Meta.IsBulkEdit, "change_source", ev.Meta.ChangeSource},
		Apply: func(ctx context.Context) (bool, string, error) { return w.apply(ctx, ev) },
	}}, nil
}

// Answer is Pipedrive's: 200 "processed" with the outcome, or "duplicate".
func (*Webhook) Answer(o ingest.Outcome) events.APIGatewayV2HTTPResponse {
	if o.Stored == 0 {
		return ingest.JSON(http.StatusOK, map[string]string{"status": "duplicate"})
	}
	return ingest.JSON(http.StatusOK, map[string]string{"status": "processed", "outcome": o.Results[0].Outcome})
}

// apply applies ev's effects once: an event already recorded is a
// duplicate; otherwise its effects are applied and the event recorded.
func (w *Webhook) apply(ctx context.Context, ev Event) (created bool, outcome string, err error) {
	log := logx.Or(w.Log).With("event_id", ev.Meta.ID, "entity", ev.Meta.Entity, "entity_id", ev.Meta.EntityID)
	seen, err := w.Table.Seen(ctx, ev.Meta.ID)
	if err != nil || seen {
		return false, "", err
	}
	outcome, err = w.process(ctx, log, ev)
	if err != nil {
		return false, "", fmt.Errorf("process pipedrive webhook: %w", err)
	}
	created, err = w.Table.PutEvent(ctx, EventRecord{Meta: ev.Meta, Own: w.own(ev), Outcome: outcome, Now: w.now()})
	return created, outcome, err
}

func (w *Webhook) own(ev Event) bool {
	return w.IntegrationUserID != 0 && ev.Meta.UserID == w.IntegrationUserID
}

// process applies an event's effects. Every effect is idempotent (the
// mirror keeps the newer observation, measures are conditional puts keyed
// by the event id), so a crash before PutEvent is safely redone.
func (w *Webhook) process(ctx context.Context, log *slog.Logger, ev Event) (outcome string, err error) {
	switch ev.Meta.Entity {
	case "stage", "pipeline":
		return "stagemap", w.invalidateStageMap(ctx, log)
	case "deal":
	default:
		return "ignored", nil
	}
	if ev.Deal == nil {
		return "ignored", nil
	}
	snap := w.snapshot(ctx, log)
	if err := w.mirror(ctx, ev, snap); err != nil {
		return "", err
	}
	switch {
	case ev.Meta.Action == "delete":
		// The mirror has the deal as deleted (store.DealDeleted): the
		// evaluator no longer decides on it; a decision already pending
		// is skipped by the mover, which reads the deal first.
		return "deleted", nil
	case w.own(ev):
		return "own", nil // our own change: the mirror, nothing else
	case ev.Meta.IsBulkEdit:
		return "bulk", nil // recorded, not judged
	case ev.Meta.Action != "change":
		return "mirrored", nil
	}
	return w.judge(ctx, log, ev, snap)
}

func (w *Webhook) mirror(ctx context.Context, ev Event, snap *stagemap.Snapshot) error {
	d := store.DealState{
		DealID: ev.Deal.ID, PipelineID: ev.Deal.PipelineID, StageID: ev.Deal.StageID,
		Status: ev.Deal.Status, PersonID: ev.Deal.PersonID, SeenAt: ev.Meta.Timestamp,
	}
	if snap != nil {
		if p, err := snap.Pipeline(d.PipelineID); err == nil {
			d.Pipeline = p.Name
			if st, _, err := p.StageByID(d.StageID); err == nil {
				d.Stage = st.Name
			}
		}
	}
	return w.Mirror.PutDealState(ctx, d)
}

// invalidateStageMap marks the cached map stale (fetched_at zero, so every
// stagemap.Map refetches on its next Get) and refreshes it when a source is
// wired. A failed refresh leaves the stale mark: the next reader refetches.
func (w *Webhook) invalidateStageMap(ctx context.Context, log *slog.Logger) error {
	if err := stagemap.Invalidate(ctx, w.Mirror); err != nil {
		return err
	}
	w.Metrics.Inc(MetricStageMapStale)
	if w.Stages != nil {
		if _, err := w.Stages.Refresh(ctx); err != nil {
			log.WarnContext(ctx, "stage map refresh failed; left marked stale", "error", err)
		}
	}
	return nil
}

func (w *Webhook) snapshot(ctx context.Context, log *slog.Logger) *stagemap.Snapshot {
	if w.Stages == nil {
		return nil
	}
	snap, err := w.Stages.Get(ctx)
	if err != nil {
		log.WarnContext(ctx, "stage map unavailable; judging without stage order", "error", err)
		return nil
	}
	return snap
}

func (w *Webhook) window() time.Duration {
	if w.Window > 0 {
		return w.Window
	}
	return DefaultWindow
}

func (w *Webhook) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}
