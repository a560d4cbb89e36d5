// Package local runs the whole system on one machine with no AWS or
// Pipedrive account: the same handlers behind the same HTTP routes, DynamoDB
// Local with the deployed table definition, stream delivery with the
// template's filters and retry settings, the Pipedrive sandbox (or the real
// Pipedrive, in shadow mode unless told otherwise), and stand-ins for
// Microsoft Graph (Outlook) and Google (signing keys, OAuth, Gmail API), so
// provider notifications run ingest → fetch item → fetcher → signal →
// evaluator → mover exactly as deployed.
package local

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/stagemover/stagemover"
	"github.com/stagemover/stagemover/shared/app"
	"github.com/stagemover/stagemover/shared/dev/ddblocal"
	"github.com/stagemover/stagemover/shared/dev/streams"
	"github.com/stagemover/stagemover/shared/pipedrive"
	"github.com/stagemover/stagemover/shared/pipedrive/pipedrivetest"
	"github.com/stagemover/stagemover/shared/platform/apigw"
	"github.com/stagemover/stagemover/shared/platform/config"
	"github.com/stagemover/stagemover/shared/source/fetcher"
	"github.com/stagemover/stagemover/shared/source/gmail"
	"github.com/stagemover/stagemover/shared/source/gmail/gmailtest"
	"github.com/stagemover/stagemover/shared/source/graph"
	"github.com/stagemover/stagemover/shared/source/graph/graphtest"
	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/source/pdhooks"
	"github.com/stagemover/stagemover/shared/store"
)

// DevIngestSecret signs requests to the local POST /signals unless
// STAGEMOVER_INGEST_SECRET says otherwise. It protects nothing real.
const DevIngestSecret = "local-dev-secret"

// DevCalendlyKey is the local stand-in for the Calendly subscription's
// signing key (POST /webhooks/calendly), unless CALENDLY_SIGNING_KEY is set.
const DevCalendlyKey = "local-dev-calendly-key"

// DevGraphClientState is the clientState of the local Graph subscriptions
// (POST /webhooks/graph).
const DevGraphClientState = "local-dev-graph-client-state"

// DevPipedriveWebhookUser and DevPipedriveWebhookPassword are the basic
// auth pair of the local POST /pipedrive (webhooks v2) unless
// PipedriveWebhookPassword is set. They protect nothing real.
const (
	DevPipedriveWebhookUser     = "stagemover"
	DevPipedriveWebhookPassword = "local-dev-pipedrive-webhook-password"
)

// DevPandaDocKey and DevDocuSignKey are the local shared key of POST
// /webhooks/pandadoc and HMAC key of POST /webhooks/docusign unless
// Options say otherwise.
const (
	DevPandaDocKey = "local-dev-pandadoc-shared-key"
	DevDocuSignKey = "local-dev-docusign-hmac-key"
)

// Default mailboxes of the stand-ins when Options name none.
const (
	DevGraphMailbox = "outlook.rep@vendor.example"
	DevGmailMailbox = "gmail.rep@vendor.example"
)

// Local Pub/Sub settings of the Gmail source: the topic users.watch names
// and the service account the stand-in's Google reads mail as.
const (
	DevGmailTopic          = "projects/stagemover-local/topics/gmail"
	DevGmailServiceAccount = "stagemover-local@stagemover-local.iam.gserviceaccount.com"
)

// Options configure a local system.
type Options struct {
	Addr             string // HTTP listen address; default 127.0.0.1:8080, ":0" style for tests
	PipedriveBaseURL string // with PipedriveToken: use the real Pipedrive instead of the sandbox
	PipedriveToken   string
	Live             bool // with the real Pipedrive: actually move deals
	IngestSecret     string
	CalendlyKey      string
	PandaDocKey      string // default DevPandaDocKey
	DocuSignKey      string // default DevDocuSignKey
	// PipedriveWebhookPassword is the basic auth password of POST
	// /pipedrive (user DevPipedriveWebhookUser); default
	// DevPipedriveWebhookPassword.
	PipedriveWebhookPassword string
	// PipedriveIntegrationUserID is the user PipedriveToken acts as: with
	// the real Pipedrive, POST /pipedrive is served only when it is set (the
	// sandbox's integration user otherwise).
	PipedriveIntegrationUserID int64
	InternalDomains            []string
	GraphMailboxes             []string // Outlook mailboxes in the Graph stand-in; default DevGraphMailbox
	GmailMailboxes             []string // Gmail mailboxes in the Google stand-in; default DevGmailMailbox
	DemoData                   bool     // seed the sandbox with demo deals
	Log                        *slog.Logger
	DDBOutput                  io.Writer // DynamoDB Local's own output
}

