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
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
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

// Deal is the sandbox's view of a deal. Zero times mean "not set".
type Deal struct {
	ID                int64
	Title             string
	PipelineID        int64
	StageID           int64
	Status            string // open | won | lost
	IsArchived        bool
	IsDeleted         bool
	PersonID          int64
	OrgID             int64
	OwnerID           int64
	CreatorUserID     int64
	Value             float64
	Currency          string
	Probability       *float64
	LostReason        string
	VisibleTo         int
	ExpectedCloseDate string // YYYY-MM-DD
	LabelIDs          []int64
	CustomFields      map[string]any
	Origin            string
	AddTime           time.Time
	UpdateTime        time.Time
	StageChangeTime   time.Time
	WonTime           time.Time
	LostTime          time.Time
	CloseTime         time.Time
	ArchiveTime       time.Time
}

func (d Deal) clone() Deal {
	c := d
	if d.LabelIDs != nil {
		c.LabelIDs = append([]int64(nil), d.LabelIDs...)
	}
	if d.CustomFields != nil {
		c.CustomFields = make(map[string]any, len(d.CustomFields))
		for k, v := range d.CustomFields {
			c.CustomFields[k] = v
		}
	}
	if d.Probability != nil {
		p := *d.Probability
		c.Probability = &p
	}
	return c
}

// Stage is a pipeline stage.
type Stage struct {
	ID              int64
	PipelineID      int64
	Name            string
	OrderNr         int
	DealProbability int
	IsDeleted       bool
	RotEnabled      bool
	DaysToRotten    *int
	AddTime         time.Time
	UpdateTime      time.Time
}

// Pipeline is a sales pipeline.
type Pipeline struct {
	ID                     int64
	Name                   string
	OrderNr                int
	IsDeleted              bool
	DealProbabilityEnabled bool
	AddTime, UpdateTime    time.Time
}

// Person is a contact.
type Person struct {
	ID      int64
	Name    string
	Emails  []string
	Phones  []string
	OrgID   int64
	OwnerID int64
	Notes   []string
}

// Organization is a company a person can belong to. Zero times mean "now"
// when added; OwnerID 0 means DefaultOwnerID.
type Organization struct {
	ID      int64
	Name    string
	OwnerID int64
	// Website is the standard v2 "website" field (e.g. "https://www.acme.example").
	Website string
	// Address is the full address (address.value); searchable.
	Address string
	Notes   []string // searchable note texts
	// CustomFields are keyed by field key; string values are searchable
	// with fields=custom_fields.
	CustomFields map[string]any
	IsDeleted    bool
	AddTime      time.Time
	UpdateTime   time.Time
}

func (o Organization) clone() Organization {
	c := o
	c.Notes = append([]string(nil), o.Notes...)
	if o.CustomFields != nil {
		c.CustomFields = make(map[string]any, len(o.CustomFields))
		for k, v := range o.CustomFields {
			c.CustomFields[k] = v
		}
	}
	return c
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

// ---------------------------------------------------------------- state: pipelines & stages

// AddPipeline adds a pipeline with the given stages (order_nr 1..n).
func (s *Sandbox) AddPipeline(name string, stageNames ...string) (pipelineID int64, stageIDs []int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	order := 1
	for _, p := range s.pipelines {
		if p.OrderNr >= order {
			order = p.OrderNr + 1
		}
	}
	p := &Pipeline{ID: s.nextPipe, Name: name, OrderNr: order, AddTime: now, UpdateTime: now}
	s.nextPipe++
	s.pipelines[p.ID] = p
	for i, sn := range stageNames {
		st := &Stage{ID: s.nextStage, PipelineID: p.ID, Name: sn, OrderNr: i + 1, DealProbability: 100, AddTime: now, UpdateTime: now}
		s.nextStage++
		s.stages[st.ID] = st
		stageIDs = append(stageIDs, st.ID)
	}
	s.log.Info("pipeline added", "pipeline_id", p.ID, "name", name, "stages", strings.Join(stageNames, " → "))
	return p.ID, stageIDs
}

// AddStage adds a stage to a pipeline. orderNr <= 0 appends it; otherwise
// stages at or after orderNr move one place down.
func (s *Sandbox) AddStage(pipelineID int64, name string, orderNr int) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	maxOrder := 0
	for _, st := range s.stages {
		if st.PipelineID == pipelineID && !st.IsDeleted && st.OrderNr > maxOrder {
			maxOrder = st.OrderNr
		}
	}
	if orderNr <= 0 || orderNr > maxOrder {
		orderNr = maxOrder + 1
	} else {
		for _, st := range s.stages {
			if st.PipelineID == pipelineID && !st.IsDeleted && st.OrderNr >= orderNr {
				st.OrderNr++
				st.UpdateTime = now
			}
		}
	}
	st := &Stage{ID: s.nextStage, PipelineID: pipelineID, Name: name, OrderNr: orderNr, DealProbability: 100, AddTime: now, UpdateTime: now}
	s.nextStage++
	s.stages[st.ID] = st
	s.log.Info("stage added", "stage_id", st.ID, "pipeline_id", pipelineID, "name", name, "order_nr", orderNr)
	return st.ID
}

