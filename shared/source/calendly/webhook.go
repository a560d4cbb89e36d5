package calendly

import (
	"context"
	"errors"
	"time"

	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/store"
)

// Source names this source in signal keys ("SIG#calendly#<event id>").
const Source = "calendly"

// Webhook is the ingest.Source of POST /webhooks/calendly: deliveries
// signed with the subscription's signing key (the handler's key), each one
// meeting signal; the documented events this source does not use are
// acknowledged and ignored.
type Webhook struct {
	Tolerance time.Duration // 0: DefaultTolerance (3 minutes)
}

// Name implements ingest.Source.
func (Webhook) Name() string { return Source }

// Verify checks the Calendly-Webhook-Signature header.
func (w Webhook) Verify(_ context.Context, r *ingest.Request) error {
	return Verify(r.Key, r.Header(HeaderSignature), r.Body, r.Received, w.Tolerance)
}

// Parse turns the delivery into its meeting signal.
func (Webhook) Parse(_ context.Context, r *ingest.Request) ([]ingest.Item, error) {
	m, err := Parse(r.Body)
	if errors.Is(err, ErrIgnored) {
		return []ingest.Item{{Skip: ingest.Unused, Why: "event not used", Event: m.Event}}, nil
	}
	if err != nil {
		return nil, err
	}
	rec := store.SignalRecord{Source: Source, EventID: m.EventID, PersonEmail: m.PersonEmail, ReceivedAt: r.Received, Signal: m.Signal}
	return []ingest.Item{{Signal: &rec, Event: m.Event, Attrs: []any{"meeting_status", m.Signal.Status}}}, nil
}
