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
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
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

// RevokeTokens invalidates every issued token (Graph then answers 401).
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens = map[string]time.Time{}
}

// AddMessage stores a message (Graph's message JSON) in upn's mailbox and
// returns its id (the item's "id", or a new one).
func (s *Server) AddMessage(upn string, message []byte) string {
	return s.addItem(upn, "messages", message)
}

// AddEvent stores an event (Graph's event JSON) and returns its id.
func (s *Server) AddEvent(upn string, event []byte) string {
	return s.addItem(upn, "events", event)
}

func (s *Server) addItem(upn, kind string, raw []byte) string {
	var item map[string]any
	if err := json.Unmarshal(raw, &item); err != nil {
		panic("graphtest: item is not a JSON object: " + err.Error())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.addUser(upn)
	id, _ := item["id"].(string)
	if id == "" {
		id = "AAMkAG" + randHex(24) + "="
		item["id"] = id
	}
	if _, ok := item["changeKey"]; !ok {
		item["changeKey"] = randHex(10)
	}
	s.items(u, kind)[id] = item
	return id
}

// UpdateEvent merges fields into an event and gives it a new changeKey.
func (s *Server) UpdateEvent(upn, id string, fields map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.lookupUser(upn)
	if u == nil || u.events[id] == nil {
		panic("graphtest: no such event")
	}
	for k, v := range fields {
		u.events[id][k] = v
	}
	u.events[id]["changeKey"] = randHex(10)
}

// Delete removes a message or event ("messages" or "events").
func (s *Server) Delete(upn, kind, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.lookupUser(upn); u != nil {
		delete(s.items(u, kind), id)
	}
}

func (s *Server) items(u *user, kind string) map[string]map[string]any {
	if kind == "events" {
		return u.events
	}
	return u.messages
}

// Fail makes the next n requests whose method matches (""= any) and whose
// path contains pathContains answer status (429 and 503 carry Retry-After:
// retryAfter seconds when > 0).
func (s *Server) Fail(method, pathContains string, status, retryAfter, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{method: method, pathContains: pathContains, status: status, retryAfter: retryAfter, remaining: n})
}

// FailCode makes the next n requests whose method matches (""= any) and
// whose path contains pathContains answer status with Graph's error body
// {"error":{"code":code,"message":message}}: for example 404
// ErrorInvalidUser for a mailbox Graph cannot resolve (a deprovisioned
// user whose id the stand-in still knows), 404 MailboxNotEnabledForRESTAPI,
// or 404 ErrorItemNotFound.
func (s *Server) FailCode(method, pathContains string, status int, code, message string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{method: method, pathContains: pathContains, status: status, code: code, message: message, remaining: n})
}

// Subscription is a stand-in subscription as Graph lists it, plus what
// tests need to see.
type Subscription struct {
	ID                       string
	Resource                 string
	ChangeType               string
	NotificationURL          string
	LifecycleNotificationURL string
	ClientState              string
	Expires                  time.Time
	Reauthorized             int
}

// Subscriptions returns the live subscriptions.
func (s *Server) Subscriptions() []Subscription {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Subscription
	for _, id := range s.subOrder {
		sb := s.subs[id]
		if sb == nil || !sb.expires.After(s.now()) {
			continue
		}
		out = append(out, Subscription{ID: sb.id, Resource: sb.resource, ChangeType: str(sb.data["changeType"]),
			NotificationURL: str(sb.data["notificationUrl"]), LifecycleNotificationURL: str(sb.data["lifecycleNotificationUrl"]),
			ClientState: str(sb.data["clientState"]), Expires: sb.expires, Reauthorized: sb.reauth})
	}
	return out
}

// ---------------------------------------------------------------- notifications

