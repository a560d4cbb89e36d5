package app

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/stagemover/stagemover/shared/source/gmail"
	"github.com/stagemover/stagemover/shared/source/ingest"
)

// GmailConfig is the Gmail source's configuration: gmail.Config, which the
// Lambdas read from their environment (gmail.LoadConfig), plus, for the
// local mode, the credentials themselves.
type GmailConfig struct {
	gmail.Config
	// Credentials, when set, is the credentials secret's value (a service
	// account key file with domain-wide delegation, or an authorized_user
	// JSON with a refresh token) and replaces the Secrets Manager read of
	// CredentialsSecret (local mode).
	Credentials string
}

// GmailConfigFromEnv reads the Gmail variables through lookup (os.Getenv),
// failing with the name of each required one that is missing and of any
// that is malformed.
func GmailConfigFromEnv(lookup func(string) string, required ...string) (GmailConfig, error) {
	cfg, err := gmail.LoadConfig(lookup, required...)
	return GmailConfig{Config: cfg}, err
}

func (c GmailConfig) hasCredentials() bool { return c.Credentials != "" || c.CredentialsSecret != "" }

// require checks the settings a function needs, naming the variable that
// would set each.
func (c GmailConfig) require(names ...string) error {
	set := map[string]bool{
		gmail.EnvPushAudience:       c.PushAudience != "",
		gmail.EnvPushServiceAccount: c.PushServiceAccount != "",
		gmail.EnvMailboxes:          len(c.Mailboxes) > 0,
		gmail.EnvCredentialsSecret:  c.hasCredentials(),
		gmail.EnvTopic:              c.Topic != "",
	}
	var errs []error
	for _, n := range names {
		if !set[n] {
			errs = append(errs, fmt.Errorf("%w: %s is required but not set", gmail.ErrConfig, n))
		}
	}
	return errors.Join(errs...)
}

func (c GmailConfig) certsURL() string {
	if c.CertsURL == "" {
		return gmail.GoogleCertsURL
	}
	return c.CertsURL
}

// client reads the mailbox credentials (service-account key with
// domain-wide delegation, or an OAuth refresh token) from Secrets Manager,
// or uses Credentials.
func (c GmailConfig) client(d Deps) *gmail.Client {
	secret := func(context.Context) (string, error) { return c.Credentials, nil }
	if c.Credentials == "" {
		cache, arn := d.secretCache(), c.CredentialsSecret
		secret = func(ctx context.Context) (string, error) { return cache.String(ctx, arn) }
	}
	return &gmail.Client{BaseURL: c.GmailBaseURL, Tokens: &gmail.OAuth{Secret: secret, TokenURL: c.TokenURL, Now: d.Now}}
}

// Ingest builds the handler for POST /gmail/push: it verifies the Pub/Sub
// push token and stores one fetch item per notification.
func (c GmailConfig) Ingest(d Deps) (*ingest.Handler, error) {
	if err := c.require(gmail.EnvPushAudience, gmail.EnvPushServiceAccount); err != nil {
		return nil, err
	}
	return c.ingest(d), nil
}

// ingest is POST /gmail/push: no key of its own (the push token is checked
// against Google's published keys).
func (c GmailConfig) ingest(d Deps) *ingest.Handler {
	d.defaults()
	return d.route("ingest-gmail", gmail.Webhook{
		Verifier:  &gmail.Verifier{Keys: &gmail.KeySet{URL: c.certsURL()}, Audience: c.PushAudience, Email: c.PushServiceAccount},
		Mailboxes: c.Mailboxes,
	}, nil)
}

// Fetcher builds the fetcher's Gmail source, or nil when Gmail has no
// credentials configured.
func (c GmailConfig) Fetcher(d Deps) (*gmail.Fetcher, error) {
	if !c.hasCredentials() {
		return nil, nil
	}
	d.defaults()
	return &gmail.Fetcher{
		Client:          c.client(d),
		History:         gmail.StoreState{Docs: d.store()},
		InternalDomains: d.Config.InternalDomains,
		ResyncQuery:     c.ResyncQuery,
		Now:             d.Now,
		Log:             d.Log.With("source", "gmail"),
	}, nil
}

// Renewer builds the scheduled job that renews users.watch before Gmail's
// 7-day expiry (and sets a new mailbox's first history cursor).
func (c GmailConfig) Renewer(d Deps) (*gmail.Renewer, error) {
	if err := c.require(gmail.EnvCredentialsSecret, gmail.EnvMailboxes, gmail.EnvTopic); err != nil {
		return nil, err
	}
	return c.renewer(d), nil
}

func (c GmailConfig) renewer(d Deps) *gmail.Renewer {
	d.defaults()
	state := gmail.StoreState{Docs: d.store()}
	return &gmail.Renewer{
		Client:    c.client(d),
		Mailboxes: c.Mailboxes,
		Topic:     c.Topic,
		LabelIDs:  c.WatchLabels,
		Watches:   state,
		History:   state,
		Now:       d.Now,
		Log:       d.Log.With("function", "gmail-renew"),
	}
}

// IngestGmail builds the ingest-gmail Lambda's handler from the environment.
func IngestGmail(d Deps) (*ingest.Handler, error) {
	c, err := GmailConfigFromEnv(os.Getenv, gmail.EnvPushAudience, gmail.EnvPushServiceAccount)
	if err != nil {
		return nil, err
	}
	return c.ingest(d), nil
}

// GmailRenewer builds the gmail-renew Lambda's job from the environment.
func GmailRenewer(d Deps) (*gmail.Renewer, error) {
	c, err := GmailConfigFromEnv(os.Getenv, gmail.EnvCredentialsSecret, gmail.EnvMailboxes, gmail.EnvTopic)
	if err != nil {
		return nil, err
	}
	return c.renewer(d), nil
}

// gmailFetcher is the fetcher Lambda's Gmail source, from the environment:
// nil when GMAIL_CREDENTIALS_SECRET_ARN is not set.
func gmailFetcher(d Deps) (*gmail.Fetcher, error) {
	if os.Getenv(gmail.EnvCredentialsSecret) == "" {
		return nil, nil
	}
	c, err := GmailConfigFromEnv(os.Getenv, gmail.EnvCredentialsSecret)
	if err != nil {
		return nil, err
	}
	return c.Fetcher(d)
}
