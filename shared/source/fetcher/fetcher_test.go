package fetcher_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stagemover/stagemover"
	"github.com/stagemover/stagemover/shared/core/signal"
	"github.com/stagemover/stagemover/shared/dev/ddblocal"
	"github.com/stagemover/stagemover/shared/dev/streams"
	"github.com/stagemover/stagemover/shared/platform/metrics"
	"github.com/stagemover/stagemover/shared/source/fetcher"
	"github.com/stagemover/stagemover/shared/store"
)

func TestMain(m *testing.M) { os.Exit(ddblocal.RunTests(m)) }

// flaky is a provider whose API fails the first `failures` calls.
type flaky struct {
	failures int32
	calls    atomic.Int32
}

var errProvider = errors.New("provider answered 503")

func (f *flaky) Fetch(ctx context.Context, rec store.FetchRecord) ([]store.SignalRecord, error) {
	if f.calls.Add(1) <= f.failures {
		return nil, errProvider
	}
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	mk := func(id string) store.SignalRecord {
		return store.SignalRecord{Source: rec.Source, EventID: id, PersonEmail: "ann@buyer.example", ReceivedAt: at,
			Signal: signal.Signal{Kind: signal.KindEmail, At: at, From: "ann@buyer.example", Body: "Let's talk pricing."}}
	}
	return []store.SignalRecord{mk("msg-1"), mk("msg-2")}, nil
}

type harness struct {
	st       *store.Store
	poller   *streams.Poller
	metrics  *metrics.Recorder
	mu       sync.Mutex
	failures []events.DynamoDBEventRecord
	signals  atomic.Int32
}

// newHarness delivers the table's stream with the template's settings for
// FetcherFunction (filter, retries, failure destination), like Lambda would.
func newHarness(t *testing.T, src fetcher.Source) *harness {
	t.Helper()
	tbl := ddblocal.ForTest(t)
	h := &harness{st: store.New(tbl.DB, tbl.Name), metrics: metrics.New(nil, "StageMover", "fetcher")}
	f := &fetcher.Fetcher{Store: h.st, Sources: map[string]fetcher.Source{"gmail": src}, Attempts: 3,
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Metrics: h.metrics}
	sources, err := streams.FromTemplate(stagemover.Template)
	if err != nil {
		t.Fatal(err)
	}
	var subs []streams.Subscription
	for _, s := range sources {
		switch s.Function {
		case "FetcherFunction":
			subs = append(subs, streams.Subscription{Source: s, Handler: f.Handle, OnFailure: func(_ context.Context, recs []events.DynamoDBEventRecord, _ error) {
				h.mu.Lock()
				h.failures = append(h.failures, recs...)
				h.mu.Unlock()
			}})
		case "EvaluatorFunction": // counts what reaches the evaluator
			subs = append(subs, streams.Subscription{Source: s, Handler: func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
				h.signals.Add(int32(len(ev.Records)))
				return events.DynamoDBEventResponse{}, nil
			}})
		}
	}
	h.poller = streams.NewPoller(tbl.Streams, tbl.StreamARN, nil, subs...)
	h.poller.Backoff = func(int) time.Duration { return time.Millisecond }
	return h
}

func (h *harness) notify(t *testing.T, id string) {
	t.Helper()
	if _, err := h.st.PutFetch(context.Background(), store.FetchRecord{Source: "gmail", NotificationID: id, Mailbox: "rep@vendor.example", Resource: "1234", ReceivedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := h.poller.Drain(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestFetchThatFailsThreeTimesLandsInTheFailureQueue(t *testing.T) {
	src := &flaky{failures: 100}
	h := newHarness(t, src)
	h.notify(t, "pubsub-1")
	if got := src.calls.Load(); got != 3 {
		t.Fatalf("provider called %d times, want 3 (template: MaximumRetryAttempts 2)", got)
	}
	if len(h.failures) != 1 {
		t.Fatalf("failure queue holds %d records, want 1", len(h.failures))
	}
	if got := h.metrics.Total(metrics.FetchFailed); got != 1 {
		t.Fatalf("FetchFailed = %v, want 1 (the alarm's metric)", got)
	}
	if h.signals.Load() != 0 {
		t.Fatal("a failed fetch produced signals")
	}
}

func TestFetchRetriedThenStoredOnce(t *testing.T) {
	src := &flaky{failures: 1}
	h := newHarness(t, src)
	h.notify(t, "pubsub-2")
	h.notify(t, "pubsub-2") // a redelivered notification stores nothing new
	if len(h.failures) != 0 || h.metrics.Total(metrics.FetchFailed) != 0 {
		t.Fatalf("failures = %d, FetchFailed = %v", len(h.failures), h.metrics.Total(metrics.FetchFailed))
	}
	if got := h.signals.Load(); got != 2 {
		t.Fatalf("signals reaching the evaluator = %d, want 2", got)
	}
	if got := src.calls.Load(); got != 2 {
		t.Fatalf("provider calls = %d, want 2 (one failure, one success)", got)
	}
}
