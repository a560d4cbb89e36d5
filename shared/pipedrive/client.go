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
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
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

// call describes one logical API call.
type call struct {
	op    operation
	id    int64      // path id, 0 if none
	query url.Values // may be nil
	body  []byte     // JSON body, nil if none
	attrs []slog.Attr
	// secrets are redacted from errors like the token (e.g. the webhook
	// password a POST /v1/webhooks sends).
	secrets []string
}

// envelope is Pipedrive's response wrapper.
type envelope struct {
	Success        *bool           `json:"success"`
	Data           json.RawMessage `json:"data"`
	Error          string          `json:"error"`
	ErrorInfo      string          `json:"error_info"`
	AdditionalData *struct {
		NextCursor *string `json:"next_cursor"`
	} `json:"additional_data"`
}

func (e *envelope) nextCursor() string {
	if e.AdditionalData == nil || e.AdditionalData.NextCursor == nil {
		return ""
	}
	return *e.AdditionalData.NextCursor
}

const (
	maxBodyBytes  = 32 << 20
	maxErrorBytes = 64 << 10
)

// do performs cl with rate limiting and retries and returns the decoded
// envelope of the successful response.
func (c *Client) do(ctx context.Context, cl call) (*envelope, error) {
	op := cl.op
	path := op.prefix() + op.Path
	if cl.id != 0 {
		path = strings.Replace(path, "{id}", strconv.FormatInt(cl.id, 10), 1)
	}
	target := c.base + path
	if len(cl.query) > 0 {
		target += "?" + cl.query.Encode()
	}
	retryServer := op.Method == http.MethodGet

	var lastErr error
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, c.ctxErr(op, cl.id, err, lastErr)
		}
		if err := c.acquire(ctx, cl, lastErr); err != nil {
			return nil, err
		}
		token, err := c.token(ctx)
		if err != nil {
			return nil, fmt.Errorf("pipedrive %s: token source: %w", op.ID, err)
		}
		if token == "" || strings.ContainsAny(token, "\r\n\t ") {
			return nil, fmt.Errorf("pipedrive %s: token source returned an empty or malformed token", op.ID)
		}
		secrets := append([]string{token}, cl.secrets...)
		var body io.Reader
		if cl.body != nil {
			body = bytes.NewReader(cl.body)
		}
		req, err := http.NewRequestWithContext(ctx, op.Method, target, body)
		if err != nil {
			return nil, fmt.Errorf("pipedrive %s: building request: %s", op.ID, redact(err.Error(), secrets...))
		}
		req.Header.Set("x-api-token", token)
		req.Header.Set("Accept", "application/json")
		if cl.body != nil {
			req.Header.Set("Content-Type", "application/json")
		}

		c.countRequest(op, attempt > 0)
		start := c.now()
		resp, err := c.hc.Do(req)
		if err != nil {
			c.countOutcome(op, false)
			if ctxErr := ctx.Err(); ctxErr != nil {
				// The request may have reached Pipedrive: outcome unknown.
				c.logAttempt(ctx, slog.LevelWarn, cl, path, attempt, 0, start, "pipedrive request interrupted", slog.String("error", ctxErr.Error()))
				return nil, c.ctxErr(op, cl.id, fmt.Errorf("request interrupted: %w: %w", ErrNetwork, ctxErr), lastErr)
			}
			msg := err.Error()
			var ue *url.Error
			if errors.As(err, &ue) {
				msg = ue.Err.Error()
			}
			nerr := &networkError{op: op.ID, id: cl.id, msg: redact(msg, secrets...), err: err}
			c.logAttempt(ctx, slog.LevelWarn, cl, path, attempt, 0, start, "pipedrive request failed", slog.String("error", nerr.msg))
			if !retryServer || attempt >= c.maxRetries {
				return nil, nerr
			}
			lastErr = nerr
			if err := c.wait(ctx, cl, c.backoff(attempt), nerr); err != nil {
				return nil, err
			}
			continue
		}

		now := c.now()
		c.lim.observe(op.bucket, resp.Header, now)
		if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
			c.countOutcome(op, false)
			env, derr := decodeSuccess(resp)
			if derr == nil && env.Success != nil && !*env.Success {
				derr = &APIError{Op: op.ID, ID: cl.id, Status: resp.StatusCode, Message: redact(env.Error, secrets...), Info: redact(env.ErrorInfo, secrets...)}
			}
			if derr != nil {
				c.logAttempt(ctx, slog.LevelWarn, cl, path, attempt, resp.StatusCode, start, "pipedrive response unusable", slog.String("error", redact(derr.Error(), secrets...)))
				var ae *APIError
				if errors.As(derr, &ae) {
					return nil, ae
				}
				return nil, fmt.Errorf("pipedrive %s: decoding response: %s", op.ID, redact(derr.Error(), secrets...))
			}
			c.logAttempt(ctx, slog.LevelDebug, cl, path, attempt, resp.StatusCode, start, "pipedrive request")
			return env, nil
		}

		apiErr := decodeError(op, cl.id, resp, now, secrets...)
		c.countOutcome(op, refusedStatus(apiErr.Status, apiErr.NonJSON))
		retryNow := (resp.StatusCode == http.StatusTooManyRequests && !apiErr.BudgetExhausted) ||
			(retryServer && resp.StatusCode >= 500 && resp.StatusCode <= 599)
		level := slog.LevelWarn
		if !retryNow {
			level = slog.LevelInfo
		}
		c.logAttempt(ctx, level, cl, path, attempt, resp.StatusCode, start, "pipedrive error response",
			slog.String("error", apiErr.Message), slog.Duration("retry_after", apiErr.RetryAfter))
		if !retryNow {
			return nil, apiErr
		}
		if attempt >= c.maxRetries {
			return nil, fmt.Errorf("pipedrive %s: giving up after %d attempts: %w", op.ID, attempt+1, apiErr)
		}
		lastErr = apiErr
		wait := apiErr.RetryAfter
		if wait <= 0 {
			wait = c.backoff(attempt)
		}
		if resp.StatusCode == http.StatusTooManyRequests {
			until := now.Add(wait)
			c.lim.block(op.bucket, until)
			if err := c.wait(ctx, cl, wait, apiErr); err != nil {
				return nil, err
			}
			c.lim.windowPassed(op.bucket, until)
			continue
		}
		if err := c.wait(ctx, cl, wait, apiErr); err != nil {
			return nil, err
		}
	}
}

