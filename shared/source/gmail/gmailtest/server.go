package gmailtest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Operations that can be counted and made to fail.
const (
	OpCerts        = "certs"
	OpToken        = "token"
	OpHistoryList  = "history.list"
	OpMessageGet   = "messages.get"
	OpMessagesList = "messages.list"
	OpWatch        = "watch"
	OpStop         = "stop"
)

// GmailScope is the read-only scope stagemover asks for.
const GmailScope = "https://www.googleapis.com/auth/gmail.readonly"

// Server is Google on 127.0.0.1. All endpoints share one base URL:
//
//	GET  /oauth2/v3/certs                          OIDC signing keys (JWKS)
//	POST /token                                    OAuth 2.0 token endpoint
//	GET  /gmail/v1/users/{userId}/history          users.history.list
//	GET  /gmail/v1/users/{userId}/messages         users.messages.list
//	GET  /gmail/v1/users/{userId}/messages/{id}    users.messages.get
//	POST /gmail/v1/users/{userId}/watch            users.watch
//	POST /gmail/v1/users/{userId}/stop             users.stop
type Server struct {
	URL  string
	Keys *KeySet
	// CertsMaxAge is the Cache-Control max-age of the JWKS (Google sends
	// several hours); 0 sends no-cache.
	CertsMaxAge time.Duration
	// Now is the server's clock (token and watch expiry, history times).
	Now func() time.Time

	srv *httptest.Server

	mu              sync.Mutex
	serviceAccounts map[string]*rsa.PublicKey // client_email -> key
	delegated       map[string]bool           // domains the service accounts may impersonate
	refreshTokens   map[string]refreshGrant   // refresh token -> grant
	accessTokens    map[string]accessToken    // access token -> mailbox
	mailboxes       map[string]*mailbox
	faults          map[string][]int
	counts          map[string]int
	watches         []WatchCall
	assertions      []map[string]any
}

type refreshGrant struct{ clientID, clientSecret, mailbox string }

type accessToken struct {
	mailbox string
	expires time.Time
}

// WatchCall records one users.watch request.
type WatchCall struct {
	Mailbox   string
	TopicName string
	LabelIDs  []string
}

type mailbox struct {
	historyID     uint64
	oldestHistory uint64 // startHistoryId below this answers 404
	history       []historyRecord
	messages      map[string]*message
	order         []string // message ids, oldest first
}

type historyRecord struct {
	id    uint64
	msgID string
}

type message struct {
	id, threadID string
	labels       []string
	raw          []byte
	internalDate int64
	historyID    uint64
}

// NewServer starts the stand-in; it stops when the returned close func is
// called (tests: t.Cleanup(s.Close)).
func NewServer() (*Server, error) {
	keys, err := NewKeySet()
	if err != nil {
		return nil, err
	}
	return NewServerWithKeys(keys), nil
}

// NewServerWithKeys starts the stand-in with a given key set.
func NewServerWithKeys(keys *KeySet) *Server {
	s := &Server{
		Keys:            keys,
		CertsMaxAge:     6 * time.Hour,
		Now:             time.Now,
		serviceAccounts: map[string]*rsa.PublicKey{},
		delegated:       map[string]bool{},
		refreshTokens:   map[string]refreshGrant{},
		accessTokens:    map[string]accessToken{},
		mailboxes:       map[string]*mailbox{},
		faults:          map[string][]int{},
		counts:          map[string]int{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth2/v3/certs", s.certs)
	mux.HandleFunc("POST /token", s.token)
	mux.HandleFunc("GET /gmail/v1/users/{userId}/history", s.gmail(OpHistoryList, s.historyList))
	mux.HandleFunc("GET /gmail/v1/users/{userId}/messages", s.gmail(OpMessagesList, s.messagesList))
	mux.HandleFunc("GET /gmail/v1/users/{userId}/messages/{id}", s.gmail(OpMessageGet, s.messageGet))
	mux.HandleFunc("POST /gmail/v1/users/{userId}/watch", s.gmail(OpWatch, s.watch))
	mux.HandleFunc("POST /gmail/v1/users/{userId}/stop", s.gmail(OpStop, s.stop))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("gmailtest: listen: %v", err))
	}
	s.srv = &httptest.Server{Listener: l, Config: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}}
	s.srv.Start()
	s.URL = s.srv.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// CertsURL is the JWKS address (Google: https://www.googleapis.com/oauth2/v3/certs).
