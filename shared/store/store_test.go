package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/stagemover/stagemover/shared/core/signal"
	"github.com/stagemover/stagemover/shared/dev/ddblocal"
	"github.com/stagemover/stagemover/shared/store"
)

func TestMain(m *testing.M) { os.Exit(ddblocal.RunTests(m)) }

// clock is a settable time source shared by a store and a test.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock        { c := &clock{}; c.ns.Store(t.UnixNano()); return c }
func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func newStore(t *testing.T, c *clock) (*store.Store, *ddblocal.TestTable) {
	t.Helper()
	tbl := ddblocal.ForTest(t)
	return store.New(tbl.DB, tbl.Name, store.WithClock(c.Now)), tbl
}

func countItems(t *testing.T, tbl *ddblocal.TestTable) int {
	t.Helper()
	out, err := tbl.DB.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(tbl.Name), Select: "COUNT"})
	if err != nil {
		t.Fatal(err)
	}
	return int(out.Count)
}

func emailAt(at time.Time, body string) signal.Signal {
	return signal.Signal{Kind: signal.KindEmail, At: at, From: "buyer@acme.example", To: []string{"rep@vendor.example"}, Body: body}
}

func TestPutSignalIsIdempotentUnderConcurrency(t *testing.T) {
	c := newClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	s, tbl := newStore(t, c)
	rec := store.SignalRecord{Source: "generic", EventID: "evt-1", DealID: 42, ReceivedAt: c.Now(), Signal: emailAt(c.Now(), "Can we talk pricing?")}

	var created atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.PutSignal(context.Background(), rec)
			if err != nil {
				t.Error(err)
			}
			if ok {
				created.Add(1)
			}
		}()
	}
	wg.Wait()
	if created.Load() != 1 {
		t.Fatalf("created = %d, want exactly 1", created.Load())
	}
	if n := countItems(t, tbl); n != 1 {
		t.Fatalf("items = %d, want 1", n)
	}
}

