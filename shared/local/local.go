// Package local runs the whole system on one machine with no AWS or
// Pipedrive account: the same handlers behind the same HTTP route, DynamoDB
// Local with the deployed table definition, stream delivery with the
// template's filters and retry settings, and the Pipedrive sandbox (or the
// real Pipedrive, in shadow mode unless told otherwise).
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stagemover/stagemover"
	"github.com/stagemover/stagemover/shared/apigw"
	"github.com/stagemover/stagemover/shared/app"
	"github.com/stagemover/stagemover/shared/config"
	"github.com/stagemover/stagemover/shared/ddblocal"
	"github.com/stagemover/stagemover/shared/pipedrive"
	"github.com/stagemover/stagemover/shared/pipedrive/sandbox"
	"github.com/stagemover/stagemover/shared/store"
	"github.com/stagemover/stagemover/shared/streams"
)

// DevIngestSecret signs requests to the local POST /signals unless
// STAGEMOVER_INGEST_SECRET says otherwise. It protects nothing real.
const DevIngestSecret = "local-dev-secret"

// DevCalendlyKey is the local stand-in for the Calendly subscription's
// signing key (POST /webhooks/calendly), unless CALENDLY_SIGNING_KEY is set.
const DevCalendlyKey = "local-dev-calendly-key"

// Options configure a local system.
type Options struct {
	Addr             string // HTTP listen address; default 127.0.0.1:8080, ":0" style for tests
	PipedriveBaseURL string // with PipedriveToken: use the real Pipedrive instead of the sandbox
	PipedriveToken   string
	Live             bool // with the real Pipedrive: actually move deals
	IngestSecret     string
	CalendlyKey      string
	InternalDomains  []string
	DemoData         bool // seed the sandbox with demo deals
	Log              *slog.Logger
	DDBOutput        io.Writer // DynamoDB Local's own output
}

// System is a running local stagemover.
type System struct {
	URL       string // base URL of the HTTP API
	Table     string
	Sandbox   *sandbox.Server // nil with the real Pipedrive
	Store     *store.Store
	Pipedrive *pipedrive.Client // the mover's client
	Config    config.Config
	Failures  *FailureQueue

	ddb    *ddblocal.Instance
	http   *http.Server
	poller *streams.Poller
	log    *slog.Logger
	stop   context.CancelFunc
	wg     sync.WaitGroup
}

// FailureQueue stands in for the SQS on-failure destination.
type FailureQueue struct {
	mu      sync.Mutex
	Records []events.DynamoDBEventRecord
}

// Len returns how many records gave up.
func (q *FailureQueue) Len() int { q.mu.Lock(); defer q.mu.Unlock(); return len(q.Records) }

// Start brings everything up. Close stops it.
func Start(ctx context.Context, opts Options) (sys *System, err error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:8080"
	}
	if opts.IngestSecret == "" {
		opts.IngestSecret = DevIngestSecret
	}
	if opts.CalendlyKey == "" {
		opts.CalendlyKey = DevCalendlyKey
	}
	s := &System{log: opts.Log, Table: "stagemover-local", Failures: &FailureQueue{}}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()

	s.ddb, err = ddblocal.Start(ctx, ddblocal.Options{Stdout: opts.DDBOutput, Logger: opts.Log})
	if err != nil {
		return nil, fmt.Errorf("start DynamoDB Local: %w", err)
	}
	db := s.ddb.DynamoDB()
	streamARN, err := ddblocal.CreateTableFromTemplate(ctx, db, stagemover.Template, ddblocal.TableLogicalID, s.Table)
	if err != nil {
		return nil, err
	}

	cfg := config.Config{
		TableName:          s.Table,
		Mode:               config.ModeShadow,
		PipedriveBaseURL:   opts.PipedriveBaseURL,
		InternalDomains:    opts.InternalDomains,
		MetricsNamespace:   "StageMover",
		MoverLease:         90 * time.Second,
		MoverConcurrency:   2,
		EvidenceWindow:     90 * 24 * time.Hour,
		SignatureTolerance: 5 * time.Minute,
		StageMapTTL:        15 * time.Minute,
		LogLevel:           "info",
	}
	token := opts.PipedriveToken
	if opts.PipedriveBaseURL == "" || token == "" {
		s.Sandbox, err = sandbox.Start(sandbox.Options{DemoData: opts.DemoData, Logger: opts.Log})
		if err != nil {
			return nil, fmt.Errorf("start Pipedrive sandbox: %w", err)
		}
		cfg.PipedriveBaseURL, token = s.Sandbox.URL(), s.Sandbox.Token()
		cfg.Mode = config.ModeLive // the sandbox is ours to move
	} else if opts.Live {
		cfg.Mode = config.ModeLive
	}
	s.Config = cfg

	deps := app.Deps{Config: cfg, DB: db, Log: opts.Log, Token: token, IngestSecret: opts.IngestSecret}
	ingest, err := app.Ingest(deps)
	if err != nil {
		return nil, err
	}
	calendlyHook, err := app.IngestCalendly(deps, opts.CalendlyKey)
	if err != nil {
		return nil, err
	}
	evaluator, err := app.Evaluator(deps)
	if err != nil {
		return nil, err
	}
	mover, client, err := app.Mover(deps)
	if err != nil {
		return nil, err
	}
	fetch, err := app.Fetcher(deps)
	if err != nil {
		return nil, err
	}
	s.Pipedrive = client
	s.Store = store.New(db, s.Table)

	sources, err := streams.FromTemplate(stagemover.Template)
	if err != nil {
		return nil, err
	}
	handlers := map[string]streams.Handler{
		"EvaluatorFunction": evaluator.Handle,
		"MoverFunction":     mover.Handle,
		"FetcherFunction":   fetch.Handle,
	}
	var subs []streams.Subscription
	for _, src := range sources {
		h, ok := handlers[src.Function]
		if !ok {
			return nil, fmt.Errorf("template.yaml has a stream function %s the local mode does not know", src.Function)
		}
		subs = append(subs, streams.Subscription{Source: src, Handler: h, OnFailure: s.failed})
	}
	s.poller = streams.NewPoller(s.ddb.Streams(), streamARN, opts.Log, subs...)

	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", opts.Addr, err)
	}
	s.URL = "http://" + ln.Addr().String()
	mux := http.NewServeMux()
	mux.Handle("POST /signals", apigw.Handler("POST /signals", ingest.Handle))
	mux.Handle("POST /webhooks/calendly", apigw.Handler("POST /webhooks/calendly", calendlyHook.Handle))
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			opts.Log.Error("http server stopped", "error", err)
		}
	}()
	return s, nil
}

func (s *System) failed(ctx context.Context, recs []events.DynamoDBEventRecord, err error) {
	s.Failures.mu.Lock()
	s.Failures.Records = append(s.Failures.Records, recs...)
	s.Failures.mu.Unlock()
	s.log.ErrorContext(ctx, "records sent to the failure queue", "records", len(recs), "error", err)
}

// Run delivers stream records continuously until ctx ends.
func (s *System) Run(ctx context.Context) error { return s.poller.Run(ctx) }

// Drain delivers every record written so far, and those they cause, then returns.
func (s *System) Drain(ctx context.Context) (int, error) { return s.poller.Drain(ctx) }

// Close stops the HTTP server, the sandbox and DynamoDB Local.
func (s *System) Close() {
	if s.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = s.http.Shutdown(ctx)
		cancel()
	}
	s.wg.Wait()
	if s.Sandbox != nil {
		s.Sandbox.Close()
	}
	if s.ddb != nil {
		_ = s.ddb.Stop()
	}
}
