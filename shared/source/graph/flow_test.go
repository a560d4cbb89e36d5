package graph_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stagemover/stagemover"
	"github.com/stagemover/stagemover/shared/dev/streams"
	"github.com/stagemover/stagemover/shared/platform/metrics"
	"github.com/stagemover/stagemover/shared/source/fetcher"
	"github.com/stagemover/stagemover/shared/source/graph"
	"github.com/stagemover/stagemover/shared/source/graph/graphtest"
	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/store"
	"github.com/stagemover/stagemover/shared/testkit"
)

func newRenewer(c *graph.Client, now *testkit.Clock, notificationURL string, mailboxes ...string) *graph.Renewer {
	return &graph.Renewer{Client: c, Now: now.Now, Log: testkit.DiscardLogger(), Subscriptions: graph.SubscriptionConfig{
		Mailboxes: mailboxes, NotificationURL: notificationURL,
		ClientState: func(context.Context) (string, error) { return clientState, nil }}}
}

func countMethod(reqs []string, method, path string) int {
	n := 0
	for _, r := range reqs {
		if strings.HasPrefix(r, method+" ") && strings.Contains(r, path) {
			n++
		}
	}
	return n
}

// TestSubscriptionsCreatedThroughTheRealHandshake: the stand-in validates
// the notification URL by calling the handler (served like API Gateway over
// HTTP) with ?validationToken=..., as Graph does, before creating anything.
func TestSubscriptionsCreatedThroughTheRealHandshake(t *testing.T) {
	now := testkit.NewClock(t0)
	s, c := newStandIn(t, now)
	e := newEnv(t, now)
	const second = "li.chen@acme-routing.io"
	s.AddUser(mailbox)
	s.AddUser(second)
	r := newRenewer(c, now, e.url(""), mailbox, strings.ToUpper(second))
	logs := &testkit.LogBuffer{}
	r.Log = logs.Logger()
	ctx := context.Background()
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	subs := s.Subscriptions()
	if len(subs) != 4 {
		t.Fatalf("%d subscriptions, want 4 (messages and events for 2 mailboxes)", len(subs))
	}
	vals := s.Validations()
	if len(vals) != 4 {
		t.Fatalf("%d validation requests, want 4", len(vals))
	}
	for _, v := range vals {
		if v.Status != 200 || !strings.HasPrefix(v.ContentType, "text/plain") || v.Body != v.Token || v.Elapsed > 10*time.Second {
			t.Fatalf("validation %+v", v)
		}
	}
	want := map[string]string{
		"users/" + mailbox + "/messages": "created", "users/" + mailbox + "/events": "created,updated",
		"users/" + second + "/messages": "created", "users/" + second + "/events": "created,updated",
	}
	for _, sub := range subs {
		if want[sub.Resource] != sub.ChangeType {
			t.Errorf("subscription %s: changeType %q", sub.Resource, sub.ChangeType)
		}
		u, err := url.Parse(sub.NotificationURL)
		if err != nil || !strings.HasSuffix(sub.Resource, "/"+u.Query().Get("kind")) || !strings.Contains(sub.Resource, u.Query().Get("mailbox")) {
			t.Errorf("notification URL %q does not name the subscription's mailbox and kind", sub.NotificationURL)
		}
		if sub.LifecycleNotificationURL != sub.NotificationURL {
			t.Errorf("lifecycle URL %q", sub.LifecycleNotificationURL)
		}
		if sub.ClientState != clientState {
			t.Errorf("clientState not set on %s", sub.Resource)
		}
		if d := sub.Expires.Sub(now.Now()); d > graph.MaxSubscriptionLifetime || d < graph.MaxSubscriptionLifetime-time.Hour {
			t.Errorf("expires in %s", d)
		}
	}
	if n := len(e.items(t)); n != 0 {
		t.Fatalf("the handshakes stored %d items", n)
	}
	mustContain(t, "renewer logs", logs.String(), "graph subscription created")
	for _, secret := range []string{clientState, s.ClientSecret, "eyJ0eXAi"} {
		if strings.Contains(logs.String()+e.logs.String(), secret) {
			t.Fatalf("logs contain a secret (%q)", secret)
		}
	}

	// idempotent: a second run creates and renews nothing
	before := len(s.Requests())
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	later := s.Requests()[before:]
	if countMethod(later, "POST", "/subscriptions") != 0 || countMethod(later, "PATCH", "/subscriptions") != 0 || len(s.Subscriptions()) != 4 {
		t.Fatalf("second run did work: %v", later)
	}
}

