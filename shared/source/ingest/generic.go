package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/stagemover/stagemover/shared/core/signal"
	"github.com/stagemover/stagemover/shared/store"
)

// SourceGeneric names this source in signal keys.
const SourceGeneric = "generic"

// DefaultTolerance is how far a signed timestamp may be from our clock
// when Generic.Tolerance is not set.
const DefaultTolerance = 5 * time.Minute

// Generic is POST /signals: a documented JSON signal or stage request
// (Envelope), signed with HMAC-SHA256 (Sign, Verify) under the key of
// INGEST_SECRET_ARN.
type Generic struct {
	Tolerance time.Duration // 0: DefaultTolerance
}

// Envelope is the body of POST /signals.
type Envelope struct {
	EventID     string         `json:"event_id"`               // the sender's unique id for this event; redeliveries reuse it
	DealID      int64          `json:"deal_id,omitempty"`      // the Pipedrive deal, or
	PersonEmail string         `json:"person_email,omitempty"` // the buyer's email, resolved to a deal later
	Signal      *signal.Signal `json:"signal"`
}

var eventIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:@/+=-]{1,200}$`)

// Name implements Source.
func (Generic) Name() string { return SourceGeneric }

// Verify checks the X-Stagemover-Signature over the timestamp and body.
func (g Generic) Verify(_ context.Context, r *Request) error {
	tolerance := g.Tolerance
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	return Verify(r.Key, r.Header(HeaderTimestamp), r.Header(HeaderSignature), r.Body, r.Received, tolerance)
}

// Parse reads the envelope into one signal.
func (Generic) Parse(_ context.Context, r *Request) ([]Item, error) {
	env, err := decodeEnvelope(r.Body, r.Received)
	if err != nil {
		return nil, err
	}
	rec := store.SignalRecord{
		Source:      SourceGeneric,
		EventID:     env.EventID,
		DealID:      env.DealID,
		PersonEmail: strings.ToLower(env.PersonEmail),
		ReceivedAt:  r.Received,
		Signal:      *env.Signal,
	}
	return []Item{{Signal: &rec, Attrs: []any{"deal_id", env.DealID, "kind", env.Signal.Kind}}}, nil
}

func invalid(format string, args ...any) error {
	return Reject(http.StatusBadRequest, ErrInvalid, format, args...)
}

func decodeEnvelope(body []byte, now time.Time) (Envelope, error) {
	var env Envelope
	if err := DecodeJSON(body, &env); err != nil {
		return env, invalid("body is not a valid signal envelope: %s", err)
	}
	// A second, strict pass: a misspelt field name fails loudly rather
	// than being ignored (the first pass gives the better reason for
	// everything else, so this one can only fail on an unknown field).
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(new(Envelope)); err != nil {
		return env, invalid("body is not a valid signal envelope: %s", err)
	}
	if !eventIDPattern.MatchString(env.EventID) {
		return env, invalid("event_id is required: 1-200 characters of letters, digits and ._:@/+=-")
	}
	if env.DealID < 0 {
		return env, invalid("deal_id must be a positive Pipedrive deal id")
	}
	if env.DealID == 0 && !strings.Contains(env.PersonEmail, "@") {
		return env, invalid("deal_id or person_email is required")
	}
	if len(env.PersonEmail) > 254 || (env.PersonEmail != "" && !strings.Contains(env.PersonEmail, "@")) {
		return env, invalid("person_email must be an email address of at most 254 characters")
	}
	if env.Signal == nil {
		return env, invalid("signal is required")
	}
	if env.Signal.Kind == signal.KindStageRequest && env.Signal.At.IsZero() {
		env.Signal.At = now.UTC()
	}
	if err := env.Signal.Validate(); err != nil {
		return env, invalid("%s", err)
	}
	if env.Signal.Kind == signal.KindStageRequest && env.DealID == 0 {
		return env, invalid("a stage_request needs deal_id")
	}
	return env, nil
}
