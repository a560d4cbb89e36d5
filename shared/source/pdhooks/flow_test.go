package pdhooks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
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
	"github.com/stagemover/stagemover/shared/core/stagemap"
	"github.com/stagemover/stagemover/shared/dev/ddblocal"
	"github.com/stagemover/stagemover/shared/pipedrive"
	"github.com/stagemover/stagemover/shared/pipedrive/pipedrivetest"
	"github.com/stagemover/stagemover/shared/platform/apigw"
	"github.com/stagemover/stagemover/shared/platform/ddbevent"
	"github.com/stagemover/stagemover/shared/platform/metrics"
	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/source/pdhooks"
	"github.com/stagemover/stagemover/shared/store"
)

func TestMain(m *testing.M) { os.Exit(ddblocal.RunTests(m)) }

const (
	hookUser = "stagemover"
	hookPass = "pd-hook-pass-7c1e9a2f4b6d"
	human    = pipedrivetest.DefaultOwnerID // a person in the app
	// sandbox "Sales" pipeline stages
	stQualified, stContact, stDemo, stProposal, stNegotiation = 1, 2, 3, 4, 5
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

type env struct {
	t      *testing.T
	ctx    context.Context
	tt     *ddblocal.TestTable
	st     *store.Store
	tbl    pdhooks.Table
	sb     *pipedrivetest.Server
	client *pipedrive.Client
	h      *ingest.Handler  // POST /pipedrive
	w      *pdhooks.Webhook // its source
	url    string
	logs   *syncBuf
	emf    *syncBuf
	seq    int
}

func setup(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	tt := ddblocal.ForTest(t)
	st := store.New(tt.DB, tt.Name)
	sb, err := pipedrivetest.Start(pipedrivetest.Options{BurstLimit: 1000}) // the storm makes hundreds of requests
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	client, err := pipedrive.New(pipedrive.Config{BaseURL: sb.URL(), Token: pipedrive.StaticToken(sb.Token())})
	if err != nil {
		t.Fatal(err)
	}
	logs, emf := &syncBuf{}, &syncBuf{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := metrics.New(nil, "StageMover", "ingest-pipedrive")
	w := &pdhooks.Webhook{
		Table:             pdhooks.Table{Store: st},
		Mirror:            st,
		Stages:            stagemap.New(stagemap.FromPipedrive{API: client}, st, 15*time.Minute, nil),
		IntegrationUserID: sb.IntegrationUserID(),
		Log:               log,
		Metrics:           m,
		EMF:               emf,
	}
	h := &ingest.Handler{
		Source: w,
		Key: pdhooks.Key(func(context.Context) (pdhooks.Credentials, error) {
			return pdhooks.Credentials{User: hookUser, Password: hookPass}, nil
		}),
		Log:     log,
		Metrics: m,
	}
	srv := httptest.NewServer(apigw.Handler("POST /pipedrive", h.Handle))
	t.Cleanup(srv.Close)
	e := &env{t: t, ctx: ctx, tt: tt, st: st, tbl: w.Table, sb: sb, client: client, h: h, w: w, url: srv.URL + "/pipedrive", logs: logs, emf: emf}
	t.Cleanup(func() {
		if v := sb.ValidationErrors(); len(v) > 0 {
			t.Errorf("sandbox validation errors: %v", v)
		}
		if strings.Contains(logs.String(), hookPass) || strings.Contains(logs.String(), sb.Token()) {
			t.Error("a secret appears in the logs")
		}
	})
	return e
}

func (e *env) subscribe() { e.sb.Subscribe(e.url, hookUser, hookPass, "change", "deal") }

func (e *env) wait() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, 20*time.Second)
	defer cancel()
	if err := e.sb.WaitWebhooks(ctx); err != nil {
		e.t.Fatal(err)
	}
	for _, d := range e.sb.Deliveries() {
		if !d.OK {
			e.t.Fatalf("delivery %s of deal %d failed: %d %s", d.EventID, d.EntityID, d.Status, d.Err)
		}
	}
}

