package pdhooks_test

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/stagemover/stagemover/shared/core/evaluator"
	"github.com/stagemover/stagemover/shared/core/intent"
	"github.com/stagemover/stagemover/shared/core/mover"
	"github.com/stagemover/stagemover/shared/core/signal"
	"github.com/stagemover/stagemover/shared/pipedrive/pipedrivetest"
	"github.com/stagemover/stagemover/shared/platform/ddbevent"
	"github.com/stagemover/stagemover/shared/platform/metrics"
	"github.com/stagemover/stagemover/shared/source/pdhooks"
	"github.com/stagemover/stagemover/shared/store"
)

// A person deletes a deal in Pipedrive: the delete webhook (v2: data null,
// previous holds the deal) records the deal as deleted in the mirror; the
// evaluator then leaves the deal's new evidence alone, and a move decided
// before the deletion is skipped with a reason by the mover, once.
func TestDeletedDealIsMirroredAndNeverEvaluatedOrMoved(t *testing.T) {
	e := setup(t)
	r := &pdhooks.Registrar{API: e.client, URL: e.url, Auth: pdhooks.Credentials{User: hookUser, Password: hookPass}, Log: slog.New(slog.DiscardHandler)}
	if _, err := r.Ensure(e.ctx, nil); err != nil {
		t.Fatal(err)
	}
	id := e.sb.AddDeal(pipedrivetest.Deal{Title: "Globex – pilot", StageID: stQualified})
	if err := e.sb.MoveDealAsUser(id, stContact, human); err != nil {
		t.Fatal(err)
	}
	e.wait()
	if ds, err := e.st.GetDealState(e.ctx, id); err != nil || ds.Status != "open" || ds.StageID != stContact {
		t.Fatalf("mirror before the deletion: %+v %v", ds, err)
	}
	// a move decided before the deletion, not yet taken by the mover
	pending := store.Decision{DealID: id, SignalKey: "SIG#generic#before-delete", EventID: "before-delete", Action: store.ActionMove,
		TargetStage: "Proposal Made", TargetPipeline: "Sales", Rule: "proposal-asked"}
	if _, err := e.st.PutDecision(e.ctx, pending); err != nil {
		t.Fatal(err)
	}

	if err := e.sb.UpdateDealAsUser(id, human, map[string]any{"is_deleted": true}); err != nil {
		t.Fatal(err)
	}
	e.wait()
	var del pipedrivetest.Delivery
	for _, d := range e.sb.Deliveries() {
		if d.EntityID == id && d.Action == "delete" {
			del = d
		}
	}
	if del.EventID == "" {
		t.Fatalf("no delete delivery: the registration does not subscribe to delete.deal (%+v)", e.sb.Subscriptions())
	}
	if !strings.Contains(e.logs.String(), `"outcome":"deleted"`) {
		t.Fatalf("delete webhook not processed as a deletion:\n%s", e.logs.String())
	}
	ds, err := e.st.GetDealState(e.ctx, id)
	if err != nil || ds.Status != store.DealDeleted || ds.StageID != stContact || ds.Stage != "Contact Made" || ds.Pipeline != "Sales" {
		t.Fatalf("mirror after the deletion: %+v %v, want status deleted at Contact Made", ds, err)
	}
	// a redelivery is a duplicate; an older change arriving late does not revive the deal
	if code, body := e.post(del.Payload, hookUser, hookPass); code != http.StatusOK || !strings.Contains(body, "duplicate") {
		t.Fatalf("redelivered delete: %d %s", code, body)
	}
	if code, body := e.post(payload("late-1", id, human, stDemo, stContact, false, time.Now().Add(-time.Minute)), hookUser, hookPass); code != http.StatusOK {
		t.Fatalf("late change: %d %s", code, body)
	}
	if ds, _ := e.st.GetDealState(e.ctx, id); ds.Status != store.DealDeleted {
		t.Fatalf("a late change revived the deleted deal in the mirror: %+v", ds)
	}

	// new evidence for the deleted deal: the evaluator records no decision
	engine, err := intent.NewDefaultEngine("")
	if err != nil {
		t.Fatal(err)
	}
	ev := &evaluator.Evaluator{Store: e.st, Engine: engine, InternalDomains: []string{"vendor.example"}, Window: 90 * 24 * time.Hour,
		Now: time.Now, Log: slog.New(slog.NewJSONHandler(e.logs, nil)), Metrics: metrics.New(nil, "StageMover", "evaluator")}
	sig := store.SignalRecord{Source: "generic", EventID: "after-delete", DealID: id, PersonEmail: "ann@buyer.example", ReceivedAt: time.Now(),
		Signal: signal.Signal{Kind: signal.KindDocument, At: time.Now().Add(-time.Minute), Action: "sent", DocType: "proposal", Name: "Proposal", Actor: "rep@vendor.example"}}
	if _, err := e.st.PutSignal(e.ctx, sig); err != nil {
		t.Fatal(err)
	}
	before, err := e.st.DecisionsForDeal(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := ev.Handle(e.ctx, events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{signalRecord(t, e, sig)}})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("evaluator: %v %v", resp, err)
	}
	if after, _ := e.st.DecisionsForDeal(e.ctx, id); len(after) != len(before) {
		t.Fatalf("the evaluator decided on a deleted deal: %d decisions, had %d", len(after), len(before))
	}

	// the move decided before the deletion: skipped with a reason, no PATCH, no retry
	m := &mover.Mover{Store: e.st, Pipedrive: e.client, Stages: e.w.Stages, Live: true, Lease: 10 * time.Second,
		Poll: 20 * time.Millisecond, Now: time.Now, Log: slog.New(slog.NewJSONHandler(e.logs, nil)), Metrics: metrics.New(nil, "StageMover", "mover")}
	patches := e.sb.Count(http.MethodPatch, "/api/v2/deals")
	for i := 0; i < 2; i++ {
		if err := m.Process(e.ctx, pending); err != nil {
			t.Fatalf("run %d: the mover left the decision for a retry: %v", i, err)
		}
	}
	got, err := e.st.GetDecision(e.ctx, id, pending.SortKey())
	if err != nil {
		t.Fatal(err)
	}
	if got.State != store.StateSkipped || !strings.Contains(got.StateReason, "deleted") {
		t.Fatalf("pending move after the deletion: %s %q, want skipped saying deleted", got.State, got.StateReason)
	}
	if e.sb.Count(http.MethodPatch, "/api/v2/deals") != patches {
		t.Fatal("the mover patched a deleted deal")
	}
}

// signalRecord is the stream record the signal's INSERT produces.
func signalRecord(t *testing.T, e *env, rec store.SignalRecord) events.DynamoDBEventRecord {
	t.Helper()
	out, err := e.tt.DB.GetItem(e.ctx, &dynamodb.GetItemInput{TableName: aws.String(e.tt.Name), Key: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: rec.Key()}, "sk": &types.AttributeValueMemberS{Value: "SIG"}}})
	if err != nil {
		t.Fatal(err)
	}
	img, err := ddbevent.FromAttributeValueMap(out.Item)
	if err != nil {
		t.Fatal(err)
	}
	return events.DynamoDBEventRecord{EventName: "INSERT", Change: events.DynamoDBStreamRecord{NewImage: img, SequenceNumber: rec.EventID}}
}
