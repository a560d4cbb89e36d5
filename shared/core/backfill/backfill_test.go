package backfill_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/core/backfill"
	"github.com/stagemover/stagemover/shared/core/intent"
	"github.com/stagemover/stagemover/shared/core/mover"
	"github.com/stagemover/stagemover/shared/core/signal"
	"github.com/stagemover/stagemover/shared/core/stagemap"
	"github.com/stagemover/stagemover/shared/dev/ddblocal"
	"github.com/stagemover/stagemover/shared/pipedrive"
	"github.com/stagemover/stagemover/shared/pipedrive/pipedrivetest"
	"github.com/stagemover/stagemover/shared/platform/apigw"
	"github.com/stagemover/stagemover/shared/platform/metrics"
	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/source/pdhooks"
	"github.com/stagemover/stagemover/shared/store"
	"github.com/stagemover/stagemover/shared/testkit"
	"github.com/stagemover/stagemover/shared/testkit/stand"
)

func TestMain(m *testing.M) { os.Exit(ddblocal.RunTests(m)) }

const token = "backfill-test-token-7c1e55d09a"

type fixture struct {
	t *testing.T
	*stand.Stand
	engine intent.Engine
	logs   *testkit.LogBuffer
}

func newFixture(t *testing.T, opts pipedrivetest.Options) *fixture {
	t.Helper()
	opts.Token = token
	st := stand.Start(t, opts)
	sb := st.SB
	engine, err := intent.NewDefaultEngine("")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, Stand: st, engine: engine, logs: &testkit.LogBuffer{}}
	t.Cleanup(func() {
		if strings.Contains(f.logs.String(), token) {
			t.Error("the API token is in the logs")
		}
		if v := sb.ValidationErrors(); len(v) > 0 {
			t.Errorf("sandbox validation errors:\n%s", strings.Join(v, "\n"))
		}
	})
	return f
}

// backfill is one invocation's process: a fresh client (its own usage and
// burst window), stage map and mover, as a new CLI run would have.
func (f *fixture) backfill(live bool, out *testkit.LogBuffer) (*backfill.Backfill, *pipedrive.Client) {
	f.t.Helper()
	log := f.logs.LoggerAt(slog.LevelInfo)
	client := f.Client(f.t, token, log, 20*time.Millisecond)
	stages := stagemap.New(stagemap.FromPipedrive{API: client}, f.Store, time.Hour, nil)
	return &backfill.Backfill{
		Store: f.Store, Pipedrive: client, Stages: stages, Engine: f.engine,
		Mover:           mover.Mover{Live: live, Lease: 30 * time.Second, Poll: 20 * time.Millisecond, Log: log, Metrics: metrics.New(nil, "StageMover", "backfill")},
		InternalDomains: []string{"vendor.example"}, Window: 90 * 24 * time.Hour,
		Log: log, Out: out, ReportEvery: 200 * time.Millisecond,
	}, client
}

func proposalSent(at time.Time) signal.Signal {
	return signal.Signal{Kind: signal.KindDocument, At: at, Action: "sent", DocType: "proposal", Name: "Proposal", Actor: "rep@vendor.example"}
}

func autoReply(at time.Time) signal.Signal {
	return signal.Signal{Kind: signal.KindEmail, At: at, From: "ann@buyer.example", To: []string{"rep@vendor.example"},
		Subject: "Automatic reply: catching up", Body: "I am out of the office until Monday.", Headers: map[string]string{"Auto-Submitted": "auto-replied"}}
}

func (f *fixture) signal(dealID int64, sig signal.Signal) {
	f.t.Helper()
	_, err := f.Store.PutSignal(context.Background(), store.SignalRecord{Source: "generic", EventID: fmt.Sprintf("ev-%d-%s", dealID, sig.Kind),
		DealID: dealID, PersonEmail: "ann@buyer.example", ReceivedAt: sig.At, Signal: sig})
	if err != nil {
		f.t.Fatal(err)
	}
}

