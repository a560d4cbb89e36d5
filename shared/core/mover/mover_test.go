package mover_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/stagemover/stagemover/shared/core/mover"
	"github.com/stagemover/stagemover/shared/core/stagemap"
	"github.com/stagemover/stagemover/shared/dev/ddblocal"
	"github.com/stagemover/stagemover/shared/pipedrive"
	"github.com/stagemover/stagemover/shared/pipedrive/pipedrivetest"
	"github.com/stagemover/stagemover/shared/platform/ddbevent"
	"github.com/stagemover/stagemover/shared/platform/metrics"
	"github.com/stagemover/stagemover/shared/store"
	"github.com/stagemover/stagemover/shared/testkit"
	"github.com/stagemover/stagemover/shared/testkit/stand"
)

func TestMain(m *testing.M) { os.Exit(ddblocal.RunTests(m)) }

const token = "mover-test-token-0123456789"

type fixture struct {
	t testing.TB
	*stand.Stand
	client  *pipedrive.Client
	stages  *stagemap.Map
	metrics *metrics.Recorder
	logs    *syncBuffer
	lease   time.Duration
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer = testkit.LogBuffer

func newFixture(t testing.TB, opts pipedrivetest.Options) *fixture {
	t.Helper()
	if opts.Token == "" {
		opts.Token = token
	}
	st := stand.Start(t, opts)
	f := &fixture{t: t, Stand: st, metrics: metrics.New(nil, "StageMover", "mover"), logs: &syncBuffer{}, lease: 10 * time.Second}
	f.client = st.Client(t, token, slog.New(slog.NewJSONHandler(f.logs, nil)), 10*time.Millisecond)
	f.stages = stagemap.New(stagemap.FromPipedrive{API: f.client}, f.Store, time.Hour, nil)
	return f
}

func (f *fixture) mover(live bool) *mover.Mover {
	return &mover.Mover{
		Store: f.Store, Pipedrive: f.client, Stages: f.stages, Live: live, Lease: f.lease,
		Poll: 20 * time.Millisecond, Now: time.Now, Metrics: f.metrics,
		Log: slog.New(slog.NewJSONHandler(f.logs, nil)),
	}
}

// decision records a decision and returns the stream event that announces it.
func (f *fixture) decision(d store.Decision) events.DynamoDBEvent {
	f.t.Helper()
	ctx := context.Background()
	if d.SignalKey == "" {
		d.SignalKey = "SIG#generic#" + strings.ReplaceAll(f.t.Name(), "/", "_")
	}
	if d.Action == "" {
		d.Action = store.ActionMove
	}
	if _, err := f.Store.PutDecision(ctx, d); err != nil {
		f.t.Fatal(err)
	}
	out, err := f.Table.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(f.Table.Name), Key: map[string]dynamodbKey{
		"pk": &dynamodbS{Value: "DEAL#" + itoa(d.DealID)}, "sk": &dynamodbS{Value: d.SortKey()}}})
	if err != nil || len(out.Item) == 0 {
		f.t.Fatalf("read back decision: %v", err)
	}
	img, err := ddbevent.FromAttributeValueMap(out.Item)
	if err != nil {
		f.t.Fatal(err)
	}
	return events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{{
		EventName: "INSERT", EventSource: "aws:dynamodb",
		Change: events.DynamoDBStreamRecord{NewImage: img, SequenceNumber: "100" + itoa(d.DealID), StreamViewType: "NEW_AND_OLD_IMAGES"},
	}}}
}

func (f *fixture) state(dealID int64, sk string) store.Decision {
	f.t.Helper()
	d, err := f.Store.GetDecision(context.Background(), dealID, sk)
	if err != nil {
		f.t.Fatal(err)
	}
	return d
}

// patches counts PATCHes of exactly this deal (Count matches by prefix, so
// deal 1 would also count deals 10-19).
func (f *fixture) patches(dealID int64) int {
	n := 0
	for _, r := range f.SB.Requests() {
		if r.Method == http.MethodPatch && r.Path == "/api/v2/deals/"+itoa(dealID) {
			n++
		}
	}
	return n
}

func (f *fixture) deal(id int64) pipedrivetest.Deal {
	d, ok := f.SB.Deal(id)
	if !ok {
		f.t.Fatalf("deal %d missing", id)
	}
	return d
}

