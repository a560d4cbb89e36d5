package explain_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/core/explain"
	"github.com/stagemover/stagemover/shared/core/intent"
	"github.com/stagemover/stagemover/shared/core/signal"
	"github.com/stagemover/stagemover/shared/core/stagemap"
	"github.com/stagemover/stagemover/shared/dev/ddblocal"
	"github.com/stagemover/stagemover/shared/pipedrive"
	"github.com/stagemover/stagemover/shared/pipedrive/pipedrivetest"
	"github.com/stagemover/stagemover/shared/store"
	"github.com/stagemover/stagemover/shared/testkit"
	"github.com/stagemover/stagemover/shared/testkit/stand"
)

func TestMain(m *testing.M) { os.Exit(ddblocal.RunTests(m)) }

const token = "explain-test-token-5f1e2d3c4b5a"

type fixture struct {
	t *testing.T
	*stand.Stand
	client *pipedrive.Client
	logs   *testkit.LogBuffer
	now    time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	log, logs := testkit.NewLogger()
	st := stand.Start(t, pipedrivetest.Options{Token: token, Logger: log})
	// Wednesday 4 March 2026, 10:00 UTC.
	now := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	return &fixture{t: t, Stand: st, logs: logs, now: now,
		client: st.Client(t, token, log, 10*time.Millisecond)}
}

func (f *fixture) writer(notes, activities bool) *explain.Writer {
	return &explain.Writer{
		Pipedrive: f.client, Store: f.Store, Notes: notes, Activities: activities,
		Stages:   explain.StagesFrom(stagemap.New(stagemap.FromPipedrive{API: f.client}, f.Store, time.Hour, nil)),
		Evidence: f.Store,
		Now:      func() time.Time { return f.now },
		Log:      f.logs.Logger(),
	}
}

var replyAt = time.Date(2026, 3, 2, 9, 15, 0, 0, time.UTC)

// movedDeal adds the deal "Acme" in Proposal Made and records its move
// (see moved).
func (f *fixture) movedDeal() (int64, store.Decision, store.Outcome) {
	dealID := f.SB.AddDeal(pipedrivetest.Deal{Title: "Acme", StageID: pipedrivetest.StageProposalMade})
	d, out := f.moved(dealID)
	return dealID, d, out
}

// moved records a move decision the mover finished, with its evidence signal.
func (f *fixture) moved(dealID int64) (store.Decision, store.Outcome) {
	f.t.Helper()
	ctx := context.Background()
	sig := store.SignalRecord{Source: "gmail", EventID: "msg-" + f.t.Name(), DealID: dealID, ReceivedAt: replyAt,
		Signal: signal.Signal{Kind: signal.KindEmail, At: replyAt, From: "jane@buyer.example", To: []string{"rep@seller.example"},
			Subject: "Re: pricing", Body: "Could you send pricing for 20 seats?"}}
	if _, err := f.Store.PutSignal(ctx, sig); err != nil {
		f.t.Fatal(err)
	}
	d := store.Decision{
		DealID: dealID, SignalKey: sig.Key(), EventID: sig.EventID, Action: store.ActionMove,
		TargetStage: "Proposal Made", Status: "open", Rule: "pricing_request",
		Reasons: []store.Reason{
			{Kind: "email", At: replyAt.Format(time.RFC3339), Cue: "pricing_question", Rule: "pricing_request", Counted: true,
				Excerpt: "Could you send pricing for 20 seats? See https://docs.example/q?token=s3cr3t and cc bob@buyer.example"},
			{Kind: "email", At: replyAt.Add(-time.Hour).Format(time.RFC3339), Cue: "auto_reply", Counted: false, Note: "out of office"},
		},
	}
	if _, err := f.Store.PutDecision(ctx, d); err != nil {
		f.t.Fatal(err)
	}
	return d, store.Outcome{State: store.StateDone, FromStageID: pipedrivetest.StageContactMade, ToStageID: pipedrivetest.StageProposalMade, Reason: "moved"}
}

func (f *fixture) noValidationErrors() {
	f.t.Helper()
	if v := f.SB.ValidationErrors(); len(v) > 0 {
		f.t.Errorf("sandbox validation errors:\n%s", strings.Join(v, "\n"))
	}
	if strings.Contains(f.logs.String(), token) {
		f.t.Errorf("the API token appears in the logs")
	}
}

