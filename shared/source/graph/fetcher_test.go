package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/core/mail"
	"github.com/stagemover/stagemover/shared/core/signal"
	"github.com/stagemover/stagemover/shared/platform/metrics"
	"github.com/stagemover/stagemover/shared/platform/retry"
	"github.com/stagemover/stagemover/shared/source/graph"
	"github.com/stagemover/stagemover/shared/source/ingest/ingesttest"
	"github.com/stagemover/stagemover/shared/store"
	"github.com/stagemover/stagemover/shared/testkit"
)

var update = flag.Bool("update", false, "rewrite golden files and generated samples")

// fetchRecord builds the fetch item the handler stores for a change
// notification about item id in mailbox.
func fetchRecord(t *testing.T, mailbox, kind, id, changeType string, received time.Time) store.FetchRecord {
	t.Helper()
	seg, typ := "Messages", "#Microsoft.Graph.Message"
	if kind == graph.KindEvents {
		seg, typ = "Events", "#Microsoft.Graph.Event"
	}
	n := graph.Notification{SubscriptionID: "7f105c7d-2dc5-4530-97cd-4e7ae6534c07", ChangeType: changeType,
		Resource: "Users/5b2f7c1e-8d3a-4f6b-9c0e-1a2b3c4d5e6f/" + seg + "/" + id, TenantID: "84bd8158-6d4d-4958-8b9f-9d6445542f95",
		ResourceData: &graph.ResourceData{ODataType: typ, ID: id}}
	return store.FetchRecord{Source: graph.Source, NotificationID: graph.NotificationID(n, received), Mailbox: mailbox,
		Resource: graph.FetchResource(n), Payload: graph.EncodePayload(n, kind), ReceivedAt: received}
}

// goldenSignal is the stable JSON form of a fetched signal.
type goldenSignal struct {
	Source      string        `json:"source"`
	EventID     string        `json:"event_id"`
	PersonEmail string        `json:"person_email"`
	Signal      signal.Signal `json:"signal"`
}

func checkGolden(t *testing.T, name string, recs []store.SignalRecord) {
	t.Helper()
	out := []goldenSignal{}
	for _, r := range recs {
		out = append(out, goldenSignal{r.Source, r.EventID, r.PersonEmail, r.Signal})
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		t.Fatal(err)
	}
	ingesttest.GoldenBytes(t, filepath.Join("testdata", name), buf.Bytes(), *update, "the fetched signals")
}

// watchedMailboxes are the fetcher's GRAPH_MAILBOXES: the test mailbox and
// the mailboxes of the documentation's examples.
var watchedMailboxes = []string{mailbox, "alexw@contoso.onmicrosoft.com", "irvins@m365x214355.onmicrosoft.com"}

func newFetcher(c *graph.Client, now *testkit.Clock) *graph.Fetcher {
	return &graph.Fetcher{Client: c, Mailboxes: watchedMailboxes, Now: now.Now, Log: testkit.DiscardLogger(), InternalDomains: []string{"acme-routing.io"},
		Metrics: metrics.New(nil, "StageMover", "fetcher")}
}

