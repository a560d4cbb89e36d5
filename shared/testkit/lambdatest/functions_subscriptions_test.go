package lambdatest_test

// The rows of functionCases for the scheduled functions that keep the
// providers' subscriptions: Calendly, Gmail watch, Graph and Pipedrive
// webhooks.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stagemover/stagemover/shared/platform/apigw"
	"github.com/stagemover/stagemover/shared/source/calendly"
	"github.com/stagemover/stagemover/shared/source/calendly/calendlytest"
	"github.com/stagemover/stagemover/shared/source/gmail"
	"github.com/stagemover/stagemover/shared/source/gmail/gmailtest"
	"github.com/stagemover/stagemover/shared/source/graph"
	"github.com/stagemover/stagemover/shared/source/graph/graphtest"
	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/store"
	"github.com/stagemover/stagemover/shared/testkit"
	"github.com/stagemover/stagemover/shared/testkit/lambdatest"
)

func calendlySubscribes(t *testing.T, f *lambdatest.Fixture, sample []byte) ([]byte, expect) {
	signingKey, apiToken := testkit.RandomSecret(t, "cal-"), testkit.RandomSecret(t, "pat-")
	cal := calendlytest.New(apiToken)
	t.Cleanup(cal.Close)
	// The callback: what POST /webhooks/calendly would check first. It
	// counts the webhook POSTs whose signature verifies with signingKey.
	var verified atomic.Int64
	callback := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := calendly.Verify([]byte(signingKey), r.Header.Get(calendly.HeaderSignature), body, time.Now(), 0); err != nil {
			http.Error(w, `{"error":"signature"}`, http.StatusUnauthorized)
			return
		}
		verified.Add(1)
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(callback.Close)
	webhookURL := callback.URL + "/webhooks/calendly"
	f.PutSecret(t, "CALENDLY_SIGNING_KEY_SECRET_ARN", "stagemover/calendly-signing-key", testkit.SecretJSON("signing_key", signingKey), signingKey)
	f.PutSecret(t, "CALENDLY_API_TOKEN_SECRET_ARN", "stagemover/calendly-api-token", testkit.SecretJSON("api_token", apiToken), apiToken)
	f.Env["CALENDLY_ORGANIZATION"] = cal.Organization
	f.Env["CALENDLY_WEBHOOK_URL"] = webhookURL
	f.Env["CALENDLY_BASE_URL"] = cal.URL

	var ev events.CloudWatchEvent
	dec := json.NewDecoder(bytes.NewReader(sample))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil || ev.Source != "aws.events" || ev.DetailType != "Scheduled Event" {
		t.Fatalf("events/schedule.json is not an EventBridge scheduled event: %+v %v", ev, err)
	}

	return sample, expect{
		untouched: func(t *testing.T) {
			if n := len(cal.Subscriptions()); n != 0 {
				t.Errorf("%d subscriptions created by a function that failed init", n)
			}
		},
		ran: func(t *testing.T, rie *lambdatest.RIE) {
			rie.RunScheduled(t, sample)
			subs := cal.Subscriptions()
			if len(subs) != 1 {
				t.Fatalf("%d subscriptions in the Calendly stand-in after the run, want 1\n%s", len(subs), rie.Output())
			}
			s := subs[0]
			if s.CallbackURL != webhookURL || s.State != "active" || s.Scope != "organization" ||
				s.Organization != cal.Organization || !slices.Contains(s.Events, "invitee.created") || !slices.Contains(s.Events, "invitee.canceled") {
				t.Errorf("subscription %+v", s)
			}
			// The subscription signs with the key in the secret: a delivery
			// verifies at the callback.
			body := []byte(`{"event":"invitee.created","created_at":"2026-03-02T10:15:08.000000Z","payload":{}}`)
			ds, err := cal.Deliver(context.Background(), body)
			if err != nil || len(ds) != 1 || ds[0].Status != http.StatusAccepted || verified.Load() != 1 {
				t.Errorf("delivery through the new subscription: %+v %v (verified %d), want one 202 verified with the stored key", ds, err, verified.Load())
			}

			// The next scheduled run keeps the subscription as it is.
			rie.RunScheduled(t, sample)
			if n := len(cal.Subscriptions()); n != 1 {
				t.Errorf("%d subscriptions after a second run, want still 1", n)
			}
			if n := cal.Requests("POST /webhook_subscriptions"); n != 1 {
				t.Errorf("%d create calls after two runs, want 1", n)
			}
			// Calendly disabled it after failed deliveries: the next run replaces it.
			cal.Disable(s.URI)
			rie.RunScheduled(t, sample)
			subs = cal.Subscriptions()
			if len(subs) != 1 || subs[0].State != "active" || subs[0].URI == s.URI {
				t.Errorf("after the disabled subscription's run: %+v, want one new active subscription", subs)
			}
			if n := f.DynamoDBCalls(); n != 0 {
				t.Errorf("the function made %d DynamoDB calls; its role grants none", n)
			}
			if !strings.Contains(rie.Output(), "calendly webhook subscription ensured") {
				t.Errorf("expected the function's JSON log lines in its output:\n%s", rie.Output())
			}
		},
	}
}

