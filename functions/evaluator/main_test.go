package main

// These tests run the real bootstrap (built as for Lambda) under the Lambda
// Runtime Interface Emulator, against DynamoDB Local, an in-process Secrets
// Manager (kumo) and the Pipedrive sandbox.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
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

func TestEvaluatorRecordsOneDecision(t *testing.T) {
	bootstrap := lambdatest.Build(t, "evaluator")
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

	// The signal of the sample event, stored as the ingest function stores it.
	event := lambdatest.Event(t, "evaluator.json")
	rec, err := store.SignalFromItem(lambdatest.NewImage(t, lambdatest.StreamEvent(t, event), 0))
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(tbl.DB, tbl.Name)
	if created, err := st.PutSignal(context.Background(), rec); err != nil || !created {
		t.Fatalf("PutSignal: %v %v", created, err)
	}
	pd.AddDeal(pipedrivetest.Deal{ID: rec.DealID, StageID: 3, Title: "Northwind Logistics - route optimisation, 40 seats"})

	env := map[string]string{
		"TABLE_NAME":                       tbl.Name,
		"STAGEMOVER_MODE":                  "live",
		"PIPEDRIVE_BASE_URL":               pd.URL(),
		"PIPEDRIVE_INTEGRATION_USER_ID":    fmt.Sprint(pd.IntegrationUserID()),
		"INTERNAL_DOMAINS":                 "acme-routing.io",
		"METRICS_NAMESPACE":                "StageMover",
		"PIPEDRIVE_TOKEN_SECRET_ARN":       sm.Put(t, "stagemover/pipedrive-token", `{"api_token":"`+token+`"}`),
		"AWS_ENDPOINT_URL_DYNAMODB":        tbl.Instance.Endpoint(),
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": sm.Endpoint,
	}
	rie := lambdatest.Start(t, bootstrap, env)

	invoke := func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		out, err := rie.Invoke(ctx, event)
		var ie *lambdatest.InvokeError
		if errors.As(err, &ie) && strings.Contains(rie.Output(), "init failed") {
			t.Fatalf("the evaluator cannot start: %v\n%s", err, rie.Output())
		}
		if err != nil {
			t.Fatalf("invoke: %v\n%s", err, rie.Output())
		}
		var resp events.DynamoDBEventResponse
		if err := json.Unmarshal(out, &resp); err != nil || strings.Contains(string(out), "errorMessage") {
			t.Fatalf("not a batch response: %s\n%s", out, rie.Output())
		}
		if len(resp.BatchItemFailures) != 0 {
			t.Fatalf("batch item failures %v\n%s", resp.BatchItemFailures, rie.Output())
		}
	}

	invoke()
	decisions := lambdatest.Items(t, tbl.DB, tbl.Name, store.TypeDecision)
	if len(decisions) != 1 {
		t.Fatalf("%d decision items after one evaluation, want 1\n%s", len(decisions), rie.Output())
	}
	d, err := store.DecisionFromItem(decisions[0])
	if err != nil {
		t.Fatal(err)
	}
	if d.DealID != rec.DealID || d.SignalKey != rec.Key() || (d.Action != store.ActionMove && d.Action != store.ActionStay) {
		t.Errorf("decision %+v does not belong to signal %s", d, rec.Key())
	}
	wantState := store.StateRecorded
	if d.Action == store.ActionMove {
		wantState = store.StatePending
	}
	if d.State != wantState || (d.Action == store.ActionMove && len(d.Reasons) == 0) {
		t.Errorf("decision %+v: want state %s (and reasons for a move)", d, wantState)
	}
	t.Logf("decision: %s %q (rule %s, %d reasons)", d.Action, d.TargetStage, d.Rule, len(d.Reasons))

	// The stream delivers the same record again: nothing new is written.
	invoke()
	again := lambdatest.Items(t, tbl.DB, tbl.Name, store.TypeDecision)
	if len(again) != 1 {
		t.Errorf("%d decision items after a redelivery, want still 1", len(again))
	} else if d2, _ := store.DecisionFromItem(again[0]); !d2.UpdatedAt.Equal(d.UpdatedAt) || d2.State != d.State {
		t.Errorf("decision rewritten on redelivery: %+v", d2)
	}
	lambdatest.AssertNoSecrets(t, rie.Output(), token)
}
