package pipedrivetest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/stagemover/stagemover/shared/dev/ctxsleep"
)

// Subscription is a webhook (v2 payloads) registered with the sandbox.
type Subscription struct {
	ID               int64
	URL              string
	User, Password   string // HTTP basic auth for deliveries ("" = none)
	EventAction      string // create | change | delete | *
	EventObject      string // deal | ... | *
	Name             string
	UserID           int64 // user the webhook is authorized as
	OwnerID          int64 // user who created it
	Version          string
	AddTime          time.Time
	LastDeliveryTime time.Time
	LastHTTPStatus   int
}

// Delivery is one delivery attempt of a webhook.
type Delivery struct {
	WebhookID    int64
	URL          string // query string redacted
	EventID      string // meta.id, the same for every attempt of one event
	Action       string
	Entity       string
	EntityID     int64
	ChangeSource string
	Attempt      int  // meta.attempt: 1 = first try
	Status       int  // HTTP status, 0 if the request failed
	OK           bool // 2xx
	Err          string
	At           time.Time
	Payload      []byte
}

type webhookEvent struct {
	action       string
	entity       string
	entityID     int64
	source       string // api | app
	userID       int64
	permitted    []int64
	data         map[string]any
	previous     map[string]any
	stageChanged bool
}

type webhookJob struct {
	sub           Subscription
	ev            webhookEvent
	eventID       string
	correlationID string
	at            time.Time
}

type webhookHub struct {
	s      *Sandbox
	client *http.Client

	mu         sync.Mutex
	subs       map[int64]*Subscription
	nextID     int64
	deliveries []Delivery
	pending    int
	changed    chan struct{}
	closed     bool

	queue  chan webhookJob
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newWebhookHub(s *Sandbox) *webhookHub {
	ctx, cancel := context.WithCancel(context.Background())
	h := &webhookHub{
		s:       s,
		client:  &http.Client{Timeout: s.opts.WebhookTimeout},
		subs:    map[int64]*Subscription{},
		nextID:  1,
		changed: make(chan struct{}),
		queue:   make(chan webhookJob, s.opts.WebhookQueueSize),
		ctx:     ctx,
		cancel:  cancel,
	}
	for i := 0; i < s.opts.WebhookWorkers; i++ {
		h.wg.Add(1)
		go h.worker()
	}
	return h
}

func (h *webhookHub) close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	close(h.queue)
	h.mu.Unlock()
	h.cancel()
	h.wg.Wait()
}

// signal wakes WaitWebhooks callers; h.mu must be held.
func (h *webhookHub) signalLocked() {
	close(h.changed)
	h.changed = make(chan struct{})
}

func matchesEvent(sub *Subscription, action, object string) bool {
	return (sub.EventAction == "*" || sub.EventAction == action) && (sub.EventObject == "*" || sub.EventObject == object)
}

