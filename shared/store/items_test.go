package store_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/stagemover/stagemover/shared/store"
)

// rawItem reads an item as stored, to check attributes no reader returns.
func rawItem(t *testing.T, db *dynamodb.Client, table, pk, sk string) map[string]types.AttributeValue {
	t.Helper()
	out, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(table), Key: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk}}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

func number(item map[string]types.AttributeValue, name string) int64 {
	v, _ := item[name].(*types.AttributeValueMemberN)
	if v == nil {
		return 0
	}
	n, _ := strconv.ParseInt(v.Value, 10, 64)
	return n
}

func TestWebhookEventRecordedOnce(t *testing.T) {
	c := newClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	s, tbl := newStore(t, c)
	ctx := context.Background()
	received := c.Now().Add(time.Hour) // the handler's clock, not the store's, starts the TTL
	e := store.WebhookEvent{ID: "0b1c2d3e", Action: "change", Entity: "deal", EntityID: 42, UserID: 1001, ChangeSource: "app",
		Outcome: "revert", EventAt: c.Now(), ReceivedAt: received}

	if seen, err := s.WebhookEventSeen(ctx, e.ID); err != nil || seen {
		t.Fatalf("before: seen=%v err=%v", seen, err)
	}
	if created, err := s.PutWebhookEvent(ctx, e); err != nil || !created {
		t.Fatalf("first put: created=%v err=%v", created, err)
	}
	e.Outcome = "mirrored" // a redelivery processed again stores nothing new
	if created, err := s.PutWebhookEvent(ctx, e); err != nil || created {
		t.Fatalf("second put: created=%v err=%v, want false, nil", created, err)
	}
	if seen, err := s.WebhookEventSeen(ctx, e.ID); err != nil || !seen {
		t.Fatalf("after: seen=%v err=%v", seen, err)
	}
	item := rawItem(t, tbl.DB, tbl.Name, "PDHOOK#"+e.ID, "EVENT")
	if got := item["outcome"].(*types.AttributeValueMemberS).Value; got != "revert" {
		t.Errorf("outcome = %q, want the first delivery's", got)
	}
	if got, want := number(item, "expires_at"), received.Add(store.WebhookTTL).Unix(); got != want {
		t.Errorf("expires_at = %d, want %d", got, want)
	}
	if _, ok := item["correlation_id"]; ok {
		t.Error("an empty correlation id was stored")
	}
	if n := countItems(t, tbl); n != 1 {
		t.Fatalf("items = %d, want 1", n)
	}
}

func TestMeasuresStoredOnceAndListedByDeal(t *testing.T) {
	c := newClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	s, tbl := newStore(t, c)
	ctx := context.Background()
	d := moveDecision()
	if _, err := s.PutDecision(ctx, d); err != nil {
		t.Fatal(err)
	}
	at := c.Now().Add(time.Hour)
	revert := store.Measure{Type: store.TypeRevert, DealID: d.DealID, EventID: "ev-1", DecisionKey: d.SortKey(), Rule: d.Rule,
		Pipeline: "Sales", PipelineID: 1, Kind: "backward", FromStageID: 4, ToStageID: 2, UserID: 1001, At: at, DecidedAt: c.Now()}
	miss := revert
	miss.Type, miss.EventID, miss.Kind = store.TypeMiss, "ev-2", "stay"
	confirmed := revert
	confirmed.Type, confirmed.EventID, confirmed.Kind = store.TypeConfirmed, "ev-3", "shadow"
	for _, m := range []store.Measure{revert, miss, confirmed} {
		if created, err := s.PutMeasure(ctx, m, at); err != nil || !created {
			t.Fatalf("%s: created=%v err=%v", m.Type, created, err)
		}
	}
	// the same event redelivered, and the same shadow decision confirmed by a later event
	again := confirmed
	again.EventID = "ev-4"
	for _, m := range []store.Measure{revert, again} {
		if created, err := s.PutMeasure(ctx, m, at); err != nil || created {
			t.Fatalf("repeated %s: created=%v err=%v, want false, nil", m.Type, created, err)
		}
	}
	ms, err := s.MeasuresForDeal(ctx, d.DealID)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, m := range ms {
		kinds = append(kinds, m.Type)
	}
	if strings.Join(kinds, ",") != "shadow_confirmed,miss,revert" {
		t.Fatalf("measures = %v", kinds)
	}
	if got := ms[2]; got.EventID != "ev-1" || got.DecisionKey != d.SortKey() || got.Kind != "backward" || got.FromStageID != 4 || got.ToStageID != 2 ||
		got.UserID != 1001 || got.PipelineID != 1 || got.Pipeline != "Sales" || !got.At.Equal(at) || !got.DecidedAt.Equal(c.Now()) {
		t.Fatalf("revert read back as %+v", got)
	}
	if item := rawItem(t, tbl.DB, tbl.Name, "DEAL#5", "REVERT#ev-1"); number(item, "expires_at") != at.Add(store.MeasureTTL).Unix() {
		t.Errorf("expires_at = %d", number(item, "expires_at"))
	}
	// measures share the deal's partition but are not decisions
	if ds, err := s.DecisionsForDeal(ctx, d.DealID); err != nil || len(ds) != 1 {
		t.Fatalf("decisions = %d, %v", len(ds), err)
	}
	if ms, err := s.MeasuresForDeal(ctx, 6); err != nil || len(ms) != 0 {
		t.Fatalf("another deal's measures: %v %v", ms, err)
	}
}