func (f *fixture) assertSpecClean() {
	f.t.Helper()
	if errs := f.SB.ValidationErrors(); len(errs) > 0 {
		f.t.Fatalf("requests or responses off the OpenAPI spec: %v", errs)
	}
	if strings.Contains(f.logs.String(), token) {
		f.t.Fatal("the Pipedrive token appeared in the logs")
	}
}

func handle(t testing.TB, m *mover.Mover, ev events.DynamoDBEvent) events.DynamoDBEventResponse {
	t.Helper()
	resp, err := m.Handle(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestMoveCostsTwoRequestsWithWarmStageMap(t *testing.T) {
	f := newFixture(t, pipedrivetest.Options{})
	dealID := f.SB.AddDeal(pipedrivetest.Deal{Title: "Acme", PipelineID: 1, StageID: pipedrivetest.StageContactMade, Status: "open"})
	if _, err := f.stages.Get(context.Background()); err != nil { // warm the map
		t.Fatal(err)
	}
	f.SB.ResetRequests()
	before := f.SB.TokenCostSpent()
	ev := f.decision(store.Decision{DealID: dealID, TargetStage: "Proposal Made", Status: "open", Rule: "proposal_sent"})

	if resp := handle(t, f.mover(true), ev); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("batch failures: %v", resp.BatchItemFailures)
	}
	reqs, tokens := len(f.SB.Requests()), f.SB.TokenCostSpent()-before
	if reqs > 2 || tokens > 6 {
		t.Fatalf("a move cost %d requests and %d token units; want at most 2 and 6", reqs, tokens)
	}
	if f.patches(dealID) != 1 || f.deal(dealID).StageID != pipedrivetest.StageProposalMade {
		t.Fatalf("deal not moved once: patches=%d stage=%d", f.patches(dealID), f.deal(dealID).StageID)
	}
	got := f.state(dealID, "DEC#SIG#generic#"+t.Name())
	if got.State != store.StateDone || got.FromStageID != pipedrivetest.StageContactMade || got.ToStageID != pipedrivetest.StageProposalMade || !strings.Contains(got.StateReason, "Proposal Made") {
		t.Fatalf("decision = %+v", got)
	}
	if mirror, err := f.Store.GetDealState(context.Background(), dealID); err != nil || mirror.Stage != "Proposal Made" {
		t.Fatalf("mirror = %+v, %v", mirror, err)
	}
	if f.metrics.Total(metrics.MoveDone) != 1 {
		t.Fatal("MoveDone not counted")
	}
	f.assertSpecClean()
}

func TestStayDecisionCostsNothing(t *testing.T) {
	f := newFixture(t, pipedrivetest.Options{})
	dealID := f.SB.AddDeal(pipedrivetest.Deal{Title: "Acme", PipelineID: 1, StageID: pipedrivetest.StageContactMade, Status: "open"})
	ev := f.decision(store.Decision{DealID: dealID, Action: store.ActionStay, Flag: "follow_up"})
	f.SB.ResetRequests()
	if resp := handle(t, f.mover(true), ev); len(resp.BatchItemFailures) != 0 {
		t.Fatal(resp)
	}
	if n := len(f.SB.Requests()); n != 0 {
		t.Fatalf("a stay decision made %d Pipedrive requests, want 0", n)
	}
}

func TestEightConcurrentInvocationsPatchOnce(t *testing.T) {
	f := newFixture(t, pipedrivetest.Options{BurstLimit: 100})
	dealID := f.SB.AddDeal(pipedrivetest.Deal{Title: "Acme", PipelineID: 1, StageID: pipedrivetest.StageQualified, Status: "open"})
	ev := f.decision(store.Decision{DealID: dealID, TargetStage: "Demo Scheduled", Status: "open"})
	var wg sync.WaitGroup
	failures := make(chan int, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := f.mover(true) // each invocation is its own Lambda instance
			resp, err := m.Handle(context.Background(), ev)
			if err != nil {
				t.Error(err)
			}
			failures <- len(resp.BatchItemFailures)
		}()
	}
	wg.Wait()
	close(failures)
	for n := range failures {
		if n != 0 {
			t.Errorf("an invocation reported %d batch failures; waiters should see the decision finish", n)
		}
	}
	if p := f.patches(dealID); p != 1 {
		t.Fatalf("PATCH count = %d, want exactly 1", p)
	}
	if got := f.state(dealID, "DEC#SIG#generic#"+t.Name()); got.State != store.StateDone || got.Attempts != 1 {
		t.Fatalf("decision = %+v, want done after one attempt", got)
	}
	f.assertSpecClean()
}

