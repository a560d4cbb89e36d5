// Package calendlytest is a stand-in for Calendly on 127.0.0.1: the webhook
// subscription API (list, create, delete) with bearer-token auth and
// Calendly's error objects, and webhook delivery signed the way Calendly
// signs (Calendly-Webhook-Signature: t=...,v1=...). Tests and the local
// mode use it instead of api.calendly.com.
//
// Shapes follow Calendly's API reference: List Webhook Subscriptions
// (collection + pagination with next_page_token), Create Webhook
// Subscription (201 {"resource": ...}), Delete Webhook Subscription (204),
// the Webhook Subscription object and the error object {title, message,
// details[{parameter, message}]}.
package calendlytest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stagemover/stagemover/shared/source/calendly"
)

// subscribableEvents are the events Create Webhook Subscription accepts.
var subscribableEvents = []string{
	"invitee.created", "invitee.canceled", "invitee_no_show.created", "invitee_no_show.deleted",
	"routing_form_submission.created", "event_type.created", "event_type.deleted", "event_type.updated",
}

// Server is the stand-in. Its fields are fixed at New; use the methods to
// inspect or change its state.
type Server struct {
	URL          string // base URL, e.g. http://127.0.0.1:PORT
	Organization string // the organization URI the token belongs to
	User         string // the user URI the token belongs to
	Now          func() time.Time

	token string
	srv   *httptest.Server

	mu       sync.Mutex
	subs     []*sub
	requests map[string]int
	maxCount int
	client   *http.Client
}

type sub struct {
	calendly.Subscription
	key string // signing_key as given at creation
}

// New starts a stand-in that accepts token as its only valid bearer token.
// Close it when done.
func New(token string) *Server {
	s := &Server{token: token, requests: map[string]int{}, maxCount: 100, Now: time.Now,
		client: &http.Client{Timeout: 10 * time.Second}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	s.Organization = s.URL + "/organizations/" + newUUID()
	s.User = s.URL + "/users/" + newUUID()
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// SetMaxCount caps the page size, so tests can force pagination.
func (s *Server) SetMaxCount(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxCount = n
}

// Requests returns how many requests reached "METHOD /path" (any outcome).
func (s *Server) Requests(methodPath string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[methodPath]
}

// Subscriptions returns a snapshot of every subscription.
func (s *Server) Subscriptions() []calendly.Subscription {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]calendly.Subscription, len(s.subs))
	for i, x := range s.subs {
		out[i] = x.Subscription
	}
	return out
}

// Disable marks a subscription disabled, as Calendly does after its
// deliveries keep failing.
func (s *Server) Disable(uri string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.subs {
		if x.URI == uri {
			x.State = "disabled"
			x.UpdatedAt = s.Now().UTC()
			return true
		}
	}
	return false
}

// AddSubscription stores a subscription as if created earlier (by another
// tool, or for another URL), for tests.
func (s *Server) AddSubscription(callbackURL string, events []string, signingKey string) calendly.Subscription {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.add(callbackURL, events, "organization", "", signingKey).Subscription
}

// Delivery is one webhook POST the stand-in made.
type Delivery struct {
	Subscription string
	Status       int
	Body         []byte
}