func TestRenewerRenewsWithinADayOfExpiry(t *testing.T) {
	now := testkit.NewClock(t0)
	s, c := newStandIn(t, now)
	e := newEnv(t, now)
	s.AddUser(mailbox)
	r := newRenewer(c, now, e.url(""), mailbox)
	ctx := context.Background()
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, sub := range s.Subscriptions() {
		ids[sub.ID] = true
	}
	now.Advance(40 * time.Hour) // ~30 h left: not yet
	before := len(s.Requests())
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if n := countMethod(s.Requests()[before:], "PATCH", "/subscriptions/"); n != 0 {
		t.Fatalf("%d renewals with 30 h left", n)
	}
	now.Advance(10 * time.Hour) // ~20 h left: renewed
	before = len(s.Requests())
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if n := countMethod(s.Requests()[before:], "PATCH", "/subscriptions/"); n != 2 {
		t.Fatalf("%d renewals with 20 h left, want 2", n)
	}
	for _, sub := range s.Subscriptions() {
		if !ids[sub.ID] {
			t.Fatalf("renewal created a new subscription %s", sub.ID)
		}
		if left := sub.Expires.Sub(now.Now()); left < 70*time.Hour {
			t.Fatalf("renewed subscription expires in %s", left)
		}
	}
	// the renewer did not run for days: the subscriptions expired and are recreated
	now.Advance(80 * time.Hour)
	if len(s.Subscriptions()) != 0 {
		t.Fatal("stand-in kept expired subscriptions")
	}
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Subscriptions()); n != 2 {
		t.Fatalf("%d subscriptions after expiry, want 2 recreated", n)
	}
}

func TestRenewerReportsAFailedHandshake(t *testing.T) {
	now := testkit.NewClock(t0)
	s, c := newStandIn(t, now)
	s.AddUser(mailbox)
	// an endpoint that answers the handshake with JSON, not the token
	wrong := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	}))
	defer wrong.Close()
	r := newRenewer(c, now, wrong.URL+"/webhooks/graph", mailbox)
	err := r.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "validation") {
		t.Fatalf("err = %v, want the validation failure", err)
	}
	if n := len(s.Subscriptions()); n != 0 {
		t.Fatalf("%d subscriptions created without a valid handshake", n)
	}
}

// TestNotificationToSignal runs the whole path: the stand-in notifies the
// handler over HTTP, the fetch item goes through DynamoDB Local's stream to
// the fetcher function's logic with the template's settings, the fetcher
// reads the message from the stand-in, and the signal lands in the table.
// A redelivery stores nothing new anywhere.
func TestNotificationToSignal(t *testing.T) {
	now := testkit.NewClock(t0)
	s, c := newStandIn(t, now)
	e := newEnv(t, now)
	s.AddUser(mailbox)
	ctx := context.Background()
	if err := newRenewer(c, now, e.url(""), mailbox).Run(ctx); err != nil {
		t.Fatal(err)
	}
	src := newFetcher(c, now)
	logs := &testkit.LogBuffer{}
	src.Log = logs.Logger()
	fm := metrics.New(nil, "StageMover", "fetcher")
	fn := &fetcher.Fetcher{Store: e.st, Sources: map[string]fetcher.Source{graph.Source: src}, Attempts: 3, Log: src.Log, Metrics: fm}
	var signals atomic.Int32
	var mu sync.Mutex
	var failures []events.DynamoDBEventRecord
	sources, err := streams.FromTemplate(stagemover.Template)
	if err != nil {
		t.Fatal(err)
	}
	var subs []streams.Subscription
	for _, so := range sources {
		switch so.Function {
		case "FetcherFunction":
			subs = append(subs, streams.Subscription{Source: so, Handler: fn.Handle, OnFailure: func(_ context.Context, recs []events.DynamoDBEventRecord, _ error) {
				mu.Lock()
				failures = append(failures, recs...)
				mu.Unlock()
			}})
		case "EvaluatorFunction":
			subs = append(subs, streams.Subscription{Source: so, Handler: func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
				signals.Add(int32(len(ev.Records)))
				return events.DynamoDBEventResponse{}, nil
			}})
		}
	}
	poller := streams.NewPoller(e.tbl.Streams, e.tbl.StreamARN, nil, subs...)
	poller.Backoff = func(int) time.Duration { return time.Millisecond }
	drain := func() {
		t.Helper()
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if _, err := poller.Drain(dctx); err != nil {
			t.Fatal(err)
		}
	}

	id := s.AddMessage(mailbox, readTestdata(t, "message-buyer-reply.json"))
	s.Fail(http.MethodGet, "/messages/", http.StatusTooManyRequests, 1, 1) // the first fetch is throttled
	codes, err := s.Notify(ctx, mailbox, "messages", id, "created")
	if err != nil || len(codes) != 1 || codes[0] != 202 {
		t.Fatalf("delivery: %v %v", codes, err)
	}
	drain()
	if len(failures) != 0 || signals.Load() != 1 {
		t.Fatalf("failures %d, signals %d, want 0 and 1", len(failures), signals.Load())
	}
	var stored []store.SignalRecord
	for _, it := range e.items(t) {
		if rec, err := store.SignalFromItem(it); err == nil {
			stored = append(stored, rec)
		}
	}
	if len(stored) != 1 || stored[0].Source != graph.Source || stored[0].PersonEmail != "dana.whitfield@northwind-logistics.com" ||
		stored[0].Signal.Kind != "email" || stored[0].DealID != 0 {
		t.Fatalf("stored signals %+v", stored)
	}

	// Graph redelivers (our answer was lost): nothing new anywhere
	items := len(e.items(t))
	codes, err = s.Notify(ctx, mailbox, "messages", id, "created")
	if err != nil || codes[0] != 202 {
		t.Fatalf("redelivery: %v %v", codes, err)
	}
	drain()
	if got := len(e.items(t)); got != items || signals.Load() != 1 {
		t.Fatalf("after the redelivery: %d items (was %d), %d signals", got, items, signals.Load())
	}
	if fm.Total(metrics.SignalStored) != 1 {
		t.Fatalf("SignalStored %v", fm.Total(metrics.SignalStored))
	}
	mustContain(t, "fetcher logs", logs.String(), "429 TooManyRequests")       // the throttled attempt is logged...
	for _, secret := range []string{clientState, s.ClientSecret, "eyJ0eXAi"} { // ...without credentials
		if strings.Contains(logs.String()+e.logs.String(), secret) {
			t.Fatalf("logs contain a secret (%q)", secret)
		}
	}
}