func TestResponseLostAfterPatchIsNotPatchedAgain(t *testing.T) {
	f := newFixture(t, pipedrivetest.Options{})
	f.lease = 3 * time.Second
	dealID := f.SB.AddDeal(pipedrivetest.Deal{Title: "Acme", PipelineID: 1, StageID: pipedrivetest.StageContactMade, Status: "open"})
	ev := f.decision(store.Decision{DealID: dealID, TargetStage: "Negotiations Started", Status: "open"})
	// Pipedrive applies the patch, then the answer never arrives before our deadline.
	f.SB.InjectFault(pipedrivetest.Fault{Method: http.MethodPatch, PathPrefix: "/api/v2/deals/", Delay: 10 * time.Second, ApplyBeforeDelay: true, Times: 1})

	resp := handle(t, f.mover(true), ev)
	if len(resp.BatchItemFailures) != 1 {
		t.Fatalf("first run: want a batch item failure so the stream retries, got %v", resp)
	}
	if f.deal(dealID).StageID != pipedrivetest.StageNegotiationsStarted {
		t.Fatal("the sandbox did not apply the patch")
	}
	resp = handle(t, f.mover(true), ev) // the stream's retry
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("retry: %v", resp)
	}
	if p := f.patches(dealID); p != 1 {
		t.Fatalf("PATCH count = %d, want exactly 1", p)
	}
	got := f.state(dealID, "DEC#SIG#generic#"+t.Name())
	if got.State != store.StateDone || !strings.Contains(got.StateReason, "earlier attempt") {
		t.Fatalf("decision = %+v, want done noting the earlier attempt", got)
	}
}

func TestSkipsWithReasons(t *testing.T) {
	f := newFixture(t, pipedrivetest.Options{})
	renewals, renewalStages := f.SB.AddPipeline("Renewals", "Up for renewal", "Proposal Made", "Signed")
	cases := []struct {
		name     string
		deal     pipedrivetest.Deal
		dec      store.Decision
		inReason string
	}{
		{"won deal is never moved", pipedrivetest.Deal{PipelineID: 1, StageID: pipedrivetest.StageContactMade, Status: "won"}, store.Decision{TargetStage: "Proposal Made"}, "won"},
		{"lost deal is never reopened", pipedrivetest.Deal{PipelineID: 1, StageID: pipedrivetest.StageContactMade, Status: "lost"}, store.Decision{TargetStage: "Proposal Made"}, "lost"},
		{"archived", pipedrivetest.Deal{PipelineID: 1, StageID: pipedrivetest.StageContactMade, Status: "open", IsArchived: true}, store.Decision{TargetStage: "Proposal Made"}, "archived"},
		{"deleted deal", pipedrivetest.Deal{PipelineID: 1, StageID: pipedrivetest.StageContactMade, Status: "open", IsDeleted: true}, store.Decision{TargetStage: "Proposal Made"}, "deleted"},
		{"already at target", pipedrivetest.Deal{PipelineID: 1, StageID: pipedrivetest.StageProposalMade, Status: "open"}, store.Decision{TargetStage: "Proposal Made"}, "already at or past"},
		{"past target: never backwards", pipedrivetest.Deal{PipelineID: 1, StageID: pipedrivetest.StageNegotiationsStarted, Status: "open"}, store.Decision{TargetStage: "Contact Made"}, "already at or past"},
		{"other pipeline", pipedrivetest.Deal{PipelineID: renewals, StageID: renewalStages[0], Status: "open"}, store.Decision{TargetStage: "Proposal Made", TargetPipeline: "Sales"}, "cross-pipeline"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.deal.Title = c.name
			id := f.SB.AddDeal(c.deal)
			c.dec.DealID, c.dec.Status, c.dec.SignalKey = id, "open", "SIG#generic#skip"+itoa(int64(i))
			f.SB.ResetRequests()
			handle(t, f.mover(true), f.decision(c.dec))
			got := f.state(id, c.dec.SortKey())
			if got.State != store.StateSkipped || !strings.Contains(got.StateReason, c.inReason) {
				t.Fatalf("decision = %s %q, want skipped mentioning %q", got.State, got.StateReason, c.inReason)
			}
			if f.patches(id) != 0 {
				t.Fatal("a skipped decision patched the deal")
			}
		})
	}
	f.assertSpecClean()
}

