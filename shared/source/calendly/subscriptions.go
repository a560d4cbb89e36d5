package calendly

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
	"path"
	"slices"
	"strings"
	"time"

	"github.com/stagemover/stagemover/shared/platform/logx"
	"github.com/stagemover/stagemover/shared/source/ingest"
)

// DefaultBaseURL is Calendly's API.
const DefaultBaseURL = "https://api.calendly.com"

// DefaultEvents are the events stagemover subscribes to.
var DefaultEvents = []string{EventInviteeCreated, EventInviteeCanceled}

const (
	maxPages    = 50      // 50 x 100 subscriptions: far more than any organization has
	maxResponse = 1 << 20 // bytes read of any API response
)

// Client talks to Calendly's webhook subscription API with a personal
// access token (or OAuth access token) sent as "Authorization: Bearer".
// The token is read per call (cached Secrets Manager read) and never
// appears in errors or logs.
type Client struct {
	BaseURL string       // "" means DefaultBaseURL
	HTTP    *http.Client // nil: a client with a 15 s timeout
	Token   func(ctx context.Context) (string, error)
}

// Subscription is Calendly's Webhook Subscription object.
type Subscription struct {
	URI            string     `json:"uri"`
	CallbackURL    string     `json:"callback_url"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	RetryStartedAt *time.Time `json:"retry_started_at"`
	State          string     `json:"state"` // active|disabled
	Events         []string   `json:"events"`
	Scope          string     `json:"scope"` // user|organization|group
	Organization   string     `json:"organization"`
	User           *string    `json:"user"`
	Group          *string    `json:"group,omitempty"`
	Creator        *string    `json:"creator"`
}

// SubscriptionSpec is the subscription stagemover needs.
type SubscriptionSpec struct {
	URL          string   // our callback URL (the API's POST /webhooks/calendly)
	Events       []string // nil: DefaultEvents
	Organization string   // organization URI, always required
	Scope        string   // "organization" (default) or "user"
	User         string   // user URI, required with scope "user"
	SigningKey   string   // the key Calendly signs deliveries with (personal access tokens)
	// Replace deletes a matching subscription and creates it anew, e.g.
	// after the signing key changed: Calendly never reveals which key an
	// existing subscription signs with.
	Replace bool
}

// APIError is a non-2xx answer: Calendly's error object
// {"title","message","details":[{"parameter","message"}]}.
type APIError struct {
	Status  int
	Title   string
	Message string
	Details []ErrorDetail
}

// ErrorDetail names a rejected parameter.
type ErrorDetail struct {
	Parameter string `json:"parameter,omitempty"`
	Message   string `json:"message"`
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("calendly: HTTP %d", e.Status)
	if e.Title != "" {
		s += " " + e.Title
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	for _, d := range e.Details {
		s += fmt.Sprintf(" (%s: %s)", d.Parameter, d.Message)
	}
	return s
}

// ListSubscriptions returns every subscription of the organization (scope
// "organization") or of the user within it (scope "user"), following
// page_token until the last page.
func (c *Client) ListSubscriptions(ctx context.Context, organization, scope, user string) ([]Subscription, error) {
	if scope == "" {
		scope = "organization"
	}
	q := url.Values{"organization": {organization}, "scope": {scope}, "count": {"100"}}
	if scope == "user" {
		q.Set("user", user)
	}
	var all []Subscription
	for page := 0; page < maxPages; page++ {
		var out struct {
			Collection []Subscription `json:"collection"`
			Pagination struct {
				NextPageToken *string `json:"next_page_token"`
			} `json:"pagination"`
		}
		if err := c.do(ctx, http.MethodGet, "/webhook_subscriptions?"+q.Encode(), nil, http.StatusOK, &out); err != nil {
			return nil, fmt.Errorf("list webhook subscriptions: %w", err)
		}
		all = append(all, out.Collection...)
		if out.Pagination.NextPageToken == nil || *out.Pagination.NextPageToken == "" {
			return all, nil
		}
		q.Set("page_token", *out.Pagination.NextPageToken)
	}
	return nil, fmt.Errorf("list webhook subscriptions: more than %d pages", maxPages)
}

// CreateSubscription creates the subscription (201 {"resource": ...}).
func (c *Client) CreateSubscription(ctx context.Context, spec SubscriptionSpec) (Subscription, error) {
	spec = spec.withDefaults()
	if err := spec.validate(); err != nil {
		return Subscription{}, err
	}
	req := map[string]any{
		"url":          spec.URL,
		"events":       spec.Events,
		"organization": spec.Organization,
		"scope":        spec.Scope,
	}
	if spec.Scope == "user" {
		req["user"] = spec.User
	}
	if spec.SigningKey != "" {
		req["signing_key"] = spec.SigningKey
	}
	var out struct {
		Resource Subscription `json:"resource"`
	}
	if err := c.do(ctx, http.MethodPost, "/webhook_subscriptions", req, http.StatusCreated, &out); err != nil {
		return Subscription{}, fmt.Errorf("create webhook subscription: %w", err)
	}
	return out.Resource, nil
}

// DeleteSubscription deletes a subscription by its URI (204).
func (c *Client) DeleteSubscription(ctx context.Context, uri string) error {
	id := path.Base(strings.TrimRight(uri, "/"))
	if !segment.MatchString(id) {
		return fmt.Errorf("delete webhook subscription: %q is not a subscription URI", uri)
	}
	if err := c.do(ctx, http.MethodDelete, "/webhook_subscriptions/"+url.PathEscape(id), nil, http.StatusNoContent, nil); err != nil {
		return fmt.Errorf("delete webhook subscription %s: %w", id, err)
	}
	return nil
}

// EnsureResult says what EnsureSubscription did.
type EnsureResult struct {
	Subscription Subscription
	Created      bool     // false: an active matching subscription already existed
	Deleted      []string // URIs of unusable (disabled, other events) or replaced ones
}

// EnsureSubscription makes sure one active subscription sends spec.Events
// to spec.URL, and is safe to run again and again (on every deploy or on a
// schedule): it lists the existing subscriptions first and keeps an active
// one with the same callback URL, scope and at least the wanted events. A
// matching one that Calendly disabled (after failed deliveries) or that
// lacks an event is deleted and created anew; Calendly has no update call.
// A concurrent run's create answered 409 is resolved by listing again.
func (c *Client) EnsureSubscription(ctx context.Context, spec SubscriptionSpec) (EnsureResult, error) {
	spec = spec.withDefaults()
	if err := spec.validate(); err != nil {
		return EnsureResult{}, err
	}
	var res EnsureResult
	subs, err := c.ListSubscriptions(ctx, spec.Organization, spec.Scope, spec.User)
	if err != nil {
		return res, err
	}
	for _, s := range subs {
		if s.CallbackURL != spec.URL {
			continue
		}
		if !spec.Replace && spec.usable(s) {
			res.Subscription = s
			return res, nil
		}
		if err := c.DeleteSubscription(ctx, s.URI); err != nil {
			return res, err
		}
		res.Deleted = append(res.Deleted, s.URI)
	}
	s, err := c.CreateSubscription(ctx, spec)
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.Status == http.StatusConflict {
		subs, lerr := c.ListSubscriptions(ctx, spec.Organization, spec.Scope, spec.User)
		if lerr != nil {
			return res, lerr
		}
		for _, s := range subs {
			if s.CallbackURL == spec.URL && spec.usable(s) {
				res.Subscription = s
				return res, nil
			}
		}
	}
	if err != nil {
		return res, err
	}
	res.Subscription, res.Created = s, true
	return res, nil
}

func (spec SubscriptionSpec) withDefaults() SubscriptionSpec {
	if len(spec.Events) == 0 {
		spec.Events = DefaultEvents
	}
	if spec.Scope == "" {
		spec.Scope = "organization"
	}
	return spec
}

func (spec SubscriptionSpec) validate() error {
	u, err := url.Parse(spec.URL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return errors.New("calendly subscription: url must be an absolute URL")
	}
	if spec.Organization == "" {
		return errors.New("calendly subscription: organization (URI) is required")
	}
	switch spec.Scope {
	case "organization":
	case "user":
		if spec.User == "" {
			return errors.New("calendly subscription: user (URI) is required with scope user")
		}
	default:
		return fmt.Errorf("calendly subscription: scope must be organization or user, not %q", spec.Scope)
	}
	return nil
}

func (spec SubscriptionSpec) usable(s Subscription) bool {
	if s.State != "active" || s.Scope != spec.Scope {
		return false
	}
	if spec.Scope == "user" && (s.User == nil || *s.User != spec.User) {
		return false
	}
	for _, e := range spec.Events {
		if !slices.Contains(s.Events, e) {
			return false
		}
	}
	return true
}

func (c *Client) do(ctx context.Context, method, pathQuery string, in any, want int, out any) error {
	token, err := c.Token(ctx)
	if err != nil {
		return fmt.Errorf("api token: %w", err)
	}
	if token == "" {
		return errors.New("api token is empty")
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	base := strings.TrimRight(c.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	req, err := http.NewRequestWithContext(ctx, method, base+pathQuery, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 15 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return scrub(err, token)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return scrub(fmt.Errorf("read response: %w", err), token)
	}
	if resp.StatusCode != want {
		apiErr := &APIError{Status: resp.StatusCode}
		var e struct {
			Title   string        `json:"title"`
			Message string        `json:"message"`
			Details []ErrorDetail `json:"details"`
		}
		if json.Unmarshal(raw, &e) == nil {
			apiErr.Title, apiErr.Message, apiErr.Details = e.Title, e.Message, e.Details
		}
		return scrub(apiErr, token)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("response is not the documented JSON: %w", err)
	}
	return nil
}

// scrub keeps the token out of an error, whatever produced it.
func scrub(err error, token string) error {
	if err == nil || token == "" || !strings.Contains(err.Error(), token) {
		return err
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		c := *apiErr
		c.Title = strings.ReplaceAll(c.Title, token, "[redacted]")
		c.Message = strings.ReplaceAll(c.Message, token, "[redacted]")
		c.Details = nil
		return &c
	}
	return errors.New(strings.ReplaceAll(err.Error(), token, "[redacted]"))
}

// Keeper keeps the subscription in place: run it after each deploy and on
// a schedule (Calendly disables a subscription whose deliveries keep
// failing; the next run deletes and recreates it).
type Keeper struct {
	Client     *Client
	Spec       SubscriptionSpec // SigningKey is filled from SigningKey below
	SigningKey ingest.KeyFunc   // the same key the webhook is verified with
	Log        *slog.Logger
}

// Run ensures the subscription once.
func (k *Keeper) Run(ctx context.Context) error {
	key, err := k.SigningKey(ctx)
	if err != nil {
		return fmt.Errorf("calendly signing key: %w", err)
	}
	if len(key) == 0 {
		return errors.New("calendly signing key is empty")
	}
	spec := k.Spec
	spec.SigningKey = string(key)
	res, err := k.Client.EnsureSubscription(ctx, spec)
	if err != nil {
		return err
	}
	logx.Or(k.Log).InfoContext(ctx, "calendly webhook subscription ensured", "subscription", res.Subscription.URI,
		"created", res.Created, "deleted", len(res.Deleted), "state", res.Subscription.State, "events", res.Subscription.Events)
	return nil
}
