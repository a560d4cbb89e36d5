package pandadoc

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
	"github.com/stagemover/stagemover/shared/platform/secrets"
	"github.com/stagemover/stagemover/shared/source/doctype"
	"github.com/stagemover/stagemover/shared/source/ingest"
)

// HeaderEventID is PandaDoc's stable id of one delivery (logged; the
// signals' own ids come from the body, one per notification).
const HeaderEventID = "X-PandaDoc-Webhook-Event-Id"

// Handler handles PandaDoc's webhook POSTs (API Gateway HTTP API, payload
// v2). It answers
//
//	202 {"status":"stored",...}     at least one new document signal stored
//	200 {"status":"duplicate",...}  a redelivery: nothing new stored
//	200 {"status":"ignored",...}    only documented events or statuses this source skips
//	400 {"error":...}               not a usable delivery (nothing stored)
//	401 {"error":...}               missing, malformed or wrong signature
//	413 {"error":...}               body over ingest.MaxBody
//	503 {"error":...}               shared key or table unavailable: PandaDoc retries
//	503 {"error":"not configured"}  a shared key is not usable (ingest.ErrKeyUnusable); the body is not read
type Handler struct {
	Store           ingest.SignalWriter
	Secret          ingest.SecretFunc // the subscription's shared key (several: comma or newline separated)
	Rules           *doctype.Rules    // nil: doctype.Default()
	InternalDomains []string          // the vendor's email domains
	Now             func() time.Time  // nil: time.Now
	Log             *slog.Logger      // nil: slog.Default()
	Metrics         *metrics.Recorder // nil: no metrics
}

// Handle is the Lambda handler.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	now := time.Now()
	if h.Now != nil {
		now = h.Now()
	}
	delivery := doctype.Clip(ingest.Header(req, HeaderEventID), 100)
	// The key first: without a usable one, nothing in the body can be trusted.
	secret, err := h.Secret(ctx)
	keys := Keys(secret)
	if errors.Is(err, ingest.ErrKeyUnusable) {
		h.log().ErrorContext(ctx, "pandadoc shared key not configured", "error", err, "delivery", delivery)
		return ingest.NotConfigured(), nil
	}
	if err != nil || len(keys) == 0 {
		h.log().ErrorContext(ctx, "pandadoc shared key unavailable", "error", errText(err))
		return ingest.JSON(http.StatusServiceUnavailable, map[string]string{"error": "temporarily unavailable"}), nil
	}
	body, err := ingest.RequestBody(req)
	if err != nil {
		return h.reject(ctx, http.StatusBadRequest, "body is not valid base64", delivery)
	}
	if len(body) > ingest.MaxBody {
		return h.reject(ctx, http.StatusRequestEntityTooLarge, fmt.Sprintf("body is larger than %d bytes", ingest.MaxBody), delivery)
	}
	if err := Verify(keys, SignatureParam(req), body); err != nil {
		return h.reject(ctx, http.StatusUnauthorized, err.Error(), delivery)
	}
	items, err := Parse(body, Config{Rules: h.Rules, InternalDomains: h.InternalDomains})
	if err != nil {
		return h.reject(ctx, http.StatusBadRequest, strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": "), delivery)
	}
	var pending []doctype.Pending
	ignored := 0
	for _, it := range items {
		if it.Ignored != "" {
			ignored++
			h.Metrics.Inc(doctype.MetricIgnored)
			h.log().InfoContext(ctx, "pandadoc notification ignored", "delivery", delivery, "index", it.Index, "event", it.Event, "status", it.Status, "reason", it.Ignored)
			continue
		}
		pending = append(pending, doctype.Pending{Event: it.Event, EventID: it.EventID, PersonEmail: it.PersonEmail, Signal: it.Signal})
	}
	out, err := doctype.StoreAll(ctx, h.Store, Source, now, pending, h.Metrics)
	out.Ignored = ignored
	if err != nil {
		h.log().ErrorContext(ctx, "store signal failed", "delivery", delivery, "error", err)
		return ingest.JSON(http.StatusServiceUnavailable, map[string]string{"error": "could not store the signals; retry"}), nil
	}
	for i, p := range pending {
		h.log().InfoContext(ctx, "pandadoc signal", "delivery", delivery, "event_id", p.EventID, "event", p.Event,
			"action", p.Signal.Action, "doc_type", p.Signal.DocType, "signal_key", out.Keys[i])
	}
	return doctype.Response(out), nil
}

func (h *Handler) reject(ctx context.Context, code int, reason, delivery string) (events.APIGatewayV2HTTPResponse, error) {
	h.Metrics.Inc(metrics.SignalRejected)
	h.log().WarnContext(ctx, "pandadoc delivery rejected", "status", code, "reason", reason, "delivery", delivery)
	return ingest.JSON(code, map[string]string{"error": reason}), nil
}

func (h *Handler) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}

func errText(err error) string {
	if err == nil {
		return "empty shared key"
	}
	return err.Error()
}

// SecretFieldSharedKey is the field of PandaDocSharedKeySecret:
// {"shared_key":"..."} (or the bare key; several keys comma separated).
const SecretFieldSharedKey = "shared_key"

// SharedKeyFromSecret reads the shared key(s) through the cache.
func SharedKeyFromSecret(c *secrets.Cache, secretID string) ingest.SecretFunc {
	return func(ctx context.Context) ([]byte, error) {
		v, err := c.Field(ctx, secretID, SecretFieldSharedKey)
		if err != nil {
			return nil, err
		}
		return []byte(v), nil
	}
}
