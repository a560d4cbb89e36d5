package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stagemover/stagemover/shared/platform/retry"
	"github.com/stagemover/stagemover/shared/source/ingest"
)

// Default endpoints (auth-v2-service.md).
const (
	DefaultGraphURL = "https://graph.microsoft.com/v1.0"
	DefaultLoginURL = "https://login.microsoftonline.com"
	// Scope asks for the app permissions an administrator consented to.
	Scope = "https://graph.microsoft.com/.default"
)

var (
	// ErrNotFound marks any 404. For a subscription (renew, reauthorize,
	// delete) it means the subscription no longer exists; for a message or
	// event it says nothing by itself: use ErrItemNotFound.
	ErrNotFound = errors.New("graph: not found")
	// ErrItemNotFound marks a 404 whose Graph error code says the item itself
	// does not exist (ErrorItemNotFound, itemNotFound): the message or event
	// was deleted before it was read. A 404 about the mailbox
	// (ErrorInvalidUser: a user Graph cannot resolve;
	// MailboxNotEnabledForRESTAPI; ResourceNotFound), or one without a Graph
	// error code, is not: the item may well exist.
	ErrItemNotFound = errors.New("graph: item not found")
	// ErrCredentials marks a missing or malformed credentials secret.
	ErrCredentials = errors.New("graph: credentials")
)

