package main

// These tests run the real bootstrap (built as for Lambda) under the Lambda
// Runtime Interface Emulator, against DynamoDB Local, an in-process Secrets
// Manager (kumo) holding the Pipedrive token, and the Pipedrive sandbox.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stagemover/stagemover/shared/dev/ddblocal"
	"github.com/stagemover/stagemover/shared/pipedrive/pipedrivetest"
	"github.com/stagemover/stagemover/shared/store"
	"github.com/stagemover/stagemover/shared/testkit/lambdatest"
)

func TestMain(m *testing.M) {
	code := ddblocal.RunTests(m)
	lambdatest.Cleanup()
	os.Exit(code)
}

// In the sandbox's seeded "Sales" pipeline.
const (
	stageDemoScheduled = 3
	stageProposalMade  = 4
)

type fixture struct {
	tbl       *ddblocal.TestTable
	store     *store.Store
	pd        *pipedrivetest.Server
	env       map[string]string
	bootstrap string
	token     string
	event     []byte
	decision  store.Decision
	patchPath string
}

func setup(t *testing.T, leaseSeconds int) *fixture {
	bootstrap := lambdatest.Build(t, "mover")
	tbl := ddblocal.ForTest(t)
	sm := lambdatest.StartSecretsManager(t)
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	token := "pd-" + hex.EncodeToString(b)
	pd, err := pipedrivetest.Start(pipedrivetest.Options{Token: token})
	if err != nil {
		t.Fatalf("pipedrive sandbox: %v", err)
	}
	t.Cleanup(pd.Close)

	// The decision of the sample event, stored as the evaluator stores it,
	// for a deal the sandbox has, one stage before the target.
	event := lambdatest.Event(t, "mover.json")
	d, err := store.DecisionFromItem(lambdatest.NewImage(t, lambdatest.StreamEvent(t, event), 0))
	if err != nil {
		t.Fatal(err)
	}
	pd.AddDeal(pipedrivetest.Deal{ID: d.DealID, StageID: stageDemoScheduled, Title: "Northwind Logistics - route optimisation, 40 seats"})
	st := store.New(tbl.DB, tbl.Name)
	if created, err := st.PutDecision(context.Background(), d); err != nil || !created {
		t.Fatalf("PutDecision: %v %v", created, err)
	}

	f := &fixture{
		tbl: tbl, store: st, pd: pd, bootstrap: bootstrap, token: token, event: event, decision: d,
		patchPath: fmt.Sprintf("/api/v2/deals/%d", d.DealID),
	}
	f.env = map[string]string{
		"TABLE_NAME":                       tbl.Name,
		"STAGEMOVER_MODE":                  "live",
		"PIPEDRIVE_BASE_URL":               pd.URL(),
		"PIPEDRIVE_INTEGRATION_USER_ID":    fmt.Sprint(pd.IntegrationUserID()),
		"INTERNAL_DOMAINS":                 "acme-routing.io",
		"METRICS_NAMESPACE":                "StageMover",
		"PIPEDRIVE_TOKEN_SECRET_ARN":       sm.Put(t, "stagemover/pipedrive-token", `{"api_token":"`+token+`"}`),
		"MOVER_LEASE_SECONDS":              fmt.Sprint(leaseSeconds),
		"AWS_ENDPOINT_URL_DYNAMODB":        tbl.Instance.Endpoint(),
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": sm.Endpoint,
	}
	return f
}

func (f *fixture) invoke(t *testing.T, rie *lambdatest.RIE) events.DynamoDBEventResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := rie.Invoke(ctx, f.event)
	if err != nil {
		t.Fatalf("invoke: %v\nfunction output:\n%s", err, rie.Output())
	}
	var resp events.DynamoDBEventResponse
	if err := json.Unmarshal(out, &resp); err != nil || strings.Contains(string(out), "errorMessage") {
		t.Fatalf("not a batch response: %s\nfunction output:\n%s", out, rie.Output())
	}
	return resp
}

