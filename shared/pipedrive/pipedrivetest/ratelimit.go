package pipedrivetest

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"strconv"
	"sync"
	"time"
)

// rateLimiter implements Pipedrive's burst limits: a rolling 2-second window
// per token (and a separate one for search endpoints), a 429 when it is
// full, and a 403 HTML block for clients that keep sending after 429s.
type rateLimiter struct {
	mu      sync.Mutex
	buckets map[string]*bucket

	// daily token budget (per company; the sandbox has one company)
	day   string
	spent int
}

type bucket struct {
	hits         []time.Time // admitted requests inside the window, oldest first
	firstReject  time.Time   // first 429 of the current rejection window
	rejectsAfter int         // requests refused after firstReject within the window
	penaltyUntil time.Time
	blockedUntil time.Time
}

type rateDecision struct {
	allowed   bool
	blocked   bool // 403 HTML
	limit     int
	remaining int
	reset     int // seconds until the window resets (not an epoch)
}

func (rl *rateLimiter) init() { rl.buckets = map[string]*bucket{} }

// credentialKey hashes the presented credential so the raw token is never
// kept in memory structures that might end up in logs.
func credentialKey(tok string) string {
	if tok == "" {
		return "anonymous"
	}
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:6])
}

func ceilSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int(math.Ceil(d.Seconds()))
}

// admit decides whether one request may proceed. key identifies the token and
// the window class (general or search).
func (rl *rateLimiter) admit(key string, limit int, now time.Time, o *Options) rateDecision {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	b := rl.buckets[key]
	if b == nil {
		b = &bucket{}
		rl.buckets[key] = b
	}
	// drop hits that left the rolling window
	cut := 0
	for cut < len(b.hits) && !b.hits[cut].Add(RateWindow).After(now) {
		cut++
	}
	b.hits = b.hits[cut:]

	d := rateDecision{limit: limit}
	resetAt := now.Add(RateWindow)
	if len(b.hits) > 0 {
		resetAt = b.hits[0].Add(RateWindow)
	}

	if now.Before(b.blockedUntil) {
		d.blocked = true
		d.reset = ceilSeconds(b.blockedUntil.Sub(now))
		return d
	}

	if now.Before(b.penaltyUntil) || len(b.hits) >= limit {
		// refused
		if b.firstReject.IsZero() || now.Sub(b.firstReject) >= RateWindow {
			b.firstReject = now
			b.rejectsAfter = 0
		} else {
			b.rejectsAfter++
		}
		if b.rejectsAfter > o.BlockAfter {
			b.blockedUntil = now.Add(o.BlockDuration)
			d.blocked = true
			d.reset = ceilSeconds(o.BlockDuration)
			return d
		}
		if o.RateLimitPenalty > 0 && !now.Before(b.penaltyUntil) {
			b.penaltyUntil = now.Add(o.RateLimitPenalty)
		}
		if b.penaltyUntil.After(resetAt) {
			resetAt = b.penaltyUntil
		}
		d.reset = max(1, ceilSeconds(resetAt.Sub(now)))
		return d
	}

	b.hits = append(b.hits, now)
	d.allowed = true
	d.remaining = limit - len(b.hits)
	d.reset = max(1, ceilSeconds(b.hits[0].Add(RateWindow).Sub(now)))
	return d
}

// charge takes cost tokens from the daily budget. It reports the budget left
// after the charge and whether the charge was possible.
func (rl *rateLimiter) charge(cost, budget int, now time.Time) (left int, ok bool) {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	rl.rollDay(now)
	if rl.spent+cost > budget {
		return max(0, budget-rl.spent), false
	}
	rl.spent += cost
	return budget - rl.spent, true
}

func (rl *rateLimiter) budgetLeft(budget int, now time.Time) int {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	rl.rollDay(now)
	return max(0, budget-rl.spent)
}

// rollDay resets the budget at the start of each UTC day.
func (rl *rateLimiter) rollDay(now time.Time) {
	day := now.UTC().Format(time.DateOnly)
	if day != rl.day {
		rl.day = day
		rl.spent = 0
	}
}

func (d rateDecision) headers(h map[string][]string, dailyLeft int) {
	set := func(k, v string) { h[k] = []string{v} }
	set("X-Ratelimit-Limit", strconv.Itoa(d.limit))
	set("X-Ratelimit-Remaining", strconv.Itoa(max(0, d.remaining)))
	set("X-Ratelimit-Reset", strconv.Itoa(d.reset))
	set("X-Daily-Requests-Left", strconv.Itoa(dailyLeft))
}
