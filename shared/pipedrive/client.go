// Package pipedrive is a small Pipedrive API v2 client for the stagemover
// Lambdas: read and move deals, list pipelines and stages, find persons by
// email.
//
// The API token travels only in the x-api-token header; it never appears in
// a URL, a log line or an error string.
//
// Retry policy:
//   - 429: retried (the request was not processed), waiting x-ratelimit-reset
//     seconds (else Retry-After, else exponential backoff with jitter).
//   - 5xx and network errors: GETs are retried with exponential backoff and
//     jitter. UpdateDeal (PATCH) is NOT retried: the change may have been
//     applied, and the mover re-reads the deal before deciding to try again.
//     Such errors match ErrServer / ErrNetwork.
//   - 400, 401, 403 (including the HTML lockout page), 404: never retried.
//   - At most MaxRetries retries. A wait that would end past the context
//     deadline (less MinRequestTime), or exceed MaxWait, is not started: the
//     call fails at once with an error wrapping the last failure
//     (ErrRateLimited / ErrServer / ErrNetwork), so a Lambda can report a
//     batch item failure instead of timing out.
//
// Burst window: every response's x-ratelimit-* headers are recorded; when
// x-ratelimit-remaining reaches 0, further requests from any goroutine
// sharing the Client wait until the window resets (same deadline rule).
// Search endpoints have their own window.
package pipedrive

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// TokenSource returns the API token. The Lambda reads it from Secrets
// Manager and caches it; it is called once per HTTP attempt.
type TokenSource func(ctx context.Context) (string, error)

// StaticToken is a TokenSource for a fixed token.
func StaticToken(token string) TokenSource {
	return func(context.Context) (string, error) { return token, nil }
}

// Config configures a Client. Only BaseURL and Token are required.
type Config struct {
	// BaseURL is https://{company}.pipedrive.com or https://api.pipedrive.com
	// (tests: the sandbox URL). A trailing /api/v2 is tolerated.
	BaseURL string
	// Token supplies the API token (x-api-token header).
	Token TokenSource
	// HTTPClient defaults to a client with a 30 s timeout.
	HTTPClient *http.Client
	// Logger defaults to discarding logs.
	Logger *slog.Logger
	// Now and Sleep are injectable for tests. Sleep must return ctx.Err()
	// if ctx ends first.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// MaxRetries is the number of retries on 429/5xx (GET) after the first
	// attempt. 0 means the default, 4; negative disables retries.
	MaxRetries int
	// MaxWait caps a single backoff or burst-window wait; a longer one
	// fails at once (e.g. the daily budget is spent). Default 1 minute.
	MaxWait time.Duration
	// MinRequestTime is the time that must be left before the context
	// deadline after a wait for the retried request to be worth sending.
	// Default 250 ms; negative means 0.
	MinRequestTime time.Duration
	// BackoffBase is the first exponential backoff step (doubling per
	// attempt, with jitter, capped at MaxWait). Default 1 s.
	BackoffBase time.Duration
	// Share is how many clients (Lambda instances) use the token's burst
	// window at once, e.g. the mover's reserved concurrency. Each keeps its
	// own requests within limit/Share per window, so they do not race each
	// other into 429s. 0 or 1: this client may use the whole window.
	Share int
}

// Client is safe for concurrent use.
type Client struct {
	base        string // scheme://host[/prefix] without trailing slash
	token       TokenSource
	hc          *http.Client
	log         *slog.Logger
	now         func() time.Time
	sleep       func(context.Context, time.Duration) error
	maxRetries  int
	maxWait     time.Duration
	minReqTime  time.Duration
	backoffBase time.Duration

	lim *limiter

	mu    sync.Mutex
	usage Usage
}