// seed adds n open Sales deals at Contact Made: every third with a proposal
// sent (it qualifies for Proposal Made), every third with only an
// auto-reply (stays), the rest without evidence. It returns the qualifying ids.
func (f *fixture) seed(n int) (qualify []int64) {
	f.t.Helper()
	at := time.Now().Add(-2 * time.Hour)
	for i := 0; i < n; i++ {
		id := f.SB.AddDeal(pipedrivetest.Deal{StageID: pipedrivetest.StageContactMade})
		switch i % 3 {
		case 0:
			f.signal(id, proposalSent(at))
			qualify = append(qualify, id)
		case 1:
			f.signal(id, autoReply(at))
		}
	}
	return qualify
}

// patches counts PATCH requests per deal id.
func (f *fixture) patches() map[int64]int {
	out := map[int64]int{}
	for _, r := range f.SB.Requests() {
		if r.Method == http.MethodPatch && strings.HasPrefix(r.Path, "/api/v2/deals/") {
			id, _ := strconv.ParseInt(strings.TrimPrefix(r.Path, "/api/v2/deals/"), 10, 64)
			out[id]++
		}
	}
	return out
}

// late429s returns the 429 answers given after the first burst window.
func (f *fixture) late429s() []pipedrivetest.LoggedRequest {
	reqs := f.SB.Requests()
	if len(reqs) == 0 {
		return nil
	}
	var late []pipedrivetest.LoggedRequest
	for _, r := range reqs {
		if r.Status == http.StatusTooManyRequests && r.At.Sub(reqs[0].At) > pipedrivetest.RateWindow {
			late = append(late, r)
		}
	}
	return late
}

func (f *fixture) progress(runID string) backfill.Progress {
	f.t.Helper()
	var p backfill.Progress
	if _, err := f.Store.GetJSON(context.Background(), backfill.DocName(runID), &p); err != nil {
		f.t.Fatal(err)
	}
	return p
}

// cancelAfter cancels a context once the output shows n moves.
type cancelAfter struct {
	testkit.LogBuffer
	n      int
	moves  int
	cancel context.CancelFunc
}

func (c *cancelAfter) Write(p []byte) (int, error) {
	c.moves += strings.Count(string(p), ": moved ")
	if c.moves >= c.n {
		c.cancel()
	}
	return c.LogBuffer.Write(p)
}

