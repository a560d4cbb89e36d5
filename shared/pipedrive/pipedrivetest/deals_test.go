package pipedrivetest

import (
	"fmt"
	"strconv"
	"testing"
	"time"
)

func TestPatchDealRules(t *testing.T) {
	clk := newClock()
	srv := start(t, Options{Now: clk.Now})
	otherPipe, otherStages := srv.AddPipeline("Renewals", "Up for renewal", "Renewed")
	deleted := srv.AddStage(1, "Obsolete", 0)
	srv.DeleteStage(deleted)

	cases := []struct {
		name      string
		deal      Deal // added fresh per case (ID auto)
		dealID    int64
		body      any
		want      int
		wantErr   string
		check     func(t *testing.T, before, after Deal, r result)
		validator bool // expect an OpenAPI request validation entry
	}{
		{name: "move to stage 3", body: map[string]any{"stage_id": 3}, want: 200,
			check: func(t *testing.T, before, after Deal, r result) {
				if after.StageID != 3 || after.PipelineID != 1 || !after.StageChangeTime.After(before.StageChangeTime) || !after.UpdateTime.After(before.UpdateTime) {
					t.Errorf("after = %+v", after)
				}
				if num(data(r)["stage_id"]) != 3 || data(r)["stage_change_time"] != fmtTime(after.StageChangeTime) {
					t.Errorf("response data = %v", data(r))
				}
			}},
		{name: "stage implies its pipeline", body: map[string]any{"stage_id": otherStages[1]}, want: 200,
			check: func(t *testing.T, _, after Deal, _ result) {
				if after.PipelineID != otherPipe || after.StageID != otherStages[1] {
					t.Errorf("after = %+v", after)
				}
			}},
		{name: "stage of another pipeline than pipeline_id", body: map[string]any{"stage_id": otherStages[0], "pipeline_id": 1}, want: 400, wantErr: MsgStageOtherPipe},
		{name: "matching stage and pipeline", body: map[string]any{"stage_id": otherStages[0], "pipeline_id": otherPipe}, want: 200},
		{name: "unknown stage", body: map[string]any{"stage_id": 999}, want: 400, wantErr: MsgStageNotFound},
		{name: "deleted stage", body: map[string]any{"stage_id": deleted}, want: 400, wantErr: MsgStageNotFound},
		{name: "unknown pipeline", body: map[string]any{"pipeline_id": 77}, want: 400, wantErr: MsgPipelineNotFound},
		{name: "archived deal not editable", deal: Deal{IsArchived: true}, body: map[string]any{"stage_id": 2}, want: 400, wantErr: MsgArchivedDeal,
			check: func(t *testing.T, before, after Deal, _ result) {
				if after.StageID != before.StageID {
					t.Errorf("archived deal changed: %+v", after)
				}
			}},
		{name: "archived deal can be unarchived", deal: Deal{IsArchived: true}, body: map[string]any{"is_archived": false}, want: 200,
			check: func(t *testing.T, _, after Deal, _ result) {
				if after.IsArchived {
					t.Errorf("still archived")
				}
			}},
		{name: "missing deal", dealID: 4242, body: map[string]any{"stage_id": 2}, want: 404},
		{name: "deleted deal", deal: Deal{IsDeleted: true}, body: map[string]any{"stage_id": 2}, want: 404},
		{name: "won_time needs status won", body: map[string]any{"won_time": "2026-03-01 10:00:00"}, want: 400},
		{name: "lost_reason needs status lost", body: map[string]any{"lost_reason": "price"}, want: 400},
		{name: "status won sets won and close time", body: map[string]any{"status": "won"}, want: 200,
			check: func(t *testing.T, _, after Deal, r result) {
				if after.Status != "won" || after.WonTime.IsZero() || after.CloseTime.IsZero() || data(r)["won_time"] == nil {
					t.Errorf("after = %+v", after)
				}
			}},
		{name: "status lost with lost_time", body: map[string]any{"status": "lost", "lost_time": "2026-03-01 10:00:00", "lost_reason": "budget"}, want: 200,
			check: func(t *testing.T, _, after Deal, _ result) {
				if after.Status != "lost" || after.LostTime.Format(time.DateTime) != "2026-03-01 10:00:00" || after.LostReason != "budget" {
					t.Errorf("after = %+v", after)
				}
			}},
		{name: "invalid status", body: map[string]any{"status": "deleted-ish"}, want: 400},
		{name: "schema: stage_id must be an integer", body: map[string]any{"stage_id": "three"}, want: 400, validator: true},
		{name: "schema: body must be an object", body: `[1,2]`, want: 400, validator: true},
		{name: "schema: path id must be an integer", dealID: -1, body: map[string]any{"stage_id": 2}, want: 400, validator: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv.ClearValidationErrors()
			clk.Advance(time.Minute)
			id := tc.dealID
			if id == 0 {
				id = srv.AddDeal(tc.deal)
			}
			before, _ := srv.Deal(id)
			clk.Advance(time.Minute)
			path := fmt.Sprintf("/api/v2/deals/%d", id)
			if id == -1 {
				path = "/api/v2/deals/abc"
			}
			r := doReq(t, srv, "PATCH", path, tc.body)
			if r.status != tc.want {
				t.Fatalf("status %d, want %d: %s", r.status, tc.want, r.body)
			}
			if tc.want >= 400 {
				assertErrorShape(t, r)
				if tc.wantErr != "" && r.json["error"] != tc.wantErr {
					t.Errorf("error = %v, want %q", r.json["error"], tc.wantErr)
				}
			}
			v := srv.ValidationErrors()
			if tc.validator != (len(v) > 0) {
				t.Errorf("validation errors = %q", v)
			}
			if tc.check != nil {
				after, _ := srv.Deal(id)
				tc.check(t, before, after, r)
			}
		})
	}
}