// Deliver sends body (a complete webhook payload) to every active
// subscription that subscribed to its "event", signed with each one's
// signing key at s.Now(), as Calendly does.
func (s *Server) Deliver(ctx context.Context, body []byte) ([]Delivery, error) {
	var env struct {
		Event string `json:"event"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("calendlytest: body is not a webhook payload: %w", err)
	}
	s.mu.Lock()
	var targets []sub
	for _, x := range s.subs {
		if x.State == "active" && slices.Contains(x.Events, env.Event) {
			targets = append(targets, *x)
		}
	}
	s.mu.Unlock()
	var out []Delivery
	for _, t := range targets {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.CallbackURL, bytes.NewReader(body))
		if err != nil {
			return out, err
		}
		req.Header.Set("Content-Type", "application/json")
		if t.key != "" {
			req.Header.Set(calendly.HeaderSignature, calendly.Sign([]byte(t.key), s.Now(), body))
		}
		resp, err := s.client.Do(req)
		if err != nil {
			return out, err
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		out = append(out, Delivery{Subscription: t.URI, Status: resp.StatusCode, Body: b})
	}
	return out, nil
}

// ---- HTTP API ----

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	key := r.Method + " " + p
	if strings.HasPrefix(p, "/webhook_subscriptions/") {
		key = r.Method + " /webhook_subscriptions/{uuid}"
	}
	s.mu.Lock()
	s.requests[key]++
	s.mu.Unlock()

	if r.Header.Get("Authorization") != "Bearer "+s.token || s.token == "" {
		writeError(w, http.StatusUnauthorized, "Unauthenticated", "The access token is invalid", nil)
		return
	}
	switch {
	case p == "/webhook_subscriptions" && r.Method == http.MethodGet:
		s.list(w, r)
	case p == "/webhook_subscriptions" && r.Method == http.MethodPost:
		s.create(w, r)
	case strings.HasPrefix(p, "/webhook_subscriptions/") && r.Method == http.MethodDelete:
		s.delete(w, strings.TrimPrefix(p, "/webhook_subscriptions/"))
	default:
		writeError(w, http.StatusNotFound, "Resource Not Found", "The server could not find the requested resource.", nil)
	}
}

type detail = calendly.ErrorDetail

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var bad []detail
	org, scope, user := q.Get("organization"), q.Get("scope"), q.Get("user")
	if org == "" {
		bad = append(bad, detail{Parameter: "organization", Message: "is required"})
	}
	switch scope {
	case "organization", "group":
	case "user":
		if user == "" {
			bad = append(bad, detail{Parameter: "user", Message: "is required when scope is user"})
		}
	case "":
		bad = append(bad, detail{Parameter: "scope", Message: "is required"})
	default:
		bad = append(bad, detail{Parameter: "scope", Message: "is not one of user, organization, group"})
	}
	s.mu.Lock()
	maxCount := s.maxCount
	s.mu.Unlock()
	count := 20
	if c := q.Get("count"); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil || n < 1 || n > 100 {
			bad = append(bad, detail{Parameter: "count", Message: "must be between 1 and 100"})
		}
		count = n
	}
	offset := 0
	if t := q.Get("page_token"); t != "" {
		b, err := base64.RawURLEncoding.DecodeString(t)
		n, err2 := strconv.Atoi(strings.TrimPrefix(string(b), "offset:"))
		if err != nil || err2 != nil || n < 0 {
			bad = append(bad, detail{Parameter: "page_token", Message: "is invalid"})
		}
		offset = n
	}
	if len(bad) > 0 {
		writeError(w, http.StatusBadRequest, "Invalid Argument", "The supplied parameters are invalid.", bad)
		return
	}
	if org != s.Organization {
		writeError(w, http.StatusForbidden, "Permission Denied", "You do not have permission to access this resource.", nil)
		return
	}
	count = min(count, maxCount)

	s.mu.Lock()
	var match []calendly.Subscription
	for _, x := range s.subs {
		if x.Organization != org || x.Scope != scope {
			continue
		}
		if scope == "user" && (x.User == nil || *x.User != user) {
			continue
		}
		match = append(match, x.Subscription)
	}
	s.mu.Unlock()
	sort.SliceStable(match, func(i, j int) bool { return match[i].CreatedAt.Before(match[j].CreatedAt) })

	end := min(offset+count, len(match))
	page := []calendly.Subscription{}
	if offset < len(match) {
		page = match[offset:end]
	}
	pageURL := func(tok string) any {
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		v.Set("page_token", tok)
		return s.URL + "/webhook_subscriptions?" + v.Encode()
	}
	pg := map[string]any{"count": len(page), "next_page": nil, "previous_page": nil, "next_page_token": nil, "previous_page_token": nil}
	if end < len(match) {
		tok := token(end)
		pg["next_page_token"], pg["next_page"] = tok, pageURL(tok)
	}
	if offset > 0 {
		tok := token(max(offset-count, 0))
		pg["previous_page_token"], pg["previous_page"] = tok, pageURL(tok)
	}
	writeJSON(w, http.StatusOK, map[string]any{"collection": page, "pagination": pg})
}

func token(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(offset)))
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	var in struct {
		URL          string   `json:"url"`
		Events       []string `json:"events"`
		Organization string   `json:"organization"`
		User         string   `json:"user"`
		Group        string   `json:"group"`
		Scope        string   `json:"scope"`
		SigningKey   string   `json:"signing_key"`
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err := json.Unmarshal(body, &in); err != nil {
		writeError(w, http.StatusBadRequest, "Invalid Argument", "The supplied parameters are invalid.", []detail{{Message: "body must be a JSON object"}})
		return
	}
	var bad []detail
	if u, err := url.Parse(in.URL); in.URL == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		bad = append(bad, detail{Parameter: "url", Message: "must be a valid URL"})
	}
	if len(in.Events) == 0 {
		bad = append(bad, detail{Parameter: "events", Message: "is required"})
	}
	for _, e := range in.Events {
		if !slices.Contains(subscribableEvents, e) {
			bad = append(bad, detail{Parameter: "events", Message: fmt.Sprintf("%q is not a valid event", e)})
		}
	}
	if in.Organization == "" {
		bad = append(bad, detail{Parameter: "organization", Message: "is required"})
	}
	switch in.Scope {
	case "organization":
	case "user":
		if in.User == "" {
			bad = append(bad, detail{Parameter: "user", Message: "is required when scope is user"})
		}
	case "":
		bad = append(bad, detail{Parameter: "scope", Message: "is required"})
	default:
		bad = append(bad, detail{Parameter: "scope", Message: "is not one of user, organization, group"})
	}
	if len(bad) > 0 {
		writeError(w, http.StatusBadRequest, "Invalid Argument", "The supplied parameters are invalid.", bad)
		return
	}
	if in.Organization != s.Organization || (in.Scope == "user" && in.User != s.User) {
		writeError(w, http.StatusForbidden, "Permission Denied", "You do not have permission", nil)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.subs {
		if x.CallbackURL == in.URL && x.Scope == in.Scope && x.Organization == in.Organization {
			// The reference pages we could read list no 409 for this call;
			// Calendly refuses a second subscription for the same URL, and
			// the stand-in does so with its error object.
			writeError(w, http.StatusConflict, "Already Exists", "Hook with this url already exists", nil)
			return
		}
	}
	x := s.add(in.URL, in.Events, in.Scope, in.User, in.SigningKey)
	writeJSON(w, http.StatusCreated, map[string]any{"resource": x.Subscription})
}

// add must be called with s.mu held.
func (s *Server) add(callbackURL string, events []string, scope, user, key string) *sub {
	now := s.Now().UTC()
	creator := s.User
	x := &sub{key: key, Subscription: calendly.Subscription{
		URI:          s.URL + "/webhook_subscriptions/" + newUUID(),
		CallbackURL:  callbackURL,
		CreatedAt:    now,
		UpdatedAt:    now,
		State:        "active",
		Events:       slices.Clone(events),
		Scope:        scope,
		Organization: s.Organization,
		Creator:      &creator,
	}}
	if scope == "user" {
		x.User = &user
	}
	s.subs = append(s.subs, x)
	return x
}

func (s *Server) delete(w http.ResponseWriter, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, x := range s.subs {
		if strings.HasSuffix(x.URI, "/"+id) {
			s.subs = append(s.subs[:i], s.subs[i+1:]...)
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	writeError(w, http.StatusNotFound, "Resource Not Found", "The server could not find the requested resource.", nil)
}

func writeError(w http.ResponseWriter, code int, title, message string, details []detail) {
	body := map[string]any{"title": title, "message": message}
	if len(details) > 0 {
		body["details"] = details
	}
	writeJSON(w, code, body)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