func (h *webhookHub) emit(ev webhookEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	ids := make([]int64, 0, len(h.subs))
	for id := range h.subs {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	now := h.s.now()
	for _, id := range ids {
		sub := h.subs[id]
		if !matchesEvent(sub, ev.action, ev.entity) {
			continue
		}
		job := webhookJob{sub: *sub, ev: ev, eventID: newUUID(), correlationID: newUUID(), at: now}
		select {
		case h.queue <- job:
			h.pending++
		default:
			h.deliveries = append(h.deliveries, Delivery{
				WebhookID: sub.ID, URL: redactURL(sub.URL), EventID: job.eventID, Action: ev.action, Entity: ev.entity,
				EntityID: ev.entityID, ChangeSource: ev.source, Attempt: 1, Err: "sandbox webhook queue full: event dropped", At: now,
			})
			h.s.log.Warn("webhook queue full, event dropped", "webhook_id", sub.ID, "entity", ev.entity, "entity_id", ev.entityID)
			h.signalLocked()
		}
	}
}

func (h *webhookHub) worker() {
	defer h.wg.Done()
	for job := range h.queue {
		h.deliver(job)
		h.mu.Lock()
		h.pending--
		h.signalLocked()
		h.mu.Unlock()
	}
}

func (h *webhookHub) payload(job webhookJob, attempt int) []byte {
	ev := job.ev
	permitted := make([]string, 0, len(ev.permitted))
	for _, id := range ev.permitted {
		permitted = append(permitted, strconv.FormatInt(id, 10))
	}
	meta := map[string]any{
		"action":             ev.action,
		"entity":             ev.entity,
		"company_id":         strconv.FormatInt(h.s.opts.CompanyID, 10),
		"correlation_id":     job.correlationID,
		"entity_id":          strconv.FormatInt(ev.entityID, 10),
		"id":                 job.eventID,
		"is_bulk_edit":       false,
		"timestamp":          job.at.UTC().Format("2006-01-02T15:04:05.000Z"),
		"type":               "general",
		"user_id":            strconv.FormatInt(ev.userID, 10),
		"version":            "2.0",
		"webhook_id":         strconv.FormatInt(job.sub.ID, 10),
		"webhook_owner_id":   strconv.FormatInt(job.sub.OwnerID, 10),
		"change_source":      ev.source,
		"attempt":            attempt,
		"host":               h.s.opts.CompanyDomain + ".pipedrive.com",
		"permitted_user_ids": permitted,
	}
	body := map[string]any{"meta": meta, "data": ev.data, "previous": ev.previous}
	if ev.data == nil {
		body["data"] = nil
	}
	if ev.previous == nil {
		body["previous"] = nil
	}
	b, _ := json.Marshal(body)
	return b
}

func (h *webhookHub) deliver(job webhookJob) {
	delays := h.s.opts.WebhookRetryDelays
	for attempt := 1; attempt <= len(delays)+1; attempt++ {
		if attempt > 1 && !ctxsleep.Sleep(h.ctx, delays[attempt-2]) {
			return
		}
		if h.ctx.Err() != nil {
			return
		}
		body := h.payload(job, attempt)
		d := Delivery{
			WebhookID: job.sub.ID, URL: redactURL(job.sub.URL), EventID: job.eventID, Action: job.ev.action,
			Entity: job.ev.entity, EntityID: job.ev.entityID, ChangeSource: job.ev.source, Attempt: attempt,
			At: h.s.now(), Payload: body,
		}
		req, err := http.NewRequestWithContext(h.ctx, http.MethodPost, job.sub.URL, bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("User-Agent", "Pipedrive-Webhook (stagemover sandbox)")
			if job.sub.User != "" || job.sub.Password != "" {
				req.SetBasicAuth(job.sub.User, job.sub.Password)
			}
			var resp *http.Response
			resp, err = h.client.Do(req)
			if err == nil {
				_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
				_ = resp.Body.Close()
				d.Status = resp.StatusCode
				d.OK = resp.StatusCode >= 200 && resp.StatusCode < 300
				if !d.OK {
					d.Err = "non-2xx answer"
				}
			}
		}
		if err != nil {
			d.Err = err.Error()
		}
		h.mu.Lock()
		h.deliveries = append(h.deliveries, d)
		if sub, found := h.subs[job.sub.ID]; found {
			sub.LastDeliveryTime = d.At
			sub.LastHTTPStatus = d.Status
		}
		h.signalLocked()
		h.mu.Unlock()
		lvl := h.s.log.Info
		if !d.OK {
			lvl = h.s.log.Warn
		}
		lvl("webhook delivery", "webhook_id", d.WebhookID, "url", d.URL, "event", d.Action+"."+d.Entity,
			"entity_id", d.EntityID, "change_source", d.ChangeSource, "attempt", attempt, "status", d.Status, "ok", d.OK, "error", d.Err)
		if d.OK {
			return
		}
	}
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[unparseable url]"
	}
	if u.User != nil {
		u.User = url.User("REDACTED")
	}
	if u.RawQuery != "" {
		u.RawQuery = "REDACTED"
	}
	return u.String()
}

// ---------------------------------------------------------------- public API

// Subscribe registers a webhook (v2 payloads) and returns its id. eventAction
// is create|change|delete|*, eventObject deal|...|*.
func (s *Sandbox) Subscribe(url, user, password string, eventAction, eventObject string) int64 {
	sub := s.hooks.add(Subscription{
		URL: url, User: user, Password: password, EventAction: eventAction, EventObject: eventObject,
		Name: "sandbox subscription", UserID: s.opts.IntegrationUserID, OwnerID: s.opts.IntegrationUserID, Version: "2.0",
	})
	return sub.ID
}

// Unsubscribe removes a webhook.
func (s *Sandbox) Unsubscribe(id int64) bool {
	h := s.hooks
	h.mu.Lock()
	defer h.mu.Unlock()
	_, found := h.subs[id]
	delete(h.subs, id)
	return found
}

// Subscriptions returns the registered webhooks.
func (s *Sandbox) Subscriptions() []Subscription {
	h := s.hooks
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Subscription, 0, len(h.subs))
	for _, sub := range h.subs {
		out = append(out, *sub)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Deliveries returns every delivery attempt so far.
func (s *Sandbox) Deliveries() []Delivery {
	h := s.hooks
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Delivery(nil), h.deliveries...)
}