// RenameStage renames a stage.
func (s *Sandbox) RenameStage(id int64, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.stages[id]; ok {
		s.log.Info("stage renamed", "stage_id", id, "from", st.Name, "to", name)
		st.Name = name
		st.UpdateTime = s.now()
	}
}

// DeleteStage marks a stage deleted: it disappears from GET /stages and can
// no longer be a PATCH target. Deals in it keep their stage_id.
func (s *Sandbox) DeleteStage(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.stages[id]; ok {
		st.IsDeleted = true
		st.UpdateTime = s.now()
		s.log.Info("stage deleted", "stage_id", id, "name", st.Name)
	}
}

// Stages returns a snapshot of the (non-deleted) stages of a pipeline in order.
func (s *Sandbox) Stages(pipelineID int64) []Stage {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Stage
	for _, st := range s.stages {
		if st.PipelineID == pipelineID && !st.IsDeleted {
			out = append(out, *st)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].OrderNr < out[j].OrderNr || (out[i].OrderNr == out[j].OrderNr && out[i].ID < out[j].ID)
	})
	return out
}

// firstStageLocked returns the first non-deleted stage of a pipeline.
func (s *Sandbox) firstStageLocked(pipelineID int64) *Stage {
	var best *Stage
	for _, st := range s.stages {
		if st.PipelineID != pipelineID || st.IsDeleted {
			continue
		}
		if best == nil || st.OrderNr < best.OrderNr || (st.OrderNr == best.OrderNr && st.ID < best.ID) {
			best = st
		}
	}
	return best
}

// ---------------------------------------------------------------- state: people & deals

// AddOrganization adds an organization and returns its id.
func (s *Sandbox) AddOrganization(name string) int64 {
	return s.AddOrganizationFull(Organization{Name: name})
}

// AddOrganizationFull adds an organization (ID 0 = auto) and returns its id.
func (s *Sandbox) AddOrganizationFull(o Organization) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o.ID == 0 {
		o.ID = s.nextOrg
	}
	if o.ID >= s.nextOrg {
		s.nextOrg = o.ID + 1
	}
	if o.OwnerID == 0 {
		o.OwnerID = DefaultOwnerID
	}
	if o.AddTime.IsZero() {
		o.AddTime = s.now()
	}
	if o.UpdateTime.IsZero() {
		o.UpdateTime = o.AddTime
	}
	c := o.clone()
	s.orgs[o.ID] = &c
	return o.ID
}

// Organization returns a snapshot of an organization.
func (s *Sandbox) Organization(id int64) (Organization, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orgs[id]
	if !ok {
		return Organization{}, false
	}
	return o.clone(), true
}

// AddPerson adds a person with the given email addresses and returns its id.
func (s *Sandbox) AddPerson(name string, emails ...string) int64 {
	return s.AddPersonFull(Person{Name: name, Emails: emails})
}

// AddPersonFull adds a person (ID 0 = auto) and returns its id.
func (s *Sandbox) AddPersonFull(p Person) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.ID == 0 {
		p.ID = s.nextPerson
	}
	if p.ID >= s.nextPerson {
		s.nextPerson = p.ID + 1
	}
	if p.OwnerID == 0 {
		p.OwnerID = DefaultOwnerID
	}
	p.Emails = append([]string(nil), p.Emails...)
	p.Phones = append([]string(nil), p.Phones...)
	s.persons[p.ID] = &p
	return p.ID
}

