package calendly_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stagemover/stagemover/shared/platform/apigw"
	"github.com/stagemover/stagemover/shared/source/calendly"
	"github.com/stagemover/stagemover/shared/source/calendly/calendlytest"
)

const apiToken = "eyJraWQiOiJjYWxlbmRseS10ZXN0LXBhdC0xMjM0NTY3ODkwIn0.pat-secret-value"

func newStandIn(t *testing.T) (*calendlytest.Server, *calendly.Client) {
	t.Helper()
	s := calendlytest.New(apiToken)
	t.Cleanup(s.Close)
	return s, &calendly.Client{BaseURL: s.URL, Token: func(context.Context) (string, error) { return apiToken, nil }}
}

func spec(s *calendlytest.Server, url string) calendly.SubscriptionSpec {
	return calendly.SubscriptionSpec{URL: url, Organization: s.Organization, SigningKey: testKey}
}

func TestEnsureSubscriptionIsIdempotent(t *testing.T) {
	s, c := newStandIn(t)
	ctx := context.Background()
	other := s.AddSubscription("https://other.example/hooks", []string{"invitee.created"}, "")
	res, err := c.EnsureSubscription(ctx, spec(s, "https://api.example/webhooks/calendly"))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || res.Subscription.State != "active" || res.Subscription.CallbackURL != "https://api.example/webhooks/calendly" ||
		strings.Join(res.Subscription.Events, ",") != "invitee.created,invitee.canceled" || res.Subscription.Scope != "organization" {
		t.Fatalf("first ensure: %+v", res)
	}
	for i := 0; i < 3; i++ {
		again, err := c.EnsureSubscription(ctx, spec(s, "https://api.example/webhooks/calendly"))
		if err != nil {
			t.Fatal(err)
		}
		if again.Created || again.Subscription.URI != res.Subscription.URI || len(again.Deleted) != 0 {
			t.Fatalf("ensure #%d changed something: %+v", i+2, again)
		}
	}
	if n := s.Requests("POST /webhook_subscriptions"); n != 1 {
		t.Fatalf("%d creates, want 1", n)
	}
	if n := s.Requests("GET /webhook_subscriptions"); n != 4 {
		t.Fatalf("%d lists, want one per ensure (4)", n)
	}
	if subs := s.Subscriptions(); len(subs) != 2 || subs[0].URI != other.URI {
		t.Fatalf("subscriptions = %+v: another URL's subscription must be left alone", subs)
	}
}

