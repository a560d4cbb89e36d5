package pipedrivetest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
)

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