func TestFetchGolden(t *testing.T) {
	fetchedAt := time.Date(2026, 3, 7, 8, 0, 0, 0, time.UTC)
	now := testkit.NewClock(fetchedAt)
	s, c := newStandIn(t, now)
	f := newFetcher(c, now)
	for _, tc := range []struct {
		file, kind, changeType, mailbox, golden string
		signals                                 int
	}{
		{"message-buyer-reply.json", graph.KindMessages, "created", mailbox, "message-buyer-reply.golden.json", 1},
		{"message-auto-reply.json", graph.KindMessages, "created", mailbox, "message-auto-reply.golden.json", 1},
		// the docs' example is mail between two colleagues: no buyer, no signal
		{"message-docs-example.json", graph.KindMessages, "created", "alexw@contoso.onmicrosoft.com", "message-docs-example.golden.json", 0},
		{"event-buyer-demo.json", graph.KindEvents, "created", mailbox, "event-buyer-demo.golden.json", 1},
		{"event-buyer-cancelled.json", graph.KindEvents, "updated", mailbox, "event-buyer-cancelled.golden.json", 1},
		{"event-docs-example.json", graph.KindEvents, "created", "irvins@m365x214355.onmicrosoft.com", "event-docs-example.golden.json", 0},
	} {
		t.Run(tc.file, func(t *testing.T) {
			raw := readTestdata(t, tc.file)
			var id string
			if tc.kind == graph.KindEvents {
				id = s.AddEvent(tc.mailbox, raw)
			} else {
				id = s.AddMessage(tc.mailbox, raw)
			}
			recs, err := f.Fetch(context.Background(), fetchRecord(t, tc.mailbox, tc.kind, id, tc.changeType, fetchedAt))
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != tc.signals {
				t.Fatalf("%d signals, want %d", len(recs), tc.signals)
			}
			for _, r := range recs {
				if err := r.Signal.Validate(); err != nil {
					t.Fatal(err)
				}
				if r.Source != graph.Source || r.PersonEmail == "" || !r.ReceivedAt.Equal(fetchedAt) {
					t.Fatalf("record %+v", r)
				}
			}
			checkGolden(t, tc.golden, recs)
		})
	}
}

// The email as stored is what mail.Read makes sense of in the engine: the
// buyer's new words, without the quoted history; the auto-reply as machine mail.
func TestFetchedEmailReadsCleanly(t *testing.T) {
	now := testkit.NewClock(t0)
	s, c := newStandIn(t, now)
	f := newFetcher(c, now)
	id := s.AddMessage(mailbox, readTestdata(t, "message-buyer-reply.json"))
	recs, err := f.Fetch(context.Background(), fetchRecord(t, mailbox, graph.KindMessages, id, "created", t0))
	if err != nil || len(recs) != 1 {
		t.Fatalf("%v %d", err, len(recs))
	}
	sig := recs[0].Signal
	if sig.Headers["Content-Type"] != "" || sig.Headers["Received"] != "" || sig.Headers["In-Reply-To"] == "" {
		t.Fatalf("headers %v: want the threading headers without content or transport headers", sig.Headers)
	}
	m := mail.Read(sig.Headers, sig.Subject, sig.Body)
	mustContain(t, "text", m.Text, "Could you send over a proposal with pricing")
	if strings.Contains(m.Text, "Great speaking with you today") || m.Machine != "" {
		t.Fatalf("read %+v: quoted history kept or misread as machine mail", m)
	}
	if recs[0].PersonEmail != "dana.whitfield@northwind-logistics.com" || recs[0].EventID != "msg:CAH7pQx1N3u8r=Zt4kWv0dYf2sLq9m@mail.northwind-logistics.com" {
		t.Fatalf("record %+v", recs[0])
	}

	id = s.AddMessage(mailbox, readTestdata(t, "message-auto-reply.json"))
	recs, err = f.Fetch(context.Background(), fetchRecord(t, mailbox, graph.KindMessages, id, "created", t0))
	if err != nil || len(recs) != 1 {
		t.Fatalf("%v %d", err, len(recs))
	}
	if m := mail.Read(recs[0].Signal.Headers, recs[0].Signal.Subject, recs[0].Signal.Body); m.Machine != mail.MachineAutoReply {
		t.Fatalf("auto-reply read as %+v", m)
	}
}

func TestOutboundMailNamesTheBuyer(t *testing.T) {
	now := testkit.NewClock(t0)
	s, c := newStandIn(t, now)
	f := newFetcher(c, now)
	f.InternalDomains = nil // the mailbox's own domain is internal anyway
	id := s.AddMessage(mailbox, []byte(`{"internetMessageId":"<out-1@acme-routing.io>","subject":"Proposal","receivedDateTime":"2026-03-02T11:00:00Z",
		"body":{"contentType":"html","content":"<p>Proposal attached, pricing on page 3.</p>"},
		"from":{"emailAddress":{"name":"Sam Ortega","address":"Sam.Ortega@acme-routing.io"}},
		"toRecipients":[{"emailAddress":{"address":"priya.nair@acme-routing.io"}},{"emailAddress":{"address":"Dana.Whitfield@northwind-logistics.com"}}]}`))
	recs, err := f.Fetch(context.Background(), fetchRecord(t, mailbox, graph.KindMessages, id, "created", t0))
	if err != nil || len(recs) != 1 {
		t.Fatalf("%v %d", err, len(recs))
	}
	if recs[0].PersonEmail != "dana.whitfield@northwind-logistics.com" || recs[0].Signal.From != "Sam.Ortega@acme-routing.io" {
		t.Fatalf("record %+v", recs[0])
	}
}