func (s *Server) CertsURL() string { return s.URL + "/oauth2/v3/certs" }

// TokenURL is the token endpoint (Google: https://oauth2.googleapis.com/token).
func (s *Server) TokenURL() string { return s.URL + "/token" }

// Fail makes the next len(codes) requests of op answer with those HTTP
// status codes (429, 500, 503, 404...) in Google's error format.
func (s *Server) Fail(op string, codes ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[op] = append(s.faults[op], codes...)
}

// Count is how many requests op received (failed ones included).
func (s *Server) Count(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[op]
}

// Watches returns the users.watch calls received.
func (s *Server) Watches() []WatchCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]WatchCall(nil), s.watches...)
}

// Assertions returns the decoded claims of every JWT bearer assertion the
// token endpoint accepted.
func (s *Server) Assertions() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.assertions...)
}

// AddServiceAccount creates a service account key and allows it to
// impersonate mailboxes in the given domains (domain-wide delegation). It
// returns the key file JSON Google lets you download.
func (s *Server) AddServiceAccount(email string, domains ...string) (keyFile []byte, err error) {
	key, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.serviceAccounts[email] = &key.PublicKey
	for _, d := range domains {
		s.delegated[strings.ToLower(d)] = true
	}
	s.mu.Unlock()
	project := "stagemover-demo"
	if i := strings.IndexByte(email, '@'); i > 0 {
		if p := strings.SplitN(email[i+1:], ".", 2)[0]; p != "" {
			project = p
		}
	}
	return json.MarshalIndent(map[string]string{
		"type":                        "service_account",
		"project_id":                  project,
		"private_key_id":              KeyID(&key.PublicKey),
		"private_key":                 PKCS8PEM(key),
		"client_email":                email,
		"client_id":                   "104857392017465839201",
		"auth_uri":                    "https://accounts.google.com/o/oauth2/auth",
		"token_uri":                   "https://oauth2.googleapis.com/token",
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
		"client_x509_cert_url":        "https://www.googleapis.com/robot/v1/metadata/x509/" + url.PathEscape(email),
		"universe_domain":             "googleapis.com",
	}, "", "  ")
}

// AddRefreshToken registers an OAuth client and a refresh token for one
// user's mailbox; it returns the authorized_user JSON Google's tools write.
func (s *Server) AddRefreshToken(mailbox string) []byte {
	clientID := randomHex(12) + ".apps.googleusercontent.com"
	secret := "GOCSPX-" + randomHex(14)
	refresh := "1//0g" + randomHex(40)
	s.mu.Lock()
	s.refreshTokens[refresh] = refreshGrant{clientID: clientID, clientSecret: secret, mailbox: strings.ToLower(mailbox)}
	s.mu.Unlock()
	b, _ := json.MarshalIndent(map[string]string{
		"type":          "authorized_user",
		"client_id":     clientID,
		"client_secret": secret,
		"refresh_token": refresh,
	}, "", "  ")
	return b
}

// RevokeAccessTokens forgets every issued access token (Gmail then answers
// 401, as for an expired token).
func (s *Server) RevokeAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accessTokens = map[string]accessToken{}
}

// AddMessage delivers a raw RFC 822 message to mailbox with labels (INBOX,
// SENT, ...), records a messageAdded history record, and returns the Gmail
// message id and the mailbox's new history id.
func (s *Server) AddMessage(mailboxAddr string, raw []byte, at time.Time, labels ...string) (id string, historyID uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mb := s.mailbox(mailboxAddr)
	mb.historyID += 7 // history ids increase with gaps
	id = randomHex(8)
	if len(labels) == 0 {
		labels = []string{"INBOX", "UNREAD"}
	}
	mb.messages[id] = &message{id: id, threadID: id, labels: labels, raw: raw, internalDate: at.UnixMilli(), historyID: mb.historyID}
	mb.order = append(mb.order, id)
	mb.history = append(mb.history, historyRecord{id: mb.historyID, msgID: id})
	return id, mb.historyID
}

// Touch records a change that is not a new message (a label change): the
// history id moves on without a messageAdded record.
func (s *Server) Touch(mailboxAddr string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	mb := s.mailbox(mailboxAddr)
	mb.historyID += 3
	return mb.historyID
}

