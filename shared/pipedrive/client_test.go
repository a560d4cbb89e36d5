package pipedrive

// Unit tests against httptest servers for protocol edge cases (headers,
// backoff, deadlines, error bodies). Behaviour against a Pipedrive-like
// server is covered by the sandbox tests in sandbox_integration_test.go.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/testkit"
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
type syncBuffer = testkit.LogBuffer

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
	hs.c = newTestClient(t, hs.srv.URL, testToken, hs.logs, hs.clock, mod...)
	return hs
}

// newTestClient is a client on baseURL that logs at debug level to logs
// and runs on clock; mod adjusts its Config.
func newTestClient(t *testing.T, baseURL, token string, logs *syncBuffer, clock *fakeClock, mod ...func(*Config)) *Client {
	t.Helper()
	cfg := Config{
		BaseURL: baseURL,
		Token:   StaticToken(token),
		Logger:  slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:     clock.Now,
		Sleep:   clock.Sleep,
	}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
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
