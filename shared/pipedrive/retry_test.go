package pipedrive

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/platform/retry"
)

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