func TestDraftsAndDeletedItemsAreNoSignals(t *testing.T) {
	now := testkit.NewClock(t0)
	s, c := newStandIn(t, now)
	f := newFetcher(c, now)
	ctx := context.Background()
	draft := s.AddMessage(mailbox, []byte(`{"isDraft":true,"subject":"draft","from":{"emailAddress":{"address":"sam.ortega@acme-routing.io"}},"toRecipients":[{"emailAddress":{"address":"x@buyer.example"}}]}`))
	if recs, err := f.Fetch(ctx, fetchRecord(t, mailbox, graph.KindMessages, draft, "created", t0)); err != nil || len(recs) != 0 {
		t.Fatalf("draft: %v %v", err, recs)
	}
	// deleted before the fetch: 404, not a failure
	gone := s.AddMessage(mailbox, readTestdata(t, "message-buyer-reply.json"))
	s.Delete(mailbox, "messages", gone)
	if recs, err := f.Fetch(ctx, fetchRecord(t, mailbox, graph.KindMessages, gone, "created", t0)); err != nil || len(recs) != 0 {
		t.Fatalf("deleted message: %v %v", err, recs)
	}
	// a "deleted" change is not even fetched
	before := len(s.Requests())
	if recs, err := f.Fetch(ctx, fetchRecord(t, mailbox, graph.KindEvents, "AAMkEvGone=", "deleted", t0)); err != nil || len(recs) != 0 {
		t.Fatalf("deleted event: %v %v", err, recs)
	}
	if len(s.Requests()) != before {
		t.Fatal("a deleted item was fetched")
	}
}

func TestFetchErrorsAreRetryable(t *testing.T) {
	now := testkit.NewClock(t0)
	s, c := newStandIn(t, now)
	f := newFetcher(c, now)
	id := s.AddMessage(mailbox, readTestdata(t, "message-buyer-reply.json"))
	rec := fetchRecord(t, mailbox, graph.KindMessages, id, "created", t0)
	for _, fault := range []struct{ status, retryAfter int }{{429, 30}, {500, 0}, {503, 5}} {
		s.Fail(http.MethodGet, "/messages/", fault.status, fault.retryAfter, 1)
		_, err := f.Fetch(context.Background(), rec)
		if !retry.IsLater(err) {
			t.Fatalf("%d: err = %v, want retry.ErrLater", fault.status, err)
		}
	}
	if recs, err := f.Fetch(context.Background(), rec); err != nil || len(recs) != 1 {
		t.Fatalf("after the faults: %v %d", err, len(recs))
	}
	// a malformed item is a permanent failure, not a silent drop
	bad := rec
	bad.Payload = "{not json"
	if _, err := f.Fetch(context.Background(), bad); !errors.Is(err, graph.ErrBadFetchItem) || retry.IsLater(err) {
		t.Fatalf("bad payload: %v", err)
	}
}

