package ingest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stagemover/stagemover/shared/core/signal"
	"github.com/stagemover/stagemover/shared/platform/metrics"
	"github.com/stagemover/stagemover/shared/store"
)

// MaxBody is the largest body any source accepts.
const MaxBody = 256 << 10

// SignalWriter stores a signal once per source and event id.
type SignalWriter interface {
	PutSignal(ctx context.Context, rec store.SignalRecord) (created bool, err error)
}

// SecretFunc returns the current shared secret (cached Secrets Manager read).
type SecretFunc func(ctx context.Context) ([]byte, error)

// Generic handles POST /signals: a documented JSON signal or stage request,
// signed with HMAC-SHA256. While Secret fails with ErrKeyUnusable it answers
// 503 {"error":"not configured"} without reading the body.
type Generic struct {
	Store     SignalWriter
	Secret    SecretFunc
	Tolerance time.Duration
	Now       func() time.Time
	Log       *slog.Logger
	Metrics   *metrics.Recorder
}

// Envelope is the body of POST /signals.
type Envelope struct {
	EventID     string         `json:"event_id"`               // the sender's unique id for this event; redeliveries reuse it
	DealID      int64          `json:"deal_id,omitempty"`      // the Pipedrive deal, or
	PersonEmail string         `json:"person_email,omitempty"` // the buyer's email, resolved to a deal later
	Signal      *signal.Signal `json:"signal"`
}

// SourceGeneric names this source in signal keys.
const SourceGeneric = "generic"

var eventIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:@/+=-]{1,200}$`)

// Handle is the Lambda handler for API Gateway HTTP API (payload v2).
func (g *Generic) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	// The key first: without a usable one, nothing in the body can be trusted.
	secret, err := g.Secret(ctx)
	if errors.Is(err, ErrKeyUnusable) {
		g.Log.ErrorContext(ctx, "ingest secret not configured", "error", err)
		return NotConfigured(), nil
	}
	if err != nil {
		// Our fault, not the sender's: 5xx so the sender retries later.
		g.Log.ErrorContext(ctx, "ingest secret unavailable", "error", err)
		return JSON(http.StatusServiceUnavailable, map[string]string{"error": "temporarily unavailable"}), nil
	}
	body, err := RequestBody(req)
	if err != nil {
		return g.reject(ctx, http.StatusBadRequest, "body is not valid base64", "")
	}
	if len(body) > MaxBody {
		return g.reject(ctx, http.StatusRequestEntityTooLarge, fmt.Sprintf("body is larger than %d bytes", MaxBody), "")
	}
	if err := Verify(secret, Header(req, HeaderTimestamp), Header(req, HeaderSignature), body, g.Now(), g.Tolerance); err != nil {
		return g.reject(ctx, http.StatusUnauthorized, err.Error(), "")
	}
	env, err := decodeEnvelope(body, g.Now())
	if err != nil {
		return g.reject(ctx, http.StatusBadRequest, err.Error(), env.EventID)
	}
	rec := store.SignalRecord{
		Source:      SourceGeneric,
		EventID:     env.EventID,
		DealID:      env.DealID,
		PersonEmail: strings.ToLower(env.PersonEmail),
		ReceivedAt:  g.Now(),
		Signal:      *env.Signal,
	}
	created, err := g.Store.PutSignal(ctx, rec)
	if errors.Is(err, store.ErrTooLarge) {
		return g.reject(ctx, http.StatusRequestEntityTooLarge, "signal too large to store once encoded; shorten the body", env.EventID)
	}
	if err != nil {
		g.Log.ErrorContext(ctx, "store signal failed", "event_id", env.EventID, "deal_id", env.DealID, "error", err)
		return JSON(http.StatusServiceUnavailable, map[string]string{"error": "could not store the signal; retry"}), nil
	}
	status := "stored"
	if !created {
		status = "duplicate"
		g.Metrics.Inc(metrics.SignalDuplicate)
	} else {
		g.Metrics.Inc(metrics.SignalStored)
	}
	g.Log.InfoContext(ctx, "signal "+status, "event_id", env.EventID, "deal_id", env.DealID, "kind", env.Signal.Kind, "signal_key", rec.Key())
	code := http.StatusAccepted
	if !created {
		code = http.StatusOK
	}
	return JSON(code, map[string]string{"status": status, "signal_key": rec.Key()}), nil
}

func decodeEnvelope(body []byte, now time.Time) (Envelope, error) {
	var env Envelope
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields() // a typo in a field name should fail loudly, not be ignored
	if err := dec.Decode(&env); err != nil {
		return env, fmt.Errorf("body is not a valid signal envelope: %s", describeJSONError(err))
	}
	if dec.More() {
		return env, errors.New("body must hold exactly one JSON object")
	}
	if !eventIDPattern.MatchString(env.EventID) {
		return env, errors.New("event_id is required: 1-200 characters of letters, digits and ._:@/+=-")
	}
	if env.DealID < 0 {
		return env, errors.New("deal_id must be a positive Pipedrive deal id")
	}
	if env.DealID == 0 && !strings.Contains(env.PersonEmail, "@") {
		return env, errors.New("deal_id or person_email is required")
	}
	if len(env.PersonEmail) > 254 || (env.PersonEmail != "" && !strings.Contains(env.PersonEmail, "@")) {
		return env, errors.New("person_email must be an email address of at most 254 characters")
	}
	if env.Signal == nil {
		return env, errors.New("signal is required")
	}
	if env.Signal.Kind == signal.KindStageRequest && env.Signal.At.IsZero() {
		env.Signal.At = now.UTC()
	}
	if err := env.Signal.Validate(); err != nil {
		return env, err
	}
	if env.Signal.Kind == signal.KindStageRequest && env.DealID == 0 {
		return env, errors.New("a stage_request needs deal_id")
	}
	return env, nil
}

// describeJSONError keeps decoder errors short and free of Go type names.
func describeJSONError(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return fmt.Sprintf("field %q has the wrong type", typeErr.Field)
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return fmt.Sprintf("invalid JSON at byte %d", syntaxErr.Offset)
	}
	var timeErr *time.ParseError
	if errors.As(err, &timeErr) {
		return "times must be RFC 3339, e.g. 2026-03-02T10:00:00Z"
	}
	return err.Error()
}

func (g *Generic) reject(ctx context.Context, code int, reason, eventID string) (events.APIGatewayV2HTTPResponse, error) {
	g.Metrics.Inc(metrics.SignalRejected)
	g.Log.WarnContext(ctx, "signal rejected", "status", code, "reason", reason, "event_id", eventID)
	return JSON(code, map[string]string{"error": reason}), nil
}

// RequestBody returns the raw body API Gateway received.
func RequestBody(req events.APIGatewayV2HTTPRequest) ([]byte, error) {
	if req.IsBase64Encoded {
		return base64.StdEncoding.DecodeString(req.Body)
	}
	return []byte(req.Body), nil
}

// Header reads a header case-insensitively (API Gateway lowercases names).
func Header(req events.APIGatewayV2HTTPRequest, name string) string {
	if v, ok := req.Headers[strings.ToLower(name)]; ok {
		return v
	}
	for k, v := range req.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// JSON builds a JSON response.
func JSON(code int, v any) events.APIGatewayV2HTTPResponse {
	b, _ := json.Marshal(v)
	return events.APIGatewayV2HTTPResponse{
		StatusCode: code,
		Headers:    map[string]string{"Content-Type": "application/json"},
		Body:       string(b),
	}
}
