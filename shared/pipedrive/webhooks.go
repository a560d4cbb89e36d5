package pipedrive

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
)

// Webhook is the subset of the v1 webhook object the project uses
// (openapi-v1.yaml, BaseWebhook). The listing echoes the basic auth
// password; String and LogValue leave it out.
type Webhook struct {
	ID               int64   `json:"id"`
	EventAction      string  `json:"event_action"`
	EventObject      string  `json:"event_object"`
	SubscriptionURL  string  `json:"subscription_url"`
	Version          string  `json:"version"`
	HTTPAuthUser     *string `json:"http_auth_user"`
	HTTPAuthPassword *string `json:"http_auth_password"`
	IsActive         any     `json:"is_active"`
}

// String never shows the password.
func (w Webhook) String() string {
	return fmt.Sprintf("webhook %d %s.%s -> %s (version %s)", w.ID, w.EventAction, w.EventObject, w.SubscriptionURL, w.Version)
}

// LogValue never shows the password (slog).
func (w Webhook) LogValue() slog.Value {
	return slog.GroupValue(slog.Int64("id", w.ID), slog.String("event", w.EventAction+"."+w.EventObject), slog.String("version", w.Version))
}

// NewWebhook is the body of POST /v1/webhooks (addWebhookRequest).
type NewWebhook struct {
	SubscriptionURL  string `json:"subscription_url"`
	EventAction      string `json:"event_action"` // create | change | delete | *
	EventObject      string `json:"event_object"` // deal | stage | pipeline | ...
	Name             string `json:"name"`
	UserID           int64  `json:"user_id,omitempty"` // 0: the token's user
	HTTPAuthUser     string `json:"http_auth_user"`
	HTTPAuthPassword string `json:"http_auth_password"`
	Version          string `json:"version,omitempty"` // "2.0" for webhooks v2 bodies ("": Pipedrive's default)
}

// ListWebhooks returns the company's webhooks: GET /v1/webhooks (token
// cost 10; v2 has no webhooks endpoint).
func (c *Client) ListWebhooks(ctx context.Context) ([]Webhook, error) {
	env, err := c.do(ctx, call{op: opGetWebhooks})
	if err != nil {
		return nil, err
	}
	if len(env.Data) == 0 || string(env.Data) == "null" {
		return nil, nil
	}
	var out []Webhook
	if err := json.Unmarshal(env.Data, &out); err != nil {
		return nil, fmt.Errorf("pipedrive %s: decoding data: %w", opGetWebhooks.ID, err)
	}
	return out, nil
}

// AddWebhook creates a webhook: POST /v1/webhooks (token cost 10). Like
// every write it is retried on 429 only. The basic auth password is kept
// out of errors like the token.
func (c *Client) AddWebhook(ctx context.Context, w NewWebhook) (Webhook, error) {
	if strings.TrimSpace(w.SubscriptionURL) == "" || w.EventAction == "" || w.EventObject == "" || w.Name == "" {
		return Webhook{}, fmt.Errorf("pipedrive %s: subscription URL, event action, event object and name are required: %w", opAddWebhook.ID, ErrBadRequest)
	}
	b, err := json.Marshal(w)
	if err != nil {
		return Webhook{}, fmt.Errorf("pipedrive %s: encoding body: %w", opAddWebhook.ID, err)
	}
	env, err := c.do(ctx, call{op: opAddWebhook, body: b, secrets: []string{w.HTTPAuthPassword},
		attrs: []slog.Attr{slog.String("event", w.EventAction+"."+w.EventObject)}})
	if err != nil {
		return Webhook{}, err
	}
	return decodeData[Webhook](opAddWebhook, env)
}

// DeleteWebhook deletes a webhook: DELETE /v1/webhooks/{id} (token cost 6).
func (c *Client) DeleteWebhook(ctx context.Context, id int64) error {
	if id <= 0 {
		return fmt.Errorf("pipedrive %s: invalid webhook id %d: %w", opDeleteWebhook.ID, id, ErrBadRequest)
	}
	_, err := c.do(ctx, call{op: opDeleteWebhook, id: id, attrs: []slog.Attr{slog.Int64("webhook_id", id)}})
	return err
}