func TestSignalsForDealOrderSinceAndLimit(t *testing.T) {
	base := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	c := newClock(base)
	s, _ := newStore(t, c)
	ctx := context.Background()
	// Written out of order, plus one for another deal and one for a person.
	for _, i := range []int{3, 1, 4, 0, 2} {
		rec := store.SignalRecord{Source: "generic", EventID: fmt.Sprintf("e%d", i), DealID: 7, Signal: emailAt(base.Add(time.Duration(i)*time.Hour), fmt.Sprint(i))}
		if _, err := s.PutSignal(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.PutSignal(ctx, store.SignalRecord{Source: "generic", EventID: "other", DealID: 8, Signal: emailAt(base, "x")}); err != nil {
		t.Fatal(err)
	}
	got, err := s.SignalsForDeal(ctx, 7, base.Add(time.Hour), 3)
	if err != nil {
		t.Fatal(err)
	}
	var bodies string
	for _, r := range got {
		bodies += r.Signal.Body
	}
	// since excludes 0; limit 3 keeps the newest three, returned oldest first.
	if bodies != "234" {
		t.Fatalf("bodies = %q, want \"234\"", bodies)
	}
}

func TestAssignPersonSignal(t *testing.T) {
	c := newClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	s, _ := newStore(t, c)
	ctx := context.Background()
	rec := store.SignalRecord{Source: "generic", EventID: "p1", PersonEmail: "Buyer@Acme.example", Signal: emailAt(c.Now(), "hello")}
	if _, err := s.PutSignal(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.SignalsForDeal(ctx, 99, c.Now().Add(-time.Hour), 10); len(got) != 0 {
		t.Fatalf("unassigned person signal listed under a deal: %v", got)
	}
	if err := s.AssignSignal(ctx, rec, 99); err != nil {
		t.Fatal(err)
	}
	got, err := s.SignalsForDeal(ctx, 99, c.Now().Add(-time.Hour), 10)
	if err != nil || len(got) != 1 || got[0].DealID != 99 || got[0].PersonEmail != "buyer@acme.example" {
		t.Fatalf("after assign: %+v, %v", got, err)
	}
	missing := store.SignalRecord{Source: "generic", EventID: "nope"}
	if err := s.AssignSignal(ctx, missing, 99); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("assign of a missing signal: err = %v, want ErrConflict", err)
	}
}

func moveDecision() store.Decision {
	return store.Decision{DealID: 5, SignalKey: "SIG#generic#e1", EventID: "e1", Action: store.ActionMove, TargetStage: "Proposal Made",
		Status: "open", Rule: "proposal_sent", Reasons: []store.Reason{{Signal: 0, Kind: "document", Cue: "proposal_sent", Counted: true}}}
}

func TestDecisionStateMachine(t *testing.T) {
	c := newClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	s, _ := newStore(t, c)
	ctx := context.Background()
	d := moveDecision()

	created, err := s.PutDecision(ctx, d)
	if err != nil || !created {
		t.Fatalf("first put: created=%v err=%v", created, err)
	}
	if created, err = s.PutDecision(ctx, d); err != nil || created {
		t.Fatalf("re-run put: created=%v err=%v, want false, nil", created, err)
	}
	got, err := s.GetDecision(ctx, d.DealID, d.SortKey())
	if err != nil || got.State != store.StatePending || len(got.Reasons) != 1 || got.Reasons[0].Cue != "proposal_sent" {
		t.Fatalf("stored decision: %+v, %v", got, err)
	}

	claimed, err := s.Claim(ctx, d.DealID, d.SortKey(), "a", 10*time.Second)
	if err != nil || claimed.State != store.StateInFlight || claimed.Attempts != 1 || claimed.LeaseOwner != "a" {
		t.Fatalf("claim a: %+v, %v", claimed, err)
	}
	cur, err := s.Claim(ctx, d.DealID, d.SortKey(), "b", 10*time.Second)
	if !errors.Is(err, store.ErrConflict) || cur.State != store.StateInFlight || cur.LeaseOwner != "a" {
		t.Fatalf("claim b during a's lease: %+v, %v; want ErrConflict with a's state", cur, err)
	}
	if err := s.Finish(ctx, d.DealID, d.SortKey(), "b", store.Outcome{State: store.StateDone}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("finish by non-owner: err = %v, want ErrConflict", err)
	}

	c.Advance(11 * time.Second) // a crashed; its lease ran out
	claimed, err = s.Claim(ctx, d.DealID, d.SortKey(), "b", 10*time.Second)
	if err != nil || claimed.Attempts != 2 || claimed.LeaseOwner != "b" {
		t.Fatalf("claim b after lease expiry: %+v, %v", claimed, err)
	}
	if err := s.Finish(ctx, d.DealID, d.SortKey(), "a", store.Outcome{State: store.StateDone}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("late finish by the old owner: err = %v, want ErrConflict", err)
	}
	if err := s.Finish(ctx, d.DealID, d.SortKey(), "b", store.Outcome{State: store.StateDone, Reason: "moved", FromStageID: 2, ToStageID: 4}); err != nil {
		t.Fatal(err)
	}
	cur, err = s.Claim(ctx, d.DealID, d.SortKey(), "c", 10*time.Second)
	if !errors.Is(err, store.ErrConflict) || cur.State != store.StateDone || cur.StateReason != "moved" || cur.ToStageID != 4 {
		t.Fatalf("claim after done: %+v, %v", cur, err)
	}
}

func TestReleasedDecisionCanBeClaimedAgain(t *testing.T) {
	c := newClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	s, _ := newStore(t, c)
	ctx := context.Background()
	d := moveDecision()
	if _, err := s.PutDecision(ctx, d); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Claim(ctx, d.DealID, d.SortKey(), "a", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(ctx, d.DealID, d.SortKey(), "a", store.Outcome{State: store.StatePending, Reason: "429"}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Claim(ctx, d.DealID, d.SortKey(), "b", time.Minute); err != nil || got.Attempts != 2 {
		t.Fatalf("claim after release: %+v, %v", got, err)
	}
}

func TestStayDecisionIsNeverClaimable(t *testing.T) {
	c := newClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	s, _ := newStore(t, c)
	ctx := context.Background()
	d := moveDecision()
	d.Action, d.TargetStage = store.ActionStay, ""
	if _, err := s.PutDecision(ctx, d); err != nil {
		t.Fatal(err)
	}
	if cur, err := s.Claim(ctx, d.DealID, d.SortKey(), "a", time.Minute); !errors.Is(err, store.ErrConflict) || cur.State != store.StateRecorded {
		t.Fatalf("claim of a stay decision: %+v, %v", cur, err)
	}
}

func TestDealStateKeepsNewestObservation(t *testing.T) {
	c := newClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	s, _ := newStore(t, c)
	ctx := context.Background()
	newer := store.DealState{DealID: 3, PipelineID: 1, Pipeline: "Sales", StageID: 4, Stage: "Proposal Made", Status: "open", SeenAt: c.Now()}
	older := newer
	older.StageID, older.Stage, older.SeenAt = 2, "Contact Made", c.Now().Add(-time.Minute)
	if err := s.PutDealState(ctx, newer); err != nil {
		t.Fatal(err)
	}
	if err := s.PutDealState(ctx, older); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetDealState(ctx, 3)
	if err != nil || got.Stage != "Proposal Made" {
		t.Fatalf("mirror = %+v, %v; want the newer observation", got, err)
	}
	if _, err := s.GetDealState(ctx, 4); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing mirror: err = %v, want ErrNotFound", err)
	}
}
