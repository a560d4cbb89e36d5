// Package fetcher fetches the content of provider notifications (an Outlook
// message, a Gmail history window) after the notification was stored and
// acknowledged, and stores what it finds as signals. It runs on the table's
// stream: a failed fetch is retried by the event source mapping and, after
// the last attempt, lands in the failure queue with a counted metric.
package fetcher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stagemover/stagemover/shared/platform/metrics"
	"github.com/stagemover/stagemover/shared/platform/stream"
	"github.com/stagemover/stagemover/shared/store"
)

// Source fetches one notification's content as signals.
type Source interface {
	Fetch(ctx context.Context, rec store.FetchRecord) ([]store.SignalRecord, error)
}

// Store is what the fetcher writes.
type Store interface {
	PutSignal(ctx context.Context, rec store.SignalRecord) (bool, error)
	CountFetchAttempt(ctx context.Context, rec store.FetchRecord, lastError string) (int, error)
}

// Fetcher is the stream handler's logic.
type Fetcher struct {
	Store   Store
	Sources map[string]Source // by FetchRecord.Source
	// Attempts is how many times the event source mapping invokes for one
	// record (1 + MaximumRetryAttempts in template.yaml); the last failure
	// is counted as FetchFailed.
	Attempts int
	Log      *slog.Logger
	Metrics  *metrics.Recorder
}

// Handle processes a batch of fetch records.
func (f *Fetcher) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	return stream.Batch[store.FetchRecord]{
		Decode: store.FetchFromItem, Process: f.record,
		Unusable: "fetch record not usable", Log: f.Log, Metrics: f.Metrics,
	}.Handle(ctx, ev)
}

func (f *Fetcher) record(ctx context.Context, _ int, _ events.DynamoDBEventRecord, rec store.FetchRecord) error {
	log := f.Log.With("source", rec.Source, "notification_id", rec.NotificationID, "mailbox", rec.Mailbox)
	src, ok := f.Sources[rec.Source]
	if !ok {
		// Never silently dropped: counted on the alarmed metric.
		f.Metrics.Inc(metrics.FetchFailed)
		log.ErrorContext(ctx, "no fetcher is configured for this source; the notification cannot be fetched")
		return nil
	}
	sigs, err := src.Fetch(ctx, rec)
	if err == nil {
		err = f.store(ctx, log, sigs)
	}
	if err != nil {
		n, cerr := f.Store.CountFetchAttempt(ctx, rec, err.Error())
		if cerr != nil {
			log.ErrorContext(ctx, "could not count the failed attempt", "error", cerr)
		}
		if n >= f.Attempts && f.Attempts > 0 {
			f.Metrics.Inc(metrics.FetchFailed)
			log.ErrorContext(ctx, "fetch failed on its last attempt; the record goes to the failure queue", "attempts", n, "error", err)
		} else {
			log.WarnContext(ctx, "fetch failed; the stream will retry", "attempts", n, "error", err)
		}
		return err
	}
	log.InfoContext(ctx, "fetched", "signals", len(sigs))
	return nil
}

// store writes every signal; each is idempotent by its own event id, so a
// retried fetch that stored some of them already stores nothing twice.
func (f *Fetcher) store(ctx context.Context, log *slog.Logger, sigs []store.SignalRecord) error {
	var errs []error
	for _, s := range sigs {
		created, err := f.Store.PutSignal(ctx, s)
		if err != nil {
			errs = append(errs, fmt.Errorf("store signal %s: %w", s.Key(), err))
			continue
		}
		if created {
			f.Metrics.Inc(metrics.SignalStored)
		} else {
			f.Metrics.Inc(metrics.SignalDuplicate)
		}
		log.InfoContext(ctx, "signal stored", "event_id", s.EventID, "deal_id", s.DealID, "new", created)
	}
	return errors.Join(errs...)
}