func TestWonPatchesStatus(t *testing.T) {
	f := newFixture(t, pipedrivetest.Options{})
	id := f.SB.AddDeal(pipedrivetest.Deal{Title: "Signed", PipelineID: 1, StageID: pipedrivetest.StageNegotiationsStarted, Status: "open"})
	handle(t, f.mover(true), f.decision(store.Decision{DealID: id, Status: "won"}))
	if d := f.deal(id); d.Status != "won" || d.StageID != pipedrivetest.StageNegotiationsStarted {
		t.Fatalf("deal = status %s stage %d, want won at the same stage", d.Status, d.StageID)
	}
	f.assertSpecClean()
}

func TestShadowModeWritesNothing(t *testing.T) {
	f := newFixture(t, pipedrivetest.Options{})
	id := f.SB.AddDeal(pipedrivetest.Deal{Title: "Shadow", PipelineID: 1, StageID: pipedrivetest.StageQualified, Status: "open"})
	handle(t, f.mover(false), f.decision(store.Decision{DealID: id, TargetStage: "Contact Made", Status: "open"}))
	for _, r := range f.SB.Requests() {
		if r.Method != http.MethodGet {
			t.Fatalf("shadow mode sent %s %s", r.Method, r.Path)
		}
	}
	got := f.state(id, "DEC#SIG#generic#"+t.Name())
	if got.State != store.StateDone || !got.Shadow || !strings.Contains(got.StateReason, "would move") || got.ToStageID != pipedrivetest.StageContactMade {
		t.Fatalf("decision = %+v", got)
	}
	if f.deal(id).StageID != pipedrivetest.StageQualified {
		t.Fatal("shadow mode moved the deal")
	}
	if f.metrics.Total(metrics.MoveShadow) != 1 {
		t.Fatal("MoveShadow not counted")
	}
}

func TestUnknownStageRefreshesMapAndRetriesOnce(t *testing.T) {
	f := newFixture(t, pipedrivetest.Options{})
	id := f.SB.AddDeal(pipedrivetest.Deal{Title: "Renamed", PipelineID: 1, StageID: pipedrivetest.StageContactMade, Status: "open"})
	if _, err := f.stages.Get(context.Background()); err != nil { // cache the old ids
		t.Fatal(err)
	}
	// An admin rebuilt "Proposal Made": same name, new id.
	f.SB.DeleteStage(pipedrivetest.StageProposalMade)
	newID := f.SB.AddStage(1, "Proposal Made", 4)
	handle(t, f.mover(true), f.decision(store.Decision{DealID: id, TargetStage: "Proposal Made", Status: "open"}))
	if d := f.deal(id); d.StageID != newID {
		t.Fatalf("deal stage = %d, want the re-resolved %d", d.StageID, newID)
	}
	if p := f.patches(id); p != 2 {
		t.Fatalf("PATCH count = %d, want 2 (rejected, then re-resolved)", p)
	}
	if got := f.state(id, "DEC#SIG#generic#"+t.Name()); got.State != store.StateDone {
		t.Fatalf("decision = %+v", got)
	}
	f.assertSpecClean()
}

func TestStageMissingEverywhereFailsWithAlert(t *testing.T) {
	f := newFixture(t, pipedrivetest.Options{})
	id := f.SB.AddDeal(pipedrivetest.Deal{Title: "Typo", PipelineID: 1, StageID: pipedrivetest.StageContactMade, Status: "open"})
	handle(t, f.mover(true), f.decision(store.Decision{DealID: id, TargetStage: "Proposal Maed", Status: "open"}))
	got := f.state(id, "DEC#SIG#generic#"+t.Name())
	if got.State != store.StateFailed || !strings.Contains(got.StateReason, "Proposal Maed") {
		t.Fatalf("decision = %+v", got)
	}
	if f.metrics.Total(metrics.MoveFailed) != 1 || f.patches(id) != 0 {
		t.Fatalf("MoveFailed = %v, patches = %d", f.metrics.Total(metrics.MoveFailed), f.patches(id))
	}
}