func TestNoteOncePerDecisionUnderConcurrency(t *testing.T) {
	f := newFixture(t)
	dealID, d, out := f.movedDeal()
	w := f.writer(true, false)
	ctx := context.Background()

	// Twice in a row, then 8 at once.
	for i := 0; i < 2; i++ {
		if _, err := w.AfterMove(ctx, d, out); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	posted := make(chan explain.Result, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := w.AfterMove(ctx, d, out)
			if err != nil {
				t.Error(err)
			}
			posted <- r
		}()
	}
	wg.Wait()
	close(posted)
	for r := range posted {
		if r.Posted {
			t.Errorf("a concurrent run posted again: %+v", r)
		}
	}
	notes := f.SB.Notes(dealID)
	if len(notes) != 1 {
		t.Fatalf("want 1 note, got %d", len(notes))
	}
	m, err := f.Store.GetExplanation(ctx, dealID, d.SortKey(), store.ExplainNote)
	if err != nil || m.State != store.ExplainPosted || m.ID != notes[0].ID {
		t.Errorf("marker %+v (%v), note id %d", m, err, notes[0].ID)
	}
	// Token cost: exactly one addNote at its spec cost.
	u := f.client.Usage().ByOperation["addNote"]
	if u.Requests != 1 || u.TokenCost != explain.NoteTokenCost {
		t.Errorf("addNote usage %+v", u)
	}
	f.noValidationErrors()
}

func TestNoteQuotesEvidenceAndNamesRule(t *testing.T) {
	f := newFixture(t)
	dealID, d, out := f.movedDeal()
	r, err := f.writer(true, false).AfterMove(context.Background(), d, out)
	if err != nil || !r.Posted {
		t.Fatalf("%+v %v", r, err)
	}
	c := f.SB.Notes(dealID)[0].Content
	t.Logf("note: %s", c)
	for _, want := range []string{
		"moved this deal from <b>Contact Made</b> to <b>Proposal Made</b>",
		"pricing_request", "pricing question",
		"“Could you send pricing for 20 seats?",
		"email from jane@… on 2 Mar",
	} {
		if !strings.Contains(c, want) {
			t.Errorf("note lacks %q", want)
		}
	}
	for _, bad := range []string{"s3cr3t", "bob@buyer.example", "buyer.example", token, "out of office"} {
		if strings.Contains(c, bad) {
			t.Errorf("note contains %q", bad)
		}
	}
	f.noValidationErrors()
}

func TestDisabledOrNotApplicableSendsNothing(t *testing.T) {
	f := newFixture(t)
	_, d, out := f.movedDeal()
	ctx := context.Background()
	shadow := out
	shadow.Shadow = true
	skipped := out
	skipped.State = store.StateSkipped
	flagged := d
	flagged.Action, flagged.Flag = store.ActionStay, intent.FlagFollowUp
	for name, run := range map[string]func() (explain.Result, error){
		"notes off":      func() (explain.Result, error) { return f.writer(false, true).AfterMove(ctx, d, out) },
		"shadow":         func() (explain.Result, error) { return f.writer(true, true).AfterMove(ctx, d, shadow) },
		"skipped":        func() (explain.Result, error) { return f.writer(true, true).AfterMove(ctx, d, skipped) },
		"activities off": func() (explain.Result, error) { return f.writer(true, false).FollowUp(ctx, flagged) },
		"not follow_up":  func() (explain.Result, error) { return f.writer(true, true).FollowUp(ctx, d) },
	} {
		r, err := run()
		if err != nil || r.Posted || r.Skipped == "" {
			t.Errorf("%s: %+v %v", name, r, err)
		}
	}
	if n := len(f.SB.Requests()); n != 0 {
		t.Errorf("%d requests sent; want none", n)
	}
}

func TestFollowUpActivityOnceForDealOwner(t *testing.T) {
	f := newFixture(t)
	const owner = 4242
	dealID := f.SB.AddDeal(pipedrivetest.Deal{Title: "Acme", StageID: pipedrivetest.StageContactMade, OwnerID: owner})
	d := store.Decision{
		DealID: dealID, SignalKey: "SIG#gmail#vague", EventID: "vague", Action: store.ActionStay, Status: "open",
		Flag: intent.FlagFollowUp, Rule: "vague_reply",
		Reasons: []store.Reason{{Kind: "email", At: replyAt.Format(time.RFC3339), Cue: "vague_interest", Counted: false,
			Excerpt: "Sounds interesting, let's talk at some point", Note: "no concrete next step"}},
	}
	ctx := context.Background()
	if _, err := f.Store.PutDecision(ctx, d); err != nil {
		t.Fatal(err)
	}
	w := f.writer(false, true)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := w.FollowUp(ctx, d); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if _, err := w.FollowUp(ctx, d); err != nil {
		t.Fatal(err)
	}
	acts := f.SB.Activities(dealID)
	if len(acts) != 1 {
		t.Fatalf("want 1 activity, got %d", len(acts))
	}
	a := acts[0]
	// Wed 4 Mar + 2 business days = Fri 6 Mar.
	if a.Subject != "Follow up: vague reply on 2 Mar" || a.OwnerID != owner || a.Type != "task" || a.DueDate != "2026-03-06" {
		t.Errorf("activity %+v", a)
	}
	if !strings.Contains(a.Note, "Sounds interesting") {
		t.Errorf("activity note %q lacks the quote", a.Note)
	}
	if len(f.SB.Notes(0)) != 0 {
		t.Error("notes disabled, but a note was written")
	}
	u := f.client.Usage()
	if got := u.ByOperation["addActivity"]; got.Requests != 1 || got.TokenCost != explain.ActivityTokenCost {
		t.Errorf("addActivity usage %+v", got)
	}
	if got := u.ByOperation["getDeal"]; got.Requests != 1 || got.TokenCost != explain.GetDealTokenCost {
		t.Errorf("getDeal usage %+v", got)
	}
	f.noValidationErrors()
}