// HistoryID is the mailbox's current history id.
func (s *Server) HistoryID(mailboxAddr string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mailbox(mailboxAddr).historyID
}

// ExpireHistory makes every history id below the current one invalid:
// history.list from an older start answers 404 (Gmail keeps history for
// about a week).
func (s *Server) ExpireHistory(mailboxAddr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mb := s.mailbox(mailboxAddr)
	mb.oldestHistory = mb.historyID
}

func (s *Server) mailbox(addr string) *mailbox {
	addr = strings.ToLower(addr)
	mb, ok := s.mailboxes[addr]
	if !ok {
		mb = &mailbox{historyID: 100000 + uint64(len(s.mailboxes))*1000, messages: map[string]*message{}}
		s.mailboxes[addr] = mb
	}
	return mb
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// --- handlers ---

func (s *Server) fault(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts[op]++
	if q := s.faults[op]; len(q) > 0 {
		s.faults[op] = q[1:]
		return q[0]
	}
	return 0
}

func (s *Server) certs(w http.ResponseWriter, r *http.Request) {
	if code := s.fault(OpCerts); code != 0 {
		http.Error(w, http.StatusText(code), code)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	if s.CertsMaxAge > 0 {
		w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d, must-revalidate, no-transform", int(s.CertsMaxAge.Seconds())))
		w.Header().Set("Expires", s.Now().Add(s.CertsMaxAge).UTC().Format(http.TimeFormat))
	} else {
		w.Header().Set("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate")
	}
	_, _ = w.Write(s.Keys.JWKS())
}

// oauthError is the token endpoint's error shape (RFC 6749 section 5.2).
func oauthError(w http.ResponseWriter, code int, errCode, desc string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": errCode, "error_description": desc})
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if code := s.fault(OpToken); code != 0 {
		oauthError(w, code, "internal_failure", "Backend error")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, 400, "invalid_request", "Malformed form body")
		return
	}
	switch r.PostForm.Get("grant_type") {
	case "urn:ietf:params:oauth:grant-type:jwt-bearer":
		s.jwtBearer(w, r.PostForm.Get("assertion"))
	case "refresh_token":
		s.mu.Lock()
		g, ok := s.refreshTokens[r.PostForm.Get("refresh_token")]
		s.mu.Unlock()
		if !ok || g.clientID != r.PostForm.Get("client_id") {
			oauthError(w, 400, "invalid_grant", "Bad Request")
			return
		}
		if g.clientSecret != r.PostForm.Get("client_secret") {
			oauthError(w, 401, "invalid_client", "Unauthorized")
			return
		}
		s.issue(w, g.mailbox, GmailScope)
	default:
		oauthError(w, 400, "unsupported_grant_type", "Invalid grant_type: "+r.PostForm.Get("grant_type"))
	}
}

// jwtBearer checks an assertion as Google documents it: RS256 signed by a
// key of the service account in iss, aud the token endpoint, exp at most an
// hour after iat, scope set, and sub (the impersonated user) in a domain the
// account is delegated for.
func (s *Server) jwtBearer(w http.ResponseWriter, assertion string) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(assertion, claims, func(t *jwt.Token) (any, error) {
		iss, _ := t.Claims.(jwt.MapClaims)["iss"].(string)
		s.mu.Lock()
		defer s.mu.Unlock()
		if k, ok := s.serviceAccounts[iss]; ok {
			return k, nil
		}
		return nil, fmt.Errorf("unknown service account")
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithAudience(s.TokenURL()), jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(), jwt.WithTimeFunc(s.Now))
	if err != nil {
		oauthError(w, 400, "invalid_grant", "Invalid JWT Signature.")
		return
	}
	iat, _ := claims.GetIssuedAt()
	exp, _ := claims.GetExpirationTime()
	if iat == nil || exp.Sub(iat.Time) > time.Hour {
		oauthError(w, 400, "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")
		return
	}
	scope, _ := claims["scope"].(string)
	if scope == "" {
		oauthError(w, 400, "invalid_scope", "Invalid OAuth scope or ID token audience provided.")
		return
	}
	sub, _ := claims["sub"].(string)
	sub = strings.ToLower(sub)
	s.mu.Lock()
	ok := sub != "" && s.delegated[domainOf(sub)]
	s.assertions = append(s.assertions, claims)
	s.mu.Unlock()
	if !ok {
		oauthError(w, 401, "unauthorized_client", "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.")
		return
	}
	s.issue(w, sub, scope)
}

func (s *Server) issue(w http.ResponseWriter, mailbox, scope string) {
	tok := "ya29.c." + randomHex(48)
	s.mu.Lock()
	s.accessTokens[tok] = accessToken{mailbox: mailbox, expires: s.Now().Add(time.Hour)}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token": tok,
		"expires_in":   3599,
		"scope":        scope,
		"token_type":   "Bearer",
	})
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return ""
}

