package pipedrive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

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
