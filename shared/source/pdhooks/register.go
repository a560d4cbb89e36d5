package pdhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Subscription names one webhook: event_action and event_object of
// POST /v1/webhooks (openapi-v1.yaml, addWebhookRequest).
type Subscription struct {
	Action string // create | change | delete | *
	Object string // deal | stage | pipeline | ...
}

// DefaultSubscriptions: deal changes (mirror, reverts, misses), deal
// deletions (the mirror records them, so nothing evaluates or moves a
// deleted deal) and every stage and pipeline event (the stage map).
var DefaultSubscriptions = []Subscription{{"change", "deal"}, {"delete", "deal"}, {"*", "stage"}, {"*", "pipeline"}}

// Registrar keeps the webhooks registered (v1 webhooks API, server
// https://api.pipedrive.com/v1 per openapi-v1.yaml: Pipedrive has
// no v2 endpoint for them). The token travels only in x-api-token.
type Registrar struct {
	BaseURL    string // https://{company}.pipedrive.com (a trailing /api/v2 or /api/v1 is tolerated)
	Token      func(ctx context.Context) (string, error)
	URL        string // our subscription_url, e.g. https://.../pipedrive
	Auth       Credentials
	UserID     int64 // user_id the webhooks are authorized as (0: the token's user)
	HTTPClient *http.Client
	Log        *slog.Logger
}

// Result says what Ensure did per subscription ("kept", "created", "replaced").
type Result struct {
	Subscription Subscription
	WebhookID    int64
	Done         string
}

type v1Webhook struct {
	ID               int64   `json:"id"`
	EventAction      string  `json:"event_action"`
	EventObject      string  `json:"event_object"`
	SubscriptionURL  string  `json:"subscription_url"`
	Version          string  `json:"version"`
	HTTPAuthUser     *string `json:"http_auth_user"`
	HTTPAuthPassword *string `json:"http_auth_password"`
	IsActive         any     `json:"is_active"`
}

// Ensure lists the webhooks first and creates only the missing ones, so
// running it twice creates no duplicates. A webhook to our URL for the same
// event with another version or other credentials is deleted and recreated.
func (r *Registrar) Ensure(ctx context.Context, subs []Subscription) ([]Result, error) {
	if len(subs) == 0 {
		subs = DefaultSubscriptions
	}
	var list struct {
		Data []v1Webhook `json:"data"`
	}
	if err := r.do(ctx, http.MethodGet, "/v1/webhooks", nil, &list); err != nil {
		return nil, err
	}
	var results []Result
	for _, sub := range subs {
		res := Result{Subscription: sub}
		for _, w := range list.Data {
			if w.SubscriptionURL != r.URL || w.EventAction != sub.Action || w.EventObject != sub.Object {
				continue
			}
			if w.Version == "2.0" && deref(w.HTTPAuthUser) == r.Auth.User && (w.HTTPAuthPassword == nil || *w.HTTPAuthPassword == r.Auth.Password) && res.WebhookID == 0 {
				res.WebhookID, res.Done = w.ID, "kept"
				continue
			}
			// stale (old version, rotated credentials) or a duplicate
			if err := r.do(ctx, http.MethodDelete, "/v1/webhooks/"+strconv.FormatInt(w.ID, 10), nil, nil); err != nil {
				return results, err
			}
			if res.Done == "" {
				res.Done = "replaced"
			}
		}
		if res.WebhookID == 0 {
			body := map[string]any{
				"subscription_url":   r.URL,
				"event_action":       sub.Action,
				"event_object":       sub.Object,
				"name":               "stagemover " + sub.Action + "." + sub.Object,
				"http_auth_user":     r.Auth.User,
				"http_auth_password": r.Auth.Password,
				"version":            "2.0",
			}
			if r.UserID != 0 {
				body["user_id"] = r.UserID
			}
			var created struct {
				Data v1Webhook `json:"data"`
			}
			if err := r.do(ctx, http.MethodPost, "/v1/webhooks", body, &created); err != nil {
				return results, err
			}
			res.WebhookID = created.Data.ID
			if res.Done == "" {
				res.Done = "created"
			}
		}
		r.log().InfoContext(ctx, "pipedrive webhook "+res.Done, "webhook_id", res.WebhookID, "event", sub.Action+"."+sub.Object)
		results = append(results, res)
	}
	return results, nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func (r *Registrar) base() string {
	b := strings.TrimRight(strings.TrimSpace(r.BaseURL), "/")
	for _, suf := range []string{"/api/v2", "/api/v1", "/v1"} {
		b = strings.TrimSuffix(b, suf)
	}
	if b == "" {
		b = "https://api.pipedrive.com"
	}
	return b
}

func (r *Registrar) do(ctx context.Context, method, path string, in, out any) error {
	token, err := r.Token(ctx)
	if err != nil {
		return fmt.Errorf("pipedrive webhooks: token: %w", err)
	}
	var body io.Reader
	if in != nil {
		bs, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(bs)
	}
	hc := r.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	for attempt := 0; ; attempt++ {
		if body != nil {
			if s, ok := body.(io.Seeker); ok {
				_, _ = s.Seek(0, io.SeekStart)
			}
		}
		req, err := http.NewRequestWithContext(ctx, method, r.base()+path, body)
		if err != nil {
			return fmt.Errorf("pipedrive %s %s: %w", method, path, err)
		}
		req.Header.Set("x-api-token", token)
		req.Header.Set("Accept", "application/json")
		if in != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := hc.Do(req)
		if err != nil {
			return fmt.Errorf("pipedrive %s %s: %s", method, path, strings.ReplaceAll(err.Error(), token, "[REDACTED]"))
		}
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests && attempt < 3 {
			wait := 2 * time.Second
			if n, err := strconv.Atoi(resp.Header.Get("x-ratelimit-reset")); err == nil && n > 0 && n <= 60 {
				wait = time.Duration(n) * time.Second
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
			continue
		}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return fmt.Errorf("pipedrive %s %s: HTTP %d: %s", method, path, resp.StatusCode,
				truncate(r.redact(string(raw), token), 300))
		}
		if out != nil {
			if err := json.Unmarshal(raw, out); err != nil {
				return fmt.Errorf("pipedrive %s %s: decoding: %w", method, path, err)
			}
		}
		return nil
	}
}

func (r *Registrar) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.Default()
}

// redact keeps the token and our webhook password out of errors (the
// webhook listing echoes http_auth_password).
func (r *Registrar) redact(s, token string) string {
	s = strings.ReplaceAll(s, token, "[REDACTED]")
	if r.Auth.Password != "" {
		s = strings.ReplaceAll(s, r.Auth.Password, "[REDACTED]")
	}
	return s
}