func TestEventUpdatesAreNewSignalsOnlyWhenTheEventChanged(t *testing.T) {
	now := testkit.NewClock(t0)
	s, c := newStandIn(t, now)
	f := newFetcher(c, now)
	ctx := context.Background()
	id := s.AddEvent(mailbox, readTestdata(t, "event-buyer-demo.json"))
	first, err := f.Fetch(ctx, fetchRecord(t, mailbox, graph.KindEvents, id, "updated", t0))
	if err != nil || len(first) != 1 || first[0].Signal.Status != "rescheduled" {
		t.Fatalf("%v %+v", err, first)
	}
	again, _ := f.Fetch(ctx, fetchRecord(t, mailbox, graph.KindEvents, id, "updated", t0))
	if len(again) != 1 || again[0].EventID != first[0].EventID {
		t.Fatalf("the same version fetched twice must have the same event id: %+v", again)
	}
	s.UpdateEvent(mailbox, id, map[string]any{"start": map[string]any{"dateTime": "2026-03-11T15:00:00.0000000", "timeZone": "UTC"},
		"lastModifiedDateTime": "2026-03-04T10:00:00Z"})
	moved, _ := f.Fetch(ctx, fetchRecord(t, mailbox, graph.KindEvents, id, "updated", t0))
	if len(moved) != 1 || moved[0].EventID == first[0].EventID || moved[0].Signal.StartsAt.Day() != 11 {
		t.Fatalf("a moved meeting must be a new signal: %+v", moved)
	}
	// the buyer declines: canceled
	s.UpdateEvent(mailbox, id, map[string]any{"attendees": []any{
		map[string]any{"type": "required", "status": map[string]any{"response": "declined", "time": "2026-03-05T08:00:00Z"},
			"emailAddress": map[string]any{"address": "dana.whitfield@northwind-logistics.com"}}}})
	declined, _ := f.Fetch(ctx, fetchRecord(t, mailbox, graph.KindEvents, id, "updated", t0))
	if len(declined) != 1 || declined[0].Signal.Status != "canceled" {
		t.Fatalf("declined by the buyer: %+v", declined)
	}
	// edited after the meeting took place: no booking news
	s.UpdateEvent(mailbox, id, map[string]any{"attendees": []any{}, "lastModifiedDateTime": "2026-03-20T10:00:00Z",
		"organizer": map[string]any{"emailAddress": map[string]any{"address": "dana.whitfield@northwind-logistics.com"}}})
	late, err := f.Fetch(ctx, fetchRecord(t, mailbox, graph.KindEvents, id, "updated", t0))
	if err != nil || len(late) != 0 {
		t.Fatalf("post-meeting edit: %v %+v", err, late)
	}
}