// System is a running local stagemover.
type System struct {
	URL       string // base URL of the HTTP API
	Table     string
	Sandbox   *pipedrivetest.Server // nil with the real Pipedrive
	Store     *store.Store
	Pipedrive *pipedrive.Client // the mover's client
	Config    config.Config
	Failures  *FailureQueue

	// Graph is the Microsoft Graph stand-in: each of GraphMailboxes is a
	// user with message and event subscriptions notifying POST
	// /webhooks/graph (AddMessage/AddEvent, then Notify).
	Graph          *graphtest.Server
	GraphMailboxes []string
	// Gmail is the Google stand-in (push token keys, OAuth, Gmail API);
	// each of GmailMailboxes is watched (AddMessage, then PushGmail).
	Gmail          *gmailtest.Server
	GmailMailboxes []string

	// PipedriveWebhooks is what registering POST /pipedrive with the
	// sandbox's webhooks did (nil with the real Pipedrive: register it
	// yourself with `stagemover pipedrive-webhooks`).
	PipedriveWebhooks []pdhooks.Result
	// DDBEndpoint is DynamoDB Local's URL (for `stagemover report --endpoint`).
	DDBEndpoint string

	gmailAudience string
	pushSeq       atomic.Int64
	db            *dynamodb.Client

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
	if opts.PandaDocKey == "" {
		opts.PandaDocKey = DevPandaDocKey
	}
	if opts.DocuSignKey == "" {
		opts.DocuSignKey = DevDocuSignKey
	}
	if opts.PipedriveWebhookPassword == "" {
		opts.PipedriveWebhookPassword = DevPipedriveWebhookPassword
	}
	if len(opts.GraphMailboxes) == 0 {
		opts.GraphMailboxes = []string{DevGraphMailbox}
	}
	if len(opts.GmailMailboxes) == 0 {
		opts.GmailMailboxes = []string{DevGmailMailbox}
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
	s.db = db
	s.DDBEndpoint = s.ddb.Endpoint()
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
		s.Sandbox, err = pipedrivetest.Start(pipedrivetest.Options{DemoData: opts.DemoData, Logger: opts.Log})
		if err != nil {
			return nil, fmt.Errorf("start Pipedrive sandbox: %w", err)
		}
		cfg.PipedriveBaseURL, token = s.Sandbox.URL(), s.Sandbox.Token()
		cfg.Mode = config.ModeLive // the sandbox is ours to move
		cfg.IntegrationUserID = s.Sandbox.IntegrationUserID()
	} else {
		if opts.Live {
			cfg.Mode = config.ModeLive
		}
		cfg.IntegrationUserID = opts.PipedriveIntegrationUserID
	}
	s.Config = cfg

	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", opts.Addr, err)
	}
	s.URL = "http://" + ln.Addr().String()
	s.http = &http.Server{ReadHeaderTimeout: 10 * time.Second}
	defer func() {
		if s.http.Handler == nil {
			ln.Close() // not served yet
		}
	}()

	deps := app.Deps{Config: cfg, DB: db, Log: opts.Log, Token: token, IngestSecret: opts.IngestSecret}
	graphCfg, gmailCfg, err := s.startStandIns(opts, loopbackURL(ln.Addr()))
	if err != nil {
		return nil, err
	}
	graphHook, err := graphCfg.Ingest(deps)
	if err != nil {
		return nil, err
	}
	gmailHook, err := gmailCfg.Ingest(deps)
	if err != nil {
		return nil, err
	}
	signals, err := app.Ingest(deps)
	if err != nil {
		return nil, err
	}
	calendlyHook, err := app.IngestCalendly(deps, opts.CalendlyKey)
	if err != nil {
		return nil, err
	}
	pandadocHook, err := app.IngestPandaDoc(deps, opts.PandaDocKey)
	if err != nil {
		return nil, err
	}
	docusignHook, err := app.IngestDocuSign(deps, opts.DocuSignKey)
	if err != nil {
		return nil, err
	}
	hookCreds := pdhooks.Credentials{User: DevPipedriveWebhookUser, Password: opts.PipedriveWebhookPassword}
	var pipedriveHook *ingest.Handler
	if cfg.IntegrationUserID > 0 {
		if pipedriveHook, err = app.IngestPipedrive(deps, &hookCreds); err != nil {
			return nil, err
		}
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
	// The local fetcher reads from the stand-ins, whatever the environment says.
	graphSource, err := graphCfg.Fetcher(deps)
	if err != nil {
		return nil, err
	}
	gmailSource, err := gmailCfg.Fetcher(deps)
	if err != nil {
		return nil, err
	}
	fetch.Sources = map[string]fetcher.Source{graph.Source: graphSource, gmail.Source: gmailSource}
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

	mux := http.NewServeMux()
	mux.Handle("POST /signals", apigw.Handler("POST /signals", signals.Handle))
	mux.Handle("POST /webhooks/calendly", apigw.Handler("POST /webhooks/calendly", calendlyHook.Handle))
	mux.Handle("POST /webhooks/graph", apigw.Handler("POST /webhooks/graph", graphHook.Handle))
	mux.Handle("POST /gmail/push", apigw.Handler("POST /gmail/push", gmailHook.Handle))
	mux.Handle("POST /webhooks/pandadoc", apigw.Handler("POST /webhooks/pandadoc", pandadocHook.Handle))
	mux.Handle("POST /webhooks/docusign", apigw.Handler("POST /webhooks/docusign", docusignHook.Handle))
	if pipedriveHook != nil {
		mux.Handle("POST /pipedrive", apigw.Handler("POST /pipedrive", pipedriveHook.Handle))
	}
	s.http.Handler = mux
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			opts.Log.Error("http server stopped", "error", err)
		}
	}()

	// What the scheduled functions do first in a deployment: Graph
	// subscriptions, created through the validation handshake against
	// POST /webhooks/graph, and the Gmail watches with each mailbox's first
	// history cursor.
	graphRenewer, err := graphCfg.Renewer(deps)
	if err != nil {
		return nil, err
	}
	if err := graphRenewer.Run(ctx); err != nil {
		return nil, fmt.Errorf("Graph stand-in subscriptions: %w", err)
	}
	gmailRenewer, err := gmailCfg.Renewer(deps)
	if err != nil {
		return nil, err
	}
	if err := gmailRenewer.Run(ctx); err != nil {
		return nil, fmt.Errorf("Gmail stand-in watches: %w", err)
	}
	// What the daily pipedrive-webhooks job does: the sandbox echoes every
	// deal change (ours included: loop prevention runs locally) and every
	// stage and pipeline change to POST /pipedrive.
	if s.Sandbox != nil && pipedriveHook != nil {
		hooks, err := app.Pipedrive(deps)
		if err != nil {
			return nil, err
		}
		r := &pdhooks.Registrar{API: hooks, URL: loopbackURL(ln.Addr()) + "/pipedrive", Auth: hookCreds, UserID: cfg.IntegrationUserID, Log: opts.Log}
		if s.PipedriveWebhooks, err = r.Ensure(ctx, nil); err != nil {
			return nil, fmt.Errorf("Pipedrive sandbox webhooks: %w", err)
		}
	}
	return s, nil
}