func gmailRenewWatchesTheMailbox(t *testing.T, f *lambdatest.Fixture, sample []byte) ([]byte, expect) {
	google, err := gmailtest.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(google.Close)
	mailbox := testkit.SampleMailbox
	creds := google.AddRefreshToken(mailbox)
	f.PutSecret(t, "GMAIL_CREDENTIALS_SECRET_ARN", "stagemover/gmail-credentials", string(creds),
		testkit.SecretField(t, string(creds), "client_secret"), testkit.SecretField(t, string(creds), "refresh_token"))
	f.Env["GMAIL_BASE_URL"], f.Env["GOOGLE_TOKEN_URL"] = google.URL, google.TokenURL()
	topic := testkit.SampleParameters["GmailPubsubTopic"]
	state := gmail.StoreState{Docs: f.Store()}

	return sample, expect{
		untouched: func(t *testing.T) {
			if n := google.Count(gmailtest.OpWatch); n != 0 {
				t.Errorf("%d users.watch calls by a function that failed init", n)
			}
		},
		ran: func(t *testing.T, rie *lambdatest.RIE) {
			ctx := context.Background()
			rie.RunScheduled(t, sample)
			ws := google.Watches()
			if len(ws) != 1 || ws[0].Mailbox != mailbox || ws[0].TopicName != topic {
				t.Fatalf("users.watch calls %+v, want one for %s on %s\n%s", ws, mailbox, topic, rie.Output())
			}
			exp, found, err := state.GetWatchExpiry(ctx, mailbox)
			if err != nil || !found || exp.Before(time.Now().Add(6*24*time.Hour)) || exp.After(time.Now().Add(7*24*time.Hour+time.Minute)) {
				t.Errorf("stored watch expiry %s (found %v, %v), want Gmail's 7 days ahead", exp, found, err)
			}
			// The watch's history id is the mailbox's first cursor, so the
			// first notification's change is fetched too.
			c, found, err := state.GetCursor(ctx, mailbox)
			if err != nil || !found || c.HistoryID != google.HistoryID(mailbox) {
				t.Errorf("cursor %+v (found %v, %v), want the watch's history id %d", c, found, err, google.HistoryID(mailbox))
			}
			// Twelve hours later (the next run) the watch is still good for
			// days: no call to Gmail.
			rie.RunScheduled(t, sample)
			if n := google.Count(gmailtest.OpWatch); n != 1 {
				t.Errorf("%d users.watch calls after two runs, want 1", n)
			}
			if out := rie.Output(); !strings.Contains(out, "gmail watch renewed") || !strings.Contains(out, "gmail watch still valid") {
				t.Errorf("expected the function's JSON log lines in its output:\n%s", out)
			}
		},
	}
}

// ingestFetches keeps what the in-process ingest handler stores.
type ingestFetches struct {
	mu   sync.Mutex
	recs map[string]store.FetchRecord
}

func (f *ingestFetches) PutFetch(_ context.Context, r store.FetchRecord) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.recs[r.Key()]; ok {
		return false, nil
	}
	f.recs[r.Key()] = r
	return true, nil
}

// PutSignal completes ingest.Writer: the Graph route stores fetch items only.
func (f *ingestFetches) PutSignal(context.Context, store.SignalRecord) (bool, error) {
	return false, errors.New("the Graph route stored a signal")
}

func (f *ingestFetches) all() []store.FetchRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.FetchRecord
	for _, r := range f.recs {
		out = append(out, r)
	}
	return out
}

