package pipedrive

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestStagesPaging(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.URL.Path != "/api/v2/stages" || q.Get("pipeline_id") != "1" || q.Get("limit") != "500" {
			t.Errorf("request %s", r.URL)
		}
		switch q.Get("cursor") {
		case "":
			io.WriteString(w, `{"success":true,"data":[{"id":1,"name":"A","pipeline_id":1,"order_nr":1,"is_deleted":false},{"id":2,"name":"B","pipeline_id":1,"order_nr":2}],"additional_data":{"next_cursor":"c2"}}`)
		case "c2":
			io.WriteString(w, `{"success":true,"data":[{"id":3,"name":"C","pipeline_id":1,"order_nr":3,"is_deleted":true,"days_to_rotten":null}],"additional_data":{"next_cursor":"c3"}}`)
		case "c3":
			io.WriteString(w, `{"success":true,"data":[],"additional_data":{"next_cursor":null}}`)
		default:
			t.Errorf("cursor %q", q.Get("cursor"))
		}
	})
	st, err := h.c.ListStages(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 3 || st[2].ID != 3 || !st[2].IsDeleted || st[1].OrderNr != 2 || st[0].Name != "A" {
		t.Errorf("stages %+v", st)
	}
	if u := h.c.Usage(); u.Requests != 3 || u.TokenCost != 15 {
		t.Errorf("usage %+v", u)
	}
}

func TestStagesAllPipelinesOmitsParam(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("pipeline_id") {
			t.Errorf("pipeline_id sent: %s", r.URL)
		}
		io.WriteString(w, `{"success":true,"data":[],"additional_data":{}}`)
	})
	if st, err := h.c.ListStages(context.Background(), 0); err != nil || len(st) != 0 {
		t.Fatal(st, err)
	}
}

func TestPagingRepeatedCursorStops(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"success":true,"data":[{"id":1,"name":"Sales"}],"additional_data":{"next_cursor":"same"}}`)
	})
	if _, err := h.c.ListPipelines(context.Background()); err == nil || !strings.Contains(err.Error(), "repeated") {
		t.Fatalf("err %v", err)
	}
	if h.hits.Load() != 2 {
		t.Errorf("hits %d", h.hits.Load())
	}
}

func TestSearchPersonsByEmail(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.URL.Path != "/api/v2/persons/search" || q.Get("term") != "Jane+x@Example.com" ||
			q.Get("fields") != "email" || q.Get("exact_match") != "true" {
			t.Errorf("request %s", r.URL)
		}
		io.WriteString(w, `{"success":true,"data":{"items":[{"result_score":1,"item":{"id":5,"type":"person","name":"Jane","phones":[],"emails":["jane+x@example.com"],"visible_to":3,"owner":{"id":7},"organization":null,"custom_fields":[],"notes":[]}},
{"result_score":0.5,"item":{"id":6,"type":"person","name":"Jane B","emails":["jane+x@example.com","j@b.example"],"owner":{"id":7},"organization":{"id":9,"name":"Org","address":null}}}]},"additional_data":{"next_cursor":null}}`)
	})
	ps, err := h.c.SearchPersonsByEmail(context.Background(), " Jane+x@Example.com ")
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[0].ID != 5 || ps[0].OrgID != 0 || ps[0].OwnerID != 7 || ps[1].OrgID != 9 || len(ps[1].Emails) != 2 {
		t.Errorf("persons %+v", ps)
	}
	if !strings.Contains(h.requests()[0].URL.RawQuery, "term=Jane%2Bx%40Example.com") {
		t.Errorf("term not encoded: %s", h.requests()[0].URL.RawQuery)
	}
	if u := h.c.Usage(); u.TokenCost != 20 || u.ByOperation["searchPersons"].Requests != 1 {
		t.Errorf("usage %+v", u)
	}
	if _, err := h.c.SearchPersonsByEmail(context.Background(), "  "); err == nil {
		t.Error("empty term accepted")
	}
}

func TestListOpenDealsByPerson(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.URL.Path != "/api/v2/deals" || q.Get("person_id") != "5" || q.Get("status") != "open" {
			t.Errorf("request %s", r.URL)
		}
		io.WriteString(w, `{"success":true,"data":[{"id":1,"person_id":5,"stage_id":2,"status":"open"},{"id":2,"person_id":5,"stage_id":4,"status":"open","org_id":null}],"additional_data":{"next_cursor":null}}`)
	})
	ds, err := h.c.ListOpenDealsByPerson(context.Background(), 5)
	if err != nil || len(ds) != 2 || ds[1].StageID != 4 {
		t.Fatalf("%+v %v", ds, err)
	}
	if u := h.c.Usage(); u.TokenCost != 10 {
		t.Errorf("usage %+v", u)
	}
}