// TestBackfillThousandDealsBudgetResume: 1,000 deals, a third qualifying.
// The first invocation stops at its budget, the second is interrupted, the
// third completes the run; every qualifying deal is moved once, nothing else
// is patched, and no invocation overspends its budget.
func TestBackfillThousandDealsBudgetResume(t *testing.T) {
	f := newFixture(t, pipedrivetest.Options{BurstLimit: 2000})
	qualify := f.seed(1000)
	// Evidence for deals the run must not move: one already past the
	// target, one in another pipeline, one won.
	past := f.SB.AddDeal(pipedrivetest.Deal{StageID: pipedrivetest.StageNegotiationsStarted})
	f.signal(past, proposalSent(time.Now().Add(-time.Hour)))
	_, partner := f.SB.AddPipeline("Partners", "Intro", "Pilot")
	other := f.SB.AddDeal(pipedrivetest.Deal{StageID: partner[0]})
	f.signal(other, proposalSent(time.Now().Add(-time.Hour)))
	won := f.SB.AddDeal(pipedrivetest.Deal{StageID: pipedrivetest.StageContactMade, Status: "won"})
	f.signal(won, proposalSent(time.Now().Add(-time.Hour)))
	ctx := context.Background()
	const run = "bf-test-1000"
	start := time.Now()

	// 1: a budget that covers about half the moves.
	out1 := &testkit.LogBuffer{}
	b, client := f.backfill(true, out1)
	p1, err := b.Run(ctx, backfill.Options{RunID: run, Pipeline: "sales", Budget: 1000})
	if err != nil {
		t.Fatal(err)
	}
	spent1 := client.Usage().TokenCost
	if p1.Done || p1.Stopped != backfill.StoppedBudget || spent1 > 1000 || spent1 < 1000-backfill.CostMoveLive-backfill.CostPage {
		t.Fatalf("first invocation: done %v stopped %q spent %d, want a stop at the budget of 1000", p1.Done, p1.Stopped, spent1)
	}
	if p1.Moves == 0 || p1.Moves >= len(qualify) || p1.Tokens != spent1 || p1.Pipeline != "Sales" {
		t.Fatalf("first invocation progress %+v", p1)
	}
	if saved := f.progress(run); saved.Moves != p1.Moves || saved.LastDealID != p1.LastDealID || saved.Done {
		t.Fatalf("saved progress %+v, returned %+v", saved, p1)
	}
	if !strings.Contains(out1.String(), "stopped at the budget of 1000 token units; resume with --run "+run) {
		t.Errorf("output:\n%s", out1)
	}

	// 2: interrupted (Ctrl-C) after 40 more moves; the move in hand finishes.
	ictx, cancel := context.WithCancel(ctx)
	out2 := &cancelAfter{n: 40, cancel: cancel}
	b, client = f.backfill(true, &out2.LogBuffer)
	b.Out = out2
	p2, err := b.Run(ictx, backfill.Options{RunID: run, Budget: 100000})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	if p2.Done || p2.Stopped != backfill.StoppedInterrupted || p2.Moves < p1.Moves+40 || p2.Moves > p1.Moves+41 {
		t.Fatalf("second invocation: %+v (first had %d moves)", p2, p1.Moves)
	}
	if p2.Tokens != spent1+client.Usage().TokenCost {
		t.Errorf("run tokens %d, want %d + %d", p2.Tokens, spent1, client.Usage().TokenCost)
	}

	// 3: resumes to completion.
	out3 := &testkit.LogBuffer{}
	b, client = f.backfill(true, out3)
	p3, err := b.Run(ctx, backfill.Options{RunID: run, Budget: 100000})
	if err != nil {
		t.Fatal(err)
	}
	if !p3.Done || p3.Stopped != backfill.StoppedDone || p3.Invocations != 3 {
		t.Fatalf("third invocation: %+v", p3)
	}
	// 1,000 seeded deals + the deal already past the target, which the
	// engine keeps where it is (the won deal and the other pipeline's are
	// not listed).
	if p3.Scanned != 1001 || p3.Moves != len(qualify) || p3.Skips != 0 || p3.Stays != 334 || p3.NoEvidence != 333 || p3.Failed != 0 {
		t.Fatalf("final counters %+v, want scanned 1001, moves %d, stays 334 (the engine keeps the deal past the target), no evidence 333", p3, len(qualify))
	}

	patched := f.patches()
	for _, id := range qualify {
		if d, _ := f.SB.Deal(id); d.StageID != pipedrivetest.StageProposalMade {
			t.Fatalf("deal %d at stage %d, want Proposal Made", id, d.StageID)
		}
		if patched[id] != 1 {
			t.Fatalf("deal %d patched %d times, want 1", id, patched[id])
		}
	}
	if len(patched) != len(qualify) {
		t.Fatalf("%d deals patched, want only the %d qualifying", len(patched), len(qualify))
	}
	for _, id := range []int64{past, other, won} {
		if patched[id] != 0 {
			t.Errorf("deal %d patched", id)
		}
	}
	if late := f.late429s(); len(late) > 0 {
		t.Fatalf("%d answers 429 after the first window, first %+v", len(late), late[0])
	}
	// Each decision is recorded once under the run's key and finished done.
	ds, err := f.Store.DecisionsForDeal(ctx, qualify[len(qualify)/2])
	if err != nil || len(ds) != 1 || ds[0].SignalKey != backfill.SignalKey(run) || ds[0].State != store.StateDone || ds[0].Rule == "" {
		t.Fatalf("decisions %+v %v", ds, err)
	}
	if ds, _ := f.Store.DecisionsForDeal(ctx, past); len(ds) != 1 || ds[0].Action != store.ActionStay {
		t.Errorf("deal past the target: decisions %+v, want one stay", ds)
	}
	// Progress lines with the counters, tokens and rates.
	line := regexp.MustCompile(`backfill bf-test-1000 "Sales": scanned \d+, moves \d+, skips \d+, stays \d+, no evidence \d+, failed 0, tokens \d+ \(this run \d+ of \d+\), [0-9.]+ deals/s, [0-9.]+ moves/s`)
	for i, out := range []string{out1.String(), out2.String(), out3.String()} {
		if len(line.FindAllString(out, -1)) < 1 {
			t.Errorf("invocation %d: no progress line in\n%s", i+1, out)
		}
		if strings.Contains(out, token) {
			t.Errorf("invocation %d: token in the output", i+1)
		}
	}
	if !strings.Contains(out3.String(), "backfill bf-test-1000: complete") || !regexp.MustCompile(`deal \d+: moved stage "Contact Made" -> "Proposal Made"`).MatchString(out3.String()) {
		t.Errorf("final output:\n%s", out3)
	}

	// 4: running a finished run again sends nothing.
	before := len(f.SB.Requests())
	b, client = f.backfill(true, &testkit.LogBuffer{})
	if p4, err := b.Run(ctx, backfill.Options{RunID: run, Budget: 1000}); err != nil || !p4.Done || client.Usage().Requests != 0 || len(f.SB.Requests()) != before {
		t.Fatalf("a finished run ran again: %+v %v, %d requests", p4, err, client.Usage().Requests)
	}
	t.Logf("1,000 deals in %s over 3 invocations: %d moves, %d tokens, %d requests", time.Since(start).Round(time.Millisecond), p3.Moves, p3.Tokens, before)
}

