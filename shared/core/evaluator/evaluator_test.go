package evaluator_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/stagemover/stagemover/shared/app"
	"github.com/stagemover/stagemover/shared/core/evaluator"
	"github.com/stagemover/stagemover/shared/core/intent"
	"github.com/stagemover/stagemover/shared/core/signal"
	"github.com/stagemover/stagemover/shared/dev/ddblocal"
	"github.com/stagemover/stagemover/shared/platform/ddbevent"
	"github.com/stagemover/stagemover/shared/platform/metrics"
	"github.com/stagemover/stagemover/shared/store"
)

func TestMain(m *testing.M) { os.Exit(ddblocal.RunTests(m)) }

var now = time.Date(2026, 3, 6, 12, 0, 0, 0, time.UTC)

type fixture struct {
	t       *testing.T
	tbl     *ddblocal.TestTable
	store   *store.Store
	eval    *evaluator.Evaluator
	metrics *metrics.Recorder
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	tbl := ddblocal.ForTest(t)
	engine, err := app.DefaultEngine("") // the engine the Lambda runs
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, tbl: tbl, store: store.New(tbl.DB, tbl.Name), metrics: metrics.New(nil, "StageMover", "evaluator")}
	f.eval = &evaluator.Evaluator{
		Store: f.store, Engine: engine, InternalDomains: []string{"vendor.example"},
		Window: 90 * 24 * time.Hour, Now: func() time.Time { return now },
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Metrics: f.metrics,
	}
	return f
}

// put stores a signal and returns the stream record its INSERT produces.
func (f *fixture) put(rec store.SignalRecord) events.DynamoDBEventRecord {
	f.t.Helper()
	ctx := context.Background()
	if rec.Source == "" {
		rec.Source = "generic"
	}
	if _, err := f.store.PutSignal(ctx, rec); err != nil {
		f.t.Fatal(err)
	}
	out, err := f.tbl.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(f.tbl.Name), Key: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: rec.Key()}, "sk": &types.AttributeValueMemberS{Value: "SIG"}}})
	if err != nil {
		f.t.Fatal(err)
	}
	img, err := ddbevent.FromAttributeValueMap(out.Item)
	if err != nil {
		f.t.Fatal(err)
	}
	return events.DynamoDBEventRecord{EventName: "INSERT", Change: events.DynamoDBStreamRecord{NewImage: img, SequenceNumber: rec.EventID}}
}

func (f *fixture) handle(recs ...events.DynamoDBEventRecord) events.DynamoDBEventResponse {
	f.t.Helper()
	resp, err := f.eval.Handle(context.Background(), events.DynamoDBEvent{Records: recs})
	if err != nil {
		f.t.Fatal(err)
	}
	return resp
}

func (f *fixture) decisions(dealID int64) []store.Decision {
	f.t.Helper()
	ds, err := f.store.DecisionsForDeal(context.Background(), dealID)
	if err != nil {
		f.t.Fatal(err)
	}
	return ds
}

func proposalSent(at time.Time) signal.Signal {
	return signal.Signal{Kind: signal.KindDocument, At: at, Action: "sent", DocType: "proposal", Name: "Proposal", Actor: "rep@vendor.example"}
}

func TestRerunOfABatchWritesNothingNew(t *testing.T) {
	f := newFixture(t)
	rec := f.put(store.SignalRecord{EventID: "doc-1", DealID: 11, PersonEmail: "ann@buyer.example", Signal: proposalSent(now.Add(-time.Hour))})
	for i := 0; i < 3; i++ {
		if resp := f.handle(rec); len(resp.BatchItemFailures) != 0 {
			t.Fatalf("run %d: %v", i, resp.BatchItemFailures)
		}
	}
	ds := f.decisions(11)
	if len(ds) != 1 {
		t.Fatalf("decisions = %d, want 1 after three runs", len(ds))
	}
	if d := ds[0]; d.Action != store.ActionMove || d.TargetStage != "Proposal Made" || d.Rule == "" || len(d.Reasons) == 0 || d.State != store.StatePending {
		t.Fatalf("decision = %+v", d)
	}
	if got := f.metrics.Total(metrics.DecisionRecorded); got != 1 {
		t.Fatalf("DecisionRecorded = %v, want 1", got)
	}
}

func TestEvidenceAccumulatesAcrossSignals(t *testing.T) {
	f := newFixture(t)
	f.handle(f.put(store.SignalRecord{EventID: "doc-1", DealID: 12, PersonEmail: "ann@buyer.example", Signal: proposalSent(now.Add(-48 * time.Hour))}))
	// A later auto-reply alone moves nothing, but the decision after it
	// still sees the proposal sent before.
	ooo := signal.Signal{Kind: signal.KindEmail, At: now.Add(-time.Hour), From: "ann@buyer.example", To: []string{"rep@vendor.example"},
		Subject: "Automatic reply: proposal", Body: "I am out of the office until Monday.", Headers: map[string]string{"Auto-Submitted": "auto-replied"}}
	f.handle(f.put(store.SignalRecord{EventID: "ooo-1", DealID: 12, Signal: ooo}))
	ds := f.decisions(12)
	if len(ds) != 2 {
		t.Fatalf("decisions = %d, want 2", len(ds))
	}
	for _, d := range ds {
		if d.TargetStage != "Proposal Made" {
			t.Errorf("decision after %s targets %q, want Proposal Made from the accumulated evidence", d.EventID, d.TargetStage)
		}
	}
}