func TestGetDeal(t *testing.T) {
	srv := start(t, Options{})
	p := srv.AddPerson("Ada Lovelace", "ada@example.com")
	id := srv.AddDeal(Deal{Title: "Analytical engine", StageID: 2, PersonID: p, Value: 1200.5, Currency: "GBP"})
	arch := srv.AddDeal(Deal{Title: "Old", IsArchived: true})
	del := srv.AddDeal(Deal{Title: "Gone", IsDeleted: true})
	cases := []struct {
		name string
		id   int64
		want int
	}{{"open deal", id, 200}, {"archived deal is readable", arch, 200}, {"deleted deal", del, 404}, {"missing deal", 999, 404}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := doReq(t, srv, "GET", fmt.Sprintf("/api/v2/deals/%d", tc.id), nil)
			if r.status != tc.want {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if tc.want == 404 {
				assertErrorShape(t, r)
				return
			}
			d := data(r)
			for _, k := range []string{"id", "title", "stage_id", "pipeline_id", "status", "is_archived", "update_time", "stage_change_time", "owner_id", "add_time", "value", "currency"} {
				if _, ok := d[k]; !ok {
					t.Errorf("deal lacks %q: %s", k, r.body)
				}
			}
		})
	}
	r := doReq(t, srv, "GET", fmt.Sprintf("/api/v2/deals/%d", id), nil)
	if d := data(r); num(d["person_id"]) != p || d["currency"] != "GBP" || d["value"] != 1200.5 || num(d["pipeline_id"]) != 1 {
		t.Errorf("deal = %v", d)
	}
	noValidationErrors(t, srv)
}

func TestListDealsFilters(t *testing.T) {
	srv := start(t, Options{})
	p1 := srv.AddPerson("P One", "one@example.com")
	p2 := srv.AddPerson("P Two", "two@example.com")
	a := srv.AddDeal(Deal{PersonID: p1, StageID: 1})
	b := srv.AddDeal(Deal{PersonID: p1, StageID: 2, Status: "won"})
	srv.AddDeal(Deal{PersonID: p1, StageID: 2, IsArchived: true})
	srv.AddDeal(Deal{PersonID: p1, StageID: 2, IsDeleted: true})
	c := srv.AddDeal(Deal{PersonID: p2, StageID: 2})
	cases := []struct {
		query string
		want  []int64
	}{
		{"", []int64{a, b, c}},
		{"?person_id=" + strconv.FormatInt(p1, 10), []int64{a, b}},
		{"?person_id=" + strconv.FormatInt(p1, 10) + "&status=open", []int64{a}},
		{"?stage_id=2", []int64{b, c}},
		{"?pipeline_id=1&sort_direction=desc", []int64{c, b, a}},
		{"?status=won", []int64{b}},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			r := doReq(t, srv, "GET", "/api/v2/deals"+tc.query, nil)
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.body)
			}
			var got []int64
			for _, d := range r.json["data"].([]any) {
				got = append(got, num(d.(map[string]any)["id"]))
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %v want %v", got, tc.want)
			}
		})
	}
	// paging over deals
	var all []int64
	cur := ""
	for range 10 {
		r := doReq(t, srv, "GET", "/api/v2/deals?limit=2"+cur, nil)
		for _, d := range r.json["data"].([]any) {
			all = append(all, num(d.(map[string]any)["id"]))
		}
		next, _ := r.json["additional_data"].(map[string]any)["next_cursor"].(string)
		if next == "" {
			break
		}
		cur = "&cursor=" + next
	}
	if fmt.Sprint(all) != fmt.Sprint([]int64{a, b, c}) {
		t.Errorf("paged deals = %v", all)
	}
	noValidationErrors(t, srv)
}
