package pipedrive

// Unit tests against httptest servers for protocol edge cases (headers,
// backoff, deadlines, error bodies). Behaviour against a Pipedrive-like
// server is covered by the sandbox tests in sandbox_integration_test.go.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/platform/retry"
)

const testToken = "tok-SECRET-0123456789abcdef"

// fakeClock is an injectable clock whose Sleep advances Now.
type fakeClock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Now()} }

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sleeps = append(f.sleeps, d)
	f.t = f.t.Add(d)
	return nil
}

func (f *fakeClock) Sleeps() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.sleeps...)
}

// syncBuffer is a goroutine-safe log sink.
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

type harness struct {
	t     *testing.T
	srv   *httptest.Server
	c     *Client
	clock *fakeClock
	logs  *syncBuffer
	hits  atomic.Int64
	mu    sync.Mutex
	reqs  []*http.Request
	body  [][]byte
}

// newHarness starts an httptest server with handler h and a Client using a
// fake clock and a debug-level JSON log capture.
func newHarness(t *testing.T, h http.HandlerFunc, mod ...func(*Config)) *harness {
	t.Helper()
	hs := &harness{t: t, clock: newFakeClock(), logs: &syncBuffer{}}
	hs.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hs.hits.Add(1)
		b, _ := io.ReadAll(r.Body)
		hs.mu.Lock()
		hs.reqs = append(hs.reqs, r)
		hs.body = append(hs.body, b)
		hs.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
		h(w, r)
	}))
	t.Cleanup(hs.srv.Close)
	cfg := Config{
		BaseURL: hs.srv.URL,
		Token:   StaticToken(testToken),
		Logger:  slog.New(slog.NewJSONHandler(hs.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:     hs.clock.Now,
		Sleep:   hs.clock.Sleep,
	}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs.c = c
	return hs
}

func (h *harness) requests() []*http.Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*http.Request(nil), h.reqs...)
}

func (h *harness) assertNoTokenLeak(err error) {
	h.t.Helper()
	if err != nil && strings.Contains(err.Error(), testToken) {
		h.t.Errorf("token leaked into error: %v", err)
	}
	if strings.Contains(h.logs.String(), testToken) {
		h.t.Errorf("token leaked into logs: %s", h.logs.String())
	}
	for _, r := range h.requests() {
		if strings.Contains(r.URL.String(), testToken) {
			h.t.Errorf("token in URL %s", r.URL)
		}
		if got := r.Header.Get("x-api-token"); got != testToken {
			h.t.Errorf("x-api-token header = %q", got)
		}
		if r.Header.Get("Authorization") != "" {
			h.t.Errorf("unexpected Authorization header")
		}
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func errBody(msg, info string) map[string]any {
	return map[string]any{"success": false, "error": msg, "error_info": info, "data": nil, "additional_data": nil}
}

const dealJSON = `{"success":true,"data":{"id":42,"title":"Acme","owner_id":7,"person_id":null,"org_id":null,
"pipeline_id":1,"stage_id":2,"value":1500.5,"currency":"EUR","add_time":"2025-01-01T10:00:00Z",
"update_time":"2025-02-01T10:00:00Z","stage_change_time":"2025-01-15T10:00:00Z","is_deleted":false,
"is_archived":false,"status":"open","probability":null,"lost_reason":null,"close_time":null,
"label_ids":[1,2],"custom_fields":{"abc":null}}}`

func TestGetDealDecodesNullablesAndSendsHeaderOnly(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/api/v2/deals/42" {
			t.Errorf("got %s %s", r.Method, r.URL.Path)
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, dealJSON)
	})
	d, err := h.c.GetDeal(context.Background(), 42)
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != 42 || d.PersonID != 0 || d.OrgID != 0 || d.StageID != 2 || d.PipelineID != 1 ||
		d.Value != 1500.5 || d.Currency != "EUR" || d.Status != "open" || d.Probability != nil ||
		d.CloseTime != "" || d.UpdateTime != "2025-02-01T10:00:00Z" || len(d.LabelIDs) != 2 || d.OwnerID != 7 {
		t.Errorf("decoded %+v", d)
	}
	if ts, err := ParseTime(d.StageChangeTime); err != nil || ts.Month() != time.January || ts.Day() != 15 {
		t.Errorf("ParseTime = %v, %v", ts, err)
	}
	if r := h.requests()[0]; r.URL.RawQuery != "" {
		t.Errorf("unexpected query %q", r.URL.RawQuery)
	}
	h.assertNoTokenLeak(nil)
	u := h.c.Usage()
	if u.Requests != 1 || u.TokenCost != 1 || u.ByOperation["getDeal"].Requests != 1 {
		t.Errorf("usage %+v", u)
	}
}

