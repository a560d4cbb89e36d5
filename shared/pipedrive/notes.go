package pipedrive

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
)

// v1Prefix is the path of Pipedrive's v1 API (servers: https://api.pipedrive.com/v1).
// Notes live only there; the v1 notes API is still supported.
const v1Prefix = "/v1"

// opAddNote is POST /v1/notes (openapi-v1.yaml, operationId addNote,
// x-token-cost 10). Its Path is relative to v1Prefix, not apiPrefix, so it is
// kept out of the v2 cost table; TestV1CostsMatchSpec checks it.
var opAddNote = operation{ID: "addNote", Method: "POST", Path: "/notes", Cost: 10, bucket: bucketAPI}

// NewNote is the body of POST /v1/notes for a deal note.
type NewNote struct {
	DealID       int64  // required
	Content      string // HTML; Pipedrive sanitises it
	PinnedToDeal bool
}

// Note is the subset of the v1 note object the project uses.
type Note struct {
	ID      int64  `json:"id"`
	DealID  int64  `json:"deal_id"`
	UserID  int64  `json:"user_id"`
	Content string `json:"content"`
	AddTime string `json:"add_time"` // "YYYY-MM-DD HH:MM:SS" UTC
}

// AddNote adds a note to a deal: POST /v1/notes (token cost 10). Like
// UpdateDeal it is retried on 429 only (Pipedrive did not process the
// request); a 5xx or network error is returned at once wrapping ErrServer or
// ErrNetwork, because the note may have been created.
func (c *Client) AddNote(ctx context.Context, n NewNote) (Note, error) {
	if n.DealID <= 0 {
		return Note{}, fmt.Errorf("pipedrive %s: invalid deal id %d: %w", opAddNote.ID, n.DealID, ErrBadRequest)
	}
	if strings.TrimSpace(n.Content) == "" {
		return Note{}, fmt.Errorf("pipedrive %s: empty content: %w", opAddNote.ID, ErrBadRequest)
	}
	body := map[string]any{"deal_id": n.DealID, "content": n.Content}
	if n.PinnedToDeal {
		body["pinned_to_deal_flag"] = 1
	}
	b, err := json.Marshal(body)
	if err != nil {
		return Note{}, fmt.Errorf("pipedrive %s: encoding body: %w", opAddNote.ID, err)
	}
	// The deal id goes in the body: call.id would be substituted into a path.
	env, err := c.doV1(ctx, call{op: opAddNote, body: b, attrs: []slog.Attr{slog.Int64("deal_id", n.DealID)}})
	if err != nil {
		return Note{}, err
	}
	return decodeData[Note](opAddNote, env)
}

// doV1 sends a v1 write (POST) with the client's token, burst window,
// counters and redaction. Only 429s are retried: a write that failed with a
// 5xx or without a response may have been applied.
func (c *Client) doV1(ctx context.Context, cl call) (*envelope, error) {
	op := cl.op
	path := v1Prefix + op.Path
	target := c.base + path
	if len(cl.query) > 0 {
		target += "?" + cl.query.Encode()
	}
	var lastErr error
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, c.ctxErr(op, 0, err, lastErr)
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
		req, err := http.NewRequestWithContext(ctx, op.Method, target, bytes.NewReader(cl.body))
		if err != nil {
			return nil, fmt.Errorf("pipedrive %s: building request: %s", op.ID, redact(err.Error(), token))
		}
		req.Header.Set("x-api-token", token)
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Content-Type", "application/json")

		c.countRequest(op, attempt > 0)
		start := c.now()
		resp, err := c.hc.Do(req)
		if err != nil {
			c.countOutcome(op, false)
			if ctxErr := ctx.Err(); ctxErr != nil {
				c.logAttempt(ctx, slog.LevelWarn, cl, path, attempt, 0, start, "pipedrive request interrupted", slog.String("error", ctxErr.Error()))
				return nil, c.ctxErr(op, 0, fmt.Errorf("request interrupted: %w: %w", ErrNetwork, ctxErr), lastErr)
			}
			msg := err.Error()
			var ue *url.Error
			if errors.As(err, &ue) {
				msg = ue.Err.Error()
			}
			nerr := &networkError{op: op.ID, msg: redact(msg, token), err: err}
			c.logAttempt(ctx, slog.LevelWarn, cl, path, attempt, 0, start, "pipedrive request failed", slog.String("error", nerr.msg))
			return nil, nerr
		}
		now := c.now()
		c.lim.observe(op.bucket, resp.Header, now)
		if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
			c.countOutcome(op, false)
			env, derr := decodeSuccess(resp)
			if derr == nil && env.Success != nil && !*env.Success {
				derr = &APIError{Op: op.ID, Status: resp.StatusCode, Message: redact(env.Error, token), Info: redact(env.ErrorInfo, token)}
			}
			if derr != nil {
				c.logAttempt(ctx, slog.LevelWarn, cl, path, attempt, resp.StatusCode, start, "pipedrive response unusable", slog.String("error", redact(derr.Error(), token)))
				var ae *APIError
				if errors.As(derr, &ae) {
					return nil, ae
				}
				return nil, fmt.Errorf("pipedrive %s: decoding response: %s", op.ID, redact(derr.Error(), token))
			}
			c.logAttempt(ctx, slog.LevelDebug, cl, path, attempt, resp.StatusCode, start, "pipedrive request")
			return env, nil
		}
		apiErr := decodeError(op, 0, resp, now, token)
		c.countOutcome(op, refusedStatus(apiErr.Status, apiErr.NonJSON))
		retryable := resp.StatusCode == http.StatusTooManyRequests && !apiErr.BudgetExhausted
		level := slog.LevelInfo
		if retryable {
			level = slog.LevelWarn
		}
		c.logAttempt(ctx, level, cl, path, attempt, resp.StatusCode, start, "pipedrive error response",
			slog.String("error", apiErr.Message), slog.Duration("retry_after", apiErr.RetryAfter))
		if !retryable {
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
		until := now.Add(wait)
		c.lim.block(op.bucket, until)
		if err := c.wait(ctx, cl, wait, apiErr); err != nil {
			return nil, err
		}
		c.lim.windowPassed(op.bucket, until)
	}
}