func TestRenewerReportsASlowHandshake(t *testing.T) {
	now := testkit.NewClock(t0)
	s, c := newStandIn(t, now, graphtest.WithValidationTimeout(200*time.Millisecond)) // Graph: 10 s
	s.AddUser(mailbox)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Second)
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(r.URL.Query().Get("validationToken")))
	}))
	defer slow.Close()
	err := newRenewer(c, now, slow.URL+"/webhooks/graph", mailbox).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "within 10 seconds") || len(s.Subscriptions()) != 0 {
		t.Fatalf("err = %v, subscriptions %d", err, len(s.Subscriptions()))
	}
}

func TestParseMailboxes(t *testing.T) {
	got, err := graph.ParseMailboxes(" Sam.Ortega@acme-routing.io, li.chen@acme-routing.io,,sam.ortega@acme-routing.io ")
	if err != nil || strings.Join(got, "|") != "sam.ortega@acme-routing.io|li.chen@acme-routing.io" {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := graph.ParseMailboxes("sam.ortega@acme-routing.io, not-an-address"); err == nil {
		t.Fatal("accepted a non-address")
	}
	if got, err := graph.ParseMailboxes(""); err != nil || len(got) != 0 {
		t.Fatalf("empty: %v %v", got, err)
	}
}

// A subscription left over for a mailbox since dropped from GRAPH_MAILBOXES
// keeps notifying: the handler acknowledges and refuses each notification,
// and nothing reads that mailbox.
func TestNotificationFromADroppedMailboxReadsNothing(t *testing.T) {
	now := testkit.NewClock(t0)
	s, c := newStandIn(t, now)
	e := newEnv(t, now) // watches mailbox only
	const dropped = "li.chen@acme-routing.io"
	s.AddUser(mailbox)
	s.AddUser(dropped)
	ctx := context.Background()
	if err := newRenewer(c, now, e.url(""), mailbox, dropped).Run(ctx); err != nil {
		t.Fatal(err)
	}
	id := s.AddMessage(dropped, readTestdata(t, "message-buyer-reply.json"))
	before := len(s.Requests())
	codes, err := s.Notify(ctx, dropped, "messages", id, "created")
	if err != nil || len(codes) != 1 || codes[0] != 202 {
		t.Fatalf("delivery: %v %v, want 202 (acknowledged, so Graph does not redeliver)", codes, err)
	}
	if n := len(e.items(t)); n != 0 {
		t.Fatalf("%d items stored for a mailbox that is not watched", n)
	}
	if got := e.ignored(ingest.Unwatched); got != 1 {
		t.Fatalf("%s (unwatched) = %v", ingest.MetricIgnored, got)
	}
	if reqs := s.Requests()[before:]; countMethod(reqs, "GET", "/users/") != 0 {
		t.Fatalf("Graph was read: %v", reqs)
	}
}
