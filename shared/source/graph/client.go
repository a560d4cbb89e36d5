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
	"net/url"
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

// accessToken returns a valid access token, requesting one when none is cached or
// the cached one is within TokenMargin of expiring. Concurrent callers wait
// for one request.
func (c *Client) accessToken(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	margin := c.TokenMargin
	if margin <= 0 {
		margin = 5 * time.Minute
	}
	if c.cached != "" && c.now().Add(margin).Before(c.expires) {
		return c.cached, nil
	}
	if c.Credentials == nil {
		return "", fmt.Errorf("%w: no credentials configured", ErrCredentials)
	}
	creds, err := c.Credentials(ctx)
	if err != nil {
		return "", err
	}
	tok, ttl, err := c.requestToken(ctx, creds)
	if err != nil {
		return "", err
	}
	c.cached, c.expires = tok, c.now().Add(ttl)
	return tok, nil
}

// invalidate drops tok if it is still the cached token (Graph refused it).
func (c *Client) invalidate(tok string) {
	c.mu.Lock()
	if c.cached == tok {
		c.cached, c.expires = "", time.Time{}
	}
	c.mu.Unlock()
}

// requestToken is the client credentials request (auth-v2-service.md, step 4).
func (c *Client) requestToken(ctx context.Context, creds Credentials) (string, time.Duration, error) {
	c.requests.Add(1)
	form := url.Values{
		"client_id":     {creds.ClientID},
		"scope":         {Scope},
		"client_secret": {creds.ClientSecret},
		"grant_type":    {"client_credentials"},
	}
	endpoint := c.loginURL() + "/" + url.PathEscape(creds.TenantID) + "/oauth2/v2.0/token"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, &APIError{Op: "token", Err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return "", 0, &APIError{Op: "token", Err: scrub(err, creds.ClientSecret)}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		// {"error":"invalid_client","error_description":"AADSTS7000215: ...","error_codes":[...],...}
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		_ = json.Unmarshal(body, &e)
		desc := e.Description
		if i := strings.IndexAny(desc, "\r\n"); i >= 0 {
			desc = desc[:i] // AAD appends trace and correlation ids on new lines
		}
		return "", 0, &APIError{Op: "token", Status: resp.StatusCode, Code: e.Error,
			Message: redact(truncate(desc, 300), creds.ClientSecret), RetryAfter: retryAfter(resp.Header, c.now())}
	}
	var t struct {
		TokenType   string          `json:"token_type"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
		AccessToken string          `json:"access_token"`
	}
	if err := json.Unmarshal(body, &t); err != nil || t.AccessToken == "" {
		return "", 0, &APIError{Op: "token", Status: resp.StatusCode, Message: "the token response holds no access_token"}
	}
	if t.TokenType != "" && !strings.EqualFold(t.TokenType, "Bearer") {
		return "", 0, &APIError{Op: "token", Status: resp.StatusCode, Message: "token_type is not Bearer"}
	}
	secs, err := strconv.ParseInt(strings.Trim(string(t.ExpiresIn), `"`), 10, 64)
	if err != nil || secs <= 0 {
		secs = 300 // unknown lifetime: reuse briefly
	}
	return t.AccessToken, time.Duration(secs) * time.Second, nil
}

// call sends one Graph request with the cached token; a 401 drops the token
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

// ---------------------------------------------------------------- items

// EmailAddress is Graph's emailAddress.
type EmailAddress struct {
	Name    string `json:"name,omitempty"`
	Address string `json:"address,omitempty"`
}

// Recipient is Graph's recipient.
type Recipient struct {
	EmailAddress EmailAddress `json:"emailAddress"`
}

// ItemBody is Graph's itemBody.
type ItemBody struct {
	ContentType string `json:"contentType,omitempty"` // text | html
	Content     string `json:"content,omitempty"`
}

// InternetMessageHeader is one raw header of a message.
type InternetMessageHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Message holds the message properties this source selects (message-get.md).
type Message struct {
	ID                     string                  `json:"id"`
	InternetMessageID      string                  `json:"internetMessageId,omitempty"`
	ConversationID         string                  `json:"conversationId,omitempty"`
	Subject                string                  `json:"subject,omitempty"`
	Body                   ItemBody                `json:"body"`
	From                   *Recipient              `json:"from,omitempty"`
	Sender                 *Recipient              `json:"sender,omitempty"`
	ToRecipients           []Recipient             `json:"toRecipients,omitempty"`
	CcRecipients           []Recipient             `json:"ccRecipients,omitempty"`
	ReceivedDateTime       *time.Time              `json:"receivedDateTime,omitempty"`
	SentDateTime           *time.Time              `json:"sentDateTime,omitempty"`
	InternetMessageHeaders []InternetMessageHeader `json:"internetMessageHeaders,omitempty"`
	IsDraft                bool                    `json:"isDraft,omitempty"`
}

// DateTimeTimeZone is Graph's dateTimeTimeZone ("2014-11-03T17:00:00.0000000",
// "UTC" or "Pacific Standard Time"); Parse and Time are in timezone.go.
type DateTimeTimeZone struct {
	DateTime string `json:"dateTime"`
	TimeZone string `json:"timeZone"`
}

// ResponseStatus is Graph's responseStatus.
type ResponseStatus struct {
	Response string `json:"response,omitempty"` // none|organizer|tentativelyAccepted|accepted|declined|notResponded
	Time     string `json:"time,omitempty"`
}

// Attendee is Graph's attendee.
type Attendee struct {
	Type         string          `json:"type,omitempty"`
	Status       *ResponseStatus `json:"status,omitempty"`
	EmailAddress EmailAddress    `json:"emailAddress"`
}

// Event holds the event properties this source selects (resources/event.md).
type Event struct {
	ID                   string            `json:"id"`
	ICalUID              string            `json:"iCalUId,omitempty"`
	ChangeKey            string            `json:"changeKey,omitempty"`
	Subject              string            `json:"subject,omitempty"`
	IsCancelled          bool              `json:"isCancelled,omitempty"`
	IsOrganizer          bool              `json:"isOrganizer,omitempty"`
	Type                 string            `json:"type,omitempty"`
	Start                *DateTimeTimeZone `json:"start,omitempty"`
	End                  *DateTimeTimeZone `json:"end,omitempty"`
	Organizer            *Recipient        `json:"organizer,omitempty"`
	Attendees            []Attendee        `json:"attendees,omitempty"`
	ResponseStatus       *ResponseStatus   `json:"responseStatus,omitempty"`
	CreatedDateTime      *time.Time        `json:"createdDateTime,omitempty"`
	LastModifiedDateTime *time.Time        `json:"lastModifiedDateTime,omitempty"`
}

const (
	messageSelect = "id,internetMessageId,conversationId,subject,body,from,sender,toRecipients,ccRecipients," +
		"receivedDateTime,sentDateTime,internetMessageHeaders,isDraft"
	eventSelect = "id,iCalUId,changeKey,subject,isCancelled,isOrganizer,type,start,end,organizer,attendees," +
		"responseStatus,createdDateTime,lastModifiedDateTime"

	// preferImmutableID keeps item ids stable when items move between
	// folders (outlook-immutable-id.md); subscriptions are created with it
	// so notifications carry the same ids.
	preferImmutableID = `IdType="ImmutableId"`
	preferUTC         = `outlook.timezone="UTC"`
)

func (c *Client) userURL(user, kind, id string) string {
	u := c.graphURL() + "/users/" + url.PathEscape(user) + "/" + kind
	if id != "" {
		u += "/" + url.PathEscape(id)
	}
	return u
}

// GetMessage reads one message of user (an id or userPrincipalName).
func (c *Client) GetMessage(ctx context.Context, user, id string) (*Message, error) {
	var m Message
	q := url.Values{"$select": {messageSelect}}
	if err := c.call(ctx, "get message", http.MethodGet, c.userURL(user, KindMessages, id)+"?"+q.Encode(), nil, &m, preferImmutableID); err != nil {
		return nil, err
	}
	return &m, nil
}

// GetEvent reads one event of user, with times in UTC.
func (c *Client) GetEvent(ctx context.Context, user, id string) (*Event, error) {
	var e Event
	q := url.Values{"$select": {eventSelect}}
	if err := c.call(ctx, "get event", http.MethodGet, c.userURL(user, KindEvents, id)+"?"+q.Encode(), nil, &e, preferImmutableID, preferUTC); err != nil {
		return nil, err
	}
	return &e, nil
}

// maxPages bounds any paged listing.
const maxPages = 20

// ListMessagesSince lists user's messages received at or after since, at
// most max (newest first, Graph's default order), for a resync.
func (c *Client) ListMessagesSince(ctx context.Context, user string, since time.Time, max int) ([]Message, error) {
	q := url.Values{
		"$filter": {"receivedDateTime ge " + since.UTC().Format(time.RFC3339)},
		"$select": {messageSelect},
		"$top":    {"50"},
	}
	var out []Message
	err := c.pages(ctx, "list messages", c.userURL(user, KindMessages, "")+"?"+q.Encode(), max, func(raw json.RawMessage) error {
		var page []Message
		if err := json.Unmarshal(raw, &page); err != nil {
			return err
		}
		out = append(out, page...)
		return nil
	}, func() int { return len(out) }, preferImmutableID)
	if len(out) > max {
		out = out[:max]
	}
	return out, err
}

// ListEventsSince lists user's events changed at or after since, at most max.
func (c *Client) ListEventsSince(ctx context.Context, user string, since time.Time, max int) ([]Event, error) {
	q := url.Values{
		"$filter": {"lastModifiedDateTime ge " + since.UTC().Format(time.RFC3339)},
		"$select": {eventSelect},
		"$top":    {"50"},
	}
	var out []Event
	err := c.pages(ctx, "list events", c.userURL(user, KindEvents, "")+"?"+q.Encode(), max, func(raw json.RawMessage) error {
		var page []Event
		if err := json.Unmarshal(raw, &page); err != nil {
			return err
		}
		out = append(out, page...)
		return nil
	}, func() int { return len(out) }, preferImmutableID, preferUTC)
	if len(out) > max {
		out = out[:max]
	}
	return out, err
}

// pages follows @odata.nextLink, only to the configured Graph host (the
// bearer token must never be sent elsewhere), for at most maxPages pages.
func (c *Client) pages(ctx context.Context, op, first string, max int, add func(json.RawMessage) error, count func() int, prefer ...string) error {
	base, err := url.Parse(c.graphURL())
	if err != nil {
		return fmt.Errorf("graph: %s: bad GraphURL", op)
	}
	next := first
	for page := 0; next != "" && page < maxPages && count() < max; page++ {
		var resp struct {
			Value    json.RawMessage `json:"value"`
			NextLink string          `json:"@odata.nextLink"`
		}
		if err := c.call(ctx, op, http.MethodGet, next, nil, &resp, prefer...); err != nil {
			return err
		}
		if len(resp.Value) > 0 {
			if err := add(resp.Value); err != nil {
				return &APIError{Op: op, Status: http.StatusOK, Message: "value is not the expected JSON"}
			}
		}
		next = ""
		if resp.NextLink != "" {
			u, err := url.Parse(resp.NextLink)
			if err != nil || u.Scheme != base.Scheme || u.Host != base.Host {
				return &APIError{Op: op, Status: http.StatusOK, Message: "@odata.nextLink points outside the Graph endpoint"}
			}
			next = resp.NextLink
		}
	}
	return nil
}

// ---------------------------------------------------------------- subscriptions

// Subscription is Graph's subscription resource (resources/subscription.md).
type Subscription struct {
	ID                        string `json:"id,omitempty"`
	Resource                  string `json:"resource,omitempty"`
	ChangeType                string `json:"changeType,omitempty"`
	ClientState               string `json:"clientState,omitempty"`
	NotificationURL           string `json:"notificationUrl,omitempty"`
	LifecycleNotificationURL  string `json:"lifecycleNotificationUrl,omitempty"`
	ExpirationDateTime        string `json:"expirationDateTime,omitempty"`
	ApplicationID             string `json:"applicationId,omitempty"`
	CreatorID                 string `json:"creatorId,omitempty"`
	LatestSupportedTLSVersion string `json:"latestSupportedTlsVersion,omitempty"`
}

// Expiration parses ExpirationDateTime (zero if absent or malformed).
func (s Subscription) Expiration() time.Time {
	t, err := time.Parse(time.RFC3339Nano, s.ExpirationDateTime)
	if err != nil {
		return time.Time{}
	}
	return t
}

// String never shows the clientState.
func (s Subscription) String() string {
	return fmt.Sprintf("subscription %s on %s (%s) until %s", s.ID, s.Resource, s.ChangeType, s.ExpirationDateTime)
}

// LogValue never shows the clientState.
func (s Subscription) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", s.ID), slog.String("resource", s.Resource), slog.String("expires", s.ExpirationDateTime))
}

func graphTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.0000000Z") }

// CreateSubscription creates sub (Graph first validates its notification
// URLs: the handler must answer the handshake). Ids in its notifications
// are immutable ids.
func (c *Client) CreateSubscription(ctx context.Context, sub Subscription) (*Subscription, error) {
	var out Subscription
	if err := c.call(ctx, "create subscription", http.MethodPost, c.graphURL()+"/subscriptions", sub, &out, preferImmutableID); err != nil {
		return nil, err
	}
	return &out, nil
}

// RenewSubscription moves the subscription's expiration to until, which
// also reauthorizes it (change-notifications-lifecycle-events.md).
func (c *Client) RenewSubscription(ctx context.Context, id string, until time.Time) (*Subscription, error) {
	var out Subscription
	body := map[string]string{"expirationDateTime": graphTime(until)}
	if err := c.call(ctx, "renew subscription", http.MethodPatch, c.graphURL()+"/subscriptions/"+url.PathEscape(id), body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ReauthorizeSubscription answers a reauthorizationRequired challenge
// without changing the expiration (subscription-reauthorize.md).
func (c *Client) ReauthorizeSubscription(ctx context.Context, id string) error {
	return c.call(ctx, "reauthorize subscription", http.MethodPost, c.graphURL()+"/subscriptions/"+url.PathEscape(id)+"/reauthorize", nil, nil)
}

// DeleteSubscription deletes a subscription.
func (c *Client) DeleteSubscription(ctx context.Context, id string) error {
	return c.call(ctx, "delete subscription", http.MethodDelete, c.graphURL()+"/subscriptions/"+url.PathEscape(id), nil, nil)
}

// ListSubscriptions lists this app's subscriptions (subscription-list.md;
// Graph does not return their clientState).
func (c *Client) ListSubscriptions(ctx context.Context) ([]Subscription, error) {
	var out []Subscription
	const max = 10000
	err := c.pages(ctx, "list subscriptions", c.graphURL()+"/subscriptions", max, func(raw json.RawMessage) error {
		var page []Subscription
		if err := json.Unmarshal(raw, &page); err != nil {
			return err
		}
		out = append(out, page...)
		return nil
	}, func() int { return len(out) })
	return out, err
}
