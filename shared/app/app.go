// Package app wires each function from its configuration and clients. The
// Lambda mains and the local mode both build their handlers here, so local
// runs exercise exactly the deployed wiring.
package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/stagemover/stagemover/shared/core/evaluator"
	"github.com/stagemover/stagemover/shared/core/explain"
	"github.com/stagemover/stagemover/shared/core/intent"
	"github.com/stagemover/stagemover/shared/core/mover"
	"github.com/stagemover/stagemover/shared/core/resolve"
	"github.com/stagemover/stagemover/shared/core/stagemap"
	"github.com/stagemover/stagemover/shared/pipedrive"
	"github.com/stagemover/stagemover/shared/platform/config"
	"github.com/stagemover/stagemover/shared/platform/metrics"
	"github.com/stagemover/stagemover/shared/platform/secrets"
	"github.com/stagemover/stagemover/shared/source/fetcher"
	"github.com/stagemover/stagemover/shared/source/graph"
	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/store"
)

// Deps are the clients a function is built from.
type Deps struct {
	Config  config.Config
	DB      store.DynamoDB
	Secrets secrets.API
	HTTP    *http.Client // Pipedrive calls; nil uses a 20 s timeout client
	Log     *slog.Logger
	Metrics io.Writer // EMF lines; os.Stdout in Lambda
	Now     func() time.Time
	Engine  intent.Engine // nil: the default engine with the embedded rules

	// Token, when set, replaces the Secrets Manager read of the Pipedrive
	// token (local mode with PIPEDRIVE_API_TOKEN or the sandbox).
	Token string
	// IngestSecret likewise replaces the ingest HMAC secret read.
	IngestSecret string
}

// Logger returns the JSON logger every function uses.
func Logger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

func (d *Deps) defaults() {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = Logger(os.Stderr, d.Config.LogLevel)
	}
	if d.HTTP == nil {
		d.HTTP = &http.Client{Timeout: 20 * time.Second}
	}
}

func (d *Deps) store() *store.Store {
	return store.New(d.DB, d.Config.TableName, store.WithClock(d.Now))
}

func (d *Deps) secretCache() *secrets.Cache { return secrets.NewCache(d.Secrets, 5*time.Minute) }

// Ingest builds POST /signals, the generic webhook.
func Ingest(d Deps) (*ingest.Handler, error) {
	d.defaults()
	key, err := d.key(routeKey{what: "ingest secret", local: d.IngestSecret, envVar: config.VarIngestARN, arn: d.Config.IngestSecretARN})
	if err != nil {
		return nil, err
	}
	return d.route("ingest-generic", ingest.Generic{Tolerance: d.Config.SignatureTolerance}, key), nil
}

// route is every ingest route's handler: src behind the one pipeline,
// verified with key (nil for a source without one), logging and counting
// as function.
func (d *Deps) route(function string, src ingest.Source, key ingest.KeyFunc) *ingest.Handler {
	return &ingest.Handler{
		Source:  src,
		Key:     key,
		Store:   d.store(),
		Now:     d.Now,
		Log:     d.Log.With("function", function),
		Metrics: d.recorder(function),
	}
}

func (d *Deps) recorder(function string) *metrics.Recorder {
	return metrics.New(d.Metrics, d.Config.MetricsNamespace, function)
}

// Pipedrive builds the API client, reading the token from Secrets Manager
// (cached) unless Deps.Token is set.
func Pipedrive(d Deps) (*pipedrive.Client, error) { return pipedriveClient(d, 1) }

// pipedriveClient builds a client that keeps to 1/share of the token's
// burst window when share instances run at once.
func pipedriveClient(d Deps, share int) (*pipedrive.Client, error) {
	d.defaults()
	token := pipedrive.StaticToken(d.Token)
	if d.Token == "" {
		if d.Secrets == nil || d.Config.PipedriveTokenSecretARN == "" {
			return nil, fmt.Errorf("%w: %s is required", config.ErrConfig, config.VarTokenSecret)
		}
		cache := d.secretCache()
		token = func(ctx context.Context) (string, error) {
			return cache.Field(ctx, d.Config.PipedriveTokenSecretARN, "api_token")
		}
	}
	return pipedrive.New(pipedrive.Config{
		BaseURL:    d.Config.PipedriveBaseURL,
		Token:      token,
		HTTPClient: d.HTTP,
		Logger:     d.Log,
		Now:        d.Now,
		Share:      share,
	})
}

