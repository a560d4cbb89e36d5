package app

import (
	"context"
	"fmt"
	"os"

	"github.com/stagemover/stagemover/shared/config"
	"github.com/stagemover/stagemover/shared/graph"
	"github.com/stagemover/stagemover/shared/metrics"
)

// Microsoft Graph environment variables.
const (
	VarGraphClientState = "GRAPH_CLIENT_STATE_SECRET_ARN"
	VarGraphCredentials = "GRAPH_CREDENTIALS_SECRET_ARN"
	VarGraphMailboxes   = "GRAPH_MAILBOXES"
	VarGraphURL         = "GRAPH_NOTIFICATION_URL"
)

func graphClientState(d Deps) func(context.Context) (string, error) {
	cache, arn := d.secretCache(), os.Getenv(VarGraphClientState)
	return func(ctx context.Context) (string, error) { return cache.Field(ctx, arn, "client_state") }
}

func graphClient(d Deps) *graph.Client {
	cache, arn := d.secretCache(), os.Getenv(VarGraphCredentials)
	return &graph.Client{
		GraphURL: os.Getenv("GRAPH_BASE_URL"), LoginURL: os.Getenv("GRAPH_LOGIN_URL"), HTTP: d.HTTP, Now: d.Now,
		Credentials: graph.CredentialsFrom(func(ctx context.Context) (string, error) { return cache.String(ctx, arn) }),
	}
}

// IngestGraph builds the handler for POST /webhooks/graph: the validation
// handshake, change and lifecycle notifications, stored for the fetcher.
func IngestGraph(d Deps) (*graph.Handler, error) {
	d.defaults()
	if os.Getenv(VarGraphClientState) == "" || d.Secrets == nil {
		return nil, fmt.Errorf("%w: %s is required", config.ErrConfig, VarGraphClientState)
	}
	return &graph.Handler{Store: d.store(), ClientState: graphClientState(d), Now: d.Now,
		Log: d.Log.With("function", "ingest-graph"), Metrics: metrics.New(d.Metrics, d.Config.MetricsNamespace, "ingest-graph")}, nil
}

// GraphRenewer builds the scheduled job that creates and renews the
// mailboxes' subscriptions before they expire (about three days).
func GraphRenewer(d Deps) (*graph.Renewer, error) {
	d.defaults()
	for _, name := range []string{VarGraphClientState, VarGraphCredentials, VarGraphMailboxes, VarGraphURL} {
		if os.Getenv(name) == "" {
			return nil, fmt.Errorf("%w: %s is required", config.ErrConfig, name)
		}
	}
	mailboxes, err := graph.ParseMailboxes(os.Getenv(VarGraphMailboxes))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", config.ErrConfig, VarGraphMailboxes, err)
	}
	return &graph.Renewer{Client: graphClient(d), Now: d.Now, Log: d.Log.With("function", "graph-subscriptions"),
		Subscriptions: graph.SubscriptionConfig{Mailboxes: mailboxes, NotificationURL: os.Getenv(VarGraphURL), ClientState: graphClientState(d)}}, nil
}

// graphFetcher is the fetcher's Graph source, or nil when Graph is not configured.
func graphFetcher(d Deps) (*graph.Fetcher, error) {
	if os.Getenv(VarGraphCredentials) == "" {
		return nil, nil
	}
	f := &graph.Fetcher{Client: graphClient(d), InternalDomains: d.Config.InternalDomains, Now: d.Now, Log: d.Log.With("source", "graph")}
	// Lifecycle notifications recreate removed subscriptions when the
	// renewer's settings are present.
	if r, err := GraphRenewer(d); err == nil {
		f.Renewer = r
	}
	return f, nil
}