// decide stores a signal (evidence at evidenceAt) and a decision for it,
// and, for a move, runs the mover's state machine to done: live moves PATCH
// the sandbox as the integration user, shadow moves do not.
func (e *env) decide(dealID int64, action, target, rule string, evidenceAt time.Time, live, shadow bool) store.Decision {
	e.t.Helper()
	e.seq++
	rec := store.SignalRecord{Source: "generic", EventID: fmt.Sprintf("ev-%d-%d", dealID, e.seq), DealID: dealID, ReceivedAt: evidenceAt,
		Signal: signal.Signal{Kind: signal.KindEmail, At: evidenceAt, From: "buyer@acme.example", Body: "please send the proposal"}}
	if _, err := e.st.PutSignal(e.ctx, rec); err != nil {
		e.t.Fatal(err)
	}
	d := store.Decision{DealID: dealID, SignalKey: rec.Key(), EventID: rec.EventID, Action: action, TargetStage: target, TargetPipeline: "Sales", Rule: rule}
	if _, err := e.st.PutDecision(e.ctx, d); err != nil {
		e.t.Fatal(err)
	}
	if action != store.ActionMove {
		return d
	}
	if _, err := e.st.Claim(e.ctx, dealID, d.SortKey(), "test", time.Minute); err != nil {
		e.t.Fatal(err)
	}
	deal, _ := e.sb.Deal(dealID)
	to := map[string]int64{"Contact Made": stContact, "Demo Scheduled": stDemo, "Proposal Made": stProposal, "Negotiations Started": stNegotiation}[target]
	out := store.Outcome{State: store.StateDone, FromStageID: deal.StageID, ToStageID: to, Shadow: shadow}
	if live {
		if err := e.st.MarkPatchSent(e.ctx, dealID, d.SortKey(), "test"); err != nil {
			e.t.Fatal(err)
		}
		if _, err := e.client.UpdateDeal(e.ctx, dealID, pipedrive.DealPatch{StageID: pipedrive.Ptr(to)}); err != nil {
			e.t.Fatal(err)
		}
	}
	if err := e.st.Finish(e.ctx, dealID, d.SortKey(), "test", out); err != nil {
		e.t.Fatal(err)
	}
	return d
}

func (e *env) measures(dealID int64) []store.Measure {
	e.t.Helper()
	ms, err := e.st.MeasuresForDeal(e.ctx, dealID)
	if err != nil {
		e.t.Fatal(err)
	}
	return ms
}

func (e *env) countType(typ string) int { return e.count("type", typ) }

func (e *env) countOutcome(o string) int { return e.count("outcome", o) }

