package gmailtest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"
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
