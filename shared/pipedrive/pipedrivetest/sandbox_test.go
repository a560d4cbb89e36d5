package pipedrivetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/getkin/kin-openapi/openapi3filter"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// ---------------------------------------------------------------- helpers

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func start(t *testing.T, opts Options) *Server {
	t.Helper()
	srv, err := Start(opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(srv.Close)
	return srv
}

type result struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any
}

func doReq(t *testing.T, srv *Server, method, path string, body any, hdr ...string) result {
	t.Helper()
	return callCtx(t, context.Background(), srv, method, path, body, hdr...)
}

// callCtx sends a request with x-api-token set unless hdr overrides auth
// (hdr is name, value pairs; "x-api-token", "" removes the default).
func callCtx(t *testing.T, ctx context.Context, srv *Server, method, path string, body any, hdr ...string) result {
	t.Helper()
	var rdr io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			rdr = strings.NewReader(b)
		default:
			js, _ := json.Marshal(b)
			rdr = bytes.NewReader(js)
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, srv.URL()+path, rdr)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("x-api-token", srv.Token())
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return result{status: -1, body: []byte(err.Error())}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := result{status: resp.StatusCode, header: resp.Header, body: b}
	_ = json.Unmarshal(b, &r.json)
	return r
}

func data(r result) map[string]any {
	m, _ := r.json["data"].(map[string]any)
	return m
}

func num(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}

func assertErrorShape(t *testing.T, r result) {
	t.Helper()
	for _, k := range []string{"success", "error", "error_info", "data", "additional_data"} {
		if _, ok := r.json[k]; !ok {
			t.Errorf("error body lacks %q: %s", k, r.body)
		}
	}
	if r.json["success"] != false || r.json["data"] != nil || r.json["additional_data"] != nil {
		t.Errorf("bad error shape: %s", r.body)
	}
	if s, _ := r.json["error"].(string); s == "" {
		t.Errorf("empty error message: %s", r.body)
	}
}

func noValidationErrors(t *testing.T, srv *Server) {
	t.Helper()
	if v := srv.ValidationErrors(); len(v) > 0 {
		t.Errorf("validation errors:\n%s", strings.Join(v, "\n"))
	}
}

// ---------------------------------------------------------------- tests

