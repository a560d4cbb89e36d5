package graph_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/source/graph"
	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/testkit"
)

var t0 = time.Date(2026, 3, 2, 9, 41, 20, 0, time.UTC)

func TestValidationHandshakeEchoesDecodedToken(t *testing.T) {
	e := newEnv(t, testkit.NewClock(t0))
	token := "Validation: Testing client application reachability for subscription Request-Id: 3b3f9821-ce3f-23d9-879b-00a23f3c2d1e"
	for name, rawQuery := range map[string]string{
		"percent-encoded": "validationToken=" + url.PathEscape(token),
		"form-encoded":    url.Values{"validationToken": {token}}.Encode(), // spaces as '+'
		"with mailbox":    url.Values{"validationToken": {token}, "mailbox": {"sam.ortega@acme-routing.io"}, "kind": {"messages"}}.Encode(),
		"lowercase hex":   "validationToken=Validation%3a+Testing+client+application+reachability+for+subscription+Request-Id%3a+3b3f9821-ce3f-23d9-879b-00a23f3c2d1e",
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			r := post(t, e.url(rawQuery), "text/plain; charset=utf-8", nil)
			if elapsed := time.Since(start); elapsed > 10*time.Second {
				t.Fatalf("handshake took %s, Graph's deadline is 10 s", elapsed)
			}
			if r.status != 200 {
				t.Fatalf("status %d (%s), want 200", r.status, r.body)
			}
			if !strings.HasPrefix(r.contentType, "text/plain") {
				t.Fatalf("content type %q, want text/plain", r.contentType)
			}
			if r.body != token {
				t.Fatalf("body %q, want the decoded token %q", r.body, token)
			}
		})
	}
	// characters that need escaping come back decoded, byte for byte
	odd := `a&b=c+d/e?f#g%h<script>`
	r := post(t, e.url("validationToken="+url.QueryEscape(odd)), "", nil)
	if r.status != 200 || r.body != odd {
		t.Fatalf("odd token: %d %q, want 200 %q", r.status, r.body, odd)
	}
	if n := len(e.items(t)); n != 0 {
		t.Fatalf("a handshake stored %d items", n)
	}
}

func TestValidationHandshakeRejectsUnusableTokens(t *testing.T) {
	e := newEnv(t, testkit.NewClock(t0))
	for name, rawQuery := range map[string]string{
		"empty":        "validationToken=",
		"control char": "validationToken=" + url.QueryEscape("abc\r\nSet-Cookie: x=y"),
		"huge":         "validationToken=" + strings.Repeat("A", 5000),
		"bad escape":   "validationToken=%zz",
	} {
		t.Run(name, func(t *testing.T) {
			r := post(t, e.url(rawQuery), "", nil)
			if r.status != 400 {
				t.Fatalf("status %d, want 400", r.status)
			}
			var body map[string]string
			if err := json.Unmarshal([]byte(r.body), &body); err != nil || body["error"] == "" {
				t.Fatalf("want a JSON reason, got %q", r.body)
			}
		})
	}
	if n := len(e.items(t)); n != 0 {
		t.Fatalf("stored %d items", n)
	}
}

type accepted struct {
	Status    string `json:"status"`
	Stored    int    `json:"stored"`
	Duplicate int    `json:"duplicate"`
	Rejected  int    `json:"rejected"`
	Ignored   int    `json:"ignored"`
	Unwatched int    `json:"unwatched"`
}

func decodeAccepted(t *testing.T, r response) accepted {
	t.Helper()
	if r.status != 202 {
		t.Fatalf("status %d (%s), want 202", r.status, r.body)
	}
	var a accepted
	if err := json.Unmarshal([]byte(r.body), &a); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	return a
}