// Credentials are the app registration's client credentials.
type Credentials struct {
	TenantID     string `json:"tenant_id"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// String never shows the secret.
func (c Credentials) String() string {
	return fmt.Sprintf("graph.Credentials{tenant_id:%q client_id:%q client_secret:[redacted]}", c.TenantID, c.ClientID)
}

// GoString never shows the secret (%#v).
func (c Credentials) GoString() string { return c.String() }

// LogValue never shows the secret (slog).
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("tenant_id", c.TenantID), slog.String("client_id", c.ClientID))
}

// ParseCredentials reads the JSON secret
// {"tenant_id":"...","client_id":"...","client_secret":"..."}. Errors name
// the missing field, never a value.
func ParseCredentials(raw string) (Credentials, error) {
	var c Credentials
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		return c, fmt.Errorf("%w: the secret is not a JSON object with tenant_id, client_id and client_secret", ErrCredentials)
	}
	c.TenantID, c.ClientID = strings.TrimSpace(c.TenantID), strings.TrimSpace(c.ClientID)
	var missing []string
	for _, f := range []struct{ name, v string }{{"tenant_id", c.TenantID}, {"client_id", c.ClientID}, {"client_secret", c.ClientSecret}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return Credentials{}, fmt.Errorf("%w: the secret lacks %s", ErrCredentials, strings.Join(missing, ", "))
	}
	if strings.ContainsAny(c.TenantID, "/?#% ") {
		return Credentials{}, fmt.Errorf("%w: tenant_id must be a tenant id or domain", ErrCredentials)
	}
	return c, nil
}

// CredentialsFrom adapts a secret reader (a cached Secrets Manager read,
// e.g. secrets.Cache.String bound to the secret's ARN) to Client.Credentials.
func CredentialsFrom(read func(ctx context.Context) (string, error)) func(ctx context.Context) (Credentials, error) {
	return func(ctx context.Context) (Credentials, error) {
		raw, err := read(ctx)
		if err != nil {
			return Credentials{}, fmt.Errorf("%w: %v", ErrCredentials, err)
		}
		return ParseCredentials(raw)
	}
}

// Client calls Microsoft Graph with an app-only (client credentials) token.
// It is safe for concurrent use; the token is requested once and reused
// until TokenMargin before it expires.
type Client struct {
	GraphURL    string                                         // default DefaultGraphURL
	LoginURL    string                                         // default DefaultLoginURL
	Credentials func(ctx context.Context) (Credentials, error) // required
	HTTP        *http.Client                                   // default: 20 s timeout
	Now         func() time.Time                               // default time.Now
	TokenMargin time.Duration                                  // refresh this long before expiry (default 5 min)

	mu       sync.Mutex
	cached   string
	expires  time.Time
	requests atomic.Int64 // token requests made, for tests and logs
}

// TokenRequests returns how many tokens this client requested.
func (c *Client) TokenRequests() int64 { return c.requests.Load() }

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return defaultHTTP
}

var defaultHTTP = &http.Client{Timeout: 20 * time.Second}

func (c *Client) graphURL() string {
	if c.GraphURL != "" {
		return strings.TrimRight(c.GraphURL, "/")
	}
	return DefaultGraphURL
}

func (c *Client) loginURL() string {
	if c.LoginURL != "" {
		return strings.TrimRight(c.LoginURL, "/")
	}
	return DefaultLoginURL
}

// APIError is a failed Graph or token call. Its text holds the operation,
// the status and Graph's error code and message, never a token or secret.
type APIError struct {
	Op         string        // "get message", "token", ...
	Status     int           // HTTP status; 0 for a network error
	Code       string        // Graph error.code or the token endpoint's error
	Message    string        // Graph error.message or error_description
	RetryAfter time.Duration // from Retry-After on 429/503
	Err        error         // the network error, if any
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("graph: " + e.Op + ": ")
	if e.Status == 0 {
		b.WriteString("request failed")
		if e.Err != nil {
			b.WriteString(": " + e.Err.Error())
		}
		return b.String()
	}
	b.WriteString(strconv.Itoa(e.Status))
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.RetryAfter > 0 {
		b.WriteString(fmt.Sprintf(" (retry after %s)", e.RetryAfter))
	}
	return b.String()
}

// Is makes errors.Is work with ErrNotFound, ErrItemNotFound and
// retry.ErrLater: a failure that may pass on a later attempt is HTTP 429
// (with Retry-After), 408, 5xx, or a network error (Status 0).
func (e *APIError) Is(target error) bool {
	switch target {
	case retry.ErrLater:
		return e.Status == 0 || e.Status == http.StatusTooManyRequests || e.Status == http.StatusRequestTimeout || e.Status >= 500
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrItemNotFound:
		return e.Status == http.StatusNotFound && itemNotFoundCodes[strings.ToLower(e.Code)]
	}
	return false
}

func (e *APIError) Unwrap() error { return e.Err }

// itemNotFoundCodes are the 404 error codes (lower case) that mean the
// requested message or event does not exist: Outlook's ErrorItemNotFound,
// and itemNotFound, which other Graph workloads use for the same.
var itemNotFoundCodes = map[string]bool{"erroritemnotfound": true, "itemnotfound": true}

// and retries once with a fresh one (a revoked or early-expired token).
func (c *Client) call(ctx context.Context, op, method, rawURL string, in, out any, prefer ...string) error {
	var payload []byte
	if in != nil {
		var err error
		if payload, err = json.Marshal(in); err != nil {
			return fmt.Errorf("graph: %s: %w", op, err)
		}
	}
	for attempt := 0; ; attempt++ {
		tok, err := c.accessToken(ctx)
		if err != nil {
			return err
		}
		var body io.Reader
		if payload != nil {
			body = bytes.NewReader(payload)
		}
		req, err := http.NewRequestWithContext(ctx, method, rawURL, body)
		if err != nil {
			return &APIError{Op: op, Err: err}
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept", "application/json")
		if payload != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		for _, p := range prefer {
			req.Header.Add("Prefer", p)
		}
		resp, err := c.httpClient().Do(req)
		if err != nil {
			return &APIError{Op: op, Err: scrub(err, tok)}
		}
		data, readErr := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
		resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized && attempt == 0 {
			c.invalidate(tok)
			continue
		}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return graphError(op, resp, data, c.now())
		}
		if readErr != nil {
			return &APIError{Op: op, Err: readErr}
		}
		if out != nil && len(bytes.TrimSpace(data)) > 0 {
			if err := json.Unmarshal(data, out); err != nil {
				return &APIError{Op: op, Status: resp.StatusCode, Message: "response is not the expected JSON: " + ingest.DescribeJSON(err)}
			}
		}
		return nil
	}
}

// graphError reads Graph's {"error":{"code","message"}} body (errors.md).
func graphError(op string, resp *http.Response, data []byte, now time.Time) error {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	_ = json.Unmarshal(data, &e)
	return &APIError{Op: op, Status: resp.StatusCode, Code: e.Error.Code, Message: truncate(e.Error.Message, 300),
		RetryAfter: retryAfter(resp.Header, now)}
}

// retryAfter reads Retry-After as seconds or an HTTP date.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func redact(s, secret string) string {
	if secret == "" {
		return s
	}
	return strings.ReplaceAll(s, secret, "[redacted]")
}

// scrub keeps a secret out of a transport error's text.
func scrub(err error, secret string) error {
	if secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return errors.New(redact(err.Error(), secret))
}
