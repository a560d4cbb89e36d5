// Package pipedrivetest is the Pipedrive sandbox: an in-process HTTP server
// that stands in for Pipedrive API v2 (plus the v1 webhook and note
// endpoints) in tests and in `stagemover local`.
//
// Every request and response is checked against Pipedrive's official OpenAPI
// specs (embedded by shared/pipedrive/spec: v2 whole, the v1 webhook and note
// paths) with
// kin-openapi; routing uses kin-openapi's gorillamux router over the spec and
// token costs come from each operation's x-token-cost extension. On top of
// that the sandbox enforces Pipedrive's business rules that matter to
// stagemover (a stage implies its pipeline, archived deals are read-only,
// status/time consistency), Pipedrive's rate limits (rolling 2-second burst
// window, search burst window, daily token budget, 403 HTML page for clients
// that ignore 429s), injectable faults, and webhooks v2 deliveries.
//
// The sandbox never imports the Pipedrive client package: it only speaks HTTP.
package pipedrivetest

import (
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/stagemover/stagemover/shared/pipedrive/spec"
)

// Defaults.
const (
	DefaultToken             = "sandbox-token"
	DefaultIntegrationUserID = 1000
	// DefaultOwnerID is the (human) user who owns deals when Deal.OwnerID is 0.
	DefaultOwnerID          = 1001
	DefaultCompanyID        = 1
	DefaultBurstLimit       = 20 // Essential plan, API token, per 2 s
	DefaultSearchBurstLimit = 10 // search endpoints, per 2 s, all plans
	DefaultDailyBudget      = 1_000_000
	// RateWindow is Pipedrive's rolling burst window.
	RateWindow = 2 * time.Second
)

// Options configures a Sandbox. The zero value is usable.
type Options struct {
	Token             string // the valid API token (default "sandbox-token")
	IntegrationUserID int64  // the user the token belongs to (default 1000)
	CompanyID         int64  // company id used in webhook meta (default 1)
	CompanyDomain     string // webhook meta.host is "<CompanyDomain>.pipedrive.com" (default "sandbox")

	BurstLimit       int // requests per rolling 2 s window per token (default 20)
	SearchBurstLimit int // search requests per rolling 2 s window per token (default 10)
	DailyBudget      int // daily token budget (default 1,000,000); x-daily-requests-left
	// RateLimitPenalty: when > 0, a token that hits the burst limit is refused
	// for this long (x-ratelimit-reset and Retry-After report it). Pipedrive's
	// developer community reports a 10 s penalty; the default 0 keeps plain
	// rolling-window semantics (reset = seconds until a slot frees).
	RateLimitPenalty time.Duration
	// BlockAfter: a client that sends more than this many requests after the
	// first 429 within one window gets 403 with an HTML page (default 10).
	BlockAfter int
	// BlockDuration: how long the 403 HTML block lasts (default 10 s).
	BlockDuration time.Duration

	Now    func() time.Time // clock, default time.Now
	Logger *slog.Logger     // optional; nil discards

	// Webhook delivery tuning. Pipedrive retries after 3, 30 and 150 s and
	// times out after 10 s; the sandbox defaults are much shorter.
	WebhookRetryDelays []time.Duration // default 50ms, 200ms, 500ms (3 retries)
	WebhookTimeout     time.Duration   // default 2 s
	WebhookQueueSize   int             // default 256
	WebhookWorkers     int             // default 2

	// DemoData seeds realistic organizations, persons and deals (for local mode).
	DemoData bool
}

// LoggedRequest is one request the sandbox answered. It never contains the token.
type LoggedRequest struct {
	Method    string
	Path      string
	Query     string // api_token is redacted
	Status    int    // 499 when the client went away before the answer
	TokenCost int    // tokens charged against the daily budget (0 if refused)
	Body      string // request body
	At        time.Time
	Operation string // OpenAPI operationId, if routed
}

// Sandbox is a fake Pipedrive. It implements http.Handler and is safe for
// concurrent use.
type Sandbox struct {
	opts Options
	log  *slog.Logger
	v2   *loadedSpec
	v1   *loadedSpec

	mu         sync.Mutex
	pipelines  map[int64]*Pipeline
	stages     map[int64]*Stage
	deals      map[int64]*Deal
	persons    map[int64]*Person
	orgs       map[int64]*Organization
	nextPipe   int64
	nextStage  int64
	nextDeal   int64
	nextPerson int64
	nextOrg    int64

	requests   []LoggedRequest
	validation []string
	faults     []*faultState
	costSpent  int

	rl rateLimiter

	hooks *webhookHub

	crm crmState // notes and activities (notes.go)
}

