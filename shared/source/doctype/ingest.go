package doctype

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stagemover/stagemover/shared/core/signal"
	"github.com/stagemover/stagemover/shared/platform/metrics"
	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/store"
)

// MetricIgnored counts notifications of documented events (or statuses)
// a document source skips.
const MetricIgnored = "SignalIgnored"

// Pending is one normalised notification ready to store.
type Pending struct {
	Event       string
	EventID     string
	PersonEmail string
	Signal      signal.Signal
}

// Outcome is what storing a delivery did.
type Outcome struct {
	Stored     int      // new signals
	Duplicates int      // signals stored by an earlier delivery
	Ignored    int      // notifications skipped (documented but not used)
	Keys       []string // the signal keys, in delivery order
}

// StoreAll stores each pending signal once per source and event id (a
// conditional put: concurrent redeliveries store one item). It stops at the
// first store error, which the caller answers with a 5xx so the provider
// retries; what was stored before it is a duplicate on the retry.
func StoreAll(ctx context.Context, w ingest.SignalWriter, source string, received time.Time, ps []Pending, m *metrics.Recorder) (Outcome, error) {
	var o Outcome
	for _, p := range ps {
		rec := store.SignalRecord{Source: source, EventID: p.EventID, PersonEmail: p.PersonEmail, ReceivedAt: received, Signal: p.Signal}
		created, err := w.PutSignal(ctx, rec)
		if err != nil {
			return o, fmt.Errorf("store %s: %w", rec.Key(), err)
		}
		if created {
			o.Stored++
			m.Inc(metrics.SignalStored)
		} else {
			o.Duplicates++
			m.Inc(metrics.SignalDuplicate)
		}
		o.Keys = append(o.Keys, rec.Key())
	}
	return o, nil
}

// Response is the answer to a stored delivery:
//
//	202 {"status":"stored", ...}     at least one new signal
//	200 {"status":"duplicate", ...}  every signal was stored before
//	200 {"status":"ignored", ...}    nothing in the delivery is used
//
// with the counts and the signal keys.
func Response(o Outcome) events.APIGatewayV2HTTPResponse {
	status, code := "stored", http.StatusAccepted
	switch {
	case o.Stored == 0 && o.Duplicates > 0:
		status, code = "duplicate", http.StatusOK
	case o.Stored == 0:
		status, code = "ignored", http.StatusOK
	}
	keys := o.Keys
	if keys == nil {
		keys = []string{}
	}
	return ingest.JSON(code, map[string]any{
		"status": status, "stored": o.Stored, "duplicates": o.Duplicates, "ignored": o.Ignored, "signal_keys": keys,
	})
}
