package pdhooks

import (
	"context"
	"log/slog"

	"github.com/stagemover/stagemover/shared/pipedrive"
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

// WebhookAPI is what registration needs of Pipedrive: a *pipedrive.Client,
// so the calls share its rate limiter, token accounting and redaction
// (the v1 webhooks API: Pipedrive has no v2 endpoint for them).
type WebhookAPI interface {
	ListWebhooks(ctx context.Context) ([]pipedrive.Webhook, error)
	AddWebhook(ctx context.Context, w pipedrive.NewWebhook) (pipedrive.Webhook, error)
	DeleteWebhook(ctx context.Context, id int64) error
}

// Registrar keeps the webhooks registered: which events, to which URL,
// with which credentials, and no duplicates. Pipedrive calls go through API.
type Registrar struct {
	API    WebhookAPI
	URL    string // our subscription_url, e.g. https://.../pipedrive
	Auth   Credentials
	UserID int64 // user_id the webhooks are authorized as (0: the token's user)
	Log    *slog.Logger
}

// Result says what Ensure did per subscription ("kept", "created", "replaced").
type Result struct {
	Subscription Subscription
	WebhookID    int64
	Done         string
}

// Ensure lists the webhooks first and creates only the missing ones, so
// running it twice creates no duplicates. A webhook to our URL for the same
// event with another version or other credentials is deleted and recreated.
func (r *Registrar) Ensure(ctx context.Context, subs []Subscription) ([]Result, error) {
	if len(subs) == 0 {
		subs = DefaultSubscriptions
	}
	list, err := r.API.ListWebhooks(ctx)
	if err != nil {
		return nil, err
	}
	var results []Result
	for _, sub := range subs {
		res := Result{Subscription: sub}
		for _, w := range list {
			if w.SubscriptionURL != r.URL || w.EventAction != sub.Action || w.EventObject != sub.Object {
				continue
			}
			if w.Version == "2.0" && deref(w.HTTPAuthUser) == r.Auth.User && (w.HTTPAuthPassword == nil || *w.HTTPAuthPassword == r.Auth.Password) && res.WebhookID == 0 {
				res.WebhookID, res.Done = w.ID, "kept"
				continue
			}
			// stale (old version, rotated credentials) or a duplicate
			if err := r.API.DeleteWebhook(ctx, w.ID); err != nil {
				return results, err
			}
			if res.Done == "" {
				res.Done = "replaced"
			}
		}
		if res.WebhookID == 0 {
			created, err := r.API.AddWebhook(ctx, pipedrive.NewWebhook{
				SubscriptionURL: r.URL, EventAction: sub.Action, EventObject: sub.Object,
				Name: "stagemover " + sub.Action + "." + sub.Object, UserID: r.UserID,
				HTTPAuthUser: r.Auth.User, HTTPAuthPassword: r.Auth.Password, Version: "2.0",
			})
			if err != nil {
				return results, err
			}
			res.WebhookID = created.ID
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

func (r *Registrar) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.Default()
}
