package pipedrivetest

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

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