func (f *fixture) current(t *testing.T) store.Decision {
	t.Helper()
	d, err := f.store.GetDecision(context.Background(), f.decision.DealID, f.decision.SortKey())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (f *fixture) stage(t *testing.T) int64 {
	t.Helper()
	deal, ok := f.pd.Deal(f.decision.DealID)
	if !ok {
		t.Fatal("sandbox lost the deal")
	}
	return deal.StageID
}

func (f *fixture) check(t *testing.T, output string) {
	t.Helper()
	lambdatest.AssertNoSecrets(t, output, f.token)
	for _, v := range f.pd.ValidationErrors() {
		t.Errorf("request broke Pipedrive's OpenAPI spec: %s", v)
	}
}

func TestMoverMovesOnce(t *testing.T) {
	f := setup(t, 60)
	rie := lambdatest.Start(t, f.bootstrap, f.env)

	if resp := f.invoke(t, rie); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("batch item failures %v\n%s", resp.BatchItemFailures, rie.Output())
	}
	if n := f.pd.Count("PATCH", f.patchPath); n != 1 {
		t.Fatalf("%d PATCH %s, want 1\n%s", n, f.patchPath, rie.Output())
	}
	if got := f.stage(t); got != stageProposalMade {
		t.Errorf("deal at stage %d, want %d (Proposal Made)", got, stageProposalMade)
	}
	d := f.current(t)
	if d.State != store.StateDone || d.Shadow || d.FromStageID != stageDemoScheduled || d.ToStageID != stageProposalMade || d.Attempts != 1 {
		t.Errorf("decision after the move: %+v", d)
	}

	// The stream delivers the record again (a retry of the batch).
	if resp := f.invoke(t, rie); len(resp.BatchItemFailures) != 0 {
		t.Errorf("redelivery: batch item failures %v", resp.BatchItemFailures)
	}
	if n := f.pd.Count("PATCH", f.patchPath); n != 1 {
		t.Errorf("%d PATCH %s after a redelivery, want still 1", n, f.patchPath)
	}
	if d2 := f.current(t); d2.State != store.StateDone || d2.Attempts != 1 || d2.StateReason != d.StateReason {
		t.Errorf("decision changed on redelivery: %+v", d2)
	}
	f.check(t, rie.Output())
}

// The acceptance case: the mover dies after Pipedrive applied the PATCH and
// before it recorded the decision as done. The stream retries the record in
// a new execution environment once the lease has run out; the deal must not
// be patched again, and the decision ends done saying why.
func TestMoverCrashAfterPatchMovesOnce(t *testing.T) {
	const lease = 4 // seconds; the mover gives itself lease-2 s per attempt
	f := setup(t, lease)
	// Pipedrive applies the PATCH, then the answer stalls.
	f.pd.InjectFault(pipedrivetest.Fault{Method: "PATCH", PathPrefix: f.patchPath, ApplyBeforeDelay: true, Delay: time.Minute, Times: 1})

	rie := lambdatest.Start(t, f.bootstrap, f.env)
	done := make(chan error, 1)
	go func() {
		_, err := rie.Invoke(context.Background(), f.event)
		done <- err
	}()
	// The sandbox logs a request only once it is answered, so "the PATCH
	// happened" is the deal having moved.
	lambdatest.WaitFor(t, 30*time.Second, "the sandbox to apply the PATCH", func() bool { return f.stage(t) == stageProposalMade })
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
	crashed := f.current(t)
	if crashed.State != store.StateInFlight || crashed.Attempts != 1 {
		t.Fatalf("after the crash the decision should be in flight from attempt 1; it is %+v\n%s", crashed, first)
	}

	// Lambda retries in a fresh environment; the record is only taken again
	// after the dead holder's lease has run out.
	rie2 := lambdatest.Start(t, f.bootstrap, f.env)
	if wait := time.Until(crashed.LeaseUntil) + 200*time.Millisecond; wait > 0 {
		time.Sleep(wait)
	}
	if resp := f.invoke(t, rie2); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("retry: batch item failures %v\n%s", resp.BatchItemFailures, rie2.Output())
	}
	d := f.current(t)
	if d.State != store.StateDone || d.Attempts != 2 || !strings.Contains(d.StateReason, "earlier attempt") {
		t.Errorf("decision after the retry: state %s, attempts %d, reason %q; want done after an earlier attempt", d.State, d.Attempts, d.StateReason)
	}
	t.Logf("decision: %s after %d attempts: %s", d.State, d.Attempts, d.StateReason)
	for _, r := range f.pd.Requests() {
		t.Logf("sandbox log: %s %s -> %d", r.Method, r.Path, r.Status)
	}
	if n := f.pd.Count("PATCH", f.patchPath); n != 1 {
		t.Errorf("%d PATCH %s in the sandbox's log, want exactly 1", n, f.patchPath)
	}
	if got := f.stage(t); got != stageProposalMade {
		t.Errorf("deal at stage %d, want %d", got, stageProposalMade)
	}
	f.check(t, first+rie2.Output())
}
