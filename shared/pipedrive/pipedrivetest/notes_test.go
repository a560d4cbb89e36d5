package pipedrivetest

import "testing"

func TestAddNoteAndActivity(t *testing.T) {
	srv := start(t, Options{})
	deal := srv.AddDeal(Deal{Title: "Acme", OwnerID: 77, PersonID: 0})

	r := doReq(t, srv, "POST", "/v1/notes", map[string]any{"deal_id": deal, "content": "<p>moved</p>", "pinned_to_deal_flag": 1})
	if r.status != 200 || r.json["success"] != true || num(data(r)["deal_id"]) != deal {
		t.Fatalf("add note: %d %s", r.status, r.body)
	}
	if n := srv.Notes(deal); len(n) != 1 || n[0].Content != "<p>moved</p>" || !n[0].Pinned || n[0].UserID != DefaultIntegrationUserID {
		t.Errorf("notes %+v", n)
	}

	r = doReq(t, srv, "POST", "/api/v2/activities", map[string]any{"deal_id": deal, "subject": "Follow up", "type": "call", "owner_id": 77, "due_date": "2026-03-06"})
	if r.status != 200 || num(data(r)["owner_id"]) != 77 || data(r)["due_date"] != "2026-03-06" {
		t.Fatalf("add activity: %d %s", r.status, r.body)
	}
	// Without owner_id the token's user gets it.
	r = doReq(t, srv, "POST", "/api/v2/activities", map[string]any{"deal_id": deal, "subject": "Mine"})
	if r.status != 200 || num(data(r)["owner_id"]) != DefaultIntegrationUserID {
		t.Fatalf("add activity without owner: %d %s", r.status, r.body)
	}
	if a := srv.Activities(deal); len(a) != 2 || a[0].Type != "call" || a[1].Type != "task" {
		t.Errorf("activities %+v", a)
	}
	noValidationErrors(t, srv)

	// Token costs come from the specs: addNote 10 (v1), addActivity 5 (v2).
	costs := map[string]int{}
	for _, rq := range srv.Requests() {
		costs[rq.Operation] += rq.TokenCost
	}
	if costs["addNote"] != 10 || costs["addActivity"] != 10 {
		t.Errorf("token costs %v", costs)
	}
}

func TestAddNoteRejects(t *testing.T) {
	srv := start(t, Options{})
	// Missing content breaks the spec: 400 and a recorded validation error.
	r := doReq(t, srv, "POST", "/v1/notes", map[string]any{"deal_id": 1})
	if r.status != 400 || len(srv.ValidationErrors()) != 1 {
		t.Errorf("note without content: %d %s %v", r.status, r.body, srv.ValidationErrors())
	}
	srv.ClearValidationErrors()
	r = doReq(t, srv, "POST", "/v1/notes", map[string]any{"deal_id": 999, "content": "x"})
	if r.status != 404 {
		t.Errorf("note on a missing deal: %d %s", r.status, r.body)
	}
	assertErrorShape(t, r)
	r = doReq(t, srv, "POST", "/api/v2/activities", map[string]any{"deal_id": 999, "subject": "x"})
	if r.status != 404 {
		t.Errorf("activity on a missing deal: %d %s", r.status, r.body)
	}
	r = doReq(t, srv, "POST", "/api/v2/activities", map[string]any{"deal_id": 1, "subject": "x", "due_date": "6 March"})
	if r.status != 400 {
		t.Errorf("bad due date: %d %s", r.status, r.body)
	}
	if len(srv.Notes(0))+len(srv.Activities(0)) != 0 {
		t.Error("a rejected request created something")
	}
	noValidationErrors(t, srv)
}