// Usage counts the HTTP requests the client sent (every attempt, retries
// included) and their token cost per the spec's x-token-cost.
//
// TokenCost is charged for every attempt except those Pipedrive refused
// before processing: 429 (rate limit or daily budget), 401, and the HTML 403
// lockout page. Attempts without a response (network error, timeout) are
// charged, since Pipedrive may have processed them.
type Usage struct {
	Requests    int
	TokenCost   int
	Retries     int                // attempts that were retries
	Refused     int                // attempts refused before processing (not charged)
	ByOperation map[string]OpUsage // keyed by spec operationId
}

// OpUsage is Usage for one operation.
type OpUsage struct {
	Requests  int
	TokenCost int
	Retries   int
	Refused   int
}

// New validates cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	if cfg.Token == nil {
		return nil, errors.New("pipedrive: Config.Token is required")
	}
	base := strings.TrimSpace(cfg.BaseURL)
	if base == "" {
		base = "https://api.pipedrive.com"
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("pipedrive: Config.BaseURL must be an absolute http(s) URL")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("pipedrive: Config.BaseURL must not carry credentials, a query or a fragment")
	}
	p := strings.TrimRight(u.Path, "/")
	p = strings.TrimSuffix(p, apiPrefix)
	u.Path, u.RawPath = p, ""
	c := &Client{
		base:        strings.TrimRight(u.String(), "/"),
		token:       cfg.Token,
		hc:          cfg.HTTPClient,
		log:         cfg.Logger,
		now:         cfg.Now,
		sleep:       cfg.Sleep,
		maxRetries:  cfg.MaxRetries,
		maxWait:     cfg.MaxWait,
		minReqTime:  cfg.MinRequestTime,
		backoffBase: cfg.BackoffBase,
		lim:         newLimiter(cfg.Share),
	}
	if c.hc == nil {
		c.hc = &http.Client{Timeout: 30 * time.Second}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.sleep == nil {
		c.sleep = sleepCtx
	}
	switch {
	case c.maxRetries == 0:
		c.maxRetries = 4
	case c.maxRetries < 0:
		c.maxRetries = 0
	}
	if c.maxWait <= 0 {
		c.maxWait = time.Minute
	}
	switch {
	case c.minReqTime == 0:
		c.minReqTime = 250 * time.Millisecond
	case c.minReqTime < 0:
		c.minReqTime = 0
	}
	if c.backoffBase <= 0 {
		c.backoffBase = time.Second
	}
	return c, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Usage returns a snapshot of the request and token-cost counters.
func (c *Client) Usage() Usage {
	c.mu.Lock()
	defer c.mu.Unlock()
	u := c.usage
	u.ByOperation = make(map[string]OpUsage, len(c.usage.ByOperation))
	for k, v := range c.usage.ByOperation {
		u.ByOperation[k] = v
	}
	return u
}

// RateLimit returns the last rate-limit state seen (general API window).
func (c *Client) RateLimit() RateLimit { return c.lim.snapshot() }

// countRequest records one attempt about to be sent.
func (c *Client) countRequest(op operation, retry bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.usage.ByOperation == nil {
		c.usage.ByOperation = map[string]OpUsage{}
	}
	ou := c.usage.ByOperation[op.ID]
	ou.Requests++
	c.usage.Requests++
	if retry {
		ou.Retries++
		c.usage.Retries++
	}
	c.usage.ByOperation[op.ID] = ou
}

// countOutcome charges the attempt's token cost, or records it as refused.
func (c *Client) countOutcome(op operation, refused bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ou := c.usage.ByOperation[op.ID]
	if refused {
		ou.Refused++
		c.usage.Refused++
	} else {
		ou.TokenCost += op.Cost
		c.usage.TokenCost += op.Cost
	}
	c.usage.ByOperation[op.ID] = ou
}

// refusedStatus reports whether Pipedrive refused the request before
// processing it (and so did not charge its token cost).
func refusedStatus(status int, nonJSON bool) bool {
	return status == http.StatusTooManyRequests || status == http.StatusUnauthorized ||
		(status == http.StatusForbidden && nonJSON)
}
