package pdhooks

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stagemover/stagemover/shared/core/stagemap"
	"github.com/stagemover/stagemover/shared/platform/metrics"
	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/store"
)

// Counters (Function dimension, shared/platform/metrics).
const (
	MetricWebhookStored    = "PipedriveWebhookStored"
	MetricWebhookDuplicate = "PipedriveWebhookDuplicate"
	MetricWebhookRejected  = "PipedriveWebhookRejected"
	MetricStageMapStale    = "StageMapInvalidated"
)

// DefaultWindow is how long after our move a person's backward move (or
// "lost") counts against it, and how old evidence may be to count a miss.
const DefaultWindow = 14 * 24 * time.Hour

// Mirror is what the handler needs of shared/store (a *store.Store): the
// deal mirror and the stage-map cache it marks stale.
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

// Handler handles POST /pipedrive (API Gateway HTTP API, payload v2). It answers
//
//	200 {"status":"processed","outcome":...}  effects stored
//	200 {"status":"duplicate"}                a redelivery: nothing new stored
//	400 {"error":...}                         not a webhooks v2 body
//	401 {"error":...}                         missing or wrong basic auth
//	413 {"error":...}                         body over ingest.MaxBody
//	503 {"error":...}                         secret or table unavailable: Pipedrive retries
//
// and stores nothing on a 4xx.
type Handler struct {
	Table  Table
	Mirror Mirror
	Stages StageMap // nil: no stage order (reverts only when back to the move's from-stage; no misses)
	Auth   CredentialsFunc
	// IntegrationUserID is the Pipedrive user our API token acts as: its
	// changes are ours and only update the mirror.
	IntegrationUserID int64
	Window            time.Duration     // 0: DefaultWindow
	Now               func() time.Time  // nil: time.Now
	Log               *slog.Logger      // nil: slog.Default()
	Metrics           *metrics.Recorder // nil: no counters
	EMF               io.Writer         // nil: no per pipeline/rule metrics
	Namespace         string            // EMF namespace, "" = "StageMover"
}

// Handle is the Lambda handler.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	body, err := ingest.RequestBody(req)
	if err != nil {
		return h.reject(ctx, http.StatusBadRequest, "body is not valid base64")
	}
	if len(body) > ingest.MaxBody {
		return h.reject(ctx, http.StatusRequestEntityTooLarge, fmt.Sprintf("body is larger than %d bytes", ingest.MaxBody))
	}
	creds, err := h.Auth(ctx)
	if err != nil || creds.User == "" || creds.Password == "" {
		h.log().ErrorContext(ctx, "pipedrive webhook credentials unavailable", "error", errString(err))
		return ingest.JSON(http.StatusServiceUnavailable, map[string]string{"error": "temporarily unavailable"}), nil
	}
	if err := checkBasic(ingest.Header(req, "Authorization"), creds); err != nil {
		resp, _ := h.reject(ctx, http.StatusUnauthorized, err.Error())
		resp.Headers["WWW-Authenticate"] = `Basic realm="stagemover"`
		return resp, nil
	}
	ev, err := Parse(body)
	if err != nil {
		return h.reject(ctx, http.StatusBadRequest, strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": "))
	}
	log := h.log().With("event_id", ev.Meta.ID, "entity", ev.Meta.Entity, "entity_id", ev.Meta.EntityID,
		"action", ev.Meta.Action, "user_id", ev.Meta.UserID, "attempt", ev.Meta.Attempt)
	seen, err := h.Table.Seen(ctx, ev.Meta.ID)
	if err != nil {
		log.ErrorContext(ctx, "read webhook event failed", "error", err)
		return ingest.JSON(http.StatusServiceUnavailable, map[string]string{"error": "could not store the event; retry"}), nil
	}
	if seen {
		h.Metrics.Inc(MetricWebhookDuplicate)
		log.InfoContext(ctx, "pipedrive webhook duplicate")
		return ingest.JSON(http.StatusOK, map[string]string{"status": "duplicate"}), nil
	}
	outcome, own, err := h.process(ctx, log, ev)
	if err != nil {
		log.ErrorContext(ctx, "processing pipedrive webhook failed", "error", err)
		return ingest.JSON(http.StatusServiceUnavailable, map[string]string{"error": "could not store the event; retry"}), nil
	}
	created, err := h.Table.PutEvent(ctx, EventRecord{Meta: ev.Meta, Own: own, Outcome: outcome, Now: h.now()})
	if err != nil {
		log.ErrorContext(ctx, "store webhook event failed", "error", err)
		return ingest.JSON(http.StatusServiceUnavailable, map[string]string{"error": "could not store the event; retry"}), nil
	}
	if !created {
		h.Metrics.Inc(MetricWebhookDuplicate)
		return ingest.JSON(http.StatusOK, map[string]string{"status": "duplicate"}), nil
	}
	h.Metrics.Inc(MetricWebhookStored)
	log.InfoContext(ctx, "pipedrive webhook processed", "outcome", outcome, "own", own, "bulk", ev.Meta.IsBulkEdit, "change_source", ev.Meta.ChangeSource)
	return ingest.JSON(http.StatusOK, map[string]string{"status": "processed", "outcome": outcome}), nil
}

