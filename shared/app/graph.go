package app

import (
	"context"
	"fmt"
	"os"

	"github.com/stagemover/stagemover/shared/platform/config"
	"github.com/stagemover/stagemover/shared/platform/metrics"
	"github.com/stagemover/stagemover/shared/source/graph"
	"github.com/stagemover/stagemover/shared/source/ingest"
)

// Microsoft Graph environment variables.
const (
	VarGraphClientState = "GRAPH_CLIENT_STATE_SECRET_ARN"
	VarGraphCredentials = "GRAPH_CREDENTIALS_SECRET_ARN"
	VarGraphMailboxes   = "GRAPH_MAILBOXES"
	VarGraphURL         = "GRAPH_NOTIFICATION_URL"
	VarGraphBaseURL     = "GRAPH_BASE_URL"  // optional; default https://graph.microsoft.com/v1.0
	VarGraphLoginURL    = "GRAPH_LOGIN_URL" // optional; default https://login.microsoftonline.com
)

// GraphConfig is the Outlook (Microsoft Graph) source's configuration. The
// Lambdas read it from their environment (GraphConfigFromEnv); the local
// mode fills it from the Graph stand-in, with the secrets' values instead
// of Secrets Manager ARNs.
type GraphConfig struct {
	ClientStateSecretARN string // GRAPH_CLIENT_STATE_SECRET_ARN: a secret with a client_state field
	CredentialsSecretARN string // GRAPH_CREDENTIALS_SECRET_ARN: {"tenant_id","client_id","client_secret"}
	Mailboxes            string // GRAPH_MAILBOXES: comma separated addresses (graph.ParseMailboxes); the only mailboxes read
	NotificationURL      string // GRAPH_NOTIFICATION_URL: the public URL of POST /webhooks/graph
	BaseURL              string // GRAPH_BASE_URL
	LoginURL             string // GRAPH_LOGIN_URL

	// ClientState and Credentials, when set, are the secrets' values and
	// replace the Secrets Manager reads (local mode).
	ClientState string
	Credentials string
}

// GraphConfigFromEnv reads the Graph variables through lookup (os.Getenv).
func GraphConfigFromEnv(lookup func(string) string) GraphConfig {
	return GraphConfig{
		ClientStateSecretARN: lookup(VarGraphClientState),
		CredentialsSecretARN: lookup(VarGraphCredentials),
		Mailboxes:            lookup(VarGraphMailboxes),
		NotificationURL:      lookup(VarGraphURL),
		BaseURL:              lookup(VarGraphBaseURL),
		LoginURL:             lookup(VarGraphLoginURL),
	}
}

// secretFieldClientState is the field of GraphClientStateSecret: {"client_state":"..."}.
const secretFieldClientState = "client_state"

func (c GraphConfig) hasClientState() bool {
	return c.ClientState != "" || c.ClientStateSecretARN != ""
}
func (c GraphConfig) hasCredentials() bool {
	return c.Credentials != "" || c.CredentialsSecretARN != ""
}

func (c GraphConfig) clientState(d Deps) func(context.Context) (string, error) {
	if v := c.ClientState; v != "" {
		return func(context.Context) (string, error) { return v, nil }
	}
	cache, arn := d.secretCache(), c.ClientStateSecretARN
	return func(ctx context.Context) (string, error) { return cache.Field(ctx, arn, secretFieldClientState) }
}

func (c GraphConfig) client(d Deps) *graph.Client {
	creds := func(context.Context) (string, error) { return c.Credentials, nil }
	if c.Credentials == "" {
		cache, arn := d.secretCache(), c.CredentialsSecretARN
		creds = func(ctx context.Context) (string, error) { return cache.String(ctx, arn) }
	}
	return &graph.Client{GraphURL: c.BaseURL, LoginURL: c.LoginURL, HTTP: d.HTTP, Now: d.Now,
		Credentials: graph.CredentialsFrom(creds)}
}

