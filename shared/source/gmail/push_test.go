package gmail_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/platform/apigw"
	"github.com/stagemover/stagemover/shared/platform/metrics"
	"github.com/stagemover/stagemover/shared/source/gmail"
	"github.com/stagemover/stagemover/shared/source/gmail/gmailtest"
	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/store"
	"github.com/stagemover/stagemover/shared/testkit"
)

type pushFixture struct {
	g       *gmailtest.Server
	tbl     *table
	srv     *httptest.Server
	metrics *metrics.Recorder
	logs    *testkit.LogBuffer
	clock   *testkit.Clock
}

func newPushFixture(t *testing.T, mailboxes ...string) *pushFixture {
	t.Helper()
	f := &pushFixture{g: google(t), tbl: newTable(t), metrics: metrics.New(nil, "StageMover", "ingest-gmail"), clock: testkit.NewClock(time.Now())}
	log, lb := testkit.NewLogger()
	f.logs = lb
	h := &ingest.Handler{
		Source: gmail.Webhook{
			Verifier:  &gmail.Verifier{Keys: &gmail.KeySet{URL: f.g.CertsURL()}, Audience: testAudience, Email: gmailtest.PushServiceAccount},
			Mailboxes: mailboxes,
		},
		Store:   f.tbl.st,
		Now:     f.clock.Now,
		Log:     log,
		Metrics: f.metrics,
	}
	f.srv = httptest.NewServer(apigw.Handler("POST /gmail/push", h.Handle))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *pushFixture) token() string {
	return f.g.Keys.Mint(gmailtest.DefaultPushClaims(testAudience, time.Now()))
}

func (f *pushFixture) post(t *testing.T, body []byte, auth string) (int, map[string]string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/gmail/push", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0, nil
	}
	defer resp.Body.Close()
	var out map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Errorf("answer is not JSON: %v", err)
	}
	return resp.StatusCode, out
}

func pushBody(messageID, data string) []byte {
	return []byte(fmt.Sprintf(`{"message":{"data":%q,"messageId":%q,"message_id":%q,"publishTime":"2026-03-02T10:00:00.123Z","publish_time":"2026-03-02T10:00:00.123Z"},"subscription":"projects/p/subscriptions/s"}`,
		data, messageID, messageID))
}

func gmailData(mailbox string, historyID any) string {
	b, _ := json.Marshal(map[string]any{"emailAddress": mailbox, "historyId": historyID})
	return base64.StdEncoding.EncodeToString(b)
}

func TestPushStoresOneFetchAndRedeliveryNothing(t *testing.T) {
	f := newPushFixture(t)
	body := pushBody("2070443601311540", gmailData("Sam.Ortega@acme-routing.io", 4817392))
	code, out := f.post(t, body, "Bearer "+f.token())
	if code != http.StatusAccepted || out["status"] != "stored" {
		t.Fatalf("first delivery: %d %v", code, out)
	}
	// Pub/Sub redelivers the same message id (at-least-once), concurrently even.
	var wg sync.WaitGroup
	codes := make(chan int, 10)
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _ := f.post(t, body, "Bearer "+f.token())
			codes <- c
		}()
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != http.StatusOK { // 2xx: Pub/Sub acknowledges
			t.Fatalf("redelivery answered %d, want 200", c)
		}
	}
	if n := f.tbl.count(t); n != 1 {
		t.Fatalf("items = %d, want 1", n)
	}
	if got := f.metrics.Total(ingest.MetricDuplicate); got != 10 {
		t.Fatalf("duplicates counted %v, want 10", got)
	}
	// The stored item is what the fetcher needs.
	item, err := f.tbl.st.CountFetchAttempt(ctxT(t), store.FetchRecord{Source: "gmail", NotificationID: "2070443601311540"}, "probe")
	if err != nil || item != 1 {
		t.Fatalf("fetch item not found under its key: %d %v", item, err)
	}
	if !strings.Contains(f.logs.String(), `"notification_id":"2070443601311540"`) {
		t.Fatal("logs do not name the notification id")
	}
}

func TestPushHistoryIDAsNumberOrString(t *testing.T) {
	for _, hid := range []any{4817392, "4817392"} {
		n, err := gmail.DecodePush(pushBody("1", gmailData("a@b.example", hid)))
		if err != nil || n.HistoryID != 4817392 {
			t.Fatalf("historyId %#v: %+v %v", hid, n, err)
		}
	}
	// base64url (the Gmail guide's wording) is accepted too.
	raw := `{"emailAddress":"a@b.example","historyId":"9876543210"}`
	n, err := gmail.DecodePush(pushBody("1", base64.URLEncoding.EncodeToString([]byte(raw))))
	if err != nil || n.HistoryID != 9876543210 {
		t.Fatalf("base64url data: %+v %v", n, err)
	}
	// Old deliveries carry only message_id.
	n, err = gmail.DecodePush([]byte(`{"message":{"data":"` + gmailData("a@b.example", 5) + `","message_id":"136969346945"},"subscription":"projects/myproject/subscriptions/mysubscription"}`))
	if err != nil || n.MessageID != "136969346945" {
		t.Fatalf("message_id only: %+v %v", n, err)
	}
}