// New builds a sandbox with the default "Sales" pipeline (id 1, stages 1..5).
func New(opts Options) (*Sandbox, error) {
	if opts.Token == "" {
		opts.Token = DefaultToken
	}
	if opts.IntegrationUserID == 0 {
		opts.IntegrationUserID = DefaultIntegrationUserID
	}
	if opts.CompanyID == 0 {
		opts.CompanyID = DefaultCompanyID
	}
	if opts.CompanyDomain == "" {
		opts.CompanyDomain = "sandbox"
	}
	if opts.BurstLimit <= 0 {
		opts.BurstLimit = DefaultBurstLimit
	}
	if opts.SearchBurstLimit <= 0 {
		opts.SearchBurstLimit = DefaultSearchBurstLimit
	}
	if opts.DailyBudget <= 0 {
		opts.DailyBudget = DefaultDailyBudget
	}
	if opts.BlockAfter <= 0 {
		opts.BlockAfter = 10
	}
	if opts.BlockDuration <= 0 {
		opts.BlockDuration = 10 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.WebhookRetryDelays == nil {
		opts.WebhookRetryDelays = []time.Duration{50 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond}
	}
	if opts.WebhookTimeout <= 0 {
		opts.WebhookTimeout = 2 * time.Second
	}
	if opts.WebhookQueueSize <= 0 {
		opts.WebhookQueueSize = 256
	}
	if opts.WebhookWorkers <= 0 {
		opts.WebhookWorkers = 2
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	v2, err := loadSpecCached(spec.V2, "/api/v2", false)
	if err != nil {
		return nil, err
	}
	v1, err := loadSpecCached(spec.V1, "/v1", true)
	if err != nil {
		return nil, err
	}

	s := &Sandbox{
		opts:      opts,
		log:       log.With("component", "pipedrive-sandbox"),
		v2:        v2,
		v1:        v1,
		pipelines: map[int64]*Pipeline{},
		stages:    map[int64]*Stage{},
		deals:     map[int64]*Deal{},
		persons:   map[int64]*Person{},
		orgs:      map[int64]*Organization{},
		nextPipe:  1, nextStage: 1, nextDeal: 1, nextPerson: 1, nextOrg: 1,
	}
	s.rl.init()
	s.hooks = newWebhookHub(s)
	s.AddPipeline("Sales", "Qualified", "Contact Made", "Demo Scheduled", "Proposal Made", "Negotiations Started")
	if opts.DemoData {
		s.SeedDemoData()
	}
	return s, nil
}

// Close stops webhook delivery (in-flight deliveries are cancelled).
func (s *Sandbox) Close() {
	s.hooks.close()
}

func (s *Sandbox) now() time.Time { return s.opts.Now().UTC() }

// Token returns the valid API token (for wiring clients in tests/local mode).
func (s *Sandbox) Token() string { return s.opts.Token }

// IntegrationUserID returns the user the API token belongs to.
func (s *Sandbox) IntegrationUserID() int64 { return s.opts.IntegrationUserID }

// Errors returned by the state API.
var (
	ErrNotFound = errors.New("sandbox: not found")
)

// ---------------------------------------------------------------- observation

// Requests returns every request answered so far.
func (s *Sandbox) Requests() []LoggedRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]LoggedRequest(nil), s.requests...)
}

// ResetRequests forgets the request log (not the validation errors, rate
// limit state or budget).
func (s *Sandbox) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

// Count counts logged requests with the given method ("" = any) whose path
// starts with pathPrefix.
func (s *Sandbox) Count(method, pathPrefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.requests {
		if (method == "" || strings.EqualFold(method, r.Method)) && strings.HasPrefix(r.Path, pathPrefix) {
			n++
		}
	}
	return n
}

// TokenCostSpent is the total of x-token-cost charged so far.
func (s *Sandbox) TokenCostSpent() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.costSpent
}

// ValidationErrors lists requests that broke the spec (or our rules such as
// "token in query string") and responses that failed validation against the
// spec (the latter are sandbox bugs).
func (s *Sandbox) ValidationErrors() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.validation...)
}

// ClearValidationErrors forgets recorded validation errors.
func (s *Sandbox) ClearValidationErrors() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.validation = nil
}

func (s *Sandbox) addValidationError(msg string) {
	s.mu.Lock()
	s.validation = append(s.validation, msg)
	s.mu.Unlock()
	s.log.Warn("validation error", "detail", msg)
}

// assignID returns id, or the next free id when id is 0, and moves *next
// past it. Call with s.mu held.
func assignID(id int64, next *int64) int64 {
	if id == 0 {
		id = *next
	}
	if id >= *next {
		*next = id + 1
	}
	return id
}