// WaitWebhooks blocks until no webhook delivery is queued or in flight.
func (s *Sandbox) WaitWebhooks(ctx context.Context) error {
	h := s.hooks
	for {
		h.mu.Lock()
		if h.pending == 0 {
			h.mu.Unlock()
			return nil
		}
		ch := h.changed
		h.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

func (h *webhookHub) add(sub Subscription) Subscription {
	h.mu.Lock()
	defer h.mu.Unlock()
	sub.ID = h.nextID
	h.nextID++
	if sub.AddTime.IsZero() {
		sub.AddTime = h.s.now()
	}
	if sub.Version == "" {
		sub.Version = "2.0"
	}
	cp := sub
	h.subs[sub.ID] = &cp
	h.s.log.Info("webhook subscribed", "webhook_id", sub.ID, "url", redactURL(sub.URL), "event", sub.EventAction+"."+sub.EventObject, "basic_auth", sub.User != "")
	return sub
}

// ---------------------------------------------------------------- v1 endpoints

func (s *Sandbox) webhookJSON(sub *Subscription) map[string]any {
	nullStr := func(v string) any {
		if v == "" {
			return nil
		}
		return v
	}
	var lastTime, lastStatus any
	if !sub.LastDeliveryTime.IsZero() {
		lastTime = sub.LastDeliveryTime.UTC().Format("2006-01-02T15:04:05.000Z")
	}
	if sub.LastHTTPStatus != 0 {
		lastStatus = sub.LastHTTPStatus
	}
	return map[string]any{
		"id":                 sub.ID,
		"company_id":         s.opts.CompanyID,
		"owner_id":           sub.OwnerID,
		"user_id":            sub.UserID,
		"event_action":       sub.EventAction,
		"event_object":       sub.EventObject,
		"subscription_url":   sub.URL,
		"version":            sub.Version,
		"is_active":          1,
		"add_time":           sub.AddTime.UTC().Format("2006-01-02T15:04:05.000Z"),
		"remove_time":        nil,
		"type":               "general",
		"http_auth_user":     nullStr(sub.User),
		"http_auth_password": nullStr(sub.Password),
		"remove_reason":      nil,
		"last_delivery_time": lastTime,
		"last_http_status":   lastStatus,
		"admin_id":           sub.OwnerID,
		"name":               sub.Name,
	}
}

func v1Errors(status int, field, msg string) *response {
	return jsonResponse(status, map[string]any{
		"status":  "error",
		"success": false,
		"errors":  map[string]any{field: []string{msg}},
	})
}

func (s *Sandbox) opListWebhooks(_ *call) (*response, *apiError) {
	subs := s.Subscriptions()
	data := make([]any, 0, len(subs))
	for i := range subs {
		data = append(data, s.webhookJSON(&subs[i]))
	}
	return jsonResponse(http.StatusOK, map[string]any{"status": "ok", "success": true, "data": data}), nil
}

func (s *Sandbox) opAddWebhook(c *call) (*response, *apiError) {
	var in struct {
		SubscriptionURL  string  `json:"subscription_url"`
		EventAction      string  `json:"event_action"`
		EventObject      string  `json:"event_object"`
		Name             string  `json:"name"`
		UserID           int64   `json:"user_id"`
		HTTPAuthUser     *string `json:"http_auth_user"`
		HTTPAuthPassword *string `json:"http_auth_password"`
		Version          string  `json:"version"`
	}
	if err := json.Unmarshal(c.body, &in); err != nil {
		return v1Errors(http.StatusBadRequest, "body", "invalid JSON"), nil
	}
	u, err := url.Parse(in.SubscriptionURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return v1Errors(http.StatusBadRequest, "subscription_url", "invalid or non-reachable URL"), nil
	}
	if in.Version == "" {
		in.Version = "2.0"
	}
	if in.Version != "2.0" {
		s.log.Warn("webhook version 1.0 requested; the sandbox only sends v2 payloads", "url", redactURL(in.SubscriptionURL))
	}
	if in.UserID == 0 {
		in.UserID = s.opts.IntegrationUserID
	}
	sub := Subscription{
		URL: in.SubscriptionURL, EventAction: in.EventAction, EventObject: in.EventObject, Name: in.Name,
		UserID: in.UserID, OwnerID: s.opts.IntegrationUserID, Version: in.Version,
	}
	if in.HTTPAuthUser != nil {
		sub.User = *in.HTTPAuthUser
	}
	if in.HTTPAuthPassword != nil {
		sub.Password = *in.HTTPAuthPassword
	}
	sub = s.hooks.add(sub)
	return jsonResponse(http.StatusCreated, map[string]any{"status": "ok", "success": true, "data": s.webhookJSON(&sub)}), nil
}

func (s *Sandbox) opDeleteWebhook(c *call) (*response, *apiError) {
	id, aerr := pathID(c)
	if aerr != nil {
		return nil, aerr
	}
	if !s.Unsubscribe(id) {
		return v1Errors(http.StatusNotFound, "id", "not found"), nil
	}
	s.log.Info("webhook deleted", "webhook_id", id)
	return jsonResponse(http.StatusOK, map[string]any{"status": "ok", "success": true}), nil
}