func TestFollowUpSkipsClosedDeal(t *testing.T) {
	f := newFixture(t)
	dealID := f.SB.AddDeal(pipedrivetest.Deal{Title: "Gone", Status: "lost"})
	d := store.Decision{DealID: dealID, SignalKey: "SIG#gmail#lost", Action: store.ActionStay, Flag: intent.FlagFollowUp}
	ctx := context.Background()
	if _, err := f.Store.PutDecision(ctx, d); err != nil {
		t.Fatal(err)
	}
	r, err := f.writer(false, true).FollowUp(ctx, d)
	if err != nil || r.Posted || !strings.Contains(r.Skipped, "lost") {
		t.Fatalf("%+v %v", r, err)
	}
	m, _ := f.Store.GetExplanation(ctx, dealID, d.SortKey(), store.ExplainActivity)
	if m.State != store.ExplainSkipped || len(f.SB.Activities(dealID)) != 0 {
		t.Errorf("marker %+v, activities %d", m, len(f.SB.Activities(dealID)))
	}
	f.noValidationErrors()
}

// A refusal (nothing created) releases the marker so a later run posts; an
// unknown outcome (5xx) is never re-sent.
func TestRefusalIsRetriedUnknownOutcomeIsNot(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	w := f.writer(true, false)

	refused := f.SB.AddDeal(pipedrivetest.Deal{Title: "Refused", StageID: pipedrivetest.StageProposalMade})
	d1, out := f.moved(refused)
	f.SB.InjectFault(pipedrivetest.Fault{Method: "POST", PathPrefix: "/v1/notes", Status: 400, Times: 1})
	if _, err := w.AfterMove(ctx, d1, out); err == nil || errors.Is(err, explain.ErrUncertain) {
		t.Fatalf("refused note: %v", err)
	}
	if r, err := w.AfterMove(ctx, d1, out); err != nil || !r.Posted {
		t.Fatalf("retry after refusal: %+v %v", r, err)
	}
	if n := len(f.SB.Notes(refused)); n != 1 {
		t.Errorf("refused then retried: %d notes", n)
	}

	lost := f.SB.AddDeal(pipedrivetest.Deal{Title: "Lost answer", StageID: pipedrivetest.StageProposalMade})
	d2 := d1
	d2.DealID = lost
	if _, err := f.Store.PutDecision(ctx, d2); err != nil {
		t.Fatal(err)
	}
	// The note is created, then the answer is a 502.
	f.SB.InjectFault(pipedrivetest.Fault{Method: "POST", PathPrefix: "/v1/notes", Status: 502, Times: 1, ApplyBeforeDelay: true})
	if _, err := w.AfterMove(ctx, d2, out); !errors.Is(err, explain.ErrUncertain) {
		t.Fatalf("lost answer: %v", err)
	}
	if r, err := w.AfterMove(ctx, d2, out); err != nil || r.Posted {
		t.Fatalf("re-run after an unknown outcome must not post: %+v %v", r, err)
	}
	if n := len(f.SB.Notes(lost)); n != 1 {
		t.Errorf("lost answer: %d notes, want exactly the one created", n)
	}
	m, _ := f.Store.GetExplanation(ctx, lost, d2.SortKey(), store.ExplainNote)
	if m.State != store.ExplainUncertain {
		t.Errorf("marker %+v", m)
	}
	if strings.Contains(f.logs.String(), token) {
		t.Error("the API token appears in the logs")
	}
}

func TestClaimNeedsTheDecision(t *testing.T) {
	f := newFixture(t)
	err := f.Store.ClaimExplanation(context.Background(), 999, "DEC#nope", store.ExplainNote, "me")
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("claim on a missing decision: %v", err)
	}
}