func TestBaseURLVariants(t *testing.T) {
	for _, base := range []string{"/", "/api/v2", "/api/v2/"} {
		h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/api/v2/deals/42" {
				t.Errorf("base %q: path %s", base, r.URL.Path)
			}
			io.WriteString(w, dealJSON)
		})
		c, err := New(Config{BaseURL: h.srv.URL + base, Token: StaticToken(testToken)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.GetDeal(context.Background(), 42); err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range []string{"ftp://x", "https://user:pass@x.pipedrive.com", "https://x.pipedrive.com?api_token=1", "not a url"} {
		if _, err := New(Config{BaseURL: bad, Token: StaticToken("t")}); err == nil {
			t.Errorf("New(%q) accepted", bad)
		}
	}
	if _, err := New(Config{}); err == nil {
		t.Error("New without token accepted")
	}
}

func TestUpdateDealSendsOnlySetFields(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPatch || r.URL.Path != "/api/v2/deals/42" {
			t.Errorf("got %s %s", r.Method, r.URL.Path)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("content-type %q", ct)
		}
		io.WriteString(w, strings.Replace(dealJSON, `"stage_id":2`, `"stage_id":3`, 1))
	})
	d, err := h.c.UpdateDeal(context.Background(), 42, DealPatch{StageID: Ptr[int64](3)})
	if err != nil {
		t.Fatal(err)
	}
	if d.StageID != 3 {
		t.Errorf("stage %d", d.StageID)
	}
	if got := string(h.body[0]); got != `{"stage_id":3}` {
		t.Errorf("body %s", got)
	}
	if u := h.c.Usage(); u.TokenCost != 5 {
		t.Errorf("usage %+v", u)
	}
	// status + lost reason
	if _, err := h.c.UpdateDeal(context.Background(), 42, DealPatch{Status: Ptr(StatusLost), LostReason: Ptr("no budget")}); err != nil {
		t.Fatal(err)
	}
	if got := string(h.body[1]); got != `{"status":"lost","lost_reason":"no budget"}` {
		t.Errorf("body %s", got)
	}
}

func TestUpdateDealRejectsBadPatchLocally(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) { t.Error("request sent") })
	for _, p := range []DealPatch{{}, {StageID: Ptr[int64](0)}, {Status: Ptr("deleted")}, {ExpectedCloseDate: Ptr("tomorrow")}} {
		_, err := h.c.UpdateDeal(context.Background(), 42, p)
		if !errors.Is(err, ErrBadRequest) {
			t.Errorf("patch %+v: err %v", p, err)
		}
	}
	if _, err := h.c.UpdateDeal(context.Background(), 0, DealPatch{StageID: Ptr[int64](1)}); err == nil {
		t.Error("deal id 0 accepted")
	}
	if _, err := h.c.GetDeal(context.Background(), -1); err == nil {
		t.Error("deal id -1 accepted")
	}
}

const html403 = `<!DOCTYPE html><html><head><title>403 Forbidden</title></head><body><h1>Forbidden</h1><p>Too many requests</p></body></html>`