// Notify sends Graph's change notification for item id (changeType
// created/updated/deleted) to every live subscription on the item's
// mailbox and kind that includes changeType. It returns the HTTP status of
// each delivery.
func (s *Server) Notify(ctx context.Context, upn, kind, id, changeType string) ([]int, error) {
	s.mu.Lock()
	u := s.lookupUser(upn)
	if u == nil {
		s.mu.Unlock()
		return nil, fmt.Errorf("graphtest: no user %s", upn)
	}
	type delivery struct {
		url  string
		body []byte
	}
	var ds []delivery
	for _, sid := range s.subOrder {
		sb := s.subs[sid]
		if sb == nil || sb.user != u || sb.kind != kind || !sb.expires.After(s.now()) || !contains(sb.changeTypes, changeType) {
			continue
		}
		ds = append(ds, delivery{url: str(sb.data["notificationUrl"]), body: s.changeNotification(sb, u, kind, id, changeType)})
	}
	s.mu.Unlock()
	if len(ds) == 0 {
		return nil, fmt.Errorf("graphtest: no subscription for %s %s %s", upn, kind, changeType)
	}
	var codes []int
	for _, d := range ds {
		code, err := s.Post(ctx, d.url, d.body)
		if err != nil {
			return codes, err
		}
		codes = append(codes, code)
	}
	return codes, nil
}

// ChangeNotification builds the collection Graph would send for one change
// (the change notification example of change-notifications-delivery-webhooks.md).
func (s *Server) ChangeNotification(subscriptionID, upn, kind, id, changeType string) ([]byte, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sb := s.subs[subscriptionID]
	u := s.lookupUser(upn)
	if sb == nil || u == nil {
		return nil, "", fmt.Errorf("graphtest: unknown subscription or user")
	}
	return s.changeNotification(sb, u, kind, id, changeType), str(sb.data["notificationUrl"]), nil
}

func (s *Server) changeNotification(sb *sub, u *user, kind, id, changeType string) []byte {
	odataType, seg := "#Microsoft.Graph.Message", "Messages"
	if kind == "events" {
		odataType, seg = "#Microsoft.Graph.Event", "Events"
	}
	etag := ""
	if item := s.items(u, kind)[id]; item != nil {
		etag = `W/"` + str(item["changeKey"]) + `"`
	}
	path := "Users/" + u.id + "@" + s.TenantID + "/" + seg + "/" + id
	rd := map[string]any{"@odata.type": odataType, "@odata.id": path, "id": id}
	if etag != "" {
		rd["@odata.etag"] = etag
	}
	n := map[string]any{
		"id":                             randHex(8),
		"subscriptionId":                 sb.id,
		"subscriptionExpirationDateTime": sb.expires.UTC().Format(time.RFC3339Nano),
		"clientState":                    sb.data["clientState"],
		"changeType":                     changeType,
		"resource":                       "users/" + u.id + "@" + s.TenantID + "/" + strings.ToLower(seg) + "/" + id,
		"tenantId":                       s.TenantID,
		"resourceData":                   rd,
	}
	b, _ := json.Marshal(map[string]any{"value": []any{n}})
	return b
}

// Lifecycle sends a lifecycle notification (reauthorizationRequired,
// subscriptionRemoved or missed) for a subscription to its lifecycle URL,
// in the shape of change-notifications-lifecycle-events.md.
func (s *Server) Lifecycle(ctx context.Context, subscriptionID, event string) (int, error) {
	s.mu.Lock()
	sb := s.subs[subscriptionID]
	if sb == nil {
		s.mu.Unlock()
		return 0, fmt.Errorf("graphtest: no subscription %s", subscriptionID)
	}
	target := str(sb.data["lifecycleNotificationUrl"])
	body := s.lifecycleNotification(sb, event)
	s.mu.Unlock()
	if target == "" {
		return 0, fmt.Errorf("graphtest: subscription %s has no lifecycleNotificationUrl", subscriptionID)
	}
	return s.Post(ctx, target, body)
}

func (s *Server) lifecycleNotification(sb *sub, event string) []byte {
	n := map[string]any{
		"subscriptionId":                 sb.id,
		"subscriptionExpirationDateTime": sb.expires.UTC().Format(time.RFC3339Nano),
		"tenantId":                       s.TenantID,
		"clientState":                    sb.data["clientState"],
		"lifecycleEvent":                 event,
	}
	b, _ := json.Marshal(map[string]any{"value": []any{n}})
	return b
}