func TestAuthFailureFailsAtOnceWithoutRetries(t *testing.T) {
	f := newFixture(t, pipedrivetest.Options{Token: "the-real-token"}) // our client holds another token
	id := f.SB.AddDeal(pipedrivetest.Deal{Title: "Auth", PipelineID: 1, StageID: pipedrivetest.StageContactMade, Status: "open"})
	f.SB.ResetRequests()
	resp := handle(t, f.mover(true), f.decision(store.Decision{DealID: id, TargetStage: "Proposal Made", Status: "open"}))
	if len(resp.BatchItemFailures) != 0 {
		t.Fatal("an auth failure should not be retried by the stream")
	}
	if n := len(f.SB.Requests()); n != 1 {
		t.Fatalf("requests = %d, want 1 (no retry storm)", n)
	}
	got := f.state(id, "DEC#SIG#generic#"+t.Name())
	if got.State != store.StateFailed || !strings.Contains(got.StateReason, "refused access") || f.metrics.Total(metrics.MoveFailed) != 1 {
		t.Fatalf("decision = %+v, MoveFailed = %v", got, f.metrics.Total(metrics.MoveFailed))
	}
	if strings.Contains(got.StateReason, token) {
		t.Fatal("token in the decision's reason")
	}
}

func TestRateLimitedReturnsBatchFailureAndReleases(t *testing.T) {
	f := newFixture(t, pipedrivetest.Options{})
	id := f.SB.AddDeal(pipedrivetest.Deal{Title: "Busy", PipelineID: 1, StageID: pipedrivetest.StageContactMade, Status: "open"})
	f.SB.InjectFault(pipedrivetest.Fault{Method: http.MethodGet, PathPrefix: "/api/v2/deals/", Status: http.StatusTooManyRequests})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	resp, err := f.mover(true).Handle(ctx, f.decision(store.Decision{DealID: id, TargetStage: "Proposal Made", Status: "open"}))
	if err != nil || len(resp.BatchItemFailures) != 1 {
		t.Fatalf("want one batch item failure, got %v %v", resp, err)
	}
	got := f.state(id, "DEC#SIG#generic#"+t.Name())
	if got.State != store.StatePending {
		t.Fatalf("decision = %+v, want released to pending for the retry", got)
	}
	f.SB.ClearFaults()
	handle(t, f.mover(true), f.decision(store.Decision{DealID: id, TargetStage: "Proposal Made", Status: "open"}))
	if f.deal(id).StageID != pipedrivetest.StageProposalMade || f.patches(id) != 1 {
		t.Fatal("retry after the rate limit did not move the deal once")
	}
}

// BenchmarkMoveCost reports the Pipedrive requests and token units one move
// and one stay decision cost with a warm stage map.
func BenchmarkMoveCost(b *testing.B) {
	f := newFixture(b, pipedrivetest.Options{BurstLimit: 1000})
	if _, err := f.stages.Get(context.Background()); err != nil {
		b.Fatal(err)
	}
	m := f.mover(true)
	m.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	var moveReqs, moveTokens, stayReqs int
	for i := 0; i < b.N; i++ {
		id := f.SB.AddDeal(pipedrivetest.Deal{Title: "Bench", PipelineID: 1, StageID: pipedrivetest.StageContactMade, Status: "open"})
		move := f.decision(store.Decision{DealID: id, TargetStage: "Proposal Made", Status: "open", SignalKey: "SIG#bench#m" + itoa(id)})
		stay := f.decision(store.Decision{DealID: id, Action: store.ActionStay, SignalKey: "SIG#bench#s" + itoa(id)})
		r0, t0 := len(f.SB.Requests()), f.SB.TokenCostSpent()
		handle(b, m, move)
		r1, t1 := len(f.SB.Requests()), f.SB.TokenCostSpent()
		handle(b, m, stay)
		moveReqs += r1 - r0
		moveTokens += t1 - t0
		stayReqs += len(f.SB.Requests()) - r1
	}
	b.ReportMetric(float64(moveReqs)/float64(b.N), "requests/move")
	b.ReportMetric(float64(moveTokens)/float64(b.N), "tokens/move")
	b.ReportMetric(float64(stayReqs)/float64(b.N), "requests/stay")
}
