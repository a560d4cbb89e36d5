package pdhooks_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/core/stagemap"
	"github.com/stagemover/stagemover/shared/pipedrive/pipedrivetest"
	"github.com/stagemover/stagemover/shared/store"
)

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