func TestErrorMappingNeverRetried(t *testing.T) {
	cases := []struct {
		name     string
		status   int
		ctype    string
		body     string
		sentinel error
		msg      string
		nonJSON  bool
	}{
		{"400", 400, "application/json", `{"success":false,"error":"Stage not found","error_info":"Please check developers.pipedrive.com","data":null,"additional_data":null}`, ErrBadRequest, "Stage not found", false},
		{"401", 401, "application/json", `{"success":false,"error":"unauthorized access","errorCode":401}`, ErrUnauthorized, "unauthorized access", false},
		{"403json", 403, "application/json", `{"success":false,"error":"You do not have permission","error_info":"x"}`, ErrForbidden, "You do not have permission", false},
		{"403html", 403, "text/html; charset=utf-8", html403, ErrForbidden, "Forbidden", true},
		{"404", 404, "application/json", `{"success":false,"error":"Deal not found","error_info":"","data":null}`, ErrNotFound, "Deal not found", false},
		{"404empty", 404, "", ``, ErrNotFound, "Not Found", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.ctype != "" {
					w.Header().Set("Content-Type", tc.ctype)
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			})
			for _, call := range []func() error{
				func() error { _, err := h.c.GetDeal(context.Background(), 9); return err },
				func() error {
					_, err := h.c.UpdateDeal(context.Background(), 9, DealPatch{StageID: Ptr[int64](2)})
					return err
				},
			} {
				before := h.hits.Load()
				err := call()
				if !errors.Is(err, tc.sentinel) {
					t.Fatalf("err %v does not match %v", err, tc.sentinel)
				}
				var ae *APIError
				if !errors.As(err, &ae) || ae.Status != tc.status || ae.Message != tc.msg || ae.NonJSON != tc.nonJSON || ae.ID != 9 {
					t.Errorf("APIError %+v", ae)
				}
				if h.hits.Load()-before != 1 {
					t.Errorf("%d requests, want 1 (no retry)", h.hits.Load()-before)
				}
				if retry.IsLater(err) {
					t.Errorf("%v reported retryable", err)
				}
				if got := IsRateLimitLockout(err); got != (tc.name == "403html") {
					t.Errorf("IsRateLimitLockout = %v", got)
				}
				h.assertNoTokenLeak(err)
			}
			if len(h.clock.Sleeps()) != 0 {
				t.Errorf("slept %v", h.clock.Sleeps())
			}
		})
	}
}

func TestTokenNeverLeaks(t *testing.T) {
	// A server that echoes the token back in its error body and headers.
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		tok := r.Header.Get("x-api-token")
		writeJSON(w, 401, errBody("invalid token "+tok, "token "+tok+" is not valid"))
	})
	_, err := h.c.GetDeal(context.Background(), 1)
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("err %v", err)
	}
	h.assertNoTokenLeak(err)
	if !strings.Contains(err.Error(), "[REDACTED]") {
		t.Errorf("expected redaction marker in %q", err)
	}

	// Search: the term (an email) goes in the query, the token never does.
	_, err = h.c.SearchPersonsByEmail(context.Background(), "a@b.example")
	h.assertNoTokenLeak(err)
	if strings.Contains(h.logs.String(), "a@b.example") {
		t.Errorf("search term logged: %s", h.logs.String())
	}

	// Transport error: a closed server.
	h.srv.Close()
	_, err = h.c.GetDeal(context.Background(), 1)
	if !errors.Is(err, ErrNetwork) || !retry.IsLater(err) {
		t.Fatalf("err %v", err)
	}
	h.assertNoTokenLeak(err)

	// Token source failure does not leak either, and sends nothing.
	c, _ := New(Config{BaseURL: "http://127.0.0.1:1", Token: func(context.Context) (string, error) { return "", errors.New("secrets manager down") }})
	if _, err := c.GetDeal(context.Background(), 1); err == nil || !strings.Contains(err.Error(), "secrets manager down") {
		t.Errorf("err %v", err)
	}
}