func graphSubscribes(t *testing.T, f *lambdatest.Fixture, sample []byte) ([]byte, expect) {
	mailbox := testkit.SampleMailbox
	gr := graphtest.New()
	t.Cleanup(gr.Close)
	gr.AddUser(mailbox)
	clientState := testkit.RandomSecret(t, "cs")
	// Graph validates every new subscription's notification URL: POST
	// /webhooks/graph is the ingest-graph handler with the same
	// clientState, served as API Gateway calls it.
	fetches := &ingestFetches{recs: map[string]store.FetchRecord{}}
	h := &ingest.Handler{
		Source: graph.Webhook{Mailboxes: []string{mailbox}},
		Key:    func(context.Context) ([]byte, error) { return []byte(clientState), nil },
		Store:  fetches,
		Now:    time.Now,
		Log:    testkit.DiscardLogger(),
	}
	mux := http.NewServeMux()
	mux.Handle("POST /webhooks/graph", apigw.Handler("POST /webhooks/graph", h.Handle))
	api := httptest.NewServer(mux)
	t.Cleanup(api.Close)
	notificationURL := api.URL + "/webhooks/graph"
	f.PutSecret(t, "GRAPH_CLIENT_STATE_SECRET_ARN", "stagemover/graph-client-state", testkit.SecretJSON("client_state", clientState), clientState)
	f.PutSecret(t, "GRAPH_CREDENTIALS_SECRET_ARN", "stagemover/graph-credentials", gr.CredentialsJSON(), gr.ClientSecret)
	f.Env["GRAPH_NOTIFICATION_URL"] = notificationURL
	f.Env["GRAPH_BASE_URL"], f.Env["GRAPH_LOGIN_URL"] = gr.GraphURL(), gr.LoginURL()
	creates := func() int {
		n := 0
		for _, r := range gr.Requests() {
			if r == "POST /v1.0/subscriptions" {
				n++
			}
		}
		return n
	}

	return sample, expect{
		untouched: func(t *testing.T) {
			if n := creates(); n != 0 {
				t.Errorf("%d subscriptions created by a function that failed init", n)
			}
		},
		ran: func(t *testing.T, rie *lambdatest.RIE) {
			rie.RunScheduled(t, sample)
			subs := gr.Subscriptions()
			if len(subs) != 2 {
				t.Fatalf("%d subscriptions in the Graph stand-in after the run, want 2 (mail, calendar)\n%s", len(subs), rie.Output())
			}
			kinds := map[string]string{}
			for _, s := range subs {
				u, err := url.Parse(s.NotificationURL)
				if err != nil || !strings.HasPrefix(s.NotificationURL, notificationURL+"?") || u.Query().Get("mailbox") != mailbox {
					t.Errorf("subscription %s notification URL %q", s.ID, s.NotificationURL)
				}
				if s.ClientState != clientState {
					t.Errorf("subscription %s does not carry the clientState secret", s.ID)
				}
				if s.Expires.Before(time.Now().Add(48*time.Hour)) || s.Expires.After(time.Now().Add(graphtest.MaxLifetime)) {
					t.Errorf("subscription %s expires %s: want close to Graph's maximum of %s", s.ID, s.Expires, graphtest.MaxLifetime)
				}
				kinds[strings.ToLower(s.Resource)] = s.ChangeType
			}
			if kinds["users/"+mailbox+"/messages"] != "created" || kinds["users/"+mailbox+"/events"] != "created,updated" {
				t.Errorf("subscriptions by resource: %v", kinds)
			}
			vs := gr.Validations()
			if len(vs) != 2 {
				t.Errorf("%d validation requests, want 2", len(vs))
			}
			for _, v := range vs {
				if v.Status != http.StatusOK || !strings.HasPrefix(v.ContentType, "text/plain") || v.Body != v.Token || v.Err != "" {
					t.Errorf("validation of %s: %d %q %q (%s)", v.URL, v.Status, v.ContentType, v.Body, v.Err)
				}
			}
			// The subscription delivers to the ingest handler, which
			// accepts its clientState.
			id := gr.AddMessage(mailbox, []byte(`{"subject":"Re: pilot","receivedDateTime":"2026-03-02T09:41:07Z"}`))
			codes, err := gr.Notify(context.Background(), mailbox, "messages", id, "created")
			if err != nil || len(codes) != 1 || codes[0] != http.StatusAccepted {
				t.Errorf("notification through the new subscription: %v %v, want one 202", codes, err)
			}
			if got := fetches.all(); len(got) != 1 || got[0].Mailbox != mailbox || got[0].Source != graph.Source {
				t.Errorf("fetch items stored by the ingest handler: %+v, want one for %s", got, mailbox)
			}
			// The next scheduled run finds both current: nothing created.
			rie.RunScheduled(t, sample)
			if n := len(gr.Subscriptions()); n != 2 {
				t.Errorf("%d subscriptions after a second run, want still 2", n)
			}
			if n := creates(); n != 2 {
				t.Errorf("%d create calls after two runs, want 2", n)
			}
			if n := gr.TokenRequests(); n != 1 {
				t.Errorf("%d token requests over two warm runs, want 1 (cached)", n)
			}
			if n := f.DynamoDBCalls(); n != 0 {
				t.Errorf("the function made %d DynamoDB calls; its role grants none", n)
			}
			if !strings.Contains(rie.Output(), "graph subscription created") {
				t.Errorf("expected the function's JSON log lines in its output:\n%s", rie.Output())
			}
		},
	}
}