// acquire waits, if needed, until the burst window has room.
func (c *Client) acquire(ctx context.Context, cl call, lastErr error) error {
	for i := 0; i < 100; i++ {
		wait, until := c.lim.reserve(cl.op.bucket, c.now())
		if wait <= 0 {
			return nil
		}
		var cause error = fmt.Errorf("pipedrive %s: burst window exhausted (x-ratelimit-remaining 0, resets in %s): %w", cl.op.ID, wait, ErrRateLimited)
		if lastErr != nil {
			cause = fmt.Errorf("%w; last error: %w", cause, lastErr)
		}
		c.log.LogAttrs(ctx, slog.LevelInfo, "pipedrive burst window exhausted, waiting",
			append([]slog.Attr{slog.String("op", cl.op.ID), slog.Duration("wait", wait)}, cl.attrs...)...)
		if err := c.wait(ctx, cl, wait, cause); err != nil {
			return err
		}
		c.lim.windowPassed(cl.op.bucket, until)
	}
	return fmt.Errorf("pipedrive %s: burst window never reopened: %w", cl.op.ID, ErrRateLimited)
}

// wait sleeps d unless that would cross ctx's deadline (less minReqTime)
// or exceed maxWait, in which case it fails at once wrapping cause.
func (c *Client) wait(ctx context.Context, cl call, d time.Duration, cause error) error {
	if d <= 0 {
		return nil
	}
	if d > c.maxWait {
		c.log.LogAttrs(ctx, slog.LevelWarn, "pipedrive giving up: wait too long",
			append([]slog.Attr{slog.String("op", cl.op.ID), slog.Duration("wait", d)}, cl.attrs...)...)
		return fmt.Errorf("pipedrive %s: giving up: next attempt would be in %s (max wait %s): %w", cl.op.ID, d, c.maxWait, cause)
	}
	if dl, ok := ctx.Deadline(); ok {
		left := dl.Sub(c.now())
		if d+c.minReqTime > left {
			c.log.LogAttrs(ctx, slog.LevelWarn, "pipedrive giving up before context deadline",
				append([]slog.Attr{slog.String("op", cl.op.ID), slog.Duration("wait", d), slog.Duration("time_left", left)}, cl.attrs...)...)
			return fmt.Errorf("pipedrive %s: giving up: next attempt in %s would pass the context deadline (%s left): %w",
				cl.op.ID, d, left.Round(time.Millisecond), cause)
		}
	}
	if err := c.sleep(ctx, d); err != nil {
		return fmt.Errorf("pipedrive %s: waiting to retry: %w: %w", cl.op.ID, err, cause)
	}
	return nil
}