func TestPushRejectionsStoreNothing(t *testing.T) {
	f := newPushFixture(t)
	valid := pushBody("42", gmailData("sam@acme.example", 100))
	tok := f.token()
	big := pushBody("43", strings.Repeat("A", ingest.MaxBody))
	tests := []struct {
		name   string
		body   []byte
		auth   string
		want   int
		reason string
	}{
		{"no token", valid, "", 401, "missing bearer token"},
		{"not bearer", valid, "Basic " + tok, 401, "missing bearer token"},
		{"wrong audience", valid, "Bearer " + f.g.Keys.Mint(gmailtest.DefaultPushClaims("https://other.example/push", time.Now())), 401, "push token refused"},
		{"expired", valid, "Bearer " + f.g.Keys.Mint(gmailtest.DefaultPushClaims(testAudience, time.Now().Add(-3*time.Hour))), 401, "push token refused"},
		{"too large", big, "Bearer " + tok, 413, "larger than"},
		{"not json", []byte("hello"), "Bearer " + tok, 400, "invalid JSON"},
		{"no message", []byte(`{"subscription":"projects/p/subscriptions/s"}`), "Bearer " + tok, 400, "message is required"},
		{"no message id", []byte(`{"message":{"data":"` + gmailData("a@b.example", 5) + `"}}`), "Bearer " + tok, 400, "messageId"},
		{"no data", pushBody("44", ""), "Bearer " + tok, 400, "data is required"},
		{"data not base64", pushBody("45", "***"), "Bearer " + tok, 400, "not base64"},
		{"data not json", pushBody("46", base64.StdEncoding.EncodeToString([]byte("hi"))), "Bearer " + tok, 400, "not a Gmail notification"},
		{"no email", pushBody("47", base64.StdEncoding.EncodeToString([]byte(`{"historyId":"5"}`))), "Bearer " + tok, 400, "emailAddress"},
		{"bad email", pushBody("48", gmailData("not-an-address", 5)), "Bearer " + tok, 400, "emailAddress"},
		{"zero history", pushBody("49", gmailData("a@b.example", 0)), "Bearer " + tok, 400, "historyId"},
		{"negative history", pushBody("50", gmailData("a@b.example", -3)), "Bearer " + tok, 400, "historyId"},
		{"history not a number", pushBody("51", gmailData("a@b.example", "12a")), "Bearer " + tok, 400, "historyId"},
		{"bad publish time", []byte(`{"message":{"data":"` + gmailData("a@b.example", 5) + `","messageId":"52","publishTime":"yesterday"}}`), "Bearer " + tok, 400, "publishTime"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out := f.post(t, tc.body, tc.auth)
			if code != tc.want || !strings.Contains(out["error"], tc.reason) {
				t.Fatalf("got %d %v, want %d with %q", code, out, tc.want, tc.reason)
			}
			if strings.Contains(out["error"], tok[:24]) {
				t.Fatal("answer echoes the token")
			}
		})
	}
	if n := f.tbl.count(t); n != 0 {
		t.Fatalf("items after rejections = %d, want 0", n)
	}
	if got := f.metrics.Total(ingest.MetricRejected); got != float64(len(tests)) {
		t.Fatalf("rejections counted %v, want %d", got, len(tests))
	}
	if logs := f.logs.String(); strings.Contains(logs, tok[:24]) || strings.Contains(logs, strings.Split(tok, ".")[2][:24]) {
		t.Fatal("logs contain the token")
	}
	if !strings.Contains(f.logs.String(), "wrong audience") {
		t.Fatal("logs do not say why the token was refused")
	}
}

func TestPushUnwatchedMailboxAcknowledgedNotStored(t *testing.T) {
	f := newPushFixture(t, "sam@acme.example")
	code, out := f.post(t, pushBody("60", gmailData("eve@elsewhere.example", 9)), "Bearer "+f.token())
	if code != http.StatusOK || out["status"] != "ignored" {
		t.Fatalf("got %d %v", code, out)
	}
	code, _ = f.post(t, pushBody("61", gmailData("SAM@acme.example", 9)), "Bearer "+f.token())
	if code != http.StatusAccepted {
		t.Fatalf("watched mailbox: %d", code)
	}
	if n := f.tbl.count(t); n != 1 {
		t.Fatalf("items = %d, want 1", n)
	}
}

func TestPushKeysUnavailableIs503(t *testing.T) {
	f := newPushFixture(t)
	f.g.Fail(gmailtest.OpCerts, 503)
	code, out := f.post(t, pushBody("70", gmailData("a@b.example", 5)), "Bearer "+f.token())
	if code != http.StatusServiceUnavailable || out["error"] == "" {
		t.Fatalf("got %d %v, want 503 so Pub/Sub redelivers", code, out)
	}
	if n := f.tbl.count(t); n != 0 {
		t.Fatalf("items = %d, want 0", n)
	}
}