// TestBackfillKeepsToTheDefaultBurstLimit: at the sandbox's default burst
// limit (20 requests per 2 s) the client paces the run: no 429 after the
// first window, and every move lands once.
func TestBackfillKeepsToTheDefaultBurstLimit(t *testing.T) {
	f := newFixture(t, pipedrivetest.Options{})
	qualify := f.seed(45) // 15 moves: 30 requests + listing and stage map, over two windows
	b, _ := f.backfill(true, &testkit.LogBuffer{})
	p, err := b.Run(context.Background(), backfill.Options{Pipeline: "Sales", Budget: 10000})
	if err != nil || !p.Done || p.Moves != len(qualify) {
		t.Fatalf("run %+v %v", p, err)
	}
	reqs := f.SB.Requests()
	if span := reqs[len(reqs)-1].At.Sub(reqs[0].At); span < pipedrivetest.RateWindow {
		t.Fatalf("%d requests in %s: the test must span more than one window", len(reqs), span)
	}
	if late := f.late429s(); len(late) > 0 {
		t.Fatalf("%d answers 429 after the first window", len(late))
	}
	for id, n := range f.patches() {
		if n != 1 {
			t.Errorf("deal %d patched %d times", id, n)
		}
	}
	if !strings.HasPrefix(p.RunID, "bf-") {
		t.Errorf("generated run id %q", p.RunID)
	}
}