// DynamoDB returns at most 1 MB per query page: a deal with large
// decisions needs several.
func TestDecisionsForDealReadsEveryPage(t *testing.T) {
	c := newClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	s, _ := newStore(t, c)
	ctx := context.Background()
	big := strings.Repeat("x", 300<<10)
	for i := 0; i < 5; i++ {
		d := moveDecision()
		d.SignalKey = "SIG#generic#e" + strconv.Itoa(i)
		d.Reasons = []store.Reason{{Kind: "email", Cue: "pricing_question", Excerpt: big, Counted: true}}
		if _, err := s.PutDecision(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := s.DecisionsForDeal(ctx, 5)
	if err != nil || len(ds) != 5 {
		t.Fatalf("decisions = %d, %v; want all 5", len(ds), err)
	}
	for i, d := range ds {
		if d.SignalKey != "SIG#generic#e"+strconv.Itoa(i) || len(d.Reasons) != 1 || len(d.Reasons[0].Excerpt) != len(big) {
			t.Fatalf("decision %d: %s, %d reasons", i, d.SignalKey, len(d.Reasons))
		}
	}
}

// noScan is the DynamoDB Local client without its Scan method.
type noScan struct{ store.DynamoDB }

func TestReportItems(t *testing.T) {
	c := newClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	s, tbl := newStore(t, c)
	ctx := context.Background()
	sig := store.SignalRecord{Source: "generic", EventID: "e1", DealID: 5, Signal: emailAt(c.Now().Add(-time.Hour), "send the proposal")}
	if _, err := s.PutSignal(ctx, sig); err != nil {
		t.Fatal(err)
	}
	d := moveDecision()
	d.SignalKey = sig.Key()
	if _, err := s.PutDecision(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := s.PutDealState(ctx, store.DealState{DealID: 5, PipelineID: 2, Pipeline: "Renewals", StageID: 9, Status: "open", SeenAt: c.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutMeasure(ctx, store.Measure{Type: store.TypeMiss, DealID: 5, EventID: "ev-1", Rule: "r"}, c.Now()); err != nil {
		t.Fatal(err)
	}
	// items the report does not read
	if _, err := s.PutWebhookEvent(ctx, store.WebhookEvent{ID: "ev-1", ReceivedAt: c.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutStageMap(ctx, map[string]string{"k": "v"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutFetch(ctx, store.FetchRecord{Source: "gmail", NotificationID: "n1", ReceivedAt: c.Now()}); err != nil {
		t.Fatal(err)
	}

	r, err := s.ReportItems(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Decisions) != 1 || r.Decisions[0].SortKey() != d.SortKey() || r.Decisions[0].Rule != d.Rule {
		t.Fatalf("decisions = %+v", r.Decisions)
	}
	if at, ok := r.SignalAt[d.SignalKey]; !ok || !at.Equal(sig.Signal.At) || len(r.SignalAt) != 1 {
		t.Fatalf("signal times = %v", r.SignalAt)
	}
	if len(r.DealPipeline) != 1 || r.DealPipeline[5] != "Renewals" {
		t.Fatalf("deal pipelines = %v", r.DealPipeline)
	}
	if len(r.Measures) != 1 || r.Measures[0].Type != store.TypeMiss || r.Measures[0].EventID != "ev-1" {
		t.Fatalf("measures = %+v", r.Measures)
	}

	if _, err := store.New(noScan{tbl.DB}, tbl.Name).ReportItems(ctx); !errors.Is(err, store.ErrCannotScan) {
		t.Fatalf("without Scan: %v, want ErrCannotScan", err)
	}
}

func TestStageMapDocument(t *testing.T) {
	c := newClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	s, tbl := newStore(t, c)
	ctx := context.Background()
	var got map[string]int
	if _, err := s.GetStageMap(ctx, &got); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("nothing cached: %v, want ErrNotFound", err)
	}
	if err := s.PutStageMap(ctx, map[string]int{"pipelines": 2}, time.Hour); err != nil {
		t.Fatal(err)
	}
	storedAt, err := s.GetStageMap(ctx, &got)
	if err != nil || got["pipelines"] != 2 || !storedAt.Equal(c.Now()) {
		t.Fatalf("read back %v at %v, %v", got, storedAt, err)
	}
	// the layout the deployed table already holds: DOC#stagemap / CURRENT
	if item := rawItem(t, tbl.DB, tbl.Name, "DOC#stagemap", "CURRENT"); number(item, "expires_at") != c.Now().Add(time.Hour).Unix() {
		t.Fatalf("stage map item: %v", item)
	}
}

func TestResolutionReplacedAndExpiresRoundedUp(t *testing.T) {
	c := newClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	s, tbl := newStore(t, c)
	ctx := context.Background()
	if _, found, err := s.GetResolution(ctx, "jane@acme.example"); found || err != nil {
		t.Fatalf("nothing stored: found=%v err=%v", found, err)
	}
	r := store.Resolution{Email: "jane@acme.example", Via: "person", Payload: []byte(`{"via":"person"}`),
		StoredAt: c.Now(), ExpiresAt: c.Now().Add(24*time.Hour + 300*time.Millisecond)}
	if err := s.PutResolution(ctx, r); err != nil {
		t.Fatal(err)
	}
	r.Via, r.Payload = "organization", []byte(`{"via":"organization"}`)
	if err := s.PutResolution(ctx, r); err != nil {
		t.Fatal(err)
	}
	got, found, err := s.GetResolution(ctx, "jane@acme.example")
	if err != nil || !found || got.Via != "organization" || string(got.Payload) != `{"via":"organization"}` || !got.StoredAt.Equal(c.Now()) {
		t.Fatalf("read back %+v found=%v err=%v", got, found, err)
	}
	// never expires before the entry: 24 h 0.3 s becomes 24 h 1 s
	if want := c.Now().Add(24*time.Hour + time.Second); !got.ExpiresAt.Equal(want) {
		t.Fatalf("expires %v, want %v", got.ExpiresAt, want)
	}
	if item := rawItem(t, tbl.DB, tbl.Name, "RESOLVE#jane@acme.example", "CURRENT"); item["type"].(*types.AttributeValueMemberS).Value != store.TypeResolve {
		t.Fatalf("item %v", item)
	}
	if n := countItems(t, tbl); n != 1 {
		t.Fatalf("items = %d, want 1 (replaced)", n)
	}
}

func TestOpenDecisionsAreTypedAndCountUnreadable(t *testing.T) {
	c := newClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	s, tbl := newStore(t, c)
	ctx := context.Background()
	for i, action := range []string{store.ActionMove, store.ActionStay, store.ActionMove} {
		d := moveDecision()
		d.SignalKey, d.Action = "SIG#generic#o"+strconv.Itoa(i), action
		if _, err := s.PutDecision(ctx, d); err != nil {
			t.Fatal(err)
		}
		c.Advance(time.Second)
	}
	if _, err := s.Claim(ctx, 5, "DEC#SIG#generic#o2", "a", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(ctx, 5, "DEC#SIG#generic#o2", "a", store.Outcome{State: store.StateDone}); err != nil {
		t.Fatal(err)
	}
	// an item in the index that is not a decision
	if _, err := tbl.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tbl.Name), Item: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "DEAL#5"}, "sk": &types.AttributeValueMemberS{Value: "DEC#broken"},
		"gsi1pk": &types.AttributeValueMemberS{Value: "OPEN#DECISION"}, "gsi1sk": &types.AttributeValueMemberS{Value: "2026-03-01T08:00:00.000000000Z#x"},
	}}); err != nil {
		t.Fatal(err)
	}
	ds, unreadable, err := s.OpenDecisions(ctx, c.Now(), 10)
	if err != nil || unreadable != 1 || len(ds) != 1 || ds[0].SignalKey != "SIG#generic#o0" || ds[0].State != store.StatePending {
		t.Fatalf("open = %+v, unreadable %d, %v; want the one unfinished move and one unreadable item", ds, unreadable, err)
	}
	if ds, _, _ := s.OpenDecisions(ctx, c.Now().Add(-time.Hour), 10); len(ds) != 0 {
		t.Fatalf("decisions newer than olderThan listed: %+v", ds)
	}
}

func TestDecidedDeals(t *testing.T) {
	c := newClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	s, tbl := newStore(t, c)
	ctx := context.Background()
	for i, deal := range []int64{9, 3, 3} {
		d := moveDecision()
		d.DealID, d.SignalKey = deal, "SIG#generic#d"+strconv.Itoa(i)
		if _, err := s.PutDecision(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	// a deal with only a mirror and a measure has no decision
	if err := s.PutDealState(ctx, store.DealState{DealID: 7, Status: "open", SeenAt: c.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutMeasure(ctx, store.Measure{Type: store.TypeMiss, DealID: 7, EventID: "e"}, c.Now()); err != nil {
		t.Fatal(err)
	}
	ids, err := s.DecidedDeals(ctx)
	if err != nil || fmt.Sprint(ids) != "[3 9]" {
		t.Fatalf("decided deals %v, %v; want [3 9]", ids, err)
	}
	if _, err := store.New(noScan{tbl.DB}, tbl.Name).DecidedDeals(ctx); !errors.Is(err, store.ErrCannotScan) {
		t.Fatalf("without Scan: %v", err)
	}
}