func TestRetry429ObeysRateLimitReset(t *testing.T) {
	var n atomic.Int64
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 2 {
			w.Header().Set("x-ratelimit-limit", "20")
			w.Header().Set("x-ratelimit-remaining", "0")
			w.Header().Set("x-ratelimit-reset", "2")
			writeJSON(w, 429, errBody("Too many requests", ""))
			return
		}
		w.Header().Set("x-ratelimit-remaining", "19")
		w.Header().Set("x-ratelimit-reset", "2")
		io.WriteString(w, dealJSON)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := h.c.GetDeal(ctx, 42); err != nil {
		t.Fatal(err)
	}
	if got := h.clock.Sleeps(); len(got) != 2 || got[0] != 2*time.Second || got[1] != 2*time.Second {
		t.Errorf("sleeps %v, want [2s 2s]", got)
	}
	u := h.c.Usage()
	// 429s were refused before processing: not charged.
	if u.Requests != 3 || u.TokenCost != 1 || u.Retries != 2 || u.Refused != 2 || u.ByOperation["getDeal"].Retries != 2 {
		t.Errorf("usage %+v", u)
	}
	h.assertNoTokenLeak(nil)
}

func TestRetry429PatchAndRetryAfterFallback(t *testing.T) {
	var n atomic.Int64
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Header().Set("Retry-After", "3")
			writeJSON(w, 429, errBody("Too many requests", ""))
			return
		}
		io.WriteString(w, dealJSON)
	})
	if _, err := h.c.UpdateDeal(context.Background(), 42, DealPatch{StageID: Ptr[int64](2)}); err != nil {
		t.Fatal(err)
	}
	if got := h.clock.Sleeps(); len(got) != 1 || got[0] != 3*time.Second {
		t.Errorf("sleeps %v, want [3s]", got)
	}
	if h.hits.Load() != 2 {
		t.Errorf("hits %d", h.hits.Load())
	}
}

func TestRetry429ExponentialBackoffWithJitter(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 429, errBody("Too many requests", ""))
	}, func(c *Config) { c.MaxRetries = 3; c.BackoffBase = time.Second })
	_, err := h.c.GetDeal(context.Background(), 42)
	if !errors.Is(err, ErrRateLimited) {
		t.Fatalf("err %v", err)
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 429 {
		t.Errorf("no APIError in %v", err)
	}
	got := h.clock.Sleeps()
	if len(got) != 3 {
		t.Fatalf("sleeps %v", got)
	}
	for i, d := range got {
		lo, hi := time.Second<<i/2, time.Second<<i
		if d < lo || d >= hi {
			t.Errorf("sleep %d = %s, want in [%s, %s)", i, d, lo, hi)
		}
	}
	if h.hits.Load() != 4 {
		t.Errorf("hits %d, want 4", h.hits.Load())
	}
}

func TestGivesUpBeforeDeadline(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-ratelimit-remaining", "0")
		w.Header().Set("x-ratelimit-reset", "10")
		writeJSON(w, 429, errBody("Too many requests", ""))
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	_, err := h.c.GetDeal(ctx, 42)
	if !errors.Is(err, ErrRateLimited) || !retry.IsLater(err) {
		t.Fatalf("err %v", err)
	}
	if !strings.Contains(err.Error(), "deadline") {
		t.Errorf("err %q does not mention the deadline", err)
	}
	if time.Since(start) > time.Second || len(h.clock.Sleeps()) != 0 || h.hits.Load() != 1 {
		t.Errorf("waited: %s, sleeps %v, hits %d", time.Since(start), h.clock.Sleeps(), h.hits.Load())
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.RetryAfter != 10*time.Second {
		t.Errorf("APIError %+v", ae)
	}
	// The 429 closed the window: the next call does not even send.
	_, err = h.c.GetDeal(ctx, 43)
	if !errors.Is(err, ErrRateLimited) || h.hits.Load() != 1 {
		t.Errorf("second call: err %v, hits %d", err, h.hits.Load())
	}
	h.assertNoTokenLeak(err)
}

func TestGivesUpWhenWaitExceedsMaxWait(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-ratelimit-reset", "3600") // daily budget spent
		writeJSON(w, 429, errBody("Daily limit reached", ""))
	})
	_, err := h.c.GetDeal(context.Background(), 42)
	if !errors.Is(err, ErrRateLimited) || len(h.clock.Sleeps()) != 0 || h.hits.Load() != 1 {
		t.Fatalf("err %v sleeps %v hits %d", err, h.clock.Sleeps(), h.hits.Load())
	}
}