// TestBackfillDryRunWritesNothing: a dry run reads deals and reports what
// would move, but sends no write to Pipedrive and records no decision in the
// table (the deployed mover would take it from the stream).
func TestBackfillDryRunWritesNothing(t *testing.T) {
	f := newFixture(t, pipedrivetest.Options{BurstLimit: 500})
	qualify := f.seed(30)
	out := &testkit.LogBuffer{}
	b, client := f.backfill(true, out) // the stream's mover is live; the dry run must still not patch
	p, err := b.Run(context.Background(), backfill.Options{RunID: "dry-1", Pipeline: "Sales", Budget: 10000, DryRun: true})
	if err != nil || !p.Done || !p.DryRun || p.Moves != len(qualify) || p.Stays != 10 {
		t.Fatalf("dry run %+v %v", p, err)
	}
	for _, r := range f.SB.Requests() {
		if r.Method != http.MethodGet {
			t.Errorf("dry run sent %s %s", r.Method, r.Path)
		}
	}
	for _, id := range qualify {
		if d, _ := f.SB.Deal(id); d.StageID != pipedrivetest.StageContactMade {
			t.Errorf("deal %d moved to %d by a dry run", id, d.StageID)
		}
		if ds, err := f.Store.DecisionsForDeal(context.Background(), id); err != nil || len(ds) != 0 {
			t.Errorf("deal %d: decisions in the table after a dry run: %+v %v", id, ds, err)
		}
		if _, err := f.Store.GetDealState(context.Background(), id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deal %d: mirror written by a dry run: %v", id, err)
		}
	}
	// One read per would-be move, one page, the stage map.
	if u := client.Usage(); u.TokenCost != len(qualify)*backfill.CostMoveDry+backfill.CostPage+10 {
		t.Errorf("dry run spent %d tokens", u.TokenCost)
	}
	if !strings.Contains(out.String(), `backfill dry-1 (dry run) "Sales": scanned 30, moves 10`) ||
		!regexp.MustCompile(`deal \d+: would move stage "Contact Made" -> "Proposal Made"`).MatchString(out.String()) {
		t.Errorf("output:\n%s", out)
	}
	// A dry run's id cannot be resumed live (its decisions were never recorded).
	b, _ = f.backfill(true, &testkit.LogBuffer{})
	if _, err := b.Run(context.Background(), backfill.Options{RunID: "dry-1", Budget: 100}); !errors.Is(err, backfill.ErrMismatch) {
		t.Errorf("live resume of a dry run: %v", err)
	}
}

// TestBackfillBudgetBelowOnePage stops before any listing.
func TestBackfillBudgetBelowOnePage(t *testing.T) {
	f := newFixture(t, pipedrivetest.Options{})
	f.seed(3)
	b, client := f.backfill(true, &testkit.LogBuffer{})
	p, err := b.Run(context.Background(), backfill.Options{RunID: "tiny", Pipeline: "Sales", Budget: 15})
	if err != nil || p.Stopped != backfill.StoppedBudget || p.Scanned != 0 {
		t.Fatalf("%+v %v", p, err)
	}
	if u := client.Usage(); u.TokenCost > 15 || u.ByOperation["getDeals"].Requests != 0 {
		t.Errorf("usage %+v", u)
	}
	if _, err := b.Run(context.Background(), backfill.Options{RunID: "tiny", Pipeline: "Partners", Budget: 15}); !errors.Is(err, backfill.ErrMismatch) {
		t.Errorf("resume with another pipeline: %v", err)
	}
	if _, err := b.Run(context.Background(), backfill.Options{Pipeline: "No Such Pipeline", Budget: 100}); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("unknown pipeline: %v", err)
	}
}

// TestBackfillLostProgressRepeatsNoMove: when the progress document is
// lost (a crash after the moves, before the save), the resumed run goes over
// the same deals again, and the decisions' keys and the mover's state
// machine keep every deal at one PATCH.
func TestBackfillLostProgressRepeatsNoMove(t *testing.T) {
	f := newFixture(t, pipedrivetest.Options{BurstLimit: 500})
	qualify := f.seed(60)
	ctx := context.Background()
	b, _ := f.backfill(true, &testkit.LogBuffer{})
	p, err := b.Run(ctx, backfill.Options{RunID: "crash", Pipeline: "Sales", Budget: 10 + 10 + 12*backfill.CostMoveLive})
	if err != nil || p.Stopped != backfill.StoppedBudget || p.Moves != 12 {
		t.Fatalf("first invocation %+v %v", p, err)
	}
	// Roll the progress back to the start, as if no save had happened.
	lost := backfill.Progress{RunID: "crash", Pipeline: "Sales", StartedAt: p.StartedAt}
	if err := f.Store.PutJSON(ctx, backfill.DocName("crash"), lost, time.Hour); err != nil {
		t.Fatal(err)
	}
	b, client := f.backfill(true, &testkit.LogBuffer{})
	p, err = b.Run(ctx, backfill.Options{RunID: "crash", Budget: 10000})
	if err != nil || !p.Done || p.Moves != len(qualify) {
		t.Fatalf("resumed run %+v %v", p, err)
	}
	for _, id := range qualify {
		if n := f.patches()[id]; n != 1 {
			t.Fatalf("deal %d patched %d times", id, n)
		}
	}
	// The twelve deals moved before the loss cost nothing the second time:
	// the mover finds their decisions done without reading the deal.
	if got := client.Usage().ByOperation["getDeal"].Requests; got != len(qualify)-12 {
		t.Errorf("resumed run read %d deals, want %d", got, len(qualify)-12)
	}
}