// process applies an event's effects. Every effect is idempotent (the
// mirror keeps the newer observation, measures are conditional puts keyed
// by the event id), so a crash before PutEvent is safely redone.
func (h *Handler) process(ctx context.Context, log *slog.Logger, ev Event) (outcome string, own bool, err error) {
	own = h.IntegrationUserID != 0 && ev.Meta.UserID == h.IntegrationUserID
	switch ev.Meta.Entity {
	case "stage", "pipeline":
		return "stagemap", own, h.invalidateStageMap(ctx, log)
	case "deal":
	default:
		return "ignored", own, nil
	}
	if ev.Deal == nil {
		return "ignored", own, nil
	}
	snap := h.snapshot(ctx, log)
	if err := h.mirror(ctx, ev, snap); err != nil {
		return "", own, err
	}
	switch {
	case ev.Meta.Action == "delete":
		// The mirror has the deal as deleted (store.DealDeleted): the
		// evaluator no longer decides on it; a decision already pending
		// is skipped by the mover, which reads the deal first.
		return "deleted", own, nil
	case own:
		return "own", own, nil // our own change: the mirror, nothing else
	case ev.Meta.IsBulkEdit:
		return "bulk", own, nil // recorded, not judged
	case ev.Meta.Action != "change":
		return "mirrored", own, nil
	}
	outcome, err = h.judge(ctx, log, ev, snap)
	return outcome, own, err
}

func (h *Handler) mirror(ctx context.Context, ev Event, snap *stagemap.Snapshot) error {
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
	return h.Mirror.PutDealState(ctx, d)
}

// invalidateStageMap marks the cached map stale (fetched_at zero, so every
// stagemap.Map refetches on its next Get) and refreshes it when a source is
// wired. A failed refresh leaves the stale mark: the next reader refetches.
func (h *Handler) invalidateStageMap(ctx context.Context, log *slog.Logger) error {
	if err := stagemap.Invalidate(ctx, h.Mirror); err != nil {
		return err
	}
	h.Metrics.Inc(MetricStageMapStale)
	if h.Stages != nil {
		if _, err := h.Stages.Refresh(ctx); err != nil {
			log.WarnContext(ctx, "stage map refresh failed; left marked stale", "error", err)
		}
	}
	return nil
}

func (h *Handler) snapshot(ctx context.Context, log *slog.Logger) *stagemap.Snapshot {
	if h.Stages == nil {
		return nil
	}
	snap, err := h.Stages.Get(ctx)
	if err != nil {
		log.WarnContext(ctx, "stage map unavailable; judging without stage order", "error", err)
		return nil
	}
	return snap
}

func (h *Handler) reject(ctx context.Context, code int, reason string) (events.APIGatewayV2HTTPResponse, error) {
	h.Metrics.Inc(MetricWebhookRejected)
	h.log().WarnContext(ctx, "pipedrive webhook rejected", "status", code, "reason", reason)
	return ingest.JSON(code, map[string]string{"error": reason}), nil
}

func (h *Handler) window() time.Duration {
	if h.Window > 0 {
		return h.Window
	}
	return DefaultWindow
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Handler) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}

func errString(err error) string {
	if err == nil {
		return "empty credentials"
	}
	return err.Error()
}