// AddDeal stores a deal and returns its id. Defaults: ID auto, pipeline 1,
// the pipeline's first stage, status "open", currency "EUR", owner
// DefaultOwnerID, add/update time now. A known StageID sets PipelineID.
// Unknown stage ids are stored as given (to model broken data).
func (s *Sandbox) AddDeal(d Deal) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if d.ID == 0 {
		d.ID = s.nextDeal
	}
	if d.ID >= s.nextDeal {
		s.nextDeal = d.ID + 1
	}
	if d.StageID != 0 {
		if st, ok := s.stages[d.StageID]; ok {
			d.PipelineID = st.PipelineID
		}
	} else {
		if d.PipelineID == 0 {
			d.PipelineID = 1
		}
		if st := s.firstStageLocked(d.PipelineID); st != nil {
			d.StageID = st.ID
		}
	}
	if d.Title == "" {
		d.Title = fmt.Sprintf("Deal %d", d.ID)
	}
	if d.Status == "" {
		d.Status = "open"
	}
	if d.Currency == "" {
		d.Currency = "EUR"
	}
	if d.OwnerID == 0 {
		d.OwnerID = DefaultOwnerID
	}
	if d.CreatorUserID == 0 {
		d.CreatorUserID = d.OwnerID
	}
	if d.VisibleTo == 0 {
		d.VisibleTo = 3
	}
	if d.Origin == "" {
		d.Origin = "ManuallyCreated"
	}
	if d.AddTime.IsZero() {
		d.AddTime = now
	}
	if d.UpdateTime.IsZero() {
		d.UpdateTime = d.AddTime
	}
	if d.StageChangeTime.IsZero() {
		d.StageChangeTime = d.AddTime
	}
	if d.IsArchived && d.ArchiveTime.IsZero() {
		d.ArchiveTime = now
	}
	switch d.Status {
	case "won":
		if d.WonTime.IsZero() {
			d.WonTime = now
		}
		if d.CloseTime.IsZero() {
			d.CloseTime = d.WonTime
		}
	case "lost":
		if d.LostTime.IsZero() {
			d.LostTime = now
		}
		if d.CloseTime.IsZero() {
			d.CloseTime = d.LostTime
		}
	}
	c := d.clone()
	s.deals[d.ID] = &c
	return d.ID
}

// Deal returns a snapshot of a deal.
func (s *Sandbox) Deal(id int64) (Deal, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.deals[id]
	if !ok {
		return Deal{}, false
	}
	return d.clone(), true
}

// Deals returns snapshots of all deals ordered by id.
func (s *Sandbox) Deals() []Deal {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Deal, 0, len(s.deals))
	for _, d := range s.deals {
		out = append(out, d.clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// ArchiveDeal archives (or unarchives) a deal as a human would in the app.
func (s *Sandbox) ArchiveDeal(id int64, archived bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.deals[id]
	if !ok {
		return ErrNotFound
	}
	d.IsArchived = archived
	if archived {
		d.ArchiveTime = s.now()
	} else {
		d.ArchiveTime = time.Time{}
	}
	d.UpdateTime = s.now()
	return nil
}

// Errors returned by the state API.
var (
	ErrNotFound = errors.New("sandbox: not found")
)

// MoveDealAsUser moves a deal as a human would in the Pipedrive web app:
// the change is attributed to userID with change_source "app" and fires
// the matching webhooks.
func (s *Sandbox) MoveDealAsUser(dealID, stageID, userID int64) error {
	patch := map[string]any{"stage_id": stageID}
	_, aerr := s.updateDeal(context.Background(), dealID, patch, "app", userID)
	if aerr != nil {
		return fmt.Errorf("sandbox: move deal %d to stage %d: %s (%s)", dealID, stageID, aerr.Error, aerr.Info)
	}
	return nil
}

// UpdateDealAsUser applies a PATCH-like change (v2 field names, e.g.
// {"status":"won"}) as a human in the app (change_source "app").
func (s *Sandbox) UpdateDealAsUser(dealID, userID int64, fields map[string]any) error {
	_, aerr := s.updateDeal(context.Background(), dealID, fields, "app", userID)
	if aerr != nil {
		return fmt.Errorf("sandbox: update deal %d: %s (%s)", dealID, aerr.Error, aerr.Info)
	}
	return nil
}

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
