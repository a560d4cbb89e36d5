package pipedrive

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RateLimit is the last rate-limit state seen in response headers.
type RateLimit struct {
	Limit             int       // x-ratelimit-limit of the general (non-search) window; 0 if unknown
	Remaining         int       // x-ratelimit-remaining, minus requests sent since; -1 if unknown
	ResetAt           time.Time // when the burst window resets (now + x-ratelimit-reset); zero if unknown
	DailyRequestsLeft int       // x-daily-requests-left; -1 if never seen
}

// window is Pipedrive's rolling burst window.
const window = 2 * time.Second

// bucket is one burst window (general API, or search).
type bucket struct {
	limit     int
	remaining int
	known     bool // remaining is meaningful
	resetAt   time.Time
	// sent holds this client's own request times within the last window. In
	// a rolling window each of them frees a slot exactly one window after it
	// was sent, which is usually sooner than x-ratelimit-reset says: the
	// header counts whole seconds.
	sent []time.Time
	// blockedUntil is a 429's instruction to wait; it is honoured in full.
	blockedUntil time.Time
}

// prune forgets own sends that left the window.
func (b *bucket) prune(now time.Time) {
	i := 0
	for i < len(b.sent) && !b.sent[i].Add(window).After(now) {
		i++
	}
	b.sent = b.sent[i:]
}

// reopensAt is the earliest time a slot is known to be free: when the
// header's reset passes, or when this client's oldest request in the window
// leaves it, whichever comes first.
func (b *bucket) reopensAt() time.Time {
	at := b.resetAt
	if len(b.sent) > 0 {
		if own := b.sent[0].Add(window); at.IsZero() || own.Before(at) {
			at = own
		}
	}
	if b.blockedUntil.After(at) {
		at = b.blockedUntil
	}
	return at
}

// reopen is called once a slot is known to be free. Only that one slot is
// assumed: the next response's x-ratelimit-remaining tells the rest.
func (b *bucket) reopen() {
	if b.limit > 0 || b.known {
		b.remaining, b.known = 1, true
	}
	b.resetAt = time.Time{}
}

// limiter keeps every goroutine sharing a Client under the burst windows.
type limiter struct {
	mu         sync.Mutex
	buckets    map[string]*bucket
	daily      int
	dailyKnown bool
	share      int // clients sharing the window; each keeps to limit/share
}

func newLimiter(share int) *limiter {
	return &limiter{buckets: map[string]*bucket{}, share: max(share, 1)}
}

func (l *limiter) get(key string) *bucket {
	b := l.buckets[key]
	if b == nil {
		b = &bucket{}
		l.buckets[key] = b
	}
	return b
}

// reserve takes a slot in the window. If the window is exhausted it returns
// how long to wait and the reset time waited for (pass it to windowPassed).
func (l *limiter) reserve(key string, now time.Time) (time.Duration, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.get(key)
	b.prune(now)
	if own := b.limit / l.share; l.share > 1 && own > 0 && len(b.sent) >= own && (!b.known || b.remaining <= b.limit/10) {
		// This client's share of the window is used and the window is
		// nearly full (others are busy too): wait until its oldest counted
		// request leaves the window. With room to spare, an idle peer's
		// share is used instead of wasted.
		at := b.sent[len(b.sent)-own].Add(window)
		return at.Sub(now), at
	}
	if b.known && b.remaining <= 0 {
		if at := b.reopensAt(); now.Before(at) {
			return at.Sub(now), at
		}
		b.reopen()
	}
	if b.known {
		b.remaining--
	}
	b.sent = append(b.sent, now)
	return 0, time.Time{}
}

// windowPassed records that a caller slept until `until`. The clock is not
// re-read, so an injected Sleep that does not advance Now still makes
// progress.
func (l *limiter) windowPassed(key string, until time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.get(key)
	b.prune(until)
	if b.known && b.remaining <= 0 && !b.reopensAt().After(until) {
		b.reopen()
	}
}

// block closes the window until `until` (after a 429).
func (l *limiter) block(key string, until time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.get(key)
	b.known, b.remaining = true, 0
	if until.After(b.resetAt) {
		b.resetAt = until
	}
	if until.After(b.blockedUntil) {
		b.blockedUntil = until
	}
}

// observe reads the rate-limit headers of a response.
func (l *limiter) observe(key string, h http.Header, now time.Time) {
	limit, hasLimit := headerInt(h, "x-ratelimit-limit")
	remaining, hasRemaining := headerInt(h, "x-ratelimit-remaining")
	reset, hasReset := headerSeconds(h, "x-ratelimit-reset")
	daily, hasDaily := headerInt(h, "x-daily-requests-left")

	l.mu.Lock()
	defer l.mu.Unlock()
	if hasDaily {
		l.daily, l.dailyKnown = daily, true
	}
	b := l.get(key)
	if hasLimit && limit > 0 {
		b.limit = limit
	}
	if hasRemaining {
		b.remaining, b.known = remaining, true
		if hasReset {
			b.resetAt = now.Add(reset)
		} else if remaining <= 0 && !b.resetAt.After(now) {
			// No reset header: assume Pipedrive's 2 s rolling window.
			b.resetAt = now.Add(2 * time.Second)
		}
	}
}

func (l *limiter) snapshot() RateLimit {
	l.mu.Lock()
	defer l.mu.Unlock()
	rl := RateLimit{Remaining: -1, DailyRequestsLeft: -1}
	if l.dailyKnown {
		rl.DailyRequestsLeft = l.daily
	}
	if b := l.buckets[bucketAPI]; b != nil {
		rl.Limit = b.limit
		if b.known {
			rl.Remaining = b.remaining
		}
		rl.ResetAt = b.resetAt
	}
	return rl
}

func headerInt(h http.Header, name string) (int, bool) {
	v := strings.TrimSpace(h.Get(name))
	if v == "" {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		f, ferr := strconv.ParseFloat(v, 64)
		if ferr != nil {
			return 0, false
		}
		n = int(f)
	}
	return n, true
}

// headerSeconds parses a delay in (possibly fractional) seconds.
func headerSeconds(h http.Header, name string) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get(name))
	if v == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > 1e6 {
		return 0, false
	}
	return time.Duration(f * float64(time.Second)), true
}

// retryAfter parses Retry-After (delta-seconds or HTTP date).
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if d, ok := headerSeconds(h, "Retry-After"); ok {
		return d, true
	}
	if v := h.Get("Retry-After"); v != "" {
		if t, err := http.ParseTime(v); err == nil {
			if d := t.Sub(now); d > 0 {
				return d, true
			}
			return 0, true
		}
	}
	return 0, false
}