// googleError writes Gmail's error body.
func googleError(w http.ResponseWriter, code int) {
	reason, msg, status := "backendError", "Backend Error", "INTERNAL"
	domain := "global"
	switch code {
	case 400:
		reason, msg, status = "badRequest", "Invalid request", "INVALID_ARGUMENT"
	case 401:
		reason, msg, status = "authError", "Invalid Credentials", "UNAUTHENTICATED"
	case 403:
		reason, msg, status = "forbidden", "Forbidden", "PERMISSION_DENIED"
	case 404:
		reason, msg, status = "notFound", "Requested entity was not found.", "NOT_FOUND"
	case 429:
		reason, msg, status = "rateLimitExceeded", "Too many concurrent requests for user", "RESOURCE_EXHAUSTED"
	case 503:
		msg, status = "The service is currently unavailable.", "UNAVAILABLE"
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	if code == 429 || code == 503 {
		w.Header().Set("Retry-After", "1")
	}
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"code":    code,
		"message": msg,
		"errors":  []map[string]string{{"message": msg, "domain": domain, "reason": reason}},
		"status":  status,
	}})
}

type gmailHandler func(w http.ResponseWriter, r *http.Request, mb *mailbox, addr string)

// gmail checks the bearer token and that it was issued for the path's user.
func (s *Server) gmail(op string, h gmailHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if code := s.fault(op); code != 0 {
			googleError(w, code)
			return
		}
		auth := r.Header.Get("Authorization")
		s.mu.Lock()
		at, ok := s.accessTokens[strings.TrimPrefix(auth, "Bearer ")]
		s.mu.Unlock()
		if !strings.HasPrefix(auth, "Bearer ") || !ok || !s.Now().Before(at.expires) {
			googleError(w, 401)
			return
		}
		user := strings.ToLower(r.PathValue("userId"))
		if user == "me" {
			user = at.mailbox
		}
		if user != at.mailbox {
			googleError(w, 403) // delegation covers only the impersonated user
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		h(w, r, s.mailbox(user), user)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(w).Encode(v)
}

func pageBounds(q url.Values, total, def, max int) (start, end int, next string, ok bool) {
	n := def
	if v := q.Get("maxResults"); v != "" {
		m, err := strconv.Atoi(v)
		if err != nil || m < 1 {
			return 0, 0, "", false
		}
		n = min(m, max)
	}
	if v := q.Get("pageToken"); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 0 || p > total {
			return 0, 0, "", false
		}
		start = p
	}
	end = min(start+n, total)
	if end < total {
		next = strconv.Itoa(end)
	}
	return start, end, next, true
}

func (s *Server) historyList(w http.ResponseWriter, r *http.Request, mb *mailbox, _ string) {
	q := r.URL.Query()
	start, err := strconv.ParseUint(q.Get("startHistoryId"), 10, 64)
	if err != nil {
		googleError(w, 400)
		return
	}
	if start < mb.oldestHistory || start > mb.historyID {
		googleError(w, 404)
		return
	}
	types := q["historyTypes"]
	var recs []historyRecord
	for _, h := range mb.history {
		if h.id > start && (len(types) == 0 || slices.Contains(types, "messageAdded")) {
			recs = append(recs, h)
		}
	}
	from, to, next, ok := pageBounds(q, len(recs), 100, 500)
	if !ok {
		googleError(w, 400)
		return
	}
	type ref struct {
		ID       string   `json:"id"`
		ThreadID string   `json:"threadId"`
		LabelIDs []string `json:"labelIds,omitempty"`
	}
	type added struct {
		Message ref `json:"message"`
	}
	type record struct {
		ID            string  `json:"id"`
		Messages      []ref   `json:"messages"`
		MessagesAdded []added `json:"messagesAdded"`
	}
	out := struct {
		History       []record `json:"history,omitempty"`
		NextPageToken string   `json:"nextPageToken,omitempty"`
		HistoryID     string   `json:"historyId"`
	}{NextPageToken: next, HistoryID: strconv.FormatUint(mb.historyID, 10)}
	for _, h := range recs[from:to] {
		m := mb.messages[h.msgID]
		rf := ref{ID: m.id, ThreadID: m.threadID}
		withLabels := rf
		withLabels.LabelIDs = m.labels
		out.History = append(out.History, record{ID: strconv.FormatUint(h.id, 10), Messages: []ref{rf}, MessagesAdded: []added{{Message: withLabels}}})
	}
	writeJSON(w, out)
}

