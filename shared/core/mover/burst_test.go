package mover_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stagemover/stagemover/shared/core/mover"
	"github.com/stagemover/stagemover/shared/core/stagemap"
	"github.com/stagemover/stagemover/shared/pipedrive"
	"github.com/stagemover/stagemover/shared/pipedrive/pipedrivetest"
	"github.com/stagemover/stagemover/shared/platform/metrics"
	"github.com/stagemover/stagemover/shared/store"
)

// burstLimit is the sandbox's burst limit in these runs: Pipedrive's highest
// API-token limit, requests per 2 s.
const burstLimit = 120

// TestBurstLosesNoMove: a burst through two movers against the burst limit
// moves every deal exactly once and draws at most 5 answers of 429. The rate
// goal is measured by BenchmarkBurst500Moves, not by this test.
func TestBurstLosesNoMove(t *testing.T) {
	st := burst(t, 200)
	if st.tooMany > 5 {
		t.Errorf("%d answers were 429, want at most 5", st.tooMany)
	}
}

// BenchmarkBurst500Moves drives 500 moves against the burst limit and
// reports moves/s, requests/s and the share of the limit used; it fails when
// a move is lost, more than 5 answers are 429, or the rate is under 90% of
// the limit. go test -run '^$' -bench BenchmarkBurst500Moves -benchtime 1x ./shared/core/mover
func BenchmarkBurst500Moves(b *testing.B) {
	// A first, untimed burst warms DynamoDB Local's JVM (its first writes
	// are several times slower than the rest), so the figure is the
	// steady rate a deployed mover meets, not the emulator's start-up.
	burst(b, 100)
	for i := 0; i < b.N; i++ {
		st := burst(b, 500)
		b.ReportMetric(st.moves/st.elapsed.Seconds(), "moves/s")
		b.ReportMetric(st.rate, "requests/s")
		b.ReportMetric(st.limitRate, "limit_requests/s")
		b.ReportMetric(100*st.rate/st.limitRate, "%_of_limit")
		b.ReportMetric(float64(st.tooMany), "429s")
		if st.tooMany > 5 {
			b.Errorf("%d answers were 429, want at most 5", st.tooMany)
		}
		if st.rate < 0.9*st.limitRate {
			b.Errorf("request rate %.1f/s is below 90%% of the limit (%.1f/s)", st.rate, st.limitRate)
		}
	}
}

type burstStats struct {
	moves, rate, limitRate float64
	requests, tooMany      int
	elapsed                time.Duration
}

// burst drives moves decisions through two concurrent movers (the
// template's reserved concurrency), each its own Lambda instance with its
// own client, in stream batches of 10, and checks no move is lost.
func burst(t testing.TB, moves int) burstStats {
	const (
		limit   = burstLimit
		workers = 2
		batch   = 10
	)
	f := newFixture(t, pipedrivetest.Options{BurstLimit: limit})
	ctx := context.Background()
	if _, err := f.stages.Get(ctx); err != nil { // warm stage map in the table
		t.Fatal(err)
	}
	var recs []events.DynamoDBEventRecord
	ids := make([]int64, moves)
	for i := range ids {
		ids[i] = f.SB.AddDeal(pipedrivetest.Deal{Title: "Burst", PipelineID: 1, StageID: pipedrivetest.StageContactMade, Status: "open"})
		ev := f.decision(store.Decision{DealID: ids[i], TargetStage: "Proposal Made", Status: "open", SignalKey: "SIG#burst#" + itoa(ids[i])})
		recs = append(recs, ev.Records...)
	}
	f.SB.ResetRequests()

	queue := make(chan []events.DynamoDBEventRecord, moves)
	for i := 0; i < len(recs); i += batch {
		queue <- recs[i:min(i+batch, len(recs))]
	}
	var pending sync.WaitGroup
	pending.Add((len(recs) + batch - 1) / batch)
	go func() { pending.Wait(); close(queue) }()

	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client, err := pipedrive.New(pipedrive.Config{BaseURL: f.SB.URL(), Token: pipedrive.StaticToken(token), Share: workers})
			if err != nil {
				t.Error(err)
				return
			}
			m := &mover.Mover{Store: f.Store, Pipedrive: client, Stages: stagemap.New(stagemap.FromPipedrive{API: client}, f.Store, time.Hour, nil),
				Live: true, Lease: time.Minute, Now: time.Now, Metrics: metrics.New(nil, "StageMover", "mover"),
				Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
			for b := range queue {
				ictx, cancel := context.WithTimeout(ctx, 60*time.Second) // the function's timeout
				resp, err := m.Handle(ictx, events.DynamoDBEvent{Records: b})
				cancel()
				if err != nil {
					t.Error(err)
				}
				if n := len(resp.BatchItemFailures); n > 0 { // the stream retries from the first failure
					retry := b[len(b)-n:]
					pending.Add(1)
					queue <- retry
				}
				pending.Done()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)

	for _, id := range ids {
		if d, _ := f.SB.Deal(id); d.StageID != pipedrivetest.StageProposalMade {
			t.Fatalf("deal %d at stage %d: a move was lost", id, d.StageID)
		}
		applied := 0
		for _, r := range f.SB.Requests() {
			if r.Method == http.MethodPatch && r.Path == "/api/v2/deals/"+itoa(id) && r.Status == http.StatusOK {
				applied++
			}
		}
		if applied != 1 {
			t.Fatalf("deal %d patched successfully %d times, want 1", id, applied)
		}
	}
	reqs := f.SB.Requests()
	st := burstStats{moves: float64(moves), requests: len(reqs), elapsed: elapsed}
	for _, r := range reqs {
		if r.Status == http.StatusTooManyRequests {
			st.tooMany++
		}
	}
	st.rate = float64(len(reqs)) / reqs[len(reqs)-1].At.Sub(reqs[0].At).Seconds()
	st.limitRate = float64(limit) / pipedrivetest.RateWindow.Seconds()
	t.Logf("%d moves in %.1fs: %.1f moves/s, %d requests, %.1f requests/s against a limit of %d per %s (%.1f/s, %.0f%%), %d answers 429",
		moves, elapsed.Seconds(), float64(moves)/elapsed.Seconds(), len(reqs), st.rate, limit, pipedrivetest.RateWindow, st.limitRate, 100*st.rate/st.limitRate, st.tooMany)
	f.assertSpecClean()
	return st
}