func TestDailyBudgetExhaustedNotRetried(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-ratelimit-reset", "1")
		w.Header().Set("x-daily-requests-left", "3") // cannot pay for a PATCH (5)
		writeJSON(w, 429, errBody("Daily token budget exceeded", ""))
	})
	_, err := h.c.UpdateDeal(context.Background(), 42, DealPatch{StageID: Ptr[int64](2)})
	var ae *APIError
	if !errors.Is(err, ErrRateLimited) || !errors.As(err, &ae) || !ae.BudgetExhausted {
		t.Fatalf("err %v", err)
	}
	if h.hits.Load() != 1 || len(h.clock.Sleeps()) != 0 {
		t.Errorf("hits %d sleeps %v", h.hits.Load(), h.clock.Sleeps())
	}
	if u := h.c.Usage(); u.TokenCost != 0 || u.Refused != 1 {
		t.Errorf("usage %+v", u)
	}
	if rl := h.c.RateLimit(); rl.DailyRequestsLeft != 3 {
		t.Errorf("rate limit %+v", rl)
	}
}

func TestServerErrorsRetriedForGetNotPatch(t *testing.T) {
	var n atomic.Int64
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPatch {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(502)
			io.WriteString(w, "<html>Bad Gateway</html>")
			return
		}
		if n.Add(1) <= 2 {
			writeJSON(w, 503, errBody("Service unavailable", ""))
			return
		}
		io.WriteString(w, dealJSON)
	})
	if _, err := h.c.GetDeal(context.Background(), 42); err != nil {
		t.Fatal(err)
	}
	if len(h.clock.Sleeps()) != 2 {
		t.Errorf("sleeps %v", h.clock.Sleeps())
	}
	before := h.hits.Load()
	_, err := h.c.UpdateDeal(context.Background(), 42, DealPatch{StageID: Ptr[int64](3)})
	if !errors.Is(err, ErrServer) || !retry.IsLater(err) {
		t.Fatalf("err %v", err)
	}
	var ae *APIError
	if !errors.As(err, &ae) || !ae.NonJSON || ae.Status != 502 {
		t.Errorf("APIError %+v", ae)
	}
	if h.hits.Load()-before != 1 {
		t.Errorf("PATCH sent %d times, want 1", h.hits.Load()-before)
	}
}

func TestServerErrorsExhaustMaxRetries(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 500, errBody("Internal", ""))
	})
	_, err := h.c.ListPipelines(context.Background())
	if !errors.Is(err, ErrServer) {
		t.Fatalf("err %v", err)
	}
	if h.hits.Load() != 5 {
		t.Errorf("hits %d, want 1+4", h.hits.Load())
	}
	u := h.c.Usage()
	if u.Requests != 5 || u.TokenCost != 25 || u.Retries != 4 {
		t.Errorf("usage %+v", u)
	}
}

func TestNetworkErrorsRetriedForGetNotPatch(t *testing.T) {
	// A server that hangs up without answering.
	var n atomic.Int64
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && n.Add(1) > 1 {
			io.WriteString(w, dealJSON)
			return
		}
		hj, ok := w.(http.Hijacker)
		if !ok {
			t.Fatal("no hijacker")
		}
		conn, _, _ := hj.Hijack()
		conn.Close()
	})
	if _, err := h.c.GetDeal(context.Background(), 42); err != nil {
		t.Fatal(err)
	}
	before := h.hits.Load()
	_, err := h.c.UpdateDeal(context.Background(), 42, DealPatch{StageID: Ptr[int64](3)})
	if !errors.Is(err, ErrNetwork) {
		t.Fatalf("err %v", err)
	}
	if strings.Contains(err.Error(), h.srv.URL) {
		t.Errorf("URL in error %q", err)
	}
	if h.hits.Load()-before != 1 {
		t.Errorf("PATCH sent %d times", h.hits.Load()-before)
	}
	h.assertNoTokenLeak(err)
}

