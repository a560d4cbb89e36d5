package app

import (
	"context"
	"os"

	"github.com/stagemover/stagemover/shared/gmail"
	"github.com/stagemover/stagemover/shared/metrics"
)

// IngestGmail builds the handler for POST /gmail/push: it verifies the
// Pub/Sub push token and stores one fetch item per notification.
func IngestGmail(d Deps) (*gmail.Handler, error) {
	d.defaults()
	cfg, err := gmail.LoadConfig(os.Getenv, gmail.EnvPushAudience, gmail.EnvPushServiceAccount)
	if err != nil {
		return nil, err
	}
	return &gmail.Handler{
		Store:     d.store(),
		Verifier:  &gmail.Verifier{Keys: &gmail.KeySet{URL: cfg.CertsURL}, Audience: cfg.PushAudience, Email: cfg.PushServiceAccount},
		Mailboxes: cfg.Mailboxes,
		Now:       d.Now,
		Log:       d.Log.With("function", "ingest-gmail"),
		Metrics:   metrics.New(d.Metrics, d.Config.MetricsNamespace, "ingest-gmail"),
	}, nil
}

// gmailClient reads the mailbox credentials (service-account key with
// domain-wide delegation, or an OAuth refresh token) from Secrets Manager.
func gmailClient(d Deps, cfg gmail.Config) *gmail.Client {
	cache := d.secretCache()
	secret := func(ctx context.Context) (string, error) { return cache.String(ctx, cfg.CredentialsSecret) }
	return &gmail.Client{BaseURL: cfg.GmailBaseURL, Tokens: &gmail.OAuth{Secret: secret, TokenURL: cfg.TokenURL, Now: d.Now}}
}

// gmailFetcher is the fetcher's Gmail source, or nil when Gmail is not configured.
func gmailFetcher(d Deps) (*gmail.Fetcher, error) {
	if os.Getenv(gmail.EnvCredentialsSecret) == "" {
		return nil, nil
	}
	cfg, err := gmail.LoadConfig(os.Getenv, gmail.EnvCredentialsSecret)
	if err != nil {
		return nil, err
	}
	return &gmail.Fetcher{
		Client:          gmailClient(d, cfg),
		History:         gmail.StoreState{Docs: d.store()},
		InternalDomains: d.Config.InternalDomains,
		ResyncQuery:     cfg.ResyncQuery,
		Now:             d.Now,
		Log:             d.Log.With("source", "gmail"),
	}, nil
}

// GmailRenewer builds the scheduled job that renews users.watch before
// Gmail's 7-day expiry.
func GmailRenewer(d Deps) (*gmail.Renewer, error) {
	d.defaults()
	cfg, err := gmail.LoadConfig(os.Getenv, gmail.EnvCredentialsSecret, gmail.EnvMailboxes, gmail.EnvTopic)
	if err != nil {
		return nil, err
	}
	state := gmail.StoreState{Docs: d.store()}
	return &gmail.Renewer{
		Client:    gmailClient(d, cfg),
		Mailboxes: cfg.Mailboxes,
		Topic:     cfg.Topic,
		LabelIDs:  cfg.WatchLabels,
		Watches:   state,
		History:   state,
		Now:       d.Now,
		Log:       d.Log.With("function", "gmail-renew"),
	}, nil
}