func TestSpecLoadTimeAndSeed(t *testing.T) {
	srv := start(t, Options{})
	for base, d := range SpecLoadTimes() {
		t.Logf("spec %s loaded+validated in %v", base, d)
	}
	st := srv.Stages(1)
	want := []string{"Qualified", "Contact Made", "Demo Scheduled", "Proposal Made", "Negotiations Started"}
	if len(st) != len(want) {
		t.Fatalf("seed stages: %+v", st)
	}
	for i, s := range st {
		if s.ID != int64(i+1) || s.OrderNr != i+1 || s.Name != want[i] || s.PipelineID != 1 {
			t.Errorf("stage %d = %+v", i, s)
		}
	}
	r := doReq(t, srv, "GET", "/api/v2/pipelines", nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"name":"Sales"`) {
		t.Fatalf("pipelines: %d %s", r.status, r.body)
	}
	noValidationErrors(t, srv)
}

func TestAuth(t *testing.T) {
	srv := start(t, Options{})
	id := srv.AddDeal(Deal{Title: "Auth deal"})
	path := fmt.Sprintf("/api/v2/deals/%d", id)
	cases := []struct {
		name       string
		path       string
		hdr        []string
		want       int
		queryToken bool
	}{
		{"no token", path, []string{"x-api-token", ""}, 401, false},
		{"wrong token", path, []string{"x-api-token", "nope"}, 401, false},
		{"wrong bearer", path, []string{"x-api-token", "", "Authorization", "Bearer nope"}, 401, false},
		{"header token", path, nil, 200, false},
		{"bearer token", path, []string{"x-api-token", "", "Authorization", "Bearer " + srv.Token()}, 200, false},
		{"query token", path + "?api_token=" + srv.Token(), []string{"x-api-token", ""}, 200, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv.ClearValidationErrors()
			r := doReq(t, srv, "GET", tc.path, nil, tc.hdr...)
			if r.status != tc.want {
				t.Fatalf("status %d, want %d: %s", r.status, tc.want, r.body)
			}
			if tc.want == 401 {
				if r.json["success"] != false || r.json["error"] != "unauthorized access" || num(r.json["errorCode"]) != 401 {
					t.Errorf("401 body: %s", r.body)
				}
			}
			v := srv.ValidationErrors()
			gotQ := len(v) == 1 && strings.Contains(v[0], "token in query string")
			if gotQ != tc.queryToken || (!tc.queryToken && len(v) > 0) {
				t.Errorf("validation errors = %q", v)
			}
		})
	}
	for _, rq := range srv.Requests() {
		if strings.Contains(rq.Query, srv.Token()) || strings.Contains(rq.Path, srv.Token()) {
			t.Errorf("token leaked into request log: %+v", rq)
		}
	}
}

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

func TestCursorPagingStages(t *testing.T) {
	srv := start(t, Options{})
	names := []string{"s1", "s2", "s3", "s4", "s5", "s6", "s7"}
	pipe, ids := srv.AddPipeline("Long", names...)
	for _, tc := range []struct {
		name  string
		query string
		want  []int64
	}{
		{"by id", fmt.Sprintf("pipeline_id=%d&limit=3", pipe), ids},
		{"by order_nr desc", fmt.Sprintf("pipeline_id=%d&limit=3&sort_by=order_nr&sort_direction=desc", pipe), reverse(ids)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []int64
			pages := 0
			cur := ""
			for {
				r := doReq(t, srv, "GET", "/api/v2/stages?"+tc.query+cur, nil)
				if r.status != 200 {
					t.Fatalf("%d %s", r.status, r.body)
				}
				pages++
				for _, s := range r.json["data"].([]any) {
					m := s.(map[string]any)
					if num(m["pipeline_id"]) != pipe {
						t.Errorf("stage of other pipeline: %v", m)
					}
					got = append(got, num(m["id"]))
				}
				next, _ := r.json["additional_data"].(map[string]any)["next_cursor"].(string)
				if next == "" {
					break
				}
				cur = "&cursor=" + next
				if pages > 5 {
					t.Fatal("paging does not end")
				}
			}
			if pages != 3 || fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("pages %d, got %v want %v", pages, got, tc.want)
			}
		})
	}
	r := doReq(t, srv, "GET", "/api/v2/stages?cursor=garbage", nil)
	if r.status != 400 {
		t.Errorf("bad cursor: %d", r.status)
	}
	r = doReq(t, srv, "GET", "/api/v2/stages?limit=501", nil)
	if r.status != 400 {
		t.Errorf("limit 501: %d", r.status)
	}
	noValidationErrors(t, srv)
}

func reverse(in []int64) []int64 {
	out := make([]int64, len(in))
	for i, v := range in {
		out[len(in)-1-i] = v
	}
	return out
}

func TestPersonSearch(t *testing.T) {
	srv := start(t, Options{})
	org := srv.AddOrganization("Northwind")
	anna := srv.AddPersonFull(Person{Name: "Anna Schmidt", Emails: []string{"Anna.Schmidt@northwind.example"}, OrgID: org})
	annaB := srv.AddPerson("Anna Berg", "anna@other.example", "berg@northwind.example")
	srv.AddPerson("Bob", "bob@northwind.example.org")
	cases := []struct {
		name  string
		query string
		want  []int64
		code  int
	}{
		{"exact email, case-insensitive", "term=anna.schmidt%40northwind.example&fields=email&exact_match=true", []int64{anna}, 200},
		{"exact email second address", "term=berg%40northwind.example&fields=email&exact_match=true", []int64{annaB}, 200},
		{"exact does not match substrings", "term=northwind.example&fields=email&exact_match=true", nil, 200},
		{"exact email does not search names", "term=Anna+Berg&fields=email&exact_match=true", nil, 200},
		{"partial name, best score first", "term=anna&fields=name", []int64{annaB, anna}, 200},
		{"one char needs exact_match", "term=a", nil, 400},
		{"term required", "fields=email", nil, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := doReq(t, srv, "GET", "/api/v2/persons/search?"+tc.query, nil)
			if r.status != tc.code {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if tc.code != 200 {
				return
			}
			var got []int64
			for _, it := range data(r)["items"].([]any) {
				got = append(got, num(it.(map[string]any)["item"].(map[string]any)["id"]))
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %v want %v (%s)", got, tc.want, r.body)
			}
		})
	}
	r := doReq(t, srv, "GET", "/api/v2/persons/search?term=anna.schmidt%40northwind.example&fields=email&exact_match=true", nil)
	item := data(r)["items"].([]any)[0].(map[string]any)["item"].(map[string]any)
	if item["organization"].(map[string]any)["name"] != "Northwind" || item["type"] != "person" {
		t.Errorf("item = %v", item)
	}
}

func TestRateLimits(t *testing.T) {
	clk := newClock()
	srv := start(t, Options{Now: clk.Now, BurstLimit: 20})
	id := srv.AddDeal(Deal{})
	path := fmt.Sprintf("/api/v2/deals/%d", id)

	// 20 requests fit in the window; remaining counts down, reset is 2 s (not an epoch)
	for i := 1; i <= 20; i++ {
		r := doReq(t, srv, "GET", path, nil)
		if r.status != 200 {
			t.Fatalf("request %d: %d", i, r.status)
		}
		if got := r.header.Get("x-ratelimit-remaining"); got != strconv.Itoa(20-i) {
			t.Fatalf("request %d remaining %s", i, got)
		}
		if r.header.Get("x-ratelimit-limit") != "20" || r.header.Get("x-ratelimit-reset") != "2" || r.header.Get("x-daily-requests-left") == "" {
			t.Fatalf("headers %v", r.header)
		}
	}
	clk.Advance(500 * time.Millisecond)
	r := doReq(t, srv, "GET", path, nil)
	if r.status != 429 {
		t.Fatalf("21st request: %d", r.status)
	}
	assertErrorShape(t, r)
	if r.header.Get("x-ratelimit-remaining") != "0" || r.header.Get("x-ratelimit-reset") != "2" || r.header.Get("Retry-After") != "2" {
		t.Errorf("429 headers: %v", r.header)
	}
	clk.Advance(time.Second) // 1.5 s after the first request: 0.5 s left
	r = doReq(t, srv, "GET", path, nil)
	if r.status != 429 || r.header.Get("x-ratelimit-reset") != "1" {
		t.Errorf("reset should count down: %d %v", r.status, r.header.Get("x-ratelimit-reset"))
	}
	// keep hammering: > 10 requests after the first 429 in the window → 403 HTML
	var last result
	for i := 0; i < 10; i++ {
		last = doReq(t, srv, "GET", path, nil)
	}
	if last.status != 403 || !strings.HasPrefix(last.header.Get("Content-Type"), "text/html") || !strings.Contains(string(last.body), "<html") {
		t.Fatalf("expected 403 HTML, got %d %s %q", last.status, last.header.Get("Content-Type"), last.body)
	}
	// the block outlasts the window, then clears
	clk.Advance(3 * time.Second)
	if r := doReq(t, srv, "GET", path, nil); r.status != 403 {
		t.Errorf("still blocked expected, got %d", r.status)
	}
	clk.Advance(10 * time.Second)
	if r := doReq(t, srv, "GET", path, nil); r.status != 200 {
		t.Errorf("after block: %d %s", r.status, r.body)
	}

	// a client that waits x-ratelimit-reset seconds after a 429 gets through
	clk.Advance(5 * time.Second)
	for i := 0; i < 20; i++ {
		doReq(t, srv, "GET", path, nil)
	}
	r = doReq(t, srv, "GET", path, nil)
	reset, _ := strconv.Atoi(r.header.Get("x-ratelimit-reset"))
	if r.status != 429 || reset < 1 || reset > 2 {
		t.Fatalf("429 reset %d", reset)
	}
	clk.Advance(time.Duration(reset) * time.Second)
	if r := doReq(t, srv, "GET", path, nil); r.status != 200 {
		t.Errorf("after waiting reset: %d", r.status)
	}
}

func TestSearchBurstLimit(t *testing.T) {
	clk := newClock()
	srv := start(t, Options{Now: clk.Now})
	srv.AddPerson("Ann", "ann@example.com")
	q := "/api/v2/persons/search?term=ann%40example.com&fields=email&exact_match=true"
	for i := 0; i < 10; i++ {
		if r := doReq(t, srv, "GET", q, nil); r.status != 200 || r.header.Get("x-ratelimit-limit") != "10" {
			t.Fatalf("search %d: %d %v", i, r.status, r.header.Get("x-ratelimit-limit"))
		}
	}
	if r := doReq(t, srv, "GET", q, nil); r.status != 429 {
		t.Fatalf("11th search: %d", r.status)
	}
	if r := doReq(t, srv, "GET", "/api/v2/stages", nil); r.status != 200 || r.header.Get("x-ratelimit-limit") != "20" {
		t.Fatalf("general window should be separate: %d", r.status)
	}
	clk.Advance(RateWindow)
	if r := doReq(t, srv, "GET", q, nil); r.status != 200 {
		t.Fatalf("after window: %d", r.status)
	}
}

func TestTokenCost(t *testing.T) {
	srv := start(t, Options{DailyBudget: 20})
	// the costs come from the spec, not from a table in the sandbox
	costs := map[string]int{}
	for path, item := range srv.v2.doc.Paths.Map() {
		for method, op := range item.Operations() {
			if c, ok := tokenCost(op); ok {
				costs[method+" "+path] = c
			}
		}
	}
	want := map[string]int{"GET /deals/{id}": 1, "PATCH /deals/{id}": 5, "GET /deals": 10, "GET /stages": 5, "GET /pipelines": 5, "GET /persons/search": 20}
	for k, v := range want {
		if costs[k] != v {
			t.Errorf("spec x-token-cost %s = %d, want %d", k, costs[k], v)
		}
	}
	id := srv.AddDeal(Deal{})
	path := fmt.Sprintf("/api/v2/deals/%d", id)
	steps := []struct {
		method string
		body   any
		status int
		spent  int
		left   string
	}{
		{"GET", nil, 200, 1, "19"},
		{"PATCH", map[string]any{"stage_id": 2}, 200, 6, "14"},
		{"PATCH", map[string]any{"stage_id": 3}, 200, 11, "9"},
		{"PATCH", map[string]any{"stage_id": 4}, 200, 16, "4"},
		{"PATCH", map[string]any{"stage_id": 5}, 429, 16, "4"}, // needs 5, 4 left
		{"GET", nil, 200, 17, "3"},
	}
	for i, st := range steps {
		r := doReq(t, srv, st.method, path, st.body)
		if r.status != st.status || srv.TokenCostSpent() != st.spent || r.header.Get("x-daily-requests-left") != st.left {
			t.Errorf("step %d: status %d spent %d left %s (%s)", i, r.status, srv.TokenCostSpent(), r.header.Get("x-daily-requests-left"), r.body)
		}
	}
	var logged int
	for _, rq := range srv.Requests() {
		logged += rq.TokenCost
	}
	if logged != srv.TokenCostSpent() {
		t.Errorf("logged cost %d != spent %d", logged, srv.TokenCostSpent())
	}
}

func TestFaults(t *testing.T) {
	srv := start(t, Options{})
	id := srv.AddDeal(Deal{StageID: 1})
	path := fmt.Sprintf("/api/v2/deals/%d", id)

	t.Run("5xx Times", func(t *testing.T) {
		srv.InjectFault(Fault{Method: "PATCH", PathPrefix: "/api/v2/deals/", Status: 503, Times: 2})
		defer srv.ClearFaults()
		var got []int
		for i := 0; i < 3; i++ {
			got = append(got, doReq(t, srv, "PATCH", path, map[string]any{"stage_id": 2}).status)
		}
		if fmt.Sprint(got) != "[503 503 200]" {
			t.Errorf("statuses %v", got)
		}
		if doReq(t, srv, "GET", path, nil).status != 200 {
			t.Error("GET should not be faulted")
		}
	})
	t.Run("ApplyBeforeDelay applies the change, answer lost", func(t *testing.T) {
		srv.InjectFault(Fault{Method: "PATCH", PathPrefix: path, Delay: 5 * time.Second, ApplyBeforeDelay: true, Times: 1})
		defer srv.ClearFaults()
		srv.ResetRequests()
		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
		defer cancel()
		startT := time.Now()
		r := callCtx(t, ctx, srv, "PATCH", path, map[string]any{"stage_id": 4})
		if r.status != -1 {
			t.Fatalf("expected a client timeout, got %d", r.status)
		}
		if time.Since(startT) > 2*time.Second {
			t.Errorf("took too long")
		}
		if d, _ := srv.Deal(id); d.StageID != 4 {
			t.Errorf("change not applied: stage %d", d.StageID)
		}
		waitFor(t, func() bool { return srv.Count("PATCH", path) == 1 })
		if rq := srv.Requests(); rq[0].Status != 499 {
			t.Errorf("logged status %d", rq[0].Status)
		}
	})
	t.Run("Delay without apply does not write", func(t *testing.T) {
		srv.InjectFault(Fault{Method: "PATCH", Delay: 5 * time.Second, Times: 1})
		defer srv.ClearFaults()
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		callCtx(t, ctx, srv, "PATCH", path, map[string]any{"stage_id": 1})
		time.Sleep(50 * time.Millisecond)
		if d, _ := srv.Deal(id); d.StageID != 4 {
			t.Errorf("change applied despite stall: stage %d", d.StageID)
		}
	})
	t.Run("ApplyBeforeDelay with status answers 502 after the write", func(t *testing.T) {
		srv.InjectFault(Fault{Method: "PATCH", Status: 502, ApplyBeforeDelay: true, Times: 1})
		defer srv.ClearFaults()
		r := doReq(t, srv, "PATCH", path, map[string]any{"stage_id": 5})
		if d, _ := srv.Deal(id); r.status != 502 || d.StageID != 5 {
			t.Errorf("status %d stage %d", r.status, d.StageID)
		}
	})
	t.Run("403 HTML", func(t *testing.T) {
		srv.InjectFault(Fault{Status: 403, HTMLBody: true, Times: 1})
		defer srv.ClearFaults()
		r := doReq(t, srv, "GET", path, nil)
		if r.status != 403 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
			t.Errorf("%d %s", r.status, r.header.Get("Content-Type"))
		}
	})
	noValidationErrors(t, srv)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type hookReceiver struct {
	mu       sync.Mutex
	payloads []map[string]any
	auth     []string
	fail     int // answer 500 to this many requests first
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	u, p, _ := r.BasicAuth()
	h.auth = append(h.auth, u+":"+p)
	var m map[string]any
	_ = json.NewDecoder(r.Body).Decode(&m)
	h.payloads = append(h.payloads, m)
	if h.fail > 0 {
		h.fail--
		w.WriteHeader(500)
		return
	}
	w.WriteHeader(200)
}

func (h *hookReceiver) take() []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.payloads
	h.payloads = nil
	return out
}

func TestWebhooks(t *testing.T) {
	recv := &hookReceiver{}
	hs := httptest.NewServer(recv)
	defer hs.Close()
	srv := start(t, Options{WebhookRetryDelays: []time.Duration{10 * time.Millisecond, 20 * time.Millisecond}})
	human := int64(2002)
	id := srv.AddDeal(Deal{Title: "Hooked", StageID: 1})

	// subscribe through the v1 API, validated against openapi-v1.yaml
	r := doReq(t, srv, "POST", "/v1/webhooks", map[string]any{
		"subscription_url": hs.URL + "/hook", "event_action": "change", "event_object": "deal",
		"name": "stagemover", "http_auth_user": "hookuser", "http_auth_password": "hookpass", "version": "2.0",
	})
	if r.status != 201 || data(r)["version"] != "2.0" || num(data(r)["id"]) == 0 {
		t.Fatalf("add webhook: %d %s", r.status, r.body)
	}
	hookID := num(data(r)["id"])
	if r := doReq(t, srv, "GET", "/v1/webhooks", nil); r.status != 200 || len(r.json["data"].([]any)) != 1 {
		t.Fatalf("list webhooks: %d %s", r.status, r.body)
	}
	// a non-matching subscription must not fire
	srv.Subscribe(hs.URL+"/persons", "", "", "change", "person")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	steps := []struct {
		name         string
		do           func()
		source       string
		user         int64
		stageChanged bool
		prevStage    int64
	}{
		{"api stage move", func() { doReq(t, srv, "PATCH", fmt.Sprintf("/api/v2/deals/%d", id), map[string]any{"stage_id": 3}) }, "api", DefaultIntegrationUserID, true, 1},
		{"api title change", func() {
			doReq(t, srv, "PATCH", fmt.Sprintf("/api/v2/deals/%d", id), map[string]any{"title": "Renamed"})
		}, "api", DefaultIntegrationUserID, false, 0},
		{"human move in app", func() {
			if err := srv.MoveDealAsUser(id, 2, human); err != nil {
				t.Fatal(err)
			}
		}, "app", human, true, 3},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.do()
			if err := srv.WaitWebhooks(ctx); err != nil {
				t.Fatal(err)
			}
			got := recv.take()
			if len(got) != 1 {
				t.Fatalf("got %d deliveries", len(got))
			}
			meta := got[0]["meta"].(map[string]any)
			wantMeta := map[string]any{
				"action": "change", "entity": "deal", "entity_id": strconv.FormatInt(id, 10), "change_source": st.source,
				"user_id": strconv.FormatInt(st.user, 10), "version": "2.0", "is_bulk_edit": false, "type": "general",
				"host": "sandbox.pipedrive.com", "webhook_id": strconv.FormatInt(hookID, 10), "company_id": "1",
			}
			for k, v := range wantMeta {
				if meta[k] != v {
					t.Errorf("meta.%s = %v, want %v", k, meta[k], v)
				}
			}
			if meta["attempt"] != float64(1) || len(meta["id"].(string)) != 36 || len(meta["correlation_id"].(string)) != 36 {
				t.Errorf("meta = %v", meta)
			}
			if _, err := time.Parse(time.RFC3339, meta["timestamp"].(string)); err != nil {
				t.Errorf("timestamp: %v", err)
			}
			prev := got[0]["previous"].(map[string]any)
			ps, has := prev["stage_id"]
			if has != st.stageChanged || (has && num(ps) != st.prevStage) {
				t.Errorf("previous = %v", prev)
			}
			if _, has := prev["update_time"]; has {
				t.Errorf("previous should only hold changed fields: %v", prev)
			}
			d := got[0]["data"].(map[string]any)
			if num(d["id"]) != id {
				t.Errorf("data = %v", d)
			}
		})
	}
	// no-op change: no webhook
	doReq(t, srv, "PATCH", fmt.Sprintf("/api/v2/deals/%d", id), map[string]any{"stage_id": 2})
	_ = srv.WaitWebhooks(ctx)
	if got := recv.take(); len(got) != 0 {
		t.Errorf("no-op PATCH fired %d webhooks", len(got))
	}
	recv.mu.Lock()
	for _, a := range recv.auth {
		if a != "hookuser:hookpass" {
			t.Errorf("basic auth %q", a)
		}
	}
	recv.mu.Unlock()

	t.Run("retries", func(t *testing.T) {
		recv.mu.Lock()
		recv.fail = 2
		recv.mu.Unlock()
		before := len(srv.Deliveries())
		if err := srv.MoveDealAsUser(id, 4, human); err != nil {
			t.Fatal(err)
		}
		_ = srv.WaitWebhooks(ctx)
		ds := srv.Deliveries()[before:]
		if len(ds) != 3 || ds[0].OK || ds[1].OK || !ds[2].OK || ds[2].Attempt != 3 || ds[0].EventID != ds[2].EventID {
			t.Errorf("deliveries %+v", ds)
		}
		got := recv.take()
		if len(got) != 3 || got[2]["meta"].(map[string]any)["attempt"] != float64(3) {
			t.Errorf("payload attempts: %d", len(got))
		}
	})

	if r := doReq(t, srv, "DELETE", fmt.Sprintf("/v1/webhooks/%d", hookID), nil); r.status != 200 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := doReq(t, srv, "DELETE", fmt.Sprintf("/v1/webhooks/%d", hookID), nil); r.status != 404 {
		t.Fatalf("delete again: %d %s", r.status, r.body)
	}
	if err := srv.MoveDealAsUser(id, 1, human); err != nil {
		t.Fatal(err)
	}
	_ = srv.WaitWebhooks(ctx)
	if got := recv.take(); len(got) != 0 {
		t.Errorf("deleted webhook fired")
	}
	noValidationErrors(t, srv)

	// the v1 spec requires name: a webhook without it is rejected by validation
	r = doReq(t, srv, "POST", "/v1/webhooks", map[string]any{"subscription_url": hs.URL, "event_action": "change", "event_object": "deal"})
	if r.status != 400 || len(srv.ValidationErrors()) != 1 {
		t.Errorf("webhook without name: %d %s %v", r.status, r.body, srv.ValidationErrors())
	}
}

func TestNormalUseHasNoValidationErrors(t *testing.T) {
	srv := start(t, Options{DemoData: true, BurstLimit: 1000, SearchBurstLimit: 1000})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer hs.Close()
	paths := []struct{ method, path string }{
		{"GET", "/api/v2/deals"}, {"GET", "/api/v2/deals?status=won"}, {"GET", "/api/v2/deals?status=deleted"},
		{"GET", "/api/v2/deals/archived"}, {"GET", "/api/v2/deals?sort_by=update_time&sort_direction=desc&limit=3"},
		{"GET", "/api/v2/deals/1"}, {"GET", "/api/v2/deals/9"}, {"GET", "/api/v2/deals/10"},
		{"GET", "/api/v2/stages"}, {"GET", "/api/v2/stages?pipeline_id=2"}, {"GET", "/api/v2/stages/1"},
		{"GET", "/api/v2/pipelines"}, {"GET", "/api/v2/pipelines/1"},
		{"GET", "/api/v2/persons/search?term=anna&fields=name"},
		{"GET", "/api/v2/persons/search?term=j.carter%40globex.example&fields=email&exact_match=true"},
		{"GET", "/v1/webhooks"},
	}
	for _, p := range paths {
		if r := doReq(t, srv, p.method, p.path, nil); r.status != 200 {
			t.Errorf("%s %s: %d %s", p.method, p.path, r.status, r.body)
		}
	}
	for _, body := range []map[string]any{
		{"stage_id": 4}, {"status": "won"}, {"status": "open"}, {"status": "lost", "lost_reason": "timing"},
		{"value": 99.5, "currency": "usd", "title": "x"}, {"probability": nil, "expected_close_date": "2026-05-01", "label_ids": []int{1}},
		{"custom_fields": map[string]any{"abc": "def"}}, {"is_archived": true},
	} {
		if r := doReq(t, srv, "PATCH", "/api/v2/deals/1", body); r.status != 200 {
			t.Errorf("PATCH %v: %d %s", body, r.status, r.body)
		}
	}
	if r := doReq(t, srv, "POST", "/v1/webhooks", map[string]any{"subscription_url": hs.URL, "event_action": "*", "event_object": "*", "name": "all"}); r.status != 201 {
		t.Errorf("webhook: %d %s", r.status, r.body)
	}
	if r := doReq(t, srv, "GET", "/v1/webhooks", nil); r.status != 200 {
		t.Errorf("webhooks: %d", r.status)
	}
	noValidationErrors(t, srv)
}

func TestNotImplementedAndUnknown(t *testing.T) {
	srv := start(t, Options{})
	cases := []struct {
		method, path string
		body         any
		want         int
	}{
		{"POST", "/api/v2/deals", map[string]any{"title": "x"}, 501},
		{"GET", "/api/v2/activities", nil, 501},
		{"GET", "/api/v2/nothing-here", nil, 404},
		{"GET", "/elsewhere", nil, 404},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r := doReq(t, srv, tc.method, tc.path, tc.body)
			if r.status != tc.want {
				t.Fatalf("%d %s", r.status, r.body)
			}
			assertErrorShape(t, r)
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	srv := start(t, Options{BurstLimit: 100000})
	ids := make([]int64, 8)
	for i := range ids {
		ids[i] = srv.AddDeal(Deal{})
	}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer hs.Close()
	srv.Subscribe(hs.URL, "", "", "*", "deal")
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 12; i++ {
				id := ids[(g+i)%len(ids)]
				var r result
				if i%2 == 0 {
					r = doReq(t, srv, "PATCH", fmt.Sprintf("/api/v2/deals/%d", id), map[string]any{"stage_id": 1 + (i % 5)})
				} else {
					r = doReq(t, srv, "GET", "/api/v2/deals?limit=3", nil)
				}
				if r.status != 200 {
					errs <- errors.New(string(r.body))
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.WaitWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
	if srv.Count("", "/api/v2/") != 96 {
		t.Errorf("count %d", srv.Count("", "/api/v2/"))
	}
	noValidationErrors(t, srv)
}

func TestResponseValidationCatchesShapeBugs(t *testing.T) {
	sb, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	req := httptest.NewRequest("GET", "/api/v2/deals/1", nil)
	route, params, err := sb.v2.router.FindRoute(req)
	if err != nil {
		t.Fatal(err)
	}
	input := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route}
	cases := []struct {
		name string
		body string
		bad  bool
	}{
		{"valid", `{"success":true,"data":{"id":1,"stage_id":2,"person_id":3}}`, false},
		{"null person_id (not nullable in the spec)", `{"success":true,"data":{"id":1,"person_id":null}}`, true},
		{"string stage_id", `{"success":true,"data":{"id":1,"stage_id":"2"}}`, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sb.ClearValidationErrors()
			sb.validateResponse(input, &response{status: 200, body: []byte(tc.body), validate: true})
			if got := len(sb.ValidationErrors()) > 0; got != tc.bad {
				t.Errorf("validation errors %v", sb.ValidationErrors())
			}
		})
	}
}

func TestLogsNeverContainToken(t *testing.T) {
	const token = "s3cr3t-T0ken-4-logs"
	var buf syncBuffer
	srv := start(t, Options{Token: token, WebhookRetryDelays: []time.Duration{time.Millisecond}, Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	defer hs.Close()
	srv.Subscribe(hs.URL+"?secret=xyz", "u", "p", "*", "*")
	srv.AddDeal(Deal{ID: 1})
	doReq(t, srv, "GET", "/api/v2/deals/1", nil)
	doReq(t, srv, "GET", "/api/v2/deals/1?api_token="+token, nil, "x-api-token", "")
	doReq(t, srv, "GET", "/api/v2/deals/1", nil, "x-api-token", "", "Authorization", "Bearer "+token)
	doReq(t, srv, "GET", "/api/v2/deals/1", nil, "x-api-token", token+"x")
	doReq(t, srv, "PATCH", "/api/v2/deals/1", map[string]any{"stage_id": 2})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.WaitWebhooks(ctx)
	out := buf.String()
	if !strings.Contains(out, "msg=request") || !strings.Contains(out, "webhook delivery") {
		t.Fatalf("expected logs, got:\n%s", out)
	}
	for _, secret := range []string{token, "secret=xyz"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q:\n%s", secret, out)
		}
	}
	for _, rq := range srv.Requests() {
		if strings.Contains(rq.Query+rq.Path+rq.Body, token) {
			t.Errorf("request log contains the token: %+v", rq)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