func TestContextCanceledDuringBackoff(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 503, errBody("down", ""))
	}, func(c *Config) {
		c.Sleep = func(context.Context, time.Duration) error { cancel(); return context.Canceled }
	})
	_, err := h.c.GetDeal(ctx, 1)
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrServer) {
		t.Fatalf("err %v", err)
	}
}

func TestRealSleepHonoursContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := sleepCtx(ctx, time.Hour); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("sleepCtx: %v after %s", err, time.Since(start))
	}
}

func TestBurstWindowGateAcrossGoroutines(t *testing.T) {
	// The server allows 3 requests per window and reports it; the client
	// must stop at remaining 0 and wait for the reset before sending more.
	var mu sync.Mutex
	used := 0
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		used++
		rem := 3 - used
		if rem < 0 {
			mu.Unlock()
			t.Errorf("request beyond the burst window")
			writeJSON(w, 429, errBody("Too many requests", ""))
			return
		}
		if rem == 0 {
			used = -1000 // a new window starts once the client has waited
		}
		mu.Unlock()
		w.Header().Set("x-ratelimit-limit", "3")
		w.Header().Set("x-ratelimit-remaining", fmt.Sprint(rem))
		w.Header().Set("x-ratelimit-reset", "1")
		w.Header().Set("x-daily-requests-left", "999")
		io.WriteString(w, dealJSON)
	})
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, err := h.c.GetDeal(ctx, 42); err != nil {
			t.Fatal(err)
		}
	}
	rl := h.c.RateLimit()
	if rl.Limit != 3 || rl.Remaining != 0 || rl.DailyRequestsLeft != 999 || rl.ResetAt.IsZero() {
		t.Errorf("rate limit %+v", rl)
	}
	if len(h.clock.Sleeps()) != 0 {
		t.Fatalf("slept early: %v", h.clock.Sleeps())
	}
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := h.c.GetDeal(ctx, 42); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	sl := h.clock.Sleeps()
	if len(sl) == 0 || sl[0] != time.Second {
		t.Errorf("sleeps %v, want a 1s wait for the window", sl)
	}
	if h.hits.Load() != 6 {
		t.Errorf("hits %d", h.hits.Load())
	}
}

func TestBurstWindowGateGivesUpBeforeDeadline(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-ratelimit-remaining", "0")
		w.Header().Set("x-ratelimit-reset", "2")
		io.WriteString(w, dealJSON)
	})
	if _, err := h.c.GetDeal(context.Background(), 42); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := h.c.GetDeal(ctx, 42)
	if !errors.Is(err, ErrRateLimited) || h.hits.Load() != 1 || len(h.clock.Sleeps()) != 0 {
		t.Fatalf("err %v hits %d sleeps %v", err, h.hits.Load(), h.clock.Sleeps())
	}
	var ae *APIError
	if errors.As(err, &ae) {
		t.Errorf("local gate error should not pose as an HTTP response: %+v", ae)
	}
	// Plenty of time: waits 2s, then sends.
	if _, err := h.c.GetDeal(context.Background(), 42); err != nil {
		t.Fatal(err)
	}
	if sl := h.clock.Sleeps(); len(sl) != 1 || sl[0] != 2*time.Second {
		t.Errorf("sleeps %v", sl)
	}
}