func (e *env) count(attr, val string) int {
	e.t.Helper()
	n := 0
	var start map[string]types.AttributeValue
	for {
		out, err := e.tt.DB.Scan(e.ctx, &dynamodb.ScanInput{TableName: aws.String(e.tt.Name), ExclusiveStartKey: start})
		if err != nil {
			e.t.Fatal(err)
		}
		for _, it := range out.Items {
			if v, ok := it[attr].(*types.AttributeValueMemberS); ok && v.Value == val {
				n++
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return n
		}
		start = out.LastEvaluatedKey
	}
}

func (e *env) post(body []byte, user, pass string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if user != "" || pass != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (e *env) report() pdhooks.Report {
	e.t.Helper()
	r, err := e.tbl.Report(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func findRow(r pdhooks.Report, pipeline, rule string) pdhooks.Row {
	for _, x := range r.Rows {
		if x.Pipeline == pipeline && x.Rule == rule {
			return x
		}
	}
	return pdhooks.Row{}
}

// The storm: every PATCH we make echoes a webhook; none triggers anything
// but the mirror. Then one human revert shows up as one revert against the
// right rule, in the report and as a metric; its redelivery stores nothing.
func TestWebhookStormAndHumanRevert(t *testing.T) {
	e := setup(t)
	e.subscribe()
	const deals = 200 // the acceptance's storm: 200 moves, 200 PATCHes, 200 echoes
	ids := make([]int64, deals)
	evidence := time.Now().Add(-2 * time.Hour)
	for i := range ids {
		ids[i] = e.sb.AddDeal(pipedrivetest.Deal{Title: fmt.Sprintf("Storm %d", i), StageID: stQualified})
	}
	for i, id := range ids {
		rule := "demo-booked"
		if i%2 == 1 {
			rule = "meeting-held"
		}
		// earlier evidence for the same stage the engine stayed on: were our
		// own change judged, it would count as a miss
		e.decide(id, store.ActionStay, "Demo Scheduled", "weak-"+rule, evidence.Add(-time.Hour), false, false)
		e.decide(id, store.ActionMove, "Demo Scheduled", rule, evidence, true, false)
	}
	e.wait()
	if got := e.sb.Count(http.MethodPatch, "/api/v2/deals"); got != deals {
		t.Fatalf("PATCHes = %d, want %d", got, deals)
	}
	if got := len(e.sb.Deliveries()); got != deals {
		t.Fatalf("deliveries = %d, want %d (one echo per PATCH)", got, deals)
	}
	if n := e.countType(store.TypeRevert) + e.countType(store.TypeMiss) + e.countType(store.TypeConfirmed); n != 0 {
		t.Fatalf("our own changes produced %d measures", n)
	}
	if n := e.countType(store.TypeWebhook); n != deals {
		t.Fatalf("webhook records = %d, want %d", n, deals)
	}
	if n := e.countOutcome("own"); n != deals {
		t.Fatalf("webhook records with outcome own = %d, want %d", n, deals)
	}
	if n := e.countType(store.TypeDecision); n != 2*deals {
		t.Fatalf("decisions = %d, want %d: a webhook triggered a decision", n, deals)
	}
	for _, id := range ids {
		ds, err := e.st.GetDealState(e.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if ds.StageID != stDemo || ds.Stage != "Demo Scheduled" || ds.Pipeline != "Sales" || ds.Status != "open" {
			t.Fatalf("mirror of deal %d = %+v", id, ds)
		}
	}

	// a person moves deal 0 (rule demo-booked) back to Qualified
	if err := e.sb.MoveDealAsUser(ids[0], stQualified, human); err != nil {
		t.Fatal(err)
	}
	e.wait()
	ms := e.measures(ids[0])
	if len(ms) != 1 || ms[0].Type != store.TypeRevert || ms[0].Rule != "demo-booked" || ms[0].Kind != "backward" || ms[0].Pipeline != "Sales" {
		t.Fatalf("measures = %+v, want one backward revert of demo-booked in Sales", ms)
	}
	if ms[0].FromStageID != stDemo || ms[0].ToStageID != stQualified || ms[0].UserID != human {
		t.Fatalf("revert = %+v", ms[0])
	}
	if ds, _ := e.st.GetDealState(e.ctx, ids[0]); ds.StageID != stQualified {
		t.Fatalf("mirror not updated by the human move: %+v", ds)
	}
	if n := e.countType(store.TypeRevert); n != 1 {
		t.Fatalf("reverts = %d, want 1", n)
	}

	// a person marks deal 1 (meeting-held) lost
	if err := e.sb.UpdateDealAsUser(ids[1], human, map[string]any{"status": "lost"}); err != nil {
		t.Fatal(err)
	}
	e.wait()
	if ms := e.measures(ids[1]); len(ms) != 1 || ms[0].Kind != "lost" || ms[0].Rule != "meeting-held" {
		t.Fatalf("lost: measures = %+v", ms)
	}
	// a person moves deal 2 forward: not a revert
	if err := e.sb.MoveDealAsUser(ids[2], stProposal, human); err != nil {
		t.Fatal(err)
	}
	e.wait()
	if ms := e.measures(ids[2]); len(ms) != 0 {
		t.Fatalf("a forward move was judged: %+v", ms)
	}

	// redelivery of the human revert: 200 duplicate, nothing new stored
	var revert pipedrivetest.Delivery
	for _, d := range e.sb.Deliveries() {
		if d.EntityID == ids[0] && d.ChangeSource == "app" {
			revert = d
		}
	}
	before := e.countType(store.TypeWebhook)
	code, body := e.post(revert.Payload, hookUser, hookPass)
	if code != http.StatusOK || !strings.Contains(body, "duplicate") {
		t.Fatalf("redelivery: %d %s", code, body)
	}
	if e.countType(store.TypeWebhook) != before || e.countType(store.TypeRevert) != 2 {
		t.Fatal("a redelivery stored something")
	}

	rep := e.report()
	row := findRow(rep, "Sales", "demo-booked")
	if row.Moves != deals/2 || row.Reverts != 1 || row.RevertRate != 1.0/float64(deals/2) {
		t.Fatalf("report row = %+v", row)
	}
	if row.EvidenceToMoveP50 < 2*time.Hour || row.EvidenceToMoveP90 > 3*time.Hour {
		t.Fatalf("evidence to move p50 %v p90 %v, want about 2h", row.EvidenceToMoveP50, row.EvidenceToMoveP90)
	}
	if r := findRow(rep, "Sales", "meeting-held"); r.Reverts != 1 || r.Moves != deals/2 {
		t.Fatalf("meeting-held row = %+v", r)
	}
	var txt bytes.Buffer
	if err := rep.WriteText(&txt); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(txt.String(), "demo-booked") || !strings.Contains(txt.String(), "1.0%") {
		t.Fatalf("text report:\n%s", txt.String())
	}
	// metrics: one Reverts line per new revert, with pipeline and rule
	if got := strings.Count(e.emf.String(), `"Reverts":1`); got != 2 {
		t.Fatalf("Reverts EMF lines = %d, want 2:\n%s", got, e.emf.String())
	}
	if !strings.Contains(e.emf.String(), `"Dimensions":[["Pipeline","Rule"]]`) || !strings.Contains(e.emf.String(), `"Rule":"demo-booked"`) {
		t.Fatalf("EMF lines lack dimensions:\n%s", e.emf.String())
	}
	var emf bytes.Buffer
	rep.EmitMetrics(&emf, "StageMover", time.Now())
	if !strings.Contains(emf.String(), `"RevertRate":1,`) || !strings.Contains(emf.String(), `"Moves":200,"Pipeline":"all","RevertRate":1,"Reverts":2,"Rule":"all"`) {
		t.Fatalf("report EMF:\n%s", emf.String())
	}
}

// A revert outside the window is not counted.
func TestRevertOutsideWindowNotCounted(t *testing.T) {
	e := setup(t)
	e.w.Window = time.Millisecond
	e.subscribe()
	id := e.sb.AddDeal(pipedrivetest.Deal{StageID: stQualified})
	e.decide(id, store.ActionMove, "Demo Scheduled", "demo-booked", time.Now(), true, false)
	e.wait()
	time.Sleep(20 * time.Millisecond)
	if err := e.sb.MoveDealAsUser(id, stQualified, human); err != nil {
		t.Fatal(err)
	}
	e.wait()
	if ms := e.measures(id); len(ms) != 0 {
		t.Fatalf("measures = %+v", ms)
	}
}

// A person moves forward to a stage the engine had evidence for but stayed:
// a miss against the stay's rule. A shadow move later made by hand is
// confirmed.
func TestMissAndConfirmedShadowMove(t *testing.T) {
	e := setup(t)
	e.subscribe()
	missDeal := e.sb.AddDeal(pipedrivetest.Deal{StageID: stQualified})
	e.decide(missDeal, store.ActionStay, "Proposal Made", "proposal-asked", time.Now(), false, false)
	shadowDeal := e.sb.AddDeal(pipedrivetest.Deal{StageID: stQualified})
	e.decide(shadowDeal, store.ActionMove, "Demo Scheduled", "demo-booked", time.Now().Add(-time.Hour), false, true)
	if err := e.sb.MoveDealAsUser(missDeal, stProposal, human); err != nil {
		t.Fatal(err)
	}
	if err := e.sb.MoveDealAsUser(shadowDeal, stDemo, human); err != nil {
		t.Fatal(err)
	}
	e.wait()
	if ms := e.measures(missDeal); len(ms) != 1 || ms[0].Type != store.TypeMiss || ms[0].Rule != "proposal-asked" || ms[0].Kind != "stay" {
		t.Fatalf("miss: %+v", ms)
	}
	if ms := e.measures(shadowDeal); len(ms) != 1 || ms[0].Type != store.TypeConfirmed || ms[0].Rule != "demo-booked" {
		t.Fatalf("confirmed: %+v", ms)
	}
	rep := e.report()
	if r := findRow(rep, "Sales", "proposal-asked"); r.Misses != 1 || r.Moves != 0 {
		t.Fatalf("miss row: %+v", r)
	}
	if r := findRow(rep, "Sales", "demo-booked"); r.ShadowMoves != 1 || r.Confirmed != 1 || r.Moves != 0 {
		t.Fatalf("shadow row: %+v", r)
	}
	var txt bytes.Buffer
	_ = rep.WriteText(&txt)
	if !strings.Contains(txt.String(), "shadow mode: 1 moves recorded, 1 later made by hand") {
		t.Fatalf("text:\n%s", txt.String())
	}
}

// payload builds a webhooks v2 deal change body in the sandbox's (and
// Pipedrive's documented) shape.
func payload(id string, dealID, userID, stage, prevStage int64, bulk bool, at time.Time) []byte {
	b, _ := json.Marshal(map[string]any{
		"meta": map[string]any{
			"action": "change", "entity": "deal", "entity_id": fmt.Sprint(dealID), "id": id,
			"correlation_id": "c-" + id, "is_bulk_edit": bulk, "user_id": fmt.Sprint(userID),
			"change_source": "app", "attempt": 1, "timestamp": at.UTC().Format("2006-01-02T15:04:05.000Z"),
			"type": "general", "version": "2.0", "company_id": "1",
		},
		"data":     map[string]any{"id": dealID, "stage_id": stage, "pipeline_id": 1, "status": "open", "title": "x"},
		"previous": map[string]any{"stage_id": prevStage},
	})
	return b
}

func TestBulkEditRecordedNotJudged(t *testing.T) {
	e := setup(t)
	e.subscribe()
	id := e.sb.AddDeal(pipedrivetest.Deal{StageID: stQualified})
	e.decide(id, store.ActionMove, "Demo Scheduled", "demo-booked", time.Now(), true, false)
	e.wait()
	code, body := e.post(payload("bulk-1", id, human, stQualified, stDemo, true, time.Now().Add(time.Second)), hookUser, hookPass)
	if code != http.StatusOK || !strings.Contains(body, `"outcome":"bulk"`) {
		t.Fatalf("bulk: %d %s", code, body)
	}
	if ms := e.measures(id); len(ms) != 0 {
		t.Fatalf("bulk edit judged: %+v", ms)
	}
	if ds, _ := e.st.GetDealState(e.ctx, id); ds.StageID != stQualified {
		t.Fatalf("bulk edit not mirrored: %+v", ds)
	}
	if seen, _ := e.tbl.Seen(e.ctx, "bulk-1"); !seen {
		t.Fatal("bulk edit not recorded")
	}
	// the same change without previous.stage_id is not a stage change
	b := []byte(strings.Replace(string(payload("noprev-1", id, human, stQualified, stDemo, false, time.Now().Add(2*time.Second))), `"previous":{"stage_id":3}`, `"previous":{"title":"y"}`, 1))
	if code, body := e.post(b, hookUser, hookPass); code != http.StatusOK || !strings.Contains(body, `"outcome":"mirrored"`) {
		t.Fatalf("no previous.stage_id: %d %s", code, body)
	}
	if ms := e.measures(id); len(ms) != 0 {
		t.Fatalf("change without previous.stage_id judged: %+v", ms)
	}
}

func TestBadAuthStoresNothing(t *testing.T) {
	e := setup(t)
	id := e.sb.AddDeal(pipedrivetest.Deal{StageID: stQualified})
	body := payload("auth-1", id, human, stDemo, stQualified, false, time.Now())
	for _, c := range []struct{ user, pass string }{{"", ""}, {hookUser, "wrong"}, {"other", hookPass}, {hookUser, hookPass + "x"}} {
		code, resp := e.post(body, c.user, c.pass)
		if code != http.StatusUnauthorized || !strings.Contains(resp, `"error"`) {
			t.Fatalf("%q/%q: %d %s", c.user, c.pass, code, resp)
		}
	}
	if n := e.countType(store.TypeWebhook) + e.countType(store.TypeDeal); n != 0 {
		t.Fatalf("a rejected delivery stored %d items", n)
	}
	if code, resp := e.post([]byte(`{"meta":{}}`), hookUser, hookPass); code != http.StatusBadRequest {
		t.Fatalf("bad body: %d %s", code, resp)
	}
	if code, _ := e.post(body, hookUser, hookPass); code != http.StatusOK {
		t.Fatalf("good auth: %d", code)
	}
	if strings.Contains(e.logs.String(), hookPass) {
		t.Fatal("password logged")
	}
}

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

// A webhook registered as version 1.0 delivers v1 bodies: 400 saying so
// and what to do, nothing stored.
func TestV1PayloadRejectedWithReason(t *testing.T) {
	e := setup(t)
	body, err := os.ReadFile("testdata/deal-v1-updated.json")
	if err != nil {
		t.Fatal(err)
	}
	code, resp := e.post(body, hookUser, hookPass)
	var out map[string]string
	_ = json.Unmarshal([]byte(resp), &out)
	if code != http.StatusBadRequest || !strings.Contains(out["error"], "this is a Pipedrive webhooks v1 payload; register the webhook with version 2.0") {
		t.Fatalf("v1 body: %d %s", code, resp)
	}
	if n := e.countType(store.TypeWebhook) + e.countType(store.TypeDeal); n != 0 {
		t.Fatalf("a v1 body stored %d items", n)
	}
}

// Stage and pipeline changes mark the cached stage map stale and refresh it.
func TestStageChangeRefreshesStageMap(t *testing.T) {
	e := setup(t)
	if _, err := e.w.Stages.Get(e.ctx); err != nil {
		t.Fatal(err)
	}
	e.sb.RenameStage(stDemo, "Demo Booked")
	stageEvent := func(id string) []byte {
		b, _ := json.Marshal(map[string]any{
			"meta": map[string]any{"action": "change", "entity": "stage", "entity_id": "3", "id": id, "is_bulk_edit": false,
				"user_id": "1001", "change_source": "app", "attempt": 1, "timestamp": time.Now().UTC().Format(time.RFC3339Nano)},
			"data":     map[string]any{"id": 3, "name": "Demo Booked", "pipeline_id": 1},
			"previous": map[string]any{"name": "Demo Scheduled"},
		})
		return b
	}
	if code, body := e.post(stageEvent("stage-1"), hookUser, hookPass); code != http.StatusOK || !strings.Contains(body, "stagemap") {
		t.Fatalf("%d %s", code, body)
	}
	var snap stagemap.Snapshot
	if _, err := e.st.GetStageMap(e.ctx, &snap); err != nil {
		t.Fatal(err)
	}
	p, _ := snap.Pipeline(1)
	if _, _, err := p.StageByName("Demo Booked"); err != nil {
		t.Fatalf("cached map not refreshed: %+v", p)
	}
	// without a source the cached map is only marked stale
	e.w.Stages = nil
	if code, _ := e.post(stageEvent("stage-2"), hookUser, hookPass); code != http.StatusOK {
		t.Fatal(code)
	}
	if _, err := e.st.GetStageMap(e.ctx, &snap); err != nil {
		t.Fatal(err)
	}
	if !snap.FetchedAt.IsZero() || len(snap.Pipelines) == 0 {
		t.Fatalf("not marked stale: fetched_at %v", snap.FetchedAt)
	}
	// a stagemap.Map reading that cache refetches
	other := stagemap.New(stagemap.FromPipedrive{API: e.client}, e.st, 15*time.Minute, nil)
	before := e.sb.Count(http.MethodGet, "/api/v2/stages")
	if _, err := other.Get(e.ctx); err != nil {
		t.Fatal(err)
	}
	if e.sb.Count(http.MethodGet, "/api/v2/stages") != before+1 {
		t.Fatal("stale map was not refetched")
	}
}

func TestRegisterTwiceNoDuplicates(t *testing.T) {
	e := setup(t)
	client, err := pipedrive.New(pipedrive.Config{BaseURL: e.sb.URL() + "/api/v2", Token: pipedrive.StaticToken(e.sb.Token())})
	if err != nil {
		t.Fatal(err)
	}
	r := &pdhooks.Registrar{API: client, URL: e.url, Auth: pdhooks.Credentials{User: hookUser, Password: hookPass}}
	first, err := r.Ensure(e.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	second, err := r.Ensure(e.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	subs := e.sb.Subscriptions()
	if len(subs) != len(pdhooks.DefaultSubscriptions) {
		t.Fatalf("subscriptions = %d, want %d: %+v", len(subs), len(pdhooks.DefaultSubscriptions), subs)
	}
	for i := range first {
		if first[i].Done != "created" || second[i].Done != "kept" || first[i].WebhookID != second[i].WebhookID {
			t.Fatalf("first %+v second %+v", first[i], second[i])
		}
	}
	for _, s := range subs {
		if s.Version != "2.0" || s.User != hookUser || s.Password != hookPass || s.URL != e.url {
			t.Fatalf("subscription %+v", s)
		}
	}
	// rotated password: replaced, still one per event
	r.Auth.Password = hookPass + "-rotated"
	third, err := r.Ensure(e.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if subs := e.sb.Subscriptions(); len(subs) != len(pdhooks.DefaultSubscriptions) || subs[0].Password != hookPass+"-rotated" || third[0].Done != "replaced" {
		t.Fatalf("after rotation: %+v %+v", subs, third)
	}
	// the registered webhook delivers to the handler (with the rotated pair the handler must know)
	e.h.Key = pdhooks.Key(func(context.Context) (pdhooks.Credentials, error) {
		return pdhooks.Credentials{User: hookUser, Password: hookPass + "-rotated"}, nil
	})
	id := e.sb.AddDeal(pipedrivetest.Deal{StageID: stQualified})
	if err := e.sb.MoveDealAsUser(id, stContact, human); err != nil {
		t.Fatal(err)
	}
	e.wait()
	if ds, err := e.st.GetDealState(e.ctx, id); err != nil || ds.StageID != stContact {
		t.Fatalf("mirror via registered webhook: %+v %v", ds, err)
	}
	// errors never carry the token or the password
	wrong, err := pipedrive.New(pipedrive.Config{BaseURL: e.sb.URL(), Token: pipedrive.StaticToken("wrong-token-123")})
	if err != nil {
		t.Fatal(err)
	}
	bad := &pdhooks.Registrar{API: wrong, URL: e.url, Auth: r.Auth}
	if _, err := bad.Ensure(e.ctx, nil); err == nil || strings.Contains(err.Error(), "wrong-token-123") {
		t.Fatalf("bad token: %v", err)
	}
}