// startStandIns starts the Graph and Google stand-ins on 127.0.0.1 and
// returns the sources' configuration pointing at them, with notifications
// and pushes going to baseURL.
func (s *System) startStandIns(opts Options, baseURL string) (app.GraphConfig, app.GmailConfig, error) {
	var gc app.GraphConfig
	var mc app.GmailConfig
	graphBoxes, err := graph.ParseMailboxes(strings.Join(opts.GraphMailboxes, ","))
	if err != nil {
		return gc, mc, fmt.Errorf("Graph mailboxes: %w", err)
	}
	s.Graph = graphtest.New()
	for _, m := range graphBoxes {
		s.Graph.AddUser(m)
	}
	s.GraphMailboxes = graphBoxes
	gc = app.GraphConfig{
		Mailboxes:       strings.Join(graphBoxes, ","),
		NotificationURL: baseURL + "/webhooks/graph",
		BaseURL:         s.Graph.GraphURL(),
		LoginURL:        s.Graph.LoginURL(),
		ClientState:     DevGraphClientState,
		Credentials:     s.Graph.CredentialsJSON(),
	}

	if s.Gmail, err = gmailtest.NewServer(); err != nil {
		return gc, mc, fmt.Errorf("start Google stand-in: %w", err)
	}
	domains := map[string]bool{}
	for _, m := range opts.GmailMailboxes {
		m = strings.ToLower(strings.TrimSpace(m))
		i := strings.LastIndexByte(m, '@')
		if i <= 0 || i == len(m)-1 {
			return gc, mc, fmt.Errorf("Gmail mailbox %q is not an email address", m)
		}
		s.GmailMailboxes = append(s.GmailMailboxes, m)
		domains[m[i+1:]] = true
	}
	var delegated []string
	for d := range domains {
		delegated = append(delegated, d)
	}
	sort.Strings(delegated)
	keyFile, err := s.Gmail.AddServiceAccount(DevGmailServiceAccount, delegated...)
	if err != nil {
		return gc, mc, fmt.Errorf("Google stand-in service account: %w", err)
	}
	s.gmailAudience = baseURL + "/gmail/push"
	mc = app.GmailConfig{
		Config: gmail.Config{
			PushAudience:       s.gmailAudience,
			PushServiceAccount: gmailtest.PushServiceAccount,
			Mailboxes:          s.GmailMailboxes,
			Topic:              DevGmailTopic,
			CertsURL:           s.Gmail.CertsURL(),
			TokenURL:           s.Gmail.TokenURL(),
			GmailBaseURL:       s.Gmail.URL,
		},
		Credentials: string(keyFile),
	}
	return gc, mc, nil
}