func TestEnsureFollowsPagination(t *testing.T) {
	s, c := newStandIn(t)
	s.SetMaxCount(2)
	for _, u := range []string{"https://a.example/1", "https://a.example/2", "https://a.example/3", "https://a.example/4"} {
		s.AddSubscription(u, []string{"invitee.created"}, "")
	}
	mine := s.AddSubscription("https://api.example/webhooks/calendly", calendly.DefaultEvents, testKey)
	res, err := c.EnsureSubscription(context.Background(), spec(s, "https://api.example/webhooks/calendly"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Created || res.Subscription.URI != mine.URI {
		t.Fatalf("the existing subscription on page 3 was not found: %+v", res)
	}
	if n := s.Requests("GET /webhook_subscriptions"); n != 3 {
		t.Fatalf("%d list requests, want 3 pages", n)
	}
}

func TestEnsureReplacesDisabledOrIncomplete(t *testing.T) {
	s, c := newStandIn(t)
	ctx := context.Background()
	first, err := c.EnsureSubscription(ctx, spec(s, "https://api.example/webhooks/calendly"))
	if err != nil {
		t.Fatal(err)
	}
	s.Disable(first.Subscription.URI)
	res, err := c.EnsureSubscription(ctx, spec(s, "https://api.example/webhooks/calendly"))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || len(res.Deleted) != 1 || res.Deleted[0] != first.Subscription.URI || res.Subscription.State != "active" {
		t.Fatalf("disabled subscription not replaced: %+v", res)
	}
	// a subscription for our URL with only one of the events is replaced too
	for _, sub := range s.Subscriptions() {
		if err := c.DeleteSubscription(ctx, sub.URI); err != nil {
			t.Fatal(err)
		}
	}
	partial := s.AddSubscription("https://api.example/webhooks/calendly", []string{"invitee.created"}, testKey)
	res, err = c.EnsureSubscription(ctx, spec(s, "https://api.example/webhooks/calendly"))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || len(res.Deleted) != 1 || res.Deleted[0] != partial.URI {
		t.Fatalf("incomplete subscription not replaced: %+v", res)
	}
	if subs := s.Subscriptions(); len(subs) != 1 || subs[0].State != "active" {
		t.Fatalf("subscriptions = %+v, want exactly one active", subs)
	}
	// Replace: a rotated signing key needs a new subscription
	sp := spec(s, "https://api.example/webhooks/calendly")
	sp.Replace = true
	res, err = c.EnsureSubscription(ctx, sp)
	if err != nil || !res.Created || len(res.Deleted) != 1 {
		t.Fatalf("replace: %+v %v", res, err)
	}
}

// TestConcurrentEnsure: two runs racing both end with the one
// subscription; the loser's 409 is resolved by listing again.
func TestConcurrentEnsure(t *testing.T) {
	s, c := newStandIn(t)
	var wg sync.WaitGroup
	results := make([]calendly.EnsureResult, 8)
	errs := make([]error, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = c.EnsureSubscription(context.Background(), spec(s, "https://api.example/webhooks/calendly"))
		}()
	}
	wg.Wait()
	if subs := s.Subscriptions(); len(subs) != 1 {
		t.Fatalf("%d subscriptions after concurrent ensures, want 1", len(subs))
	}
	uri := s.Subscriptions()[0].URI
	created := 0
	for i := range results {
		if results[i].Created {
			created++
		}
		if errs[i] != nil || results[i].Subscription.URI != uri {
			t.Fatalf("run %d: %+v %v", i, results[i], errs[i])
		}
	}
	if created != 1 {
		t.Fatalf("%d runs say they created the subscription, want 1", created)
	}
	t.Logf("%d creates raced, %d lists", s.Requests("POST /webhook_subscriptions"), s.Requests("GET /webhook_subscriptions"))
}

func TestUserScope(t *testing.T) {
	s, c := newStandIn(t)
	sp := spec(s, "https://api.example/webhooks/calendly")
	sp.Scope = "user"
	if _, err := c.EnsureSubscription(context.Background(), sp); err == nil || !strings.Contains(err.Error(), "user (URI) is required") {
		t.Fatalf("user scope without a user: %v", err)
	}
	sp.User = s.User
	res, err := c.EnsureSubscription(context.Background(), sp)
	if err != nil || !res.Created || res.Subscription.Scope != "user" || res.Subscription.User == nil || *res.Subscription.User != s.User {
		t.Fatalf("user scope: %+v %v", res, err)
	}
	if again, err := c.EnsureSubscription(context.Background(), sp); err != nil || again.Created {
		t.Fatalf("user scope again: %+v %v", again, err)
	}
}

func TestAPIErrorsKeepTheTokenOut(t *testing.T) {
	s, _ := newStandIn(t)
	var logs bytes.Buffer
	bad := &calendly.Client{BaseURL: s.URL, Token: func(context.Context) (string, error) { return "wrong-" + apiToken, nil }}
	k := &calendly.Keeper{Client: bad, Spec: spec(s, "https://api.example/webhooks/calendly"),
		SigningKey: func(context.Context) ([]byte, error) { return []byte(testKey), nil }, Log: slog.New(slog.NewTextHandler(&logs, nil))}
	err := k.Run(context.Background())
	var apiErr *calendly.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnauthorized || apiErr.Title != "Unauthenticated" {
		t.Fatalf("wrong token: %v, want a 401 APIError", err)
	}
	for _, secret := range []string{apiToken, testKey} {
		if strings.Contains(err.Error(), secret) || strings.Contains(logs.String(), secret) {
			t.Fatalf("a secret leaked: error %q logs %q", err, logs.String())
		}
	}
	// Calendly's 400 details reach the caller
	_, c := newStandIn(t)
	_, err = c.CreateSubscription(context.Background(), calendly.SubscriptionSpec{URL: "https://x.example/h", Organization: s.Organization, Events: []string{"invitee.updated"}})
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest || !strings.Contains(err.Error(), "events") {
		t.Fatalf("invalid event: %v", err)
	}
	// a token that fails to load never reaches the network
	none := &calendly.Client{BaseURL: s.URL, Token: func(context.Context) (string, error) { return "", nil }}
	before := s.Requests("GET /webhook_subscriptions")
	if _, err := none.ListSubscriptions(context.Background(), s.Organization, "organization", ""); err == nil {
		t.Fatal("an empty token was sent")
	}
	if s.Requests("GET /webhook_subscriptions") != before {
		t.Fatal("a request was made without a token")
	}
}

// TestEndToEnd: the Keeper creates the subscription with the signing key
// the webhook is verified with; the stand-in delivers real signed POSTs to the
// handler over HTTP; a subscription Calendly disabled is recreated and
// deliveries resume.
func TestEndToEnd(t *testing.T) {
	f := newFixture(t, testKey, time.Now)
	s, c := newStandIn(t)
	callback := f.URL + "/webhooks/calendly"
	k := &calendly.Keeper{Client: c, Spec: calendly.SubscriptionSpec{URL: callback, Organization: s.Organization},
		SigningKey: f.Handler.Key, Log: slog.New(slog.NewTextHandler(f.Logs, nil))}
	ctx := context.Background()
	if err := k.Run(ctx); err != nil {
		t.Fatal(err)
	}
	deliver := func(name string) []calendlytest.Delivery {
		t.Helper()
		d, err := s.Deliver(ctx, readTestdata(t, name))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := deliver("invitee-created"); len(d) != 1 || d[0].Status != http.StatusAccepted {
		t.Fatalf("delivery: %+v", d)
	}
	if d := deliver("invitee-created"); len(d) != 1 || d[0].Status != http.StatusOK {
		t.Fatalf("redelivery: %+v", d)
	}
	s.Disable(s.Subscriptions()[0].URI)
	if d := deliver("invitee-canceled"); len(d) != 0 {
		t.Fatalf("a disabled subscription delivered: %+v", d)
	}
	if err := k.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if d := deliver("invitee-canceled"); len(d) != 1 || d[0].Status != http.StatusAccepted {
		t.Fatalf("after re-subscribing: %+v", d)
	}
	// a stand-in signing with another key (a subscription made elsewhere) is refused
	s.AddSubscription(callback, calendly.DefaultEvents, "some-other-key")
	d := deliver("rescheduled-created")
	codes := map[int]int{}
	for _, x := range d {
		codes[x.Status]++
	}
	if codes[http.StatusAccepted] != 1 || codes[http.StatusUnauthorized] != 1 {
		t.Fatalf("deliveries %v, want one 202 (our key) and one 401 (other key)", codes)
	}
	if n := len(f.Signals(t)); n != 3 {
		t.Fatalf("%d items, want 3 (created, canceled, rescheduled)", n)
	}
}

// TestStandInMatchesAPIGateway: the apigw adapter lowercases header names
// the way API Gateway does, and the handler finds the signature anyway.
func TestStandInMatchesAPIGateway(t *testing.T) {
	var seen string
	srv := httptest.NewServer(apigw.Handler(Route, func(_ context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		seen = req.Headers["calendly-webhook-signature"]
		return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: "{}"}, nil
	}))
	defer srv.Close()
	s, _ := newStandIn(t)
	s.AddSubscription(srv.URL+"/webhooks/calendly", calendly.DefaultEvents, testKey)
	if _, err := s.Deliver(context.Background(), readTestdata(t, "invitee-created")); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(seen, "t=") || !strings.Contains(seen, ",v1=") {
		t.Fatalf("signature header as the function sees it: %q", seen)
	}
}
