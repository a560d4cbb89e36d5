package docusign

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

// Handler handles DocuSign Connect POSTs (API Gateway HTTP API, payload
// v2). It answers
//
//	202 {"status":"stored",...}     a new document signal stored
//	200 {"status":"duplicate",...}  a retry: nothing new stored
//	200 {"status":"ignored",...}    a documented event this source skips
//	400 {"error":...}               not a usable message (nothing stored)
//	401 {"error":...}               no X-DocuSign-Signature-N matches a key
//	413 {"error":...}               body over ingest.MaxBody (leave documents out of includeData)
//	503 {"error":...}               keys or table unavailable: Connect retries
//	503 {"error":"not configured"}  a key is not usable (ingest.ErrKeyUnusable); the body is not read
type Handler struct {
	Store           ingest.SignalWriter
	Secret          ingest.SecretFunc // the account's Connect HMAC key(s), comma or newline separated
	Rules           *doctype.Rules    // nil: doctype.Default()
	InternalDomains []string
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
	// The key first: without a usable one, nothing in the body can be trusted.
	secret, err := h.Secret(ctx)
	keys := Keys(secret)
	if errors.Is(err, ingest.ErrKeyUnusable) {
		h.log().ErrorContext(ctx, "docusign hmac key not configured", "error", err)
		return ingest.NotConfigured(), nil
	}
	if err != nil || len(keys) == 0 {
		h.log().ErrorContext(ctx, "docusign hmac key unavailable", "error", errText(err))
		return ingest.JSON(http.StatusServiceUnavailable, map[string]string{"error": "temporarily unavailable"}), nil
	}
	body, err := ingest.RequestBody(req)
	if err != nil {
		return h.reject(ctx, http.StatusBadRequest, "body is not valid base64")
	}
	if len(body) > ingest.MaxBody {
		return h.reject(ctx, http.StatusRequestEntityTooLarge, fmt.Sprintf("body is larger than %d bytes", ingest.MaxBody))
	}
	if err := Verify(keys, Signatures(req), body); err != nil {
		return h.reject(ctx, http.StatusUnauthorized, err.Error())
	}
	it, err := Parse(body, Config{Rules: h.Rules, InternalDomains: h.InternalDomains})
	if err != nil {
		return h.reject(ctx, http.StatusBadRequest, strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": "))
	}
	if it.Ignored != "" {
		h.Metrics.Inc(doctype.MetricIgnored)
		h.log().InfoContext(ctx, "docusign message ignored", "event", it.Event, "reason", it.Ignored)
		return doctype.Response(doctype.Outcome{Ignored: 1}), nil
	}
	out, err := doctype.StoreAll(ctx, h.Store, Source, now,
		[]doctype.Pending{{Event: it.Event, EventID: it.EventID, PersonEmail: it.PersonEmail, Signal: it.Signal}}, h.Metrics)
	if err != nil {
		h.log().ErrorContext(ctx, "store signal failed", "event_id", it.EventID, "event", it.Event, "error", err)
		return ingest.JSON(http.StatusServiceUnavailable, map[string]string{"error": "could not store the signal; retry"}), nil
	}
	h.log().InfoContext(ctx, "docusign signal", "event_id", it.EventID, "event", it.Event, "action", it.Signal.Action,
		"doc_type", it.Signal.DocType, "stored", out.Stored, "signal_key", out.Keys[0])
	return doctype.Response(out), nil
}

func (h *Handler) reject(ctx context.Context, code int, reason string) (events.APIGatewayV2HTTPResponse, error) {
	h.Metrics.Inc(metrics.SignalRejected)
	h.log().WarnContext(ctx, "docusign message rejected", "status", code, "reason", reason)
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
		return "empty HMAC key"
	}
	return err.Error()
}

// SecretFieldHMACKeys is the field of DocuSignHmacSecret:
// {"hmac_keys":"key1,key2"} (or the bare key(s)).
const SecretFieldHMACKeys = "hmac_keys"

// HMACKeysFromSecret reads the Connect HMAC key(s) through the cache.
func HMACKeysFromSecret(c *secrets.Cache, secretID string) ingest.SecretFunc {
	return func(ctx context.Context) ([]byte, error) {
		v, err := c.Field(ctx, secretID, SecretFieldHMACKeys)
		if err != nil {
			return nil, err
		}
		return []byte(v), nil
	}
}