func pipedriveWebhooksRegisterOncePerEvent(t *testing.T, f *lambdatest.Fixture, sample []byte) ([]byte, expect) {
	pd, _ := f.Pipedrive(t)
	password := testkit.RandomSecret(t, "pw-")
	f.PutSecret(t, "PIPEDRIVE_WEBHOOK_SECRET_ARN", "stagemover/pipedrive-webhook",
		testkit.SecretJSON("http_auth_user", "stagemover", "http_auth_password", password), password)
	hookURL := f.Environment(t)["PIPEDRIVE_WEBHOOK_URL"]
	if hookURL != "https://"+testkit.SampleAPIDomain+"/pipedrive" {
		t.Fatalf("PIPEDRIVE_WEBHOOK_URL %q is not the API's /pipedrive route", hookURL)
	}
	f.Hide("old-password")
	// events lists the sandbox's webhooks to hookURL as "action.object" (sorted).
	hooks := func() []string {
		var out []string
		for _, s := range pd.Subscriptions() {
			if s.URL == hookURL {
				out = append(out, s.EventAction+"."+s.EventObject)
			}
		}
		sort.Strings(out)
		return out
	}

	return sample, expect{
		untouched: func(t *testing.T) {
			if n := len(pd.Subscriptions()); n != 0 {
				t.Errorf("%d webhooks registered by a function that failed init", n)
			}
		},
		ran: func(t *testing.T, rie *lambdatest.RIE) {
			// A webhook left from before a password rotation: replaced, not kept.
			stale := pd.Subscribe(hookURL, "stagemover", "old-password", "change", "deal")
			want := []string{"*.pipeline", "*.stage", "change.deal", "delete.deal"}
			rie.RunScheduled(t, sample)
			if got := hooks(); strings.Join(got, " ") != strings.Join(want, " ") {
				t.Fatalf("webhooks after the first run: %v, want %v\n%s", got, want, rie.Output())
			}
			first := pd.Subscriptions()
			for _, s := range first {
				if s.ID == stale {
					t.Errorf("the webhook with the old password was kept")
				}
				if s.User != "stagemover" || s.Password != password || s.Version != "2.0" {
					t.Errorf("webhook %d: user %q, version %q, password matches %v", s.ID, s.User, s.Version, s.Password == password)
				}
			}
			posts := pd.Count("POST", "/v1/webhooks")

			// The next day's run (or a duplicate schedule delivery) changes nothing.
			rie.RunScheduled(t, sample)
			second := pd.Subscriptions()
			if len(second) != len(first) {
				t.Fatalf("%d webhooks after the second run, want %d (one per event)", len(second), len(first))
			}
			for i := range second {
				if second[i].ID != first[i].ID {
					t.Errorf("webhook %d replaced by %d on the second run", first[i].ID, second[i].ID)
				}
			}
			if n := pd.Count("POST", "/v1/webhooks"); n != posts {
				t.Errorf("%d POST /v1/webhooks on the second run, want 0", n-posts)
			}
			for _, v := range pd.ValidationErrors() {
				t.Errorf("request broke Pipedrive's OpenAPI spec: %s", v)
			}
			for _, w := range []string{"pipedrive webhook created", "pipedrive webhook kept", "pipedrive webhook replaced"} {
				if !strings.Contains(rie.Output(), w) {
					t.Errorf("no %q in the function's output:\n%s", w, rie.Output())
				}
			}
		},
	}
}