// Remove deletes a subscription as Graph does when it removes one, and
// sends subscriptionRemoved to its lifecycle URL if it has one.
func (s *Server) Remove(ctx context.Context, subscriptionID string) (int, error) {
	s.mu.Lock()
	sb := s.subs[subscriptionID]
	if sb == nil {
		s.mu.Unlock()
		return 0, fmt.Errorf("graphtest: no subscription %s", subscriptionID)
	}
	delete(s.subs, subscriptionID)
	target := str(sb.data["lifecycleNotificationUrl"])
	body := s.lifecycleNotification(sb, "subscriptionRemoved")
	s.mu.Unlock()
	if target == "" {
		return 0, nil
	}
	return s.Post(ctx, target, body)
}

// Post delivers a notification body to a URL the way Graph does (JSON,
// 3-second timeout) and returns the status.
func (s *Server) Post(ctx context.Context, target string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.notifyClient.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp.StatusCode, nil
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

// token implements the client credentials grant and its error responses.
func (s *Server) token(w http.ResponseWriter, r *http.Request, tenant string) {
	s.mu.Lock()
	s.tokenRequests++
	s.mu.Unlock()
	if r.Method != http.MethodPost {
		aadErr(w, http.StatusMethodNotAllowed, "invalid_request", 900561, "The endpoint only accepts POST requests.")
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		aadErr(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return
	}
	if err := r.ParseForm(); err != nil {
		aadErr(w, http.StatusBadRequest, "invalid_request", 900144, "The request body is not a valid form.")
		return
	}
	f := r.PostForm
	switch {
	case !strings.EqualFold(tenant, s.TenantID):
		aadErr(w, http.StatusBadRequest, "invalid_request", 90002, "Tenant '"+tenant+"' not found.")
	case f.Get("grant_type") != "client_credentials":
		aadErr(w, http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
	case f.Get("scope") != "https://graph.microsoft.com/.default":
		aadErr(w, http.StatusBadRequest, "invalid_scope", 1002012, "The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.")
	case f.Get("client_id") != s.ClientID:
		aadErr(w, http.StatusBadRequest, "unauthorized_client", 700016, "Application with identifier was not found in the directory.")
	case f.Get("client_secret") != s.ClientSecret:
		aadErr(w, http.StatusUnauthorized, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.")
	default:
		tok := "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9." + randHex(32)
		s.mu.Lock()
		s.tokens[tok] = s.now().Add(s.tokenLifetime)
		s.mu.Unlock()
		secs := int(s.tokenLifetime / time.Second)
		writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": tok})
	}
}

func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		s.mu.Lock()
		s.unauthorized++
		s.mu.Unlock()
		graphErr(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty.")
		return false
	}
	s.mu.Lock()
	exp, known := s.tokens[tok]
	now := s.now()
	if !known || !now.Before(exp) {
		s.unauthorized++
	}
	s.mu.Unlock()
	switch {
	case !known:
		graphErr(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
		return false
	case !now.Before(exp):
		graphErr(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.")
		return false
	}
	return true
}

func (s *Server) fault(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	var hit *fault
	for _, f := range s.faults {
		if f.remaining > 0 && (f.method == "" || f.method == r.Method) && strings.Contains(r.URL.Path, f.pathContains) {
			f.remaining--
			hit = f
			break
		}
	}
	s.mu.Unlock()
	if hit == nil {
		return false
	}
	if hit.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(hit.retryAfter))
	}
	switch {
	case hit.code != "":
		graphErr(w, hit.status, hit.code, hit.message)
	case hit.status == http.StatusTooManyRequests:
		// the throttling response of throttling.md
		writeJSON(w, hit.status, map[string]any{"error": map[string]any{
			"code": "TooManyRequests", "message": "Please retry again later.",
			"innerError": map[string]any{"code": "429", "date": s.now().UTC().Format("2006-01-02T15:04:05"),
				"message": "Please retry after", "request-id": newGUID(), "status": "429"}}})
	case hit.status == http.StatusServiceUnavailable:
		graphErr(w, hit.status, "serviceNotAvailable", "The service is temporarily unavailable. Try the request again after a delay.")
	default:
		graphErr(w, hit.status, "generalException", "An unspecified error has occurred.")
	}
	return true
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

func (s *Server) userItems(w http.ResponseWriter, r *http.Request, userSeg, kind string, rest []string) {
	if r.Method != http.MethodGet {
		graphErr(w, http.StatusMethodNotAllowed, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
		return
	}
	if kind != "messages" && kind != "events" {
		graphErr(w, http.StatusBadRequest, "BadRequest", "Resource not found for the segment '"+kind+"'.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.lookupUser(userSeg)
	if u == nil {
		graphErr(w, http.StatusNotFound, "ErrorInvalidUser", "The requested user '"+userSeg+"' is invalid.")
		return
	}
	sel := selectFields(r.URL.Query().Get("$select"))
	switch len(rest) {
	case 1:
		item := s.items(u, kind)[rest[0]]
		if item == nil {
			graphErr(w, http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
			return
		}
		out := project(item, sel)
		out["@odata.context"] = s.GraphURL() + "/$metadata#users('" + u.id + "')/" + kind + "/$entity"
		writeJSON(w, http.StatusOK, out)
	case 0:
		s.list(w, r, u, kind, sel)
	default:
		graphErr(w, http.StatusBadRequest, "BadRequest", "Unsupported segment.")
	}
}

// list serves a collection with an optional "<field> ge <time>" filter,
// newest first, paged with $top/$skip and @odata.nextLink.
func (s *Server) list(w http.ResponseWriter, r *http.Request, u *user, kind string, sel map[string]bool) {
	q := r.URL.Query()
	field := "receivedDateTime"
	if kind == "events" {
		field = "lastModifiedDateTime"
	}
	var since time.Time
	if f := strings.TrimSpace(q.Get("$filter")); f != "" {
		parts := strings.Fields(f)
		if len(parts) != 3 || parts[0] != field || parts[1] != "ge" {
			graphErr(w, http.StatusBadRequest, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes.")
			return
		}
		t, err := time.Parse(time.RFC3339, parts[2])
		if err != nil {
			graphErr(w, http.StatusBadRequest, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes.")
			return
		}
		since = t
	}
	type entry struct {
		at   time.Time
		item map[string]any
	}
	var all []entry
	for _, it := range s.items(u, kind) {
		at, _ := time.Parse(time.RFC3339Nano, str(it[field]))
		if !since.IsZero() && at.Before(since) {
			continue
		}
		all = append(all, entry{at, it})
	}
	sort.Slice(all, func(i, j int) bool {
		if !all[i].at.Equal(all[j].at) {
			return all[i].at.After(all[j].at)
		}
		return str(all[i].item["id"]) < str(all[j].item["id"])
	})
	top := s.pageSize
	if t, err := strconv.Atoi(q.Get("$top")); err == nil && t > 0 && t < top {
		top = t
	}
	skip, _ := strconv.Atoi(q.Get("$skip"))
	if skip < 0 {
		skip = 0
	}
	end := min(skip+top, len(all))
	value := []any{}
	for _, e := range all[min(skip, len(all)):end] {
		value = append(value, project(e.item, sel))
	}
	out := map[string]any{"@odata.context": s.GraphURL() + "/$metadata#users('" + u.id + "')/" + kind, "value": value}
	if end < len(all) {
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("$skip", strconv.Itoa(end))
		nq.Set("$top", strconv.Itoa(top))
		out["@odata.nextLink"] = s.GraphURL() + "/users/" + url.PathEscape(u.id) + "/" + kind + "?" + nq.Encode()
	}
	writeJSON(w, http.StatusOK, out)
}

func selectFields(sel string) map[string]bool {
	if sel == "" {
		return nil
	}
	m := map[string]bool{"id": true, "@odata.etag": true}
	for _, f := range strings.Split(sel, ",") {
		m[strings.TrimSpace(f)] = true
	}
	return m
}

// project applies $select; without it, every property but
// internetMessageHeaders (Graph returns those only when selected).
func project(item map[string]any, sel map[string]bool) map[string]any {
	out := map[string]any{}
	for k, v := range item {
		if sel == nil && k == "internetMessageHeaders" {
			continue
		}
		if sel != nil && !sel[k] {
			continue
		}
		out[k] = v
	}
	if ck, ok := item["changeKey"].(string); ok {
		out["@odata.etag"] = `W/"` + ck + `"`
	}
	return out
}

// ---------------------------------------------------------------- subscriptions

func (s *Server) subscriptions(w http.ResponseWriter, r *http.Request, rest []string) {
	switch {
	case len(rest) == 0 && r.Method == http.MethodPost:
		s.createSub(w, r)
	case len(rest) == 0 && r.Method == http.MethodGet:
		s.listSubs(w, r)
	case len(rest) == 1 && r.Method == http.MethodPatch:
		s.renewSub(w, r, rest[0])
	case len(rest) == 1 && r.Method == http.MethodDelete:
		s.mu.Lock()
		_, ok := s.liveSub(rest[0])
		delete(s.subs, rest[0])
		s.mu.Unlock()
		if !ok {
			graphErr(w, http.StatusNotFound, "ResourceNotFound", "The object was not found.")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case len(rest) == 1 && r.Method == http.MethodGet:
		s.mu.Lock()
		sb, ok := s.liveSub(rest[0])
		var out map[string]any
		if ok {
			out = s.subJSON(sb)
		}
		s.mu.Unlock()
		if !ok {
			graphErr(w, http.StatusNotFound, "ResourceNotFound", "The object was not found.")
			return
		}
		writeJSON(w, http.StatusOK, out)
	case len(rest) == 2 && strings.EqualFold(rest[1], "reauthorize") && r.Method == http.MethodPost:
		s.mu.Lock()
		sb, ok := s.liveSub(rest[0])
		if ok {
			sb.reauth++
		}
		s.mu.Unlock()
		if !ok {
			graphErr(w, http.StatusNotFound, "ResourceNotFound", "The object was not found.")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		graphErr(w, http.StatusMethodNotAllowed, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
	}
}

func (s *Server) liveSub(id string) (*sub, bool) {
	sb := s.subs[id]
	if sb == nil || !sb.expires.After(s.now()) {
		return nil, false
	}
	return sb, true
}

func (s *Server) subJSON(sb *sub) map[string]any {
	out := map[string]any{}
	for k, v := range sb.data {
		out[k] = v
	}
	out["id"] = sb.id
	out["applicationId"] = s.ClientID
	out["creatorId"] = newGUIDFrom(s.ClientID)
	out["expirationDateTime"] = sb.expires.UTC().Format("2006-01-02T15:04:05.0000000Z")
	out["notificationContentType"] = "application/json"
	if _, ok := out["latestSupportedTlsVersion"]; !ok {
		out["latestSupportedTlsVersion"] = "v1_2"
	}
	return out
}

func (s *Server) listSubs(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	var value []any
	for _, id := range s.subOrder {
		if sb, ok := s.liveSub(id); ok {
			j := s.subJSON(sb)
			j["clientState"] = nil // subscription-list.md: not returned, for security
			value = append(value, j)
		}
	}
	s.mu.Unlock()
	skip, _ := strconv.Atoi(r.URL.Query().Get("$skiptoken"))
	if skip < 0 || skip > len(value) {
		skip = 0
	}
	end := min(skip+s.pageSize, len(value))
	out := map[string]any{"@odata.context": s.GraphURL() + "/$metadata#subscriptions", "value": append([]any{}, value[skip:end]...)}
	if end < len(value) {
		out["@odata.nextLink"] = s.GraphURL() + "/subscriptions?$skiptoken=" + strconv.Itoa(end)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) checkExpiration(v any) (time.Time, string) {
	t, err := time.Parse(time.RFC3339Nano, str(v))
	if err != nil {
		return t, "expirationDateTime is required and must be a DateTimeOffset."
	}
	now := s.now()
	if !t.After(now) {
		return t, "Subscription expiration date time must be in the future."
	}
	if t.After(now.Add(MaxLifetime)) {
		return t, "Subscription expiration can only be 4230 minutes in the future."
	}
	return t, ""
}

func (s *Server) createSub(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
		graphErr(w, http.StatusBadRequest, "InvalidRequest", "The request body is not valid JSON.")
		return
	}
	changeTypes := strings.Split(str(body["changeType"]), ",")
	for _, ct := range changeTypes {
		if ct != "created" && ct != "updated" && ct != "deleted" {
			graphErr(w, http.StatusBadRequest, "InvalidRequest", "changeType must be created, updated and/or deleted.")
			return
		}
	}
	notify := str(body["notificationUrl"])
	lifecycle := str(body["lifecycleNotificationUrl"])
	if notify == "" {
		graphErr(w, http.StatusBadRequest, "InvalidRequest", "notificationUrl is required.")
		return
	}
	for _, u := range []string{notify, lifecycle} {
		if u != "" && !acceptableURL(u) {
			graphErr(w, http.StatusBadRequest, "InvalidRequest", "The notification URL must use HTTPS.")
			return
		}
	}
	if cs := str(body["clientState"]); len(cs) > 128 {
		graphErr(w, http.StatusBadRequest, "InvalidRequest", "clientState can be at most 128 characters.")
		return
	}
	s.mu.Lock()
	exp, msg := s.checkExpiration(body["expirationDateTime"])
	s.mu.Unlock()
	if msg != "" {
		graphErr(w, http.StatusBadRequest, "InvalidRequest", msg)
		return
	}
	res := strings.Trim(str(body["resource"]), "/")
	parts := strings.Split(res, "/")
	if len(parts) != 3 || !strings.EqualFold(parts[0], "users") || (!strings.EqualFold(parts[2], "messages") && !strings.EqualFold(parts[2], "events")) {
		graphErr(w, http.StatusBadRequest, "InvalidRequest", "Resource '"+res+"' is not supported by this stand-in.")
		return
	}
	s.mu.Lock()
	u := s.lookupUser(parts[1])
	s.mu.Unlock()
	if u == nil {
		graphErr(w, http.StatusNotFound, "ResourceNotFound", "The requested user '"+parts[1]+"' is invalid.")
		return
	}
	// validate the endpoints exactly like Graph: a POST with ?validationToken=
	targets := []string{notify}
	if lifecycle != "" && lifecycle != notify {
		targets = append(targets, lifecycle)
	}
	for _, t := range targets {
		if err := s.validateEndpoint(r.Context(), t); err != nil {
			graphErr(w, http.StatusBadRequest, "ValidationError", "Subscription validation request failed. "+err.Error())
			return
		}
	}
	sb := &sub{data: body, id: newGUID(), resource: str(body["resource"]), user: u, kind: strings.ToLower(parts[2]),
		changeTypes: changeTypes, expires: exp}
	s.mu.Lock()
	s.subs[sb.id] = sb
	s.subOrder = append(s.subOrder, sb.id)
	out := s.subJSON(sb)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, out)
}

func acceptableURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return false
	}
	if u.Scheme == "https" {
		return true
	}
	return u.Scheme == "http" && (u.Hostname() == "127.0.0.1" || u.Hostname() == "localhost")
}

// validateEndpoint is Graph's notificationUrl validation request.
func (s *Server) validateEndpoint(ctx context.Context, target string) error {
	token := "Validation: Testing client application reachability for subscription Request-Id: " + newGUID()
	u, err := url.Parse(target)
	if err != nil {
		return err
	}
	q := u.Query()
	q.Set("validationToken", token)
	u.RawQuery = q.Encode()
	v := Validation{URL: target, Token: token}
	defer func() {
		s.mu.Lock()
		s.validations = append(s.validations, v)
		s.mu.Unlock()
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	if err != nil {
		v.Err = err.Error()
		return err
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	start := time.Now()
	resp, err := s.callback.Do(req)
	v.Elapsed = time.Since(start)
	if err != nil {
		v.Err = err.Error()
		return errors.New("Notification endpoint must respond with 200 OK to validation request within 10 seconds.")
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	v.Status, v.ContentType, v.Body = resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	if resp.StatusCode != http.StatusOK {
		return errors.New("Notification endpoint must respond with 200 OK to validation request.")
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/plain" {
		return errors.New("Notification endpoint must respond with a text/plain validation token.")
	}
	if string(b) != token {
		return errors.New("Notification endpoint must respond with the decoded validation token.")
	}
	return nil
}

func (s *Server) renewSub(w http.ResponseWriter, r *http.Request, id string) {
	var body map[string]any
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
		graphErr(w, http.StatusBadRequest, "InvalidRequest", "The request body is not valid JSON.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sb, ok := s.liveSub(id)
	if !ok {
		graphErr(w, http.StatusNotFound, "ResourceNotFound", "The object was not found.")
		return
	}
	exp, msg := s.checkExpiration(body["expirationDateTime"])
	if msg != "" {
		graphErr(w, http.StatusBadRequest, "InvalidRequest", msg)
		return
	}
	sb.expires = exp
	writeJSON(w, http.StatusOK, s.subJSON(sb))
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