func (s *Server) messageGet(w http.ResponseWriter, r *http.Request, mb *mailbox, _ string) {
	m, ok := mb.messages[r.PathValue("id")]
	if !ok {
		googleError(w, 404)
		return
	}
	out := map[string]any{
		"id":           m.id,
		"threadId":     m.threadID,
		"labelIds":     m.labels,
		"snippet":      "",
		"sizeEstimate": len(m.raw),
		"historyId":    strconv.FormatUint(m.historyID, 10),
		"internalDate": strconv.FormatInt(m.internalDate, 10),
	}
	if f := r.URL.Query().Get("format"); f == "raw" || f == "RAW" {
		out["raw"] = base64.URLEncoding.EncodeToString(m.raw)
	}
	writeJSON(w, out)
}

// messagesList returns the mailbox's messages newest first. Of the search
// syntax only "newer_than:Nd" and "-in:chats"-style terms are understood;
// other terms are ignored.
func (s *Server) messagesList(w http.ResponseWriter, r *http.Request, mb *mailbox, _ string) {
	q := r.URL.Query()
	var since time.Time
	for _, term := range strings.Fields(q.Get("q")) {
		if v, ok := strings.CutPrefix(term, "newer_than:"); ok && strings.HasSuffix(v, "d") {
			if d, err := strconv.Atoi(strings.TrimSuffix(v, "d")); err == nil {
				since = s.Now().Add(-time.Duration(d) * 24 * time.Hour)
			}
		}
	}
	ids := make([]string, 0, len(mb.order))
	for i := len(mb.order) - 1; i >= 0; i-- {
		m := mb.messages[mb.order[i]]
		if !since.IsZero() && m.internalDate < since.UnixMilli() {
			continue
		}
		ids = append(ids, m.id)
	}
	from, to, next, ok := pageBounds(q, len(ids), 100, 500)
	if !ok {
		googleError(w, 400)
		return
	}
	type ref struct {
		ID       string `json:"id"`
		ThreadID string `json:"threadId"`
	}
	out := struct {
		Messages           []ref  `json:"messages,omitempty"`
		NextPageToken      string `json:"nextPageToken,omitempty"`
		ResultSizeEstimate int    `json:"resultSizeEstimate"`
	}{NextPageToken: next, ResultSizeEstimate: len(ids)}
	for _, id := range ids[from:to] {
		out.Messages = append(out.Messages, ref{ID: id, ThreadID: mb.messages[id].threadID})
	}
	writeJSON(w, out)
}

func (s *Server) watch(w http.ResponseWriter, r *http.Request, mb *mailbox, addr string) {
	var req struct {
		TopicName           string   `json:"topicName"`
		LabelIDs            []string `json:"labelIds"`
		LabelFilterBehavior string   `json:"labelFilterBehavior"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		googleError(w, 400)
		return
	}
	parts := strings.Split(req.TopicName, "/")
	if len(parts) != 4 || parts[0] != "projects" || parts[2] != "topics" || parts[1] == "" || parts[3] == "" {
		googleError(w, 400)
		return
	}
	s.watches = append(s.watches, WatchCall{Mailbox: addr, TopicName: req.TopicName, LabelIDs: req.LabelIDs})
	writeJSON(w, map[string]string{
		"historyId":  strconv.FormatUint(mb.historyID, 10),
		"expiration": strconv.FormatInt(s.Now().Add(7*24*time.Hour).UnixMilli(), 10),
	})
}

func (s *Server) stop(w http.ResponseWriter, r *http.Request, mb *mailbox, addr string) {
	w.WriteHeader(http.StatusNoContent)
}