func TestLifecycleActions(t *testing.T) {
	now := testkit.NewClock(t0)
	s, c := newStandIn(t, now)
	e := newEnv(t, now)
	ctx := context.Background()
	renewer := &graph.Renewer{Client: c, Now: now.Now, Log: testkit.DiscardLogger(), Subscriptions: graph.SubscriptionConfig{
		Mailboxes: []string{mailbox}, NotificationURL: e.url(""),
		ClientState: func(context.Context) (string, error) { return clientState, nil }}}
	s.AddUser(mailbox)
	if err := renewer.Run(ctx); err != nil {
		t.Fatal(err)
	}
	subs := s.Subscriptions()
	if len(subs) != 2 {
		t.Fatalf("%d subscriptions", len(subs))
	}
	f := newFetcher(c, now)
	f.Renewer = renewer
	lifecycle := func(sub, event, kind string) store.FetchRecord {
		n := graph.Notification{SubscriptionID: sub, LifecycleEvent: event, SubscriptionExpirationDateTime: "2026-03-04T12:00:00Z"}
		return store.FetchRecord{Source: graph.Source, NotificationID: graph.NotificationID(n, now.Now()), Mailbox: mailbox,
			Resource: graph.FetchResource(n), Payload: graph.EncodePayload(n, kind), ReceivedAt: now.Now()}
	}

	// reauthorizationRequired: POST /subscriptions/{id}/reauthorize
	if recs, err := f.Fetch(ctx, lifecycle(subs[0].ID, graph.LifecycleReauthorizationRequired, graph.KindMessages)); err != nil || len(recs) != 0 {
		t.Fatalf("reauthorize: %v %v", err, recs)
	}
	if s.Subscriptions()[0].Reauthorized != 1 {
		t.Fatal("not reauthorized")
	}

	// missed: resync the mailbox's recent messages
	s.AddMessage(mailbox, readTestdata(t, "message-buyer-reply.json")) // received 2026-03-02T09:41:07Z
	s.AddMessage(mailbox, []byte(`{"subject":"old","receivedDateTime":"2026-02-20T09:00:00Z","from":{"emailAddress":{"address":"old@buyer.example"}}}`))
	recs, err := f.Fetch(ctx, lifecycle(subs[0].ID, graph.LifecycleMissed, graph.KindMessages))
	if err != nil || len(recs) != 1 || recs[0].PersonEmail != "dana.whitfield@northwind-logistics.com" {
		t.Fatalf("resync: %v %+v", err, recs)
	}

	// subscriptionRemoved: recreated (through the validation handshake), then resynced
	if _, err := s.Remove(ctx, subs[1].ID); err != nil {
		t.Fatal(err)
	}
	if len(s.Subscriptions()) != 1 {
		t.Fatal("the stand-in did not remove the subscription")
	}
	if _, err := f.Fetch(ctx, lifecycle(subs[1].ID, graph.LifecycleSubscriptionRemoved, graph.KindEvents)); err != nil {
		t.Fatal(err)
	}
	after := s.Subscriptions()
	if len(after) != 2 || after[1].ID == subs[1].ID || !strings.HasSuffix(after[1].Resource, "/events") {
		t.Fatalf("subscriptions after recreate: %+v", after)
	}

	// reauthorizing a subscription that is gone recreates it
	if _, err := s.Remove(ctx, after[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Fetch(ctx, lifecycle(after[0].ID, graph.LifecycleReauthorizationRequired, graph.KindMessages)); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Subscriptions()); n != 2 {
		t.Fatalf("%d subscriptions after reauthorizing a removed one, want 2", n)
	}
}

// Issue 8, point 3 (defence in depth): a fetch item whose mailbox is not in
// GRAPH_MAILBOXES (stored before the handler checked, or the mailbox was
// dropped from the list since) is refused before any Graph request: a
// permanent error, so it ends in the failure queue, and counted.
func TestFetcherNeverReadsAnUnwatchedMailbox(t *testing.T) {
	now := testkit.NewClock(t0)
	s, c := newStandIn(t, now)
	const other = "ceo@acme-routing.io"
	otherID := s.AddMessage(other, readTestdata(t, "message-buyer-reply.json"))
	s.AddMessage(mailbox, readTestdata(t, "message-buyer-reply.json"))
	f := newFetcher(c, now)
	ctx := context.Background()

	byResource := func(mb, resource string) store.FetchRecord {
		rec := fetchRecord(t, mailbox, graph.KindMessages, otherID, "created", t0)
		n := graph.Notification{SubscriptionID: "s-1", ChangeType: "created", Resource: resource,
			ResourceData: &graph.ResourceData{ODataType: "#Microsoft.Graph.Message", ID: otherID}}
		rec.Mailbox, rec.Resource, rec.Payload = mb, resource, graph.EncodePayload(n, graph.KindMessages)
		return rec
	}
	lifecycle := func(mb, event string) store.FetchRecord {
		n := graph.Notification{SubscriptionID: "s-1", LifecycleEvent: event}
		return store.FetchRecord{Source: graph.Source, NotificationID: graph.NotificationID(n, t0), Mailbox: mb,
			Resource: graph.FetchResource(n), Payload: graph.EncodePayload(n, graph.KindMessages), ReceivedAt: t0}
	}
	for name, rec := range map[string]store.FetchRecord{
		"item's mailbox":                  fetchRecord(t, other, graph.KindMessages, otherID, "created", t0),
		"item's mailbox, other case":      fetchRecord(t, "CEO@Acme-Routing.io", graph.KindMessages, otherID, "created", t0),
		"no mailbox, resource by address": byResource("", "users/"+other+"/messages/"+otherID),
		"no mailbox, resource by id":      byResource("", "users/5b2f7c1e-8d3a-4f6b-9c0e-1a2b3c4d5e6f@84bd8158-6d4d-4958-8b9f-9d6445542f95/messages/"+otherID),
		"mailbox is a user id":            byResource("5b2f7c1e-8d3a-4f6b-9c0e-1a2b3c4d5e6f@84bd8158-6d4d-4958-8b9f-9d6445542f95", "users/x/messages/"+otherID),
		"resource disagrees":              byResource(mailbox, "users/"+other+"/messages/"+otherID),
		"missed (resync)":                 lifecycle(other, graph.LifecycleMissed),
		"subscriptionRemoved (recreate)":  lifecycle(other, graph.LifecycleSubscriptionRemoved),
	} {
		t.Run(name, func(t *testing.T) {
			before := len(s.Requests())
			metric := f.Metrics.Total(graph.MetricMailboxNotWatched)
			recs, err := f.Fetch(ctx, rec)
			if !errors.Is(err, graph.ErrMailboxNotWatched) || retry.IsLater(err) || len(recs) != 0 {
				t.Fatalf("Fetch = %d signals, %v; want ErrMailboxNotWatched, not retryable", len(recs), err)
			}
			if reqs := s.Requests()[before:]; len(reqs) != 0 {
				t.Fatalf("the fetcher called Graph for an unwatched mailbox: %v", reqs)
			}
			if got := f.Metrics.Total(graph.MetricMailboxNotWatched); got != metric+1 {
				t.Fatalf("%s counted %v times, want once", graph.MetricMailboxNotWatched, got-metric)
			}
		})
	}
	// no mailboxes configured: none is watched
	none := newFetcher(c, now)
	none.Mailboxes = nil
	if _, err := none.Fetch(ctx, fetchRecord(t, mailbox, graph.KindMessages, otherID, "created", t0)); !errors.Is(err, graph.ErrMailboxNotWatched) {
		t.Fatalf("no mailboxes configured: %v", err)
	}
	// the watched mailbox in another letter case is read
	id := s.AddMessage(mailbox, readTestdata(t, "message-auto-reply.json"))
	if recs, err := f.Fetch(ctx, fetchRecord(t, "Sam.Ortega@ACME-routing.io", graph.KindMessages, id, "created", t0)); err != nil || len(recs) != 1 {
		t.Fatalf("watched mailbox: %v %d", err, len(recs))
	}
}

// Issue 8, point 5: a 404 that does not say the item is gone (the mailbox
// cannot be resolved, has no REST access, ...) fails the fetch, so the
// fetcher retries it and it ends in the failure queue with FetchFailed; only
// item-not-found means deleted (no signal, no error).
func TestOnlyItemNotFoundMeansDeleted(t *testing.T) {
	now := testkit.NewClock(t0)
	s, c := newStandIn(t, now)
	f := newFetcher(c, now)
	ctx := context.Background()
	msg := s.AddMessage(mailbox, readTestdata(t, "message-buyer-reply.json"))
	evt := s.AddEvent(mailbox, readTestdata(t, "event-buyer-demo.json"))
	for _, kind := range []string{graph.KindMessages, graph.KindEvents} {
		id := msg
		if kind == graph.KindEvents {
			id = evt
		}
		for _, code := range []string{"ErrorInvalidUser", "MailboxNotEnabledForRESTAPI", "ResourceNotFound", ""} {
			s.FailCode(http.MethodGet, "/"+kind+"/", http.StatusNotFound, code, "from the test", 1)
			recs, err := f.Fetch(ctx, fetchRecord(t, mailbox, kind, id, "created", t0))
			if err == nil || len(recs) != 0 {
				t.Errorf("%s: 404 %q: %d signals, err %v; want the fetch to fail", kind, code, len(recs), err)
			} else if code != "" {
				mustContain(t, "error", err.Error(), "404 "+code)
			}
		}
		// the item itself is gone: nothing to fetch, not a failure
		for _, code := range []string{"ErrorItemNotFound", "itemNotFound"} {
			s.FailCode(http.MethodGet, "/"+kind+"/", http.StatusNotFound, code, "The specified object was not found in the store.", 1)
			if recs, err := f.Fetch(ctx, fetchRecord(t, mailbox, kind, id, "created", t0)); err != nil || len(recs) != 0 {
				t.Errorf("%s: 404 %s: %d signals, %v; want none and no error", kind, code, len(recs), err)
			}
		}
	}
	// a watched mailbox Graph cannot resolve (the stand-in has no such
	// user): 404 ErrorInvalidUser from the real request path
	const gone = "alexw@contoso.onmicrosoft.com"
	_, err := f.Fetch(ctx, fetchRecord(t, gone, graph.KindMessages, "AAMkAGx=", "created", t0))
	if err == nil || !strings.Contains(err.Error(), "ErrorInvalidUser") {
		t.Fatalf("unresolvable mailbox: %v, want the ErrorInvalidUser failure", err)
	}
}
