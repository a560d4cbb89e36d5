package graph_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/platform/retry"
	"github.com/stagemover/stagemover/shared/platform/secrets"
	"github.com/stagemover/stagemover/shared/source/graph"
	"github.com/stagemover/stagemover/shared/source/graph/graphtest"
	"github.com/stagemover/stagemover/shared/testkit"
	"github.com/stagemover/stagemover/shared/testkit/lambdatest"
)

const mailbox = "sam.ortega@acme-routing.io"

func TestTokenCachedAcrossConcurrentCalls(t *testing.T) {
	s, c := newStandIn(t, nil)
	id := s.AddMessage(mailbox, readTestdata(t, "message-buyer-reply.json"))
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := c.GetMessage(context.Background(), mailbox, id)
			if err == nil && m.ID != id {
				err = fmt.Errorf("got message %q", m.ID)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := s.TokenRequests(); got != 1 {
		t.Fatalf("the stand-in saw %d token requests for 40 calls, want 1", got)
	}
	if got := c.TokenRequests(); got != 1 {
		t.Fatalf("client made %d token requests, want 1", got)
	}
}

func TestTokenRefreshedBeforeExpiry(t *testing.T) {
	now := testkit.NewClock(t0)
	s, c := newStandIn(t, now, graphtest.WithTokenLifetime(time.Hour))
	id := s.AddMessage(mailbox, readTestdata(t, "message-buyer-reply.json"))
	ctx := context.Background()
	get := func() {
		t.Helper()
		if _, err := c.GetMessage(ctx, mailbox, id); err != nil {
			t.Fatal(err)
		}
	}
	get()
	now.Advance(50 * time.Minute) // 10 minutes left: still used
	get()
	if n := s.TokenRequests(); n != 1 {
		t.Fatalf("%d token requests before the margin, want 1", n)
	}
	now.Advance(6 * time.Minute) // 4 minutes left: inside the 5-minute margin
	get()
	if n := s.TokenRequests(); n != 2 {
		t.Fatalf("%d token requests after the margin, want 2", n)
	}
	now.Advance(2 * time.Hour) // long expired: refreshed, never sent stale
	get()
	if n := s.TokenRequests(); n != 3 {
		t.Fatalf("%d token requests after expiry, want 3", n)
	}
	if n := s.Unauthorized(); n != 0 {
		t.Fatalf("%d requests reached Graph with a stale token", n)
	}
}

func TestRevokedTokenIsReplacedOnce(t *testing.T) {
	s, c := newStandIn(t, nil)
	id := s.AddMessage(mailbox, readTestdata(t, "message-buyer-reply.json"))
	ctx := context.Background()
	if _, err := c.GetMessage(ctx, mailbox, id); err != nil {
		t.Fatal(err)
	}
	s.RevokeTokens()
	if _, err := c.GetMessage(ctx, mailbox, id); err != nil {
		t.Fatalf("after revocation: %v", err)
	}
	if n := s.TokenRequests(); n != 2 || s.Unauthorized() != 1 {
		t.Fatalf("%d token requests and %d refusals, want 2 and 1", n, s.Unauthorized())
	}
}

func TestBadCredentialsFailWithoutLeakingTheSecret(t *testing.T) {
	s, _ := newStandIn(t, nil)
	const wrong = "wrong-secret-value-123"
	var logs bytes.Buffer
	c := &graph.Client{GraphURL: s.GraphURL(), LoginURL: s.LoginURL(),
		Credentials: func(context.Context) (graph.Credentials, error) {
			return graph.Credentials{TenantID: s.TenantID, ClientID: s.ClientID, ClientSecret: wrong}, nil
		}}
	_, err := c.GetMessage(context.Background(), mailbox, "x")
	var apiErr *graph.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 401 || apiErr.Code != "invalid_client" {
		t.Fatalf("err = %v, want a 401 invalid_client", err)
	}
	if retry.IsLater(err) {
		t.Fatal("bad credentials must not be retryable")
	}
	mustContain(t, "error", err.Error(), "AADSTS7000215")
	slog.New(slog.NewTextHandler(&logs, nil)).Error("fetch failed", "error", err,
		"creds", graph.Credentials{TenantID: "t", ClientID: "c", ClientSecret: wrong})
	for _, out := range []string{err.Error(), logs.String(),
		fmt.Sprintf("%v %+v %#v %s", graph.Credentials{ClientSecret: wrong}, graph.Credentials{ClientSecret: wrong}, graph.Credentials{ClientSecret: wrong}, graph.Credentials{ClientSecret: wrong})} {
		if strings.Contains(out, wrong) {
			t.Fatalf("the client secret leaked: %s", out)
		}
	}
	// the right secret in an error-producing path never shows either
	c2 := &graph.Client{GraphURL: s.GraphURL(), LoginURL: s.LoginURL(),
		Credentials: graph.CredentialsFrom(func(context.Context) (string, error) { return s.CredentialsJSON(), nil })}
	_, err = c2.GetMessage(context.Background(), mailbox, "missing")
	if err == nil || strings.Contains(err.Error(), s.ClientSecret) {
		t.Fatalf("err = %v", err)
	}
}

func TestCredentialsSecretParsing(t *testing.T) {
	for raw, want := range map[string]string{
		`not json`:                          "not a JSON object",
		`{"tenant_id":"t","client_id":"c"}`: "lacks client_secret",
		`{"client_secret":"s3cr3t-value"}`:  "lacks tenant_id, client_id",
		`{"tenant_id":"../x","client_id":"c","client_secret":"s3cr3t-value"}`:                      "tenant_id",
		`{"tenant_id":"contoso.onmicrosoft.com","client_id":"c","client_secret":"s3"}`:             "",
		`{"tenant_id":"84bd8158-6d4d-4958-8b9f-9d6445542f95","client_id":"c","client_secret":"x"}`: "",
	} {
		_, err := graph.ParseCredentials(raw)
		if want == "" {
			if err != nil {
				t.Errorf("%s: %v", raw, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, graph.ErrCredentials) {
			t.Errorf("%s: err %v, want %q", raw, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cr3t-value") {
			t.Errorf("error shows the secret: %v", err)
		}
	}
}

// TestCredentialsFromSecretsManager reads the credentials secret through
// the cached Secrets Manager reader (kumo in-process) the Lambda uses.
func TestCredentialsFromSecretsManager(t *testing.T) {
	sm := lambdatest.StartSecretsManager(t)
	s, _ := newStandIn(t, nil)
	arn := sm.Put(t, "graph-credentials", s.CredentialsJSON())
	cache := secrets.NewCache(sm.Client, time.Minute)
	c := &graph.Client{GraphURL: s.GraphURL(), LoginURL: s.LoginURL(),
		Credentials: graph.CredentialsFrom(func(ctx context.Context) (string, error) { return cache.String(ctx, arn) })}
	id := s.AddMessage(mailbox, readTestdata(t, "message-buyer-reply.json"))
	if _, err := c.GetMessage(context.Background(), mailbox, id); err != nil {
		t.Fatal(err)
	}
}

func TestTransientAndPermanentErrors(t *testing.T) {
	s, c := newStandIn(t, nil)
	id := s.AddMessage(mailbox, readTestdata(t, "message-buyer-reply.json"))
	ctx := context.Background()

	s.Fail(http.MethodGet, "/messages/", http.StatusTooManyRequests, 10, 1)
	_, err := c.GetMessage(ctx, mailbox, id)
	var apiErr *graph.APIError
	if !retry.IsLater(err) || !errors.As(err, &apiErr) || apiErr.RetryAfter != 10*time.Second || apiErr.Code != "TooManyRequests" {
		t.Fatalf("429: err = %v, want retryable with Retry-After 10s", err)
	}
	for _, code := range []int{500, 503} {
		s.Fail("", "/messages/", code, 0, 1)
		if _, err := c.GetMessage(ctx, mailbox, id); !retry.IsLater(err) {
			t.Fatalf("%d: err = %v, want retryable", code, err)
		}
	}
	_, err = c.GetMessage(ctx, mailbox, "AAMkAGnotthere=")
	if !errors.Is(err, graph.ErrNotFound) || retry.IsLater(err) {
		t.Fatalf("404: err = %v, want not found, not retryable", err)
	}
	mustContain(t, "404 error", err.Error(), "ErrorItemNotFound")
	if _, err := c.GetMessage(ctx, mailbox, id); err != nil {
		t.Fatalf("after the faults: %v", err)
	}
	// a network failure (nothing listening) is retryable
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	c2 := &graph.Client{GraphURL: dead.URL + "/v1.0", LoginURL: dead.URL,
		Credentials: func(context.Context) (graph.Credentials, error) {
			return graph.Credentials{TenantID: "t", ClientID: "c", ClientSecret: "s"}, nil
		}}
	if _, err := c2.GetMessage(ctx, mailbox, id); !retry.IsLater(err) {
		t.Fatalf("network: err = %v, want retryable", err)
	}
}

func TestPagingStaysOnTheGraphHost(t *testing.T) {
	s, c := newStandIn(t, nil, graphtest.WithPageSize(3))
	for i := 0; i < 8; i++ {
		s.AddMessage(mailbox, []byte(fmt.Sprintf(`{"subject":"m%d","receivedDateTime":"2026-03-02T10:0%d:00Z","from":{"emailAddress":{"address":"a@b.example"}}}`, i, i)))
	}
	ms, err := c.ListMessagesSince(context.Background(), mailbox, time.Date(2026, 3, 2, 10, 2, 0, 0, time.UTC), 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 6 {
		t.Fatalf("%d messages since 10:02, want 6 (over 2 pages)", len(ms))
	}
	// a nextLink to another host is refused, and the token is not sent there
	var leaked bool
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked = leaked || r.Header.Get("Authorization") != ""
	}))
	defer evil.Close()
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "token") {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"token_type":"Bearer","expires_in":3599,"access_token":"tok"}`)
			return
		}
		fmt.Fprintf(w, `{"value":[],"@odata.nextLink":"%s/v1.0/subscriptions?page=2"}`, evil.URL)
	}))
	defer fake.Close()
	c3 := &graph.Client{GraphURL: fake.URL + "/v1.0", LoginURL: fake.URL,
		Credentials: func(context.Context) (graph.Credentials, error) {
			return graph.Credentials{TenantID: "t", ClientID: "c", ClientSecret: "s"}, nil
		}}
	if _, err := c3.ListSubscriptions(context.Background()); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Fatalf("err = %v, want a refusal of the foreign nextLink", err)
	}
	if leaked {
		t.Fatal("the bearer token was sent to a foreign host")
	}
}

func TestSubscriptionCalls(t *testing.T) {
	now := testkit.NewClock(t0)
	s, c := newStandIn(t, now)
	s.AddUser(mailbox)
	e := newEnv(t, now)
	ctx := context.Background()
	sub, err := c.CreateSubscription(ctx, graph.Subscription{ChangeType: "created", NotificationURL: e.url(""),
		Resource: "users/" + mailbox + "/messages", ExpirationDateTime: "2026-03-04T12:00:00Z", ClientState: clientState})
	if err != nil {
		t.Fatal(err)
	}
	// too far in the future: Graph's 4230-minute limit
	_, err = c.RenewSubscription(ctx, sub.ID, now.Now().Add(graph.MaxSubscriptionLifetime+time.Minute))
	var apiErr *graph.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 400 {
		t.Fatalf("renewal past the limit: %v", err)
	}
	until := now.Now().Add(graph.MaxSubscriptionLifetime - time.Minute)
	renewed, err := c.RenewSubscription(ctx, sub.ID, until)
	if err != nil || !renewed.Expiration().Equal(until) {
		t.Fatalf("renew: %v %+v", err, renewed)
	}
	if err := c.ReauthorizeSubscription(ctx, sub.ID); err != nil {
		t.Fatal(err)
	}
	list, err := c.ListSubscriptions(ctx)
	if err != nil || len(list) != 1 || list[0].ClientState != "" {
		t.Fatalf("list: %v %+v (clientState must not be listed)", err, list)
	}
	if s.Subscriptions()[0].Reauthorized != 1 {
		t.Fatal("reauthorize did not reach the stand-in")
	}
	if err := c.DeleteSubscription(ctx, sub.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.ReauthorizeSubscription(ctx, sub.ID); !errors.Is(err, graph.ErrNotFound) {
		t.Fatalf("reauthorize a deleted subscription: %v", err)
	}
}

// Issue 8, point 5: only Graph's item-not-found codes say the item is gone;
// a 404 about the mailbox (ErrorInvalidUser, MailboxNotEnabledForRESTAPI,
// ResourceNotFound) or a 404 without a Graph error code is not.
func TestOnlyItemNotFoundIsErrItemNotFound(t *testing.T) {
	s, c := newStandIn(t, nil)
	id := s.AddMessage(mailbox, readTestdata(t, "message-buyer-reply.json"))
	ctx := context.Background()

	_, err := c.GetMessage(ctx, mailbox, "AAMkAGnotthere=")
	if !errors.Is(err, graph.ErrItemNotFound) {
		t.Fatalf("deleted message: %v, want ErrItemNotFound", err)
	}
	_, err = c.GetMessage(ctx, "nobody@acme-routing.io", id) // the stand-in answers 404 ErrorInvalidUser
	if errors.Is(err, graph.ErrItemNotFound) || retry.IsLater(err) {
		t.Fatalf("unknown mailbox: %v, want neither item-not-found nor retryable", err)
	}
	mustContain(t, "error", err.Error(), "404 ErrorInvalidUser")
	for code, deleted := range map[string]bool{
		"ErrorItemNotFound":           true,
		"itemNotFound":                true,
		"ErrorInvalidUser":            false,
		"MailboxNotEnabledForRESTAPI": false,
		"ResourceNotFound":            false,
		"ErrorNonExistentMailbox":     false,
		"UnknownError":                false,
	} {
		s.FailCode(http.MethodGet, "/messages/", http.StatusNotFound, code, "from the test", 1)
		_, err := c.GetMessage(ctx, mailbox, id)
		if errors.Is(err, graph.ErrItemNotFound) != deleted {
			t.Errorf("404 %s: %v; item not found = %v, want %v", code, err, !deleted, deleted)
		}
	}
	// a 404 with no Graph error body (a proxy, a wrong base URL)
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "token") {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"token_type":"Bearer","expires_in":3599,"access_token":"tok"}`)
			return
		}
		http.NotFound(w, r)
	}))
	defer bare.Close()
	c2 := &graph.Client{GraphURL: bare.URL + "/v1.0", LoginURL: bare.URL,
		Credentials: func(context.Context) (graph.Credentials, error) {
			return graph.Credentials{TenantID: "t", ClientID: "c", ClientSecret: "s"}, nil
		}}
	if _, err := c2.GetEvent(ctx, mailbox, "AAMkEv="); err == nil || errors.Is(err, graph.ErrItemNotFound) {
		t.Fatalf("bare 404: %v, want an error that is not item-not-found", err)
	}
}