// Evaluator builds the stream handler that records decisions.
func Evaluator(d Deps) (*evaluator.Evaluator, error) {
	d.defaults()
	engine := d.Engine
	if engine == nil {
		var err error
		if engine, err = DefaultEngine(d.Config.RulesFile); err != nil {
			return nil, err
		}
	}
	e := &evaluator.Evaluator{
		Store:           d.store(),
		Engine:          engine,
		InternalDomains: d.Config.InternalDomains,
		Window:          d.Config.EvidenceWindow,
		Now:             d.Now,
		Log:             d.Log.With("function", "evaluator"),
		Metrics:         metrics.New(d.Metrics, d.Config.MetricsNamespace, "evaluator"),
	}
	if d.Token != "" || d.Config.PipedriveTokenSecretARN != "" {
		client, err := Pipedrive(d)
		if err != nil {
			return nil, err
		}
		// One resolver per instance: it shares concurrent lookups and caches
		// resolutions in the table, so a busy mailbox spends no search budget.
		e.Resolver = &resolve.Resolver{
			API:      client,
			Cache:    resolve.StoreCache{Store: d.store()},
			FreeMail: resolve.DefaultFreeMail().With(d.Config.InternalDomains...),
			Now:      d.Now,
			Log:      d.Log.With("component", "resolve"),
		}
	}
	return e, nil
}

// Mover builds the stream handler that moves deals, and returns its client
// so callers can report Pipedrive usage.
func Mover(d Deps) (*mover.Mover, *pipedrive.Client, error) {
	d.defaults()
	client, err := pipedriveClient(d, d.Config.MoverConcurrency)
	if err != nil {
		return nil, nil, err
	}
	st := d.store()
	stages := stagemap.New(stagemap.FromPipedrive{API: client}, st, d.Config.StageMapTTL, d.Now)
	m := &mover.Mover{
		Store:     st,
		Pipedrive: client,
		Stages:    stages,
		Live:      d.Config.Live(),
		Lease:     d.Config.MoverLease,
		Now:       d.Now,
		Log:       d.Log.With("function", "mover"),
		Metrics:   metrics.New(d.Metrics, d.Config.MetricsNamespace, "mover"),
	}
	if d.Config.ExplainNotes || d.Config.ExplainActivities {
		m.Explain = &explain.Writer{
			Pipedrive: client, Store: st, Evidence: st,
			Notes: d.Config.ExplainNotes, Activities: d.Config.ExplainActivities,
			Stages:       explain.StagesFrom(stages),
			FollowUpDays: d.Config.FollowUpDays,
			Now:          d.Now,
			Log:          d.Log.With("function", "mover", "component", "explain"),
		}
	}
	return m, client, nil
}

// fetchAttempts is 1 + the FetcherFunction's MaximumRetryAttempts in template.yaml.
const fetchAttempts = 3

// Fetcher builds the stream handler that fetches notification content.
// Each provider registers its source here when its credentials are configured.
func Fetcher(d Deps) (*fetcher.Fetcher, error) {
	d.defaults()
	sources := map[string]fetcher.Source{}
	gm, err := gmailFetcher(d)
	if err != nil {
		return nil, err
	}
	if gm != nil {
		sources["gmail"] = gm
	}
	gr, err := graphFetcher(d)
	if err != nil {
		return nil, err
	}
	if gr != nil {
		sources[graph.Source] = gr
	}
	return &fetcher.Fetcher{
		Store:    d.store(),
		Sources:  sources,
		Attempts: fetchAttempts,
		Log:      d.Log.With("function", "fetcher"),
		Metrics:  metrics.New(d.Metrics, d.Config.MetricsNamespace, "fetcher"),
	}, nil
}

// sweepAge is how long a move decision may stay unfinished before the
// sweeper re-drives it: well past the stream's own retries.
const sweepAge = 30 * time.Minute

// MoverSweeper builds the scheduled job that re-drives abandoned move decisions.
func MoverSweeper(d Deps) (func(ctx context.Context) error, error) {
	m, _, err := Mover(d)
	if err != nil {
		return nil, err
	}
	m.Log = m.Log.With("job", "sweeper")
	st := d.store()
	return func(ctx context.Context) error {
		_, err := m.Sweep(ctx, st, sweepAge, 100)
		return err
	}, nil
}