// mailboxes parses GRAPH_MAILBOXES.
func (c GraphConfig) mailboxes() ([]string, error) {
	m, err := graph.ParseMailboxes(c.Mailboxes)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", config.ErrConfig, VarGraphMailboxes, err)
	}
	return m, nil
}

// Ingest builds the handler for POST /webhooks/graph: the validation
// handshake, change and lifecycle notifications, stored for the fetcher
// when they are about a mailbox in GRAPH_MAILBOXES.
func (c GraphConfig) Ingest(d Deps) (*ingest.Handler, error) {
	d.defaults()
	key, err := d.key(routeKey{what: "Graph clientState", local: c.ClientState, envVar: VarGraphClientState, arn: c.ClientStateSecretARN,
		field: secretFieldClientState})
	if err != nil {
		return nil, err
	}
	if c.Mailboxes == "" {
		return nil, fmt.Errorf("%w: %s is required", config.ErrConfig, VarGraphMailboxes)
	}
	mailboxes, err := c.mailboxes()
	if err != nil {
		return nil, err
	}
	return d.route("ingest-graph", graph.Webhook{Mailboxes: mailboxes}, key), nil
}

// Renewer builds the scheduled job that creates and renews the mailboxes'
// subscriptions before they expire (about three days).
func (c GraphConfig) Renewer(d Deps) (*graph.Renewer, error) {
	d.defaults()
	for _, v := range []struct {
		name string
		set  bool
	}{
		{VarGraphClientState, c.hasClientState()},
		{VarGraphCredentials, c.hasCredentials()},
		{VarGraphMailboxes, c.Mailboxes != ""},
		{VarGraphURL, c.NotificationURL != ""},
	} {
		if !v.set {
			return nil, fmt.Errorf("%w: %s is required", config.ErrConfig, v.name)
		}
	}
	mailboxes, err := c.mailboxes()
	if err != nil {
		return nil, err
	}
	return &graph.Renewer{Client: c.client(d), Now: d.Now, Log: d.Log.With("function", "graph-subscriptions"),
		Subscriptions: graph.SubscriptionConfig{Mailboxes: mailboxes, NotificationURL: c.NotificationURL, ClientState: c.clientState(d)}}, nil
}

// Fetcher builds the fetcher's Graph source, or nil when Graph has no
// credentials configured. It reads only the mailboxes in GRAPH_MAILBOXES
// (none when it is empty: the Outlook source is off).
func (c GraphConfig) Fetcher(d Deps) (*graph.Fetcher, error) {
	if !c.hasCredentials() {
		return nil, nil
	}
	d.defaults()
	mailboxes, err := c.mailboxes()
	if err != nil {
		return nil, err
	}
	f := &graph.Fetcher{Client: c.client(d), Mailboxes: mailboxes, InternalDomains: d.Config.InternalDomains, Now: d.Now,
		Log: d.Log.With("source", "graph"), Metrics: metrics.New(d.Metrics, d.Config.MetricsNamespace, "fetcher")}
	// Lifecycle notifications recreate removed subscriptions when the
	// renewer's settings are present.
	if r, err := c.Renewer(d); err == nil {
		f.Renewer = r
	}
	return f, nil
}

// IngestGraph builds the ingest-graph Lambda's handler from the environment.
func IngestGraph(d Deps) (*ingest.Handler, error) { return GraphConfigFromEnv(os.Getenv).Ingest(d) }

// GraphRenewer builds the graph-subscriptions Lambda's job from the environment.
func GraphRenewer(d Deps) (*graph.Renewer, error) { return GraphConfigFromEnv(os.Getenv).Renewer(d) }

// graphFetcher is the fetcher Lambda's Graph source, from the environment.
func graphFetcher(d Deps) (*graph.Fetcher, error) { return GraphConfigFromEnv(os.Getenv).Fetcher(d) }