func TestSearchHasItsOwnWindow(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-ratelimit-reset", "2")
		if strings.HasSuffix(r.URL.Path, "/search") {
			w.Header().Set("x-ratelimit-limit", "10")
			w.Header().Set("x-ratelimit-remaining", "0")
			io.WriteString(w, `{"success":true,"data":{"items":[]},"additional_data":{"next_cursor":null}}`)
			return
		}
		w.Header().Set("x-ratelimit-limit", "20")
		w.Header().Set("x-ratelimit-remaining", "19")
		io.WriteString(w, dealJSON)
	})
	if _, err := h.c.SearchPersonsByEmail(context.Background(), "x@y.example"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.c.GetDeal(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if len(h.clock.Sleeps()) != 0 {
		t.Errorf("deal read waited on the search window: %v", h.clock.Sleeps())
	}
	if _, err := h.c.SearchPersonsByEmail(context.Background(), "x@y.example"); err != nil {
		t.Fatal(err)
	}
	if sl := h.clock.Sleeps(); len(sl) != 1 || sl[0] != 2*time.Second {
		t.Errorf("sleeps %v", sl)
	}
}

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

func TestNonJSONSuccessAndSuccessFalse(t *testing.T) {
	var n atomic.Int64
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<html>maintenance</html>")
			return
		}
		io.WriteString(w, `{"success":false,"error":"weird","data":null}`)
	})
	if _, err := h.c.GetDeal(context.Background(), 1); err == nil || !strings.Contains(err.Error(), "decoding") {
		t.Errorf("err %v", err)
	}
	_, err := h.c.GetDeal(context.Background(), 1)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Message != "weird" {
		t.Errorf("err %v", err)
	}
}

func TestIsUnknownStage(t *testing.T) {
	mk := func(status int, msg, info string) error {
		return fmt.Errorf("wrapped: %w", &APIError{Op: "updateDeal", Status: status, Message: msg, Info: info})
	}
	yes := []error{
		mk(400, "Stage not found", ""),
		mk(400, "Invalid stage_id", ""),
		mk(404, "Stage with id 99 does not exist", ""),
		mk(400, "Validation failed", "stage_id: stage not found"),
		mk(422, "Unknown stage", ""),
	}
	no := []error{
		mk(400, "Deal not found", ""),
		mk(404, "Deal not found", ""),
		mk(500, "Stage not found", ""),
		mk(400, "Invalid status", ""),
		errors.New("stage not found"),
		nil,
	}
	for _, e := range yes {
		if !IsUnknownStage(e) {
			t.Errorf("IsUnknownStage(%v) = false", e)
		}
	}
	for _, e := range no {
		if IsUnknownStage(e) {
			t.Errorf("IsUnknownStage(%v) = true", e)
		}
	}
}

func TestUsageConcurrent(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPatch {
			io.WriteString(w, dealJSON)
			return
		}
		io.WriteString(w, dealJSON)
	})
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 5; j++ {
				h.c.GetDeal(context.Background(), 1)
				h.c.UpdateDeal(context.Background(), 1, DealPatch{StageID: Ptr[int64](2)})
				_ = h.c.Usage()
			}
		}()
	}
	wg.Wait()
	u := h.c.Usage()
	if u.Requests != 80 || u.TokenCost != 40*1+40*5 || u.ByOperation["updateDeal"].TokenCost != 200 {
		t.Errorf("usage %+v", u)
	}
	// The snapshot is a copy.
	u.ByOperation["getDeal"] = OpUsage{}
	if h.c.Usage().ByOperation["getDeal"].Requests != 40 {
		t.Error("Usage() map aliases internal state")
	}
}

func TestLogsCarryOpStatusDealID(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 404, errBody("Deal not found", ""))
	})
	h.c.GetDeal(context.Background(), 77)
	var rec map[string]any
	line := strings.SplitN(strings.TrimSpace(h.logs.String()), "\n", 2)[0]
	if err := json.Unmarshal([]byte(line), &rec); err != nil {
		t.Fatalf("log %q: %v", line, err)
	}
	if rec["op"] != "getDeal" || rec["status"] != float64(404) || rec["deal_id"] != float64(77) {
		t.Errorf("log record %v", rec)
	}
	h.assertNoTokenLeak(nil)
}
