// Package graphtest is a local stand-in for Microsoft Graph and its token
// endpoint, on 127.0.0.1, for tests and the local mode. It mimics what the
// documentation describes:
//
//   - POST /{tenant}/oauth2/v2.0/token: the client credentials grant
//     (auth-v2-service.md); wrong credentials get the identity platform's
//     {"error","error_description","error_codes",...} with 400/401.
//   - /v1.0/...: a bearer token from that endpoint is required (401
//     InvalidAuthenticationToken otherwise); errors are {"error":{"code","message"}}
//     (errors.md); faults can be injected (429 with Retry-After as in
//     throttling.md, 500, 503).
//   - GET users/{u}/messages/{id}, users/{u}/events/{id} with $select, and
//     the collections with a "receivedDateTime ge" / "lastModifiedDateTime ge"
//     $filter, $top and @odata.nextLink paging. An unknown user gets 404
//     ErrorInvalidUser, a missing item 404 ErrorItemNotFound; FailCode
//     injects any other Graph error (404 MailboxNotEnabledForRESTAPI, ...).
//     Items are returned as stored: the stand-in ignores Prefer:
//     outlook.timezone, so times keep the zone they were added with
//     ("Pacific Standard Time", as Graph answers without that header).
//   - POST /subscriptions validates the notification URL (and the lifecycle
//     URL) exactly like Graph: a POST with ?validationToken=... that must be
//     answered 200 text/plain with the decoded token within 10 s; the
//     expiration must be at most 4230 minutes ahead. PATCH renews, DELETE
//     deletes, POST .../reauthorize reauthorizes, GET lists (without clientState).
//   - Notify, Lifecycle and Remove send change and lifecycle notifications
//     in the changeNotificationCollection shape to the subscriptions' URLs.
//
// Unlike Graph it accepts http:// notification URLs on 127.0.0.1.
package graphtest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"
)

// MaxLifetime is Graph's limit for Outlook message and event subscriptions.
const MaxLifetime = 4230 * time.Minute

// Server is a running stand-in.
type Server struct {
	URL          string // base URL: token endpoint at URL/{tenant}/oauth2/v2.0/token, Graph at URL/v1.0
	TenantID     string
	ClientID     string
	ClientSecret string

	srv *httptest.Server

	mu            sync.Mutex
	now           func() time.Time
	tokenLifetime time.Duration
	pageSize      int
	tokens        map[string]time.Time
	tokenRequests int
	unauthorized  int
	users         map[string]*user // by lowercase upn and by id
	subs          map[string]*sub
	subOrder      []string
	faults        []*fault
	requests      []string
	callback      *http.Client
	notifyClient  *http.Client
	validations   []Validation
}

type user struct {
	id, upn  string
	messages map[string]map[string]any
	events   map[string]map[string]any
}

type sub struct {
	data        map[string]any // as created (including clientState)
	id          string
	resource    string
	user        *user
	kind        string
	changeTypes []string
	expires     time.Time
	reauth      int
}

type fault struct {
	method, pathContains string
	status, retryAfter   int
	code, message        string // Graph error code and message; default by status
	remaining            int
}

// Validation records one validation request the stand-in made.
type Validation struct {
	URL         string
	Token       string
	Status      int
	ContentType string
	Body        string
	Elapsed     time.Duration
	Err         string
}

// Option configures a Server.
type Option func(*Server)

// WithClock sets the stand-in's clock (token and subscription expiry).
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithTokenLifetime sets expires_in of issued tokens (default 3599 s).
func WithTokenLifetime(d time.Duration) Option { return func(s *Server) { s.tokenLifetime = d } }

// WithValidationTimeout shortens the 10-second validation deadline (tests).
func WithValidationTimeout(d time.Duration) Option {
	return func(s *Server) { s.callback = &http.Client{Timeout: d} }
}

// WithPageSize sets the page size of collections (default 10).
func WithPageSize(n int) Option { return func(s *Server) { s.pageSize = n } }

// New starts a stand-in on 127.0.0.1 with fresh credentials.
func New(opts ...Option) *Server {
	s := &Server{
		TenantID:      newGUID(),
		ClientID:      newGUID(),
		ClientSecret:  "standin~" + randHex(16),
		now:           time.Now,
		tokenLifetime: 3599 * time.Second,
		pageSize:      10,
		tokens:        map[string]time.Time{},
		users:         map[string]*user{},
		subs:          map[string]*sub{},
		callback:      &http.Client{Timeout: 10 * time.Second}, // Graph's validation deadline
		notifyClient:  &http.Client{Timeout: 3 * time.Second},  // Graph's delivery timeout
	}
	for _, o := range opts {
		o(s)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// GraphURL is the Graph base URL (…/v1.0) for graph.Client.GraphURL.
func (s *Server) GraphURL() string { return s.URL + "/v1.0" }

// LoginURL is the identity platform base URL for graph.Client.LoginURL.
func (s *Server) LoginURL() string { return s.URL }

// CredentialsJSON is the credentials secret's value for this stand-in.
func (s *Server) CredentialsJSON() string {
	b, _ := json.Marshal(map[string]string{"tenant_id": s.TenantID, "client_id": s.ClientID, "client_secret": s.ClientSecret})
	return string(b)
}

// TokenRequests counts token requests (successful or not).
func (s *Server) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenRequests
}

// Unauthorized counts Graph requests refused for a missing, unknown or
// expired token.
func (s *Server) Unauthorized() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unauthorized
}

