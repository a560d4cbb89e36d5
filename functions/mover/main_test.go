package main

// The mover's sample run (a move, once, and its redelivery) is a row of
// TestEveryFunctionWithItsSample (shared/testkit/lambdatest); this is its
// crash test: the real bootstrap (built as for Lambda) under the Lambda
// Runtime Interface Emulator, killed mid-move, against DynamoDB Local, the
// in-process Secrets Manager and the Pipedrive sandbox.

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/pipedrive/pipedrivetest"
	"github.com/stagemover/stagemover/shared/store"
	"github.com/stagemover/stagemover/shared/testkit"
	"github.com/stagemover/stagemover/shared/testkit/lambdatest"
)

func TestMain(m *testing.M) { os.Exit(lambdatest.RunTests(m)) }

// In the sandbox's seeded "Sales" pipeline.
const (
	stageDemoScheduled = 3
	stageProposalMade  = 4
)

// The acceptance case: the mover dies after Pipedrive applied the PATCH and
// before it recorded the decision as done. The stream retries the record in
// a new execution environment once the lease has run out; the deal must not
// be patched again, and the decision ends done saying why.
func TestMoverCrashAfterPatchMovesOnce(t *testing.T) {
	const lease = 4 // seconds; the mover gives itself lease-2 s per attempt
	f := lambdatest.NewFixture(t, "mover")
	f.Env["MOVER_LEASE_SECONDS"] = fmt.Sprint(lease)
	pd, _ := f.Pipedrive(t)
	// The decision of the sample event, stored as the evaluator stores it,
	// for a deal the sandbox has, one stage before the target.
	event := testkit.Event(t, "mover.json")
	dec, err := store.DecisionFromItem(lambdatest.NewImage(t, lambdatest.StreamEvent(t, event), 0))
	if err != nil {
		t.Fatal(err)
	}
	pd.AddDeal(pipedrivetest.Deal{ID: dec.DealID, StageID: stageDemoScheduled, Title: "Northwind Logistics - route optimisation, 40 seats"})
	st := store.New(f.Table.DB, f.Table.Name)
	if created, err := st.PutDecision(context.Background(), dec); err != nil || !created {
		t.Fatalf("PutDecision: %v %v", created, err)
	}
	patchPath := fmt.Sprintf("/api/v2/deals/%d", dec.DealID)
	current := func() store.Decision {
		t.Helper()
		d, err := st.GetDecision(context.Background(), dec.DealID, dec.SortKey())
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	stage := func() int64 {
		deal, ok := pd.Deal(dec.DealID)
		if !ok {
			t.Fatal("sandbox lost the deal")
		}
		return deal.StageID
	}
	// Pipedrive applies the PATCH, then the answer stalls.
	pd.InjectFault(pipedrivetest.Fault{Method: "PATCH", PathPrefix: patchPath, ApplyBeforeDelay: true, Delay: time.Minute, Times: 1})

	rie := f.Start(t)
	done := make(chan error, 1)
	go func() {
		_, err := rie.Invoke(context.Background(), event)
		done <- err
	}()
	// The sandbox logs a request only once it is answered, so "the PATCH
	// happened" is the deal having moved.
	lambdatest.WaitFor(t, 30*time.Second, "the sandbox to apply the PATCH", func() bool { return stage() == stageProposalMade })
	rie.Kill()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("the invoke in flight succeeded although the function was killed")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the invoke in flight did not end after the kill")
	}
	first := rie.Output()
	crashed := current()
	if crashed.State != store.StateInFlight || crashed.Attempts != 1 {
		t.Fatalf("after the crash the decision should be in flight from attempt 1; it is %+v\n%s", crashed, first)
	}

	// Lambda retries in a fresh environment; the record is only taken again
	// after the dead holder's lease has run out.
	rie2 := f.Start(t)
	if wait := time.Until(crashed.LeaseUntil) + 200*time.Millisecond; wait > 0 {
		time.Sleep(wait)
	}
	if resp := rie2.InvokeBatch(t, event); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("retry: batch item failures %v\n%s", resp.BatchItemFailures, rie2.Output())
	}
	d := current()
	if d.State != store.StateDone || d.Attempts != 2 || !strings.Contains(d.StateReason, "earlier attempt") {
		t.Errorf("decision after the retry: state %s, attempts %d, reason %q; want done after an earlier attempt", d.State, d.Attempts, d.StateReason)
	}
	t.Logf("decision: %s after %d attempts: %s", d.State, d.Attempts, d.StateReason)
	for _, r := range pd.Requests() {
		t.Logf("sandbox log: %s %s -> %d", r.Method, r.Path, r.Status)
	}
	if n := pd.Count("PATCH", patchPath); n != 1 {
		t.Errorf("%d PATCH %s in the sandbox's log, want exactly 1", n, patchPath)
	}
	if got := stage(); got != stageProposalMade {
		t.Errorf("deal at stage %d, want %d", got, stageProposalMade)
	}
	f.AssertNoSecrets(t, first+rie2.Output())
	for _, v := range pd.ValidationErrors() {
		t.Errorf("request broke Pipedrive's OpenAPI spec: %s", v)
	}
}