// backoff returns the exponential backoff for a retry after attempt
// (0-based), with jitter in [d/2, d).
func (c *Client) backoff(attempt int) time.Duration {
	d := c.backoffBase
	for i := 0; i < attempt && d < c.maxWait; i++ {
		d *= 2
	}
	if d > c.maxWait {
		d = c.maxWait
	}
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + rand.N(half)
}

func (c *Client) ctxErr(op operation, id int64, err, lastErr error) error {
	prefix := "pipedrive " + op.ID
	if id != 0 {
		prefix += " id=" + strconv.FormatInt(id, 10)
	}
	if lastErr != nil {
		return fmt.Errorf("%s: %w (last error: %w)", prefix, err, lastErr)
	}
	return fmt.Errorf("%s: %w", prefix, err)
}

func (c *Client) logAttempt(ctx context.Context, level slog.Level, cl call, path string, attempt, status int, start time.Time, msg string, extra ...slog.Attr) {
	if !c.log.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("op", cl.op.ID),
		slog.String("method", cl.op.Method),
		slog.String("path", path), // never the query (search terms are personal data)
		slog.Int("status", status),
		slog.Int("attempt", attempt+1),
		slog.Duration("elapsed", c.now().Sub(start)),
	}
	attrs = append(attrs, cl.attrs...)
	attrs = append(attrs, extra...)
	c.log.LogAttrs(ctx, level, msg, attrs...)
}

func decodeSuccess(resp *http.Response) (*envelope, error) {
	defer drainClose(resp.Body)
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading body: %w", err)
	}
	if len(data) > maxBodyBytes {
		return nil, errors.New("response body too large")
	}
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("not a JSON envelope (content-type %q): %w", resp.Header.Get("Content-Type"), err)
	}
	return &env, nil
}

// decodeError builds an *APIError from an error response. Non-JSON bodies
// (Pipedrive's HTML 403 page, proxies' 502 pages) are tolerated.
func decodeError(op operation, id int64, resp *http.Response, now time.Time, secrets ...string) *APIError {
	defer drainClose(resp.Body)
	ae := &APIError{Op: op.ID, ID: id, Status: resp.StatusCode}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
	var env struct {
		Error     json.RawMessage `json:"error"`
		ErrorInfo json.RawMessage `json:"error_info"`
		Message   string          `json:"message"`
		Errors    json.RawMessage `json:"errors"` // v1 validation errors: {"field":["what is wrong"]}
	}
	if err := json.Unmarshal(bytes.TrimSpace(data), &env); err == nil {
		ae.Message = jsonText(env.Error)
		ae.Info = jsonText(env.ErrorInfo)
		if ae.Message == "" {
			ae.Message = env.Message
		}
		if ae.Message == "" {
			ae.Message = jsonText(env.Errors)
		}
	} else {
		ae.NonJSON = true
		ct := resp.Header.Get("Content-Type")
		if ct == "" {
			ct = "unknown content type"
		}
		ae.Info = "non-JSON response body (" + ct + ")"
	}
	if ae.Message == "" {
		ae.Message = http.StatusText(resp.StatusCode)
	}
	ae.Message = truncate(redact(ae.Message, secrets...), 500)
	ae.Info = truncate(redact(ae.Info, secrets...), 500)
	if resp.StatusCode == http.StatusTooManyRequests {
		if d, ok := headerSeconds(resp.Header, "x-ratelimit-reset"); ok && d > 0 {
			ae.RetryAfter = d
		}
		// The daily token budget cannot pay for this operation: retrying
		// before the budget resets (00:00 UTC) is pointless.
		if left, ok := headerInt(resp.Header, "x-daily-requests-left"); ok && left < op.Cost {
			ae.BudgetExhausted = true
		}
	}
	if ae.RetryAfter == 0 {
		if d, ok := retryAfter(resp.Header, now); ok {
			ae.RetryAfter = d
		}
	}
	return ae
}

// jsonText renders an "error"/"error_info" value, which is normally a
// string but is tolerated as any JSON value.
func jsonText(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// redact replaces every secret (the token, a webhook password) in s.
func redact(s string, secrets ...string) string {
	for _, x := range secrets {
		if x != "" && s != "" {
			s = strings.ReplaceAll(s, x, "[REDACTED]")
		}
	}
	return s
}

func drainClose(rc io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(rc, 1<<20))
	_ = rc.Close()
}