// loopbackURL is the base URL the stand-ins call: the listener's own
// address, or 127.0.0.1 when it listens on every interface.
func loopbackURL(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || tcp.IP.IsUnspecified() {
		_, port, _ := net.SplitHostPort(addr.String())
		return "http://127.0.0.1:" + port
	}
	return "http://" + addr.String()
}

// PushGmail does what Cloud Pub/Sub does after Gmail publishes a mailbox
// change: it POSTs a push (the {emailAddress, historyId} notification at
// the mailbox's current history id) to /gmail/push with a fresh OIDC token
// signed by the Google stand-in's key. It returns the HTTP status.
func (s *System) PushGmail(ctx context.Context, mailbox string) (int, error) {
	mailbox = strings.ToLower(strings.TrimSpace(mailbox))
	data, _ := json.Marshal(map[string]any{"emailAddress": mailbox, "historyId": s.Gmail.HistoryID(mailbox)})
	id := strconv.FormatInt(time.Now().UnixNano()/1000+s.pushSeq.Add(1), 10)
	publish := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	body, _ := json.Marshal(map[string]any{
		"message": map[string]string{
			"data": base64.StdEncoding.EncodeToString(data), "messageId": id, "message_id": id,
			"publishTime": publish, "publish_time": publish,
		},
		"subscription": "projects/stagemover-local/subscriptions/gmail-push",
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.gmailAudience, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.Gmail.Keys.Mint(gmailtest.DefaultPushClaims(s.gmailAudience, time.Now())))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// DecidedDeals lists every deal with at least one recorded decision,
// whether the signal named the deal or the evaluator resolved it from a
// person's email address.
func (s *System) DecidedDeals(ctx context.Context) ([]int64, error) {
	return s.Store.DecidedDeals(ctx)
}

func (s *System) failed(ctx context.Context, recs []events.DynamoDBEventRecord, err error) {
	s.Failures.mu.Lock()
	s.Failures.Records = append(s.Failures.Records, recs...)
	s.Failures.mu.Unlock()
	s.log.ErrorContext(ctx, "records sent to the failure queue", "records", len(recs), "error", err)
}

// Report measures the local table: moves, reverts, misses and revert rate
// per pipeline and rule (what `stagemover report` prints).
func (s *System) Report(ctx context.Context) (pdhooks.Report, error) {
	return pdhooks.Table{Store: s.Store}.Report(ctx)
}

// WaitWebhooks waits until the sandbox has delivered every webhook queued
// so far (no-op with the real Pipedrive).
func (s *System) WaitWebhooks(ctx context.Context) error {
	if s.Sandbox == nil {
		return nil
	}
	return s.Sandbox.WaitWebhooks(ctx)
}

// Run delivers stream records continuously until ctx ends.
func (s *System) Run(ctx context.Context) error { return s.poller.Run(ctx) }

// Drain delivers every record written so far, and those they cause, then returns.
func (s *System) Drain(ctx context.Context) (int, error) { return s.poller.Drain(ctx) }

// Close stops the HTTP server, the stand-ins, the sandbox and DynamoDB Local.
func (s *System) Close() {
	if s.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = s.http.Shutdown(ctx)
		cancel()
	}
	s.wg.Wait()
	if s.Graph != nil {
		s.Graph.Close()
	}
	if s.Gmail != nil {
		s.Gmail.Close()
	}
	if s.Sandbox != nil {
		s.Sandbox.Close()
	}
	if s.ddb != nil {
		_ = s.ddb.Stop()
	}
}