func TestMirrorMakesDecisionsForwardOnly(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := f.store.PutDealState(ctx, store.DealState{DealID: 13, PipelineID: 1, Pipeline: "Sales", StageID: 5, Stage: "Negotiations Started", Status: "open", SeenAt: now}); err != nil {
		t.Fatal(err)
	}
	f.handle(f.put(store.SignalRecord{EventID: "doc-1", DealID: 13, PersonEmail: "ann@buyer.example", Signal: proposalSent(now.Add(-time.Hour))}))
	ds := f.decisions(13)
	if len(ds) != 1 || ds[0].Action != store.ActionStay {
		t.Fatalf("decision = %+v, want stay: the deal is already past Proposal Made", ds)
	}
	// The stay still names the stage the evidence supported, so a person's
	// later move there can be counted as a miss (shared/source/pdhooks).
	if ds[0].TargetStage != "Proposal Made" {
		t.Fatalf("stay decision's evidence stage = %q, want Proposal Made", ds[0].TargetStage)
	}
}

// A deal the mirror has as deleted in Pipedrive (the delete webhook) is not
// evaluated: its evidence leads to no decision, and the record is not retried.
func TestDeletedDealIsNotEvaluated(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := f.store.PutDealState(ctx, store.DealState{DealID: 16, PipelineID: 1, Pipeline: "Sales", StageID: 2, Stage: "Contact Made", Status: store.DealDeleted, SeenAt: now}); err != nil {
		t.Fatal(err)
	}
	resp := f.handle(f.put(store.SignalRecord{EventID: "doc-1", DealID: 16, PersonEmail: "ann@buyer.example", Signal: proposalSent(now.Add(-time.Hour))}))
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("batch failures = %v", resp.BatchItemFailures)
	}
	if ds := f.decisions(16); len(ds) != 0 {
		t.Fatalf("decisions for a deleted deal = %+v, want none", ds)
	}
}

// NewDecision is the one assembly of a decision (the evaluator's and
// backfill's): a move when the verdict changes the deal, else a stay naming
// the stage the evidence supported.
func TestNewDecision(t *testing.T) {
	s := evaluator.Subject{DealID: 7, SignalKey: "SIG#generic#x", EventID: "x", Pipeline: "Sales"}
	for _, c := range []struct {
		name       string
		status     string
		dec        intent.Decision
		action     string
		stage      string
		wantStatus string
	}{
		{"stage move", "", intent.Decision{Stage: "Proposal Made", Status: "open", Evidence: "Proposal Made", Rule: "r"}, store.ActionMove, "Proposal Made", "open"},
		{"won on an open deal", "open", intent.Decision{Status: "won", Rule: "r"}, store.ActionMove, "", "won"},
		{"stay names the evidence", "open", intent.Decision{Status: "open", Evidence: "Proposal Made", Flag: intent.FlagReview, Rule: "r"}, store.ActionStay, "Proposal Made", "open"},
		{"stay without evidence", "", intent.Decision{Status: "open", Rule: "r"}, store.ActionStay, "", "open"},
		{"closed deal stays", "won", intent.Decision{Status: "won", Evidence: "Negotiations Started"}, store.ActionStay, "Negotiations Started", "won"},
	} {
		s.Status = c.status
		d := evaluator.NewDecision(s, c.dec)
		if d.Action != c.action || d.TargetStage != c.stage || d.Status != c.wantStatus || d.DealID != 7 || d.SignalKey != s.SignalKey || d.EventID != "x" || d.TargetPipeline != "Sales" || d.Rule != c.dec.Rule || d.Flag != c.dec.Flag {
			t.Errorf("%s: %+v", c.name, d)
		}
	}
}

func TestStageRequestCarriesItsPipeline(t *testing.T) {
	f := newFixture(t)
	req := signal.Signal{Kind: signal.KindStageRequest, At: now.Add(-time.Minute), Stage: "Demo Scheduled", Pipeline: "Sales"}
	f.handle(f.put(store.SignalRecord{EventID: "form-1", DealID: 14, Signal: req}))
	ds := f.decisions(14)
	if len(ds) != 1 || ds[0].Action != store.ActionMove || ds[0].TargetStage != "Demo Scheduled" || ds[0].TargetPipeline != "Sales" {
		t.Fatalf("decision = %+v", ds)
	}
}

func TestUnusableRecordIsCountedNotRetried(t *testing.T) {
	f := newFixture(t)
	bad := events.DynamoDBEventRecord{EventName: "INSERT", Change: events.DynamoDBStreamRecord{SequenceNumber: "1",
		NewImage: map[string]events.DynamoDBAttributeValue{"type": events.NewStringAttribute("signal"), "payload": events.NewStringAttribute("{not json")}}}
	good := f.put(store.SignalRecord{EventID: "doc-2", DealID: 15, PersonEmail: "ann@buyer.example", Signal: proposalSent(now.Add(-time.Hour))})
	resp := f.handle(bad, good)
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("batch failures = %v; a record that can never be evaluated must not block the shard", resp.BatchItemFailures)
	}
	if f.metrics.Total(metrics.SignalRejected) != 1 || len(f.decisions(15)) != 1 {
		t.Fatalf("rejected = %v, decisions for the good record = %d", f.metrics.Total(metrics.SignalRejected), len(f.decisions(15)))
	}
}

func TestPersonSignalWithoutResolverIsRejected(t *testing.T) {
	f := newFixture(t)
	resp := f.handle(f.put(store.SignalRecord{EventID: "p-1", PersonEmail: "ann@buyer.example", Signal: proposalSent(now.Add(-time.Hour))}))
	if len(resp.BatchItemFailures) != 0 || f.metrics.Total(metrics.SignalRejected) != 1 {
		t.Fatalf("resp = %v, rejected = %v", resp, f.metrics.Total(metrics.SignalRejected))
	}
}
