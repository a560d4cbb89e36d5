package pipedrive

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

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
