package calendly

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stagemover/stagemover/shared/platform/metrics"
	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/store"
)

// Source names this source in signal keys ("SIG#calendly#<event id>").
const Source = "calendly"

// MetricIgnored counts deliveries of documented events this source skips.
const MetricIgnored = "SignalIgnored"

// Handler handles Calendly's webhook POSTs (API Gateway HTTP API, payload
// v2). It answers
//
//	202 {"status":"stored"}     a new meeting signal was stored
//	200 {"status":"duplicate"}  a redelivery: nothing new stored
//	200 {"status":"ignored"}    a documented event this source skips
//	400 {"error":...}           not a usable delivery
//	401 {"error":...}           missing, malformed, wrong or stale signature
//	413 {"error":...}           body over ingest.MaxBody
//	503 {"error":...}           signing key or table unavailable: Calendly retries
//	503 {"error":"not configured"}  the signing key is not usable (ingest.ErrKeyUnusable); the body is not read
//
// and stores nothing on a 4xx.
type Handler struct {
	Store     ingest.SignalWriter
	Secret    ingest.SecretFunc // the subscription's signing key
	Tolerance time.Duration     // 0: DefaultTolerance (3 minutes)
	Now       func() time.Time  // nil: time.Now
	Log       *slog.Logger      // nil: slog.Default()
	Metrics   *metrics.Recorder // nil: no metrics
}

// Handle is the Lambda handler.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	now := h.now()
	// The key first: without a usable one, nothing in the body can be trusted.
	key, err := h.Secret(ctx)
	if errors.Is(err, ingest.ErrKeyUnusable) {
		h.log().ErrorContext(ctx, "calendly signing key not configured", "error", err)
		return ingest.NotConfigured(), nil
	}
	if err != nil || len(key) == 0 {
		// Our fault, not Calendly's: 5xx so it retries later.
		h.log().ErrorContext(ctx, "calendly signing key unavailable", "error", errText(err))
		return ingest.JSON(http.StatusServiceUnavailable, map[string]string{"error": "temporarily unavailable"}), nil
	}
	body, err := ingest.RequestBody(req)
	if err != nil {
		return h.reject(ctx, http.StatusBadRequest, "body is not valid base64")
	}
	if len(body) > ingest.MaxBody {
		return h.reject(ctx, http.StatusRequestEntityTooLarge, fmt.Sprintf("body is larger than %d bytes", ingest.MaxBody))
	}
	if err := Verify(key, ingest.Header(req, HeaderSignature), body, now, h.Tolerance); err != nil {
		return h.reject(ctx, http.StatusUnauthorized, err.Error())
	}
	m, err := Parse(body)
	if errors.Is(err, ErrIgnored) {
		h.Metrics.Inc(MetricIgnored)
		h.log().InfoContext(ctx, "calendly event ignored", "event", m.Event)
		return ingest.JSON(http.StatusOK, map[string]string{"status": "ignored", "event": m.Event}), nil
	}
	if err != nil {
		return h.reject(ctx, http.StatusBadRequest, strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": "))
	}
	rec := store.SignalRecord{
		Source:      Source,
		EventID:     m.EventID,
		PersonEmail: m.PersonEmail,
		ReceivedAt:  now,
		Signal:      m.Signal,
	}
	created, err := h.Store.PutSignal(ctx, rec)
	if err != nil {
		h.log().ErrorContext(ctx, "store signal failed", "event_id", m.EventID, "event", m.Event, "error", err)
		return ingest.JSON(http.StatusServiceUnavailable, map[string]string{"error": "could not store the signal; retry"}), nil
	}
	status, code := "stored", http.StatusAccepted
	if created {
		h.Metrics.Inc(metrics.SignalStored)
	} else {
		status, code = "duplicate", http.StatusOK
		h.Metrics.Inc(metrics.SignalDuplicate)
	}
	h.log().InfoContext(ctx, "signal "+status, "event_id", m.EventID, "event", m.Event, "meeting_status", m.Signal.Status, "signal_key", rec.Key())
	return ingest.JSON(code, map[string]string{"status": status, "signal_key": rec.Key()}), nil
}

func (h *Handler) reject(ctx context.Context, code int, reason string) (events.APIGatewayV2HTTPResponse, error) {
	h.Metrics.Inc(metrics.SignalRejected)
	h.log().WarnContext(ctx, "calendly delivery rejected", "status", code, "reason", reason)
	return ingest.JSON(code, map[string]string{"error": reason}), nil
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

func errText(err error) string {
	if err == nil {
		return "empty signing key"
	}
	return err.Error()
}
