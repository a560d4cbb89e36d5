package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// ---------------------------------------------------------------- subscriptions

// Subscription is Graph's subscription resource (resources/subscription.md).
type Subscription struct {
	ID                        string `json:"id,omitempty"`
	Resource                  string `json:"resource,omitempty"`
	ChangeType                string `json:"changeType,omitempty"`
	ClientState               string `json:"clientState,omitempty"`
	NotificationURL           string `json:"notificationUrl,omitempty"`
	LifecycleNotificationURL  string `json:"lifecycleNotificationUrl,omitempty"`
	ExpirationDateTime        string `json:"expirationDateTime,omitempty"`
	ApplicationID             string `json:"applicationId,omitempty"`
	CreatorID                 string `json:"creatorId,omitempty"`
	LatestSupportedTLSVersion string `json:"latestSupportedTlsVersion,omitempty"`
}

// Expiration parses ExpirationDateTime (zero if absent or malformed).
func (s Subscription) Expiration() time.Time {
	t, err := time.Parse(time.RFC3339Nano, s.ExpirationDateTime)
	if err != nil {
		return time.Time{}
	}
	return t
}

// String never shows the clientState.
func (s Subscription) String() string {
	return fmt.Sprintf("subscription %s on %s (%s) until %s", s.ID, s.Resource, s.ChangeType, s.ExpirationDateTime)
}

// LogValue never shows the clientState.
func (s Subscription) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", s.ID), slog.String("resource", s.Resource), slog.String("expires", s.ExpirationDateTime))
}

func graphTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.0000000Z") }

// CreateSubscription creates sub (Graph first validates its notification
// URLs: the handler must answer the handshake). Ids in its notifications
// are immutable ids.
func (c *Client) CreateSubscription(ctx context.Context, sub Subscription) (*Subscription, error) {
	var out Subscription
	if err := c.call(ctx, "create subscription", http.MethodPost, c.graphURL()+"/subscriptions", sub, &out, preferImmutableID); err != nil {
		return nil, err
	}
	return &out, nil
}

// RenewSubscription moves the subscription's expiration to until, which
// also reauthorizes it (change-notifications-lifecycle-events.md).
func (c *Client) RenewSubscription(ctx context.Context, id string, until time.Time) (*Subscription, error) {
	var out Subscription
	body := map[string]string{"expirationDateTime": graphTime(until)}
	if err := c.call(ctx, "renew subscription", http.MethodPatch, c.graphURL()+"/subscriptions/"+url.PathEscape(id), body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ReauthorizeSubscription answers a reauthorizationRequired challenge
// without changing the expiration (subscription-reauthorize.md).
func (c *Client) ReauthorizeSubscription(ctx context.Context, id string) error {
	return c.call(ctx, "reauthorize subscription", http.MethodPost, c.graphURL()+"/subscriptions/"+url.PathEscape(id)+"/reauthorize", nil, nil)
}

// DeleteSubscription deletes a subscription.
func (c *Client) DeleteSubscription(ctx context.Context, id string) error {
	return c.call(ctx, "delete subscription", http.MethodDelete, c.graphURL()+"/subscriptions/"+url.PathEscape(id), nil, nil)
}

// ListSubscriptions lists this app's subscriptions (subscription-list.md;
// Graph does not return their clientState).
func (c *Client) ListSubscriptions(ctx context.Context) ([]Subscription, error) {
	var out []Subscription
	const max = 10000
	err := c.pages(ctx, "list subscriptions", c.graphURL()+"/subscriptions", max, func(raw json.RawMessage) error {
		var page []Subscription
		if err := json.Unmarshal(raw, &page); err != nil {
			return err
		}
		out = append(out, page...)
		return nil
	}, func() int { return len(out) })
	return out, err
}