func TestNotificationStoredAsFetchItem(t *testing.T) {
	e := newEnv(t, testkit.NewClock(t0))
	body := readTestdata(t, "notification-message-created.json")
	r := post(t, e.url("kind=messages&mailbox=sam.ortega%40acme-routing.io"), "application/json", body)
	if a := decodeAccepted(t, r); a.Stored != 1 || a.Duplicate != 0 || a.Rejected != 0 {
		t.Fatalf("answer %+v, want 1 stored", a)
	}
	fs := e.fetches(t)
	if len(fs) != 1 {
		t.Fatalf("%d fetch items, want 1", len(fs))
	}
	f := fs[0]
	ns, _ := graph.ParseNotifications(body)
	wantResource := "users/5b2f7c1e-8d3a-4f6b-9c0e-1a2b3c4d5e6f@84bd8158-6d4d-4958-8b9f-9d6445542f95/messages/AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A9HRsdplw2EuW2fFqt5C6RgAABZz9vAAA"
	switch {
	case f.Source != graph.Source:
		t.Errorf("source %q", f.Source)
	case f.NotificationID != graph.NotificationID(ns[0], t0):
		t.Errorf("notification id %q", f.NotificationID)
	case f.Mailbox != "sam.ortega@acme-routing.io":
		t.Errorf("mailbox %q, want the notification URL's", f.Mailbox)
	case f.Resource != wantResource:
		t.Errorf("resource %q", f.Resource)
	case !f.ReceivedAt.Equal(t0):
		t.Errorf("received_at %s", f.ReceivedAt)
	}
	if strings.Contains(f.Payload, clientState) {
		t.Fatalf("the stored payload holds the clientState secret: %s", f.Payload)
	}
	p, err := graph.DecodePayload(f.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if p.Kind != graph.KindMessages || p.ChangeType != "created" || p.ResourceData == nil || p.ResourceData.ID == "" {
		t.Fatalf("payload %+v", p)
	}
	if got := e.metrics.Total(ingest.MetricStored); got != 1 {
		t.Fatalf("stored metric %v", got)
	}
}

// Without the notification URL's mailbox (a subscription this stack did
// not make), the resource path names the mailbox, but only by address:
// users/{id} cannot be checked against GRAPH_MAILBOXES (see
// TestNotificationForAnUnwatchedMailboxIsRefused).
func TestMailboxFallsBackToTheResourcePath(t *testing.T) {
	e := newEnv(t, testkit.NewClock(t0))
	body := strings.ReplaceAll(string(readTestdata(t, "notification-message-created.json")),
		"users/5b2f7c1e-8d3a-4f6b-9c0e-1a2b3c4d5e6f@84bd8158-6d4d-4958-8b9f-9d6445542f95/", "users/Sam.Ortega@acme-routing.io/")
	r := post(t, e.url(""), "application/json", []byte(body))
	if a := decodeAccepted(t, r); a.Stored != 1 {
		t.Fatalf("answer %+v, want 1 stored", a)
	}
	fs := e.fetches(t)
	if len(fs) != 1 || fs[0].Mailbox != mailbox {
		t.Fatalf("fetches %+v", fs)
	}
}

func TestRedeliveryStoresNothingNew(t *testing.T) {
	e := newEnv(t, testkit.NewClock(t0))
	body := readTestdata(t, "notification-message-created.json")
	decodeAccepted(t, post(t, e.url("mailbox=sam.ortega%40acme-routing.io"), "application/json", body))
	before := e.items(t)
	e.clock.Advance(90 * time.Second) // Graph retries after a lost answer
	a := decodeAccepted(t, post(t, e.url("mailbox=sam.ortega%40acme-routing.io"), "application/json", body))
	if a.Stored != 0 || a.Duplicate != 1 {
		t.Fatalf("redelivery answer %+v, want 0 stored, 1 duplicate", a)
	}
	after := e.items(t)
	if len(after) != len(before) || len(after) != 1 {
		t.Fatalf("items before %d, after %d", len(before), len(after))
	}
	if e.metrics.Total(ingest.MetricDuplicate) != 1 {
		t.Fatal("duplicate not counted")
	}
}

func TestSecondUpdateOfAnEventIsANewFetch(t *testing.T) {
	e := newEnv(t, testkit.NewClock(t0))
	mk := func(etag string) []byte {
		return []byte(`{"value":[{"subscriptionId":"s-1","subscriptionExpirationDateTime":"2026-03-04T22:11:09Z","clientState":"` + clientState + `",
			"changeType":"updated","resource":"Users/u-1/Events/AAMkEv=","tenantId":"t-1",
			"resourceData":{"@odata.type":"#Microsoft.Graph.Event","@odata.id":"Users/u-1/Events/AAMkEv=","@odata.etag":"` + etag + `","id":"AAMkEv="}}]}`)
	}
	decodeAccepted(t, post(t, e.url(watched), "application/json", mk(`W/\"v1\"`)))
	if a := decodeAccepted(t, post(t, e.url(watched), "application/json", mk(`W/\"v2\"`))); a.Stored != 1 {
		t.Fatalf("a second update (new etag) was not stored: %+v", a)
	}
	if n := len(e.fetches(t)); n != 2 {
		t.Fatalf("%d fetch items, want 2", n)
	}
}

func TestClientState(t *testing.T) {
	good := func(sub string) string {
		return `{"subscriptionId":"` + sub + `","subscriptionExpirationDateTime":"2026-03-04T22:11:09Z","clientState":"` + clientState + `",
			"changeType":"created","resource":"Users/u-1/Messages/` + sub + `","tenantId":"t-1","resourceData":{"@odata.type":"#Microsoft.Graph.Message","id":"` + sub + `"}}`
	}
	bad := func(sub, state string) string {
		return strings.Replace(good(sub), `"clientState":"`+clientState+`"`, `"clientState":`+state, 1)
	}
	t.Run("all bad is 401 and stores nothing", func(t *testing.T) {
		e := newEnv(t, testkit.NewClock(t0))
		for _, state := range []string{`"wrong"`, `""`, `null`, `"secretClientValu"`, `"secretClientValue "`} {
			r := post(t, e.url(""), "application/json", []byte(`{"value":[`+bad("a", state)+`,`+bad("b", `"nope"`)+`]}`))
			if r.status != 401 {
				t.Fatalf("clientState %s: status %d, want 401", state, r.status)
			}
			mustContain(t, "401 body", r.body, `"error"`)
		}
		// a clientState field missing altogether
		r := post(t, e.url(""), "application/json", []byte(`{"value":[{"subscriptionId":"s","changeType":"created","resource":"Users/u/Messages/m"}]}`))
		if r.status != 401 {
			t.Fatalf("missing clientState: status %d, want 401", r.status)
		}
		if n := len(e.items(t)); n != 0 {
			t.Fatalf("stored %d items on 401", n)
		}
		if e.metrics.Total(ingest.MetricRejected) != 6 || e.ignored(ingest.NotAuthentic) != 11 {
			t.Fatalf("rejected %v, mismatches %v", e.metrics.Total(ingest.MetricRejected), e.ignored(ingest.NotAuthentic))
		}
	})
	t.Run("mixed stores the good ones", func(t *testing.T) {
		e := newEnv(t, testkit.NewClock(t0))
		a := decodeAccepted(t, post(t, e.url(watched), "application/json", []byte(`{"value":[`+good("a")+`,`+bad("b", `"forged"`)+`,`+good("c")+`]}`)))
		if a.Stored != 2 || a.Rejected != 1 {
			t.Fatalf("answer %+v, want 2 stored 1 rejected", a)
		}
		fs := e.fetches(t)
		if len(fs) != 2 {
			t.Fatalf("%d fetch items, want 2", len(fs))
		}
		for _, f := range fs {
			if strings.Contains(f.Resource, "/b") {
				t.Fatalf("the forged notification was stored: %+v", f)
			}
		}
	})
	t.Run("good", func(t *testing.T) {
		e := newEnv(t, testkit.NewClock(t0))
		if a := decodeAccepted(t, post(t, e.url(watched), "application/json", []byte(`{"value":[`+good("a")+`]}`))); a.Stored != 1 {
			t.Fatalf("answer %+v", a)
		}
	})
}

func TestLifecycleNotificationsStoredWithTheirAction(t *testing.T) {
	e := newEnv(t, testkit.NewClock(t0))
	decodeAccepted(t, post(t, e.url("kind=events&mailbox=sam.ortega%40acme-routing.io"), "application/json", readTestdata(t, "notification-lifecycle.json")))
	decodeAccepted(t, post(t, e.url("kind=messages&mailbox=sam.ortega%40acme-routing.io"), "application/json", readTestdata(t, "notification-lifecycle-organization.json")))
	got := map[string]string{}
	for _, f := range e.fetches(t) {
		p, err := graph.DecodePayload(f.Payload)
		if err != nil {
			t.Fatal(err)
		}
		got[f.Resource] = p.LifecycleEvent + "/" + p.Kind + "/" + f.Mailbox
	}
	want := map[string]string{
		"reauthorize:subscriptions/7f105c7d-2dc5-4530-97cd-4e7ae6534c07": "reauthorizationRequired/events/sam.ortega@acme-routing.io",
		"resync:subscriptions/9a3c1d2e-4b5f-4c6d-8e7f-0a1b2c3d4e5f":      "missed/events/sam.ortega@acme-routing.io",
		"recreate:subscriptions/7f105c7d-2dc5-4530-97cd-4e7ae6534c07":    "subscriptionRemoved/messages/sam.ortega@acme-routing.io",
	}
	if len(got) != len(want) {
		t.Fatalf("fetch items %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
	// redelivered within minutes: nothing new
	e.clock.Advance(2 * time.Minute)
	if a := decodeAccepted(t, post(t, e.url("kind=events&mailbox=sam.ortega%40acme-routing.io"), "application/json", readTestdata(t, "notification-lifecycle.json"))); a.Stored != 0 || a.Duplicate != 2 {
		t.Fatalf("lifecycle redelivery %+v", a)
	}
	// a new challenge later is acted on again
	e.clock.Advance(30 * time.Minute)
	if a := decodeAccepted(t, post(t, e.url("kind=events&mailbox=sam.ortega%40acme-routing.io"), "application/json", readTestdata(t, "notification-lifecycle.json"))); a.Stored != 2 {
		t.Fatalf("later lifecycle challenge %+v", a)
	}
}

func TestUnsupportedChangeTypeIsAcknowledgedNotStored(t *testing.T) {
	e := newEnv(t, testkit.NewClock(t0))
	body := `{"value":[{"subscriptionId":"s","clientState":"` + clientState + `","changeType":"unknownFutureValue","resource":"Users/u/Messages/m"}]}`
	a := decodeAccepted(t, post(t, e.url(""), "application/json", []byte(body)))
	if a.Ignored != 1 || a.Stored != 0 {
		t.Fatalf("answer %+v", a)
	}
	if n := len(e.items(t)); n != 0 {
		t.Fatalf("stored %d", n)
	}
}

func TestMalformedAndOversizedBodies(t *testing.T) {
	e := newEnv(t, testkit.NewClock(t0))
	cases := map[string]struct {
		body string
		code int
	}{
		"empty":              {"", 400},
		"not json":           {"value=1", 400},
		"array":              {`[{"subscriptionId":"s"}]`, 400},
		"no value":           {`{"values":[]}`, 400},
		"empty value":        {`{"value":[]}`, 400},
		"no subscription":    {`{"value":[{"clientState":"` + clientState + `","changeType":"created","resource":"Users/u/Messages/m"}]}`, 400},
		"both kinds":         {`{"value":[{"subscriptionId":"s","clientState":"` + clientState + `","changeType":"created","lifecycleEvent":"missed","resource":"r"}]}`, 400},
		"no resource":        {`{"value":[{"subscriptionId":"s","clientState":"` + clientState + `","changeType":"created"}]}`, 400},
		"wrong type":         {`{"value":[{"subscriptionId":7,"clientState":"` + clientState + `","changeType":"created","resource":"r"}]}`, 400},
		"trailing data":      {`{"value":[{"subscriptionId":"s","clientState":"x","lifecycleEvent":"missed"}]} {}`, 400},
		"one good one wrong": {`{"value":[{"subscriptionId":"s","clientState":"` + clientState + `","lifecycleEvent":"missed"},{"subscriptionId":""}]}`, 400},
		"oversized":          {`{"value":[{"subscriptionId":"s","clientState":"` + clientState + `","lifecycleEvent":"missed","pad":"` + strings.Repeat("x", 300<<10) + `"}]}`, 413},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := post(t, e.url(""), "application/json", []byte(c.body))
			if r.status != c.code {
				t.Fatalf("status %d (%s), want %d", r.status, r.body, c.code)
			}
			var reason map[string]string
			if err := json.Unmarshal([]byte(r.body), &reason); err != nil || reason["error"] == "" {
				t.Fatalf("want a JSON reason, got %q", r.body)
			}
		})
	}
	if n := len(e.items(t)); n != 0 {
		t.Fatalf("stored %d items on 4xx", n)
	}
}

func TestSecretUnavailableIs503(t *testing.T) {
	e := newEnv(t, testkit.NewClock(t0))
	body := readTestdata(t, "notification-message-created.json")
	e.handler.Key = func(context.Context) ([]byte, error) { return nil, errors.New("secrets manager: throttled") }
	if r := post(t, e.url(""), "application/json", body); r.status != 503 {
		t.Fatalf("status %d, want 503", r.status)
	}
	// an empty secret must never accept notifications without a clientState
	e.handler.Key = func(context.Context) ([]byte, error) { return nil, nil }
	empty := []byte(`{"value":[{"subscriptionId":"s","changeType":"created","resource":"Users/u/Messages/m"}]}`)
	if r := post(t, e.url(""), "application/json", empty); r.status != 503 {
		t.Fatalf("empty secret: status %d, want 503", r.status)
	}
	if n := len(e.items(t)); n != 0 {
		t.Fatalf("stored %d", n)
	}
}

func TestClientStateNeverLoggedOrEchoed(t *testing.T) {
	e := newEnv(t, testkit.NewClock(t0))
	body := readTestdata(t, "notification-message-created.json")
	r1 := post(t, e.url(watched), "application/json", body)
	r2 := post(t, e.url(watched), "application/json", withClientState(body, "forged-state-value"))
	for _, r := range []response{r1, r2} {
		if strings.Contains(r.body, clientState) {
			t.Fatalf("response echoes the secret: %s", r.body)
		}
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "clientState does not match") {
		t.Fatalf("the mismatch was not logged: %s", logs)
	}
	for _, s := range []string{clientState, "forged-state-value"} {
		if strings.Contains(logs, s) {
			t.Fatalf("logs contain a clientState value %q", s)
		}
	}
}

// Issue 8, point 3: a notification naming a mailbox outside GRAPH_MAILBOXES
// (by the notification URL's ?mailbox= or by its resource path) is refused:
// acknowledged (Graph would otherwise redeliver it for hours), counted,
// logged without the clientState, and never stored, so the fetcher never
// reads that mailbox.
func TestNotificationForAnUnwatchedMailboxIsRefused(t *testing.T) {
	change := func(resource string) string {
		return `{"value":[{"subscriptionId":"s-1","subscriptionExpirationDateTime":"2026-03-04T22:11:09Z","clientState":"` + clientState + `",
			"changeType":"created","resource":"` + resource + `","tenantId":"t-1",
			"resourceData":{"@odata.type":"#Microsoft.Graph.Message","id":"AAMkMsg="}}]}`
	}
	const lifecycle = `{"value":[{"subscriptionId":"s-1","subscriptionExpirationDateTime":"2026-03-04T22:11:09Z","clientState":"` + clientState + `",
		"lifecycleEvent":"missed","tenantId":"t-1"}]}`
	const byID = "users/5b2f7c1e-8d3a-4f6b-9c0e-1a2b3c4d5e6f@84bd8158-6d4d-4958-8b9f-9d6445542f95/messages/AAMkMsg="
	for name, c := range map[string]struct {
		query, body string
	}{
		"query names another mailbox":               {"kind=messages&mailbox=ceo%40acme-routing.io", change(byID)},
		"query names another domain":                {"kind=messages&mailbox=sam.ortega%40acme-routing.io.evil.example", change(byID)},
		"query is not an address":                   {"kind=messages&mailbox=5b2f7c1e-8d3a-4f6b-9c0e-1a2b3c4d5e6f", change(byID)},
		"resource names another mailbox":            {"", change("users/ceo@acme-routing.io/messages/AAMkMsg=")},
		"resource names another mailbox, OData key": {"", change("Users('ceo@acme-routing.io')/Messages('AAMkMsg=')")},
		"resource disagrees with the query":         {watched, change("users/ceo@acme-routing.io/messages/AAMkMsg=")},
		"resource names the user by id only":        {"", change(byID)},
		"lifecycle for another mailbox":             {"kind=messages&mailbox=ceo%40acme-routing.io", lifecycle},
		"lifecycle naming no mailbox":               {"", lifecycle},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, testkit.NewClock(t0))
			a := decodeAccepted(t, post(t, e.url(c.query), "application/json", []byte(c.body)))
			if a.Stored != 0 || a.Unwatched != 1 {
				t.Fatalf("answer %+v, want 0 stored, 1 unwatched", a)
			}
			if n := len(e.items(t)); n != 0 {
				t.Fatalf("%d items stored for an unwatched mailbox", n)
			}
			if got := e.ignored(ingest.Unwatched); got != 1 {
				t.Fatalf("%s (unwatched) = %v, want 1", ingest.MetricIgnored, got)
			}
			logs := e.logs.String()
			mustContain(t, "logs", logs, "mailbox is not watched")
			if strings.Contains(logs, clientState) {
				t.Fatalf("logs contain the clientState: %s", logs)
			}
		})
	}
	// the watched mailbox, in any letter case, by query or by resource
	for name, c := range map[string]struct {
		query, body string
	}{
		"query":             {"kind=messages&mailbox=Sam.Ortega%40ACME-Routing.io", change(byID)},
		"query and address": {watched, change("users/SAM.ORTEGA@acme-routing.io/messages/AAMkMsg=")},
		"OData key form":    {"", change("Users('sam.ortega@acme-routing.io')/Messages('AAMkMsg=')")},
		"lifecycle":         {watched, lifecycle},
	} {
		t.Run("watched "+name, func(t *testing.T) {
			e := newEnv(t, testkit.NewClock(t0))
			if a := decodeAccepted(t, post(t, e.url(c.query), "application/json", []byte(c.body))); a.Stored != 1 || a.Unwatched != 0 {
				t.Fatalf("answer %+v, want 1 stored", a)
			}
			if fs := e.fetches(t); len(fs) != 1 || fs[0].Mailbox != mailbox {
				t.Fatalf("fetch items %+v, want one for %s", fs, mailbox)
			}
		})
	}
	// a batch: the watched mailbox's notification is stored, the other refused
	e := newEnv(t, testkit.NewClock(t0))
	batch := strings.Replace(change("users/ceo@acme-routing.io/messages/AAMkMsg="), `]}`, `,`+
		strings.TrimSuffix(strings.TrimPrefix(change("users/sam.ortega@acme-routing.io/messages/AAMkMsg2="), `{"value":[`), `]}`)+`]}`, 1)
	if a := decodeAccepted(t, post(t, e.url(""), "application/json", []byte(batch))); a.Stored != 1 || a.Unwatched != 1 {
		t.Fatalf("mixed batch %+v, want 1 stored, 1 unwatched", a)
	}
	if fs := e.fetches(t); len(fs) != 1 || fs[0].Mailbox != mailbox {
		t.Fatalf("fetch items %+v", fs)
	}
	// no mailboxes configured: none is watched
	e = newEnv(t, testkit.NewClock(t0))
	e.handler.Source = graph.Webhook{}
	if a := decodeAccepted(t, post(t, e.url(watched), "application/json", []byte(change(byID)))); a.Stored != 0 || a.Unwatched != 1 {
		t.Fatalf("no mailboxes configured: %+v, want the notification refused", a)
	}
}