// Requests lists "METHOD /path" of every request served, in order.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// Validations lists the validation requests made for subscriptions.
func (s *Server) Validations() []Validation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Validation(nil), s.validations...)
}

// AddUser registers a mailbox and returns its user id (a GUID).
func (s *Server) AddUser(upn string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addUser(upn).id
}

func (s *Server) addUser(upn string) *user {
	if u, ok := s.users[strings.ToLower(upn)]; ok {
		return u
	}
	u := &user{id: newGUID(), upn: upn, messages: map[string]map[string]any{}, events: map[string]map[string]any{}}
	s.users[strings.ToLower(upn)] = u
	s.users[u.id] = u
	return u
}

// lookupUser accepts a userPrincipalName, a user id, or Graph's
// "{user_id}@{tenant_id}" notification form.
func (s *Server) lookupUser(seg string) *user {
	if u, ok := s.users[strings.ToLower(seg)]; ok {
		return u
	}
	if i := strings.IndexByte(seg, '@'); i > 0 && strings.EqualFold(seg[i+1:], s.TenantID) {
		return s.users[seg[:i]]
	}
	return nil
}

// AddUserWithID registers a mailbox with a given user id.
func (s *Server) AddUserWithID(upn, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := &user{id: id, upn: upn, messages: map[string]map[string]any{}, events: map[string]map[string]any{}}
	s.users[strings.ToLower(upn)] = u
	s.users[id] = u
}

// ---------------------------------------------------------------- HTTP

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, r.Method+" "+r.URL.Path)
	s.mu.Unlock()
	segs := segments(r.URL)
	switch {
	case len(segs) == 4 && segs[1] == "oauth2" && segs[2] == "v2.0" && segs[3] == "token":
		s.token(w, r, segs[0])
	case len(segs) >= 1 && segs[0] == "v1.0":
		if !s.authorized(w, r) || s.fault(w, r) {
			return
		}
		s.graph(w, r, segs[1:])
	default:
		graphErr(w, http.StatusNotFound, "UnknownError", "")
	}
}

func segments(u *url.URL) []string {
	var out []string
	for _, p := range strings.Split(strings.Trim(u.EscapedPath(), "/"), "/") {
		if v, err := url.PathUnescape(p); err == nil {
			out = append(out, v)
		} else {
			out = append(out, p)
		}
	}
	return out
}

func (s *Server) graph(w http.ResponseWriter, r *http.Request, segs []string) {
	switch {
	case len(segs) >= 1 && strings.EqualFold(segs[0], "subscriptions"):
		s.subscriptions(w, r, segs[1:])
	case len(segs) >= 3 && strings.EqualFold(segs[0], "users"):
		s.userItems(w, r, segs[1], strings.ToLower(segs[2]), segs[3:])
	default:
		graphErr(w, http.StatusBadRequest, "BadRequest", "Resource not found for the segment '"+strings.Join(segs, "/")+"'.")
	}
}

// ---------------------------------------------------------------- helpers

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// graphErr writes errors.md's error body.
func graphErr(w http.ResponseWriter, code int, errCode, msg string) {
	writeJSON(w, code, map[string]any{"error": map[string]any{
		"code": errCode, "message": msg,
		"innerError": map[string]any{"date": time.Now().UTC().Format("2006-01-02T15:04:05"), "request-id": newGUID(), "client-request-id": newGUID()},
	}})
}

// aadErr writes the identity platform's token error body.
func aadErr(w http.ResponseWriter, code int, errCode string, aadsts int, desc string) {
	trace, corr := newGUID(), newGUID()
	writeJSON(w, code, map[string]any{
		"error":             errCode,
		"error_description": fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", aadsts, desc, trace, corr, time.Now().UTC().Format("2006-01-02 15:04:05Z")),
		"error_codes":       []int{aadsts},
		"timestamp":         time.Now().UTC().Format("2006-01-02 15:04:05Z"),
		"trace_id":          trace,
		"correlation_id":    corr,
		"error_uri":         fmt.Sprintf("https://login.microsoftonline.com/error?code=%d", aadsts),
	})
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newGUID() string {
	h := randHex(16)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// newGUIDFrom derives a stable GUID-shaped id from s.
func newGUIDFrom(s string) string {
	h := hex.EncodeToString([]byte(s + "................"))[:32]
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
