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
	"time"
)

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