// A backfilled stay names the stage the evidence supported, as the
// evaluator's stays do: when a person later moves the deal there (through
// the sandbox and its webhook to POST /pipedrive), the report counts a miss
// against the stay's rule.
func TestBackfilledStayCountsMissWhenPersonMovesThere(t *testing.T) {
	f := newFixture(t, pipedrivetest.Options{})
	ctx := context.Background()
	// A stage the rules do not know: the engine stays (and flags for
	// review) although the evidence supports Proposal Made.
	discovery := f.SB.AddStage(1, "Discovery Call", 3)
	id := f.SB.AddDeal(pipedrivetest.Deal{Title: "Initech – fleet pilot", StageID: discovery})
	f.signal(id, proposalSent(time.Now().Add(-2*time.Hour)))

	// POST /pipedrive, subscribed to the sandbox's deal changes
	const user, pass = "stagemover", "backfill-miss-hook-pass-3e9d"
	client, err := pipedrive.New(pipedrive.Config{BaseURL: f.SB.URL(), Token: pipedrive.StaticToken(token)})
	if err != nil {
		t.Fatal(err)
	}
	log := f.logs.LoggerAt(slog.LevelInfo)
	hook := &pdhooks.Webhook{
		Table: pdhooks.Table{Store: f.Store}, Mirror: f.Store,
		Stages:            stagemap.New(stagemap.FromPipedrive{API: client}, f.Store, time.Hour, nil),
		IntegrationUserID: f.SB.IntegrationUserID(),
		Log:               log,
	}
	h := &ingest.Handler{
		Source: hook,
		Key: pdhooks.Key(func(context.Context) (pdhooks.Credentials, error) {
			return pdhooks.Credentials{User: user, Password: pass}, nil
		}),
		Log: log,
	}
	srv := httptest.NewServer(apigw.Handler("POST /pipedrive", h.Handle))
	defer srv.Close()
	f.SB.Subscribe(srv.URL+"/pipedrive", user, pass, "change", "deal")

	b, _ := f.backfill(true, &testkit.LogBuffer{})
	p, err := b.Run(ctx, backfill.Options{RunID: "miss", Pipeline: "Sales", Budget: 1000})
	if err != nil || !p.Done || p.Stays != 1 || p.Moves != 0 {
		t.Fatalf("backfill: %+v %v, want one stay", p, err)
	}
	d, err := f.Store.GetDecision(ctx, id, store.Decision{SignalKey: backfill.SignalKey("miss")}.SortKey())
	if err != nil {
		t.Fatal(err)
	}
	if d.Action != store.ActionStay || d.TargetStage != "Proposal Made" || d.TargetPipeline != "Sales" {
		t.Fatalf("backfilled stay = %s %q in %q, want stay naming Proposal Made in Sales", d.Action, d.TargetStage, d.TargetPipeline)
	}

	if err := f.SB.MoveDealAsUser(id, pipedrivetest.StageProposalMade, pipedrivetest.DefaultOwnerID); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := f.SB.WaitWebhooks(wctx); err != nil {
		t.Fatal(err)
	}
	for _, dl := range f.SB.Deliveries() {
		if !dl.OK {
			t.Fatalf("delivery %s failed: %d %s", dl.EventID, dl.Status, dl.Err)
		}
	}
	rep, err := hook.Table.Report(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var row pdhooks.Row
	for _, r := range rep.Rows {
		if r.Pipeline == "Sales" && r.Rule == d.Rule {
			row = r
		}
	}
	if row.Misses != 1 || rep.Total.Misses != 1 {
		t.Fatalf("report: row %+v, total misses %d; want one miss for rule %q in Sales", row, rep.Total.Misses, d.Rule)
	}
}
