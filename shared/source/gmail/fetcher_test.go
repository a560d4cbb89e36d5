package gmail_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stagemover/stagemover/shared/core/mail"
	"github.com/stagemover/stagemover/shared/platform/retry"
	"github.com/stagemover/stagemover/shared/platform/secrets"
	"github.com/stagemover/stagemover/shared/source/gmail"
	"github.com/stagemover/stagemover/shared/source/gmail/gmailtest"
	"github.com/stagemover/stagemover/shared/store"
	"github.com/stagemover/stagemover/shared/testkit"
	"github.com/stagemover/stagemover/shared/testkit/lambdatest"
)

const (
	rep     = "sam.ortega@acme-routing.io"
	buyer   = "dana.whitfield@northwind-logistics.com"
	saEmail = "stagemover-reader@acme-routing-mail.iam.gserviceaccount.com"
)

type fetchFixture struct {
	g       *gmailtest.Server
	tbl     *table
	state   gmail.StoreState
	fetcher *gmail.Fetcher
	logs    *testkit.LogBuffer
	keyFile []byte
	seq     int
}

func newFetchFixture(t *testing.T) *fetchFixture {
	t.Helper()
	f := &fetchFixture{g: google(t), tbl: newTable(t)}
	keyFile, err := f.g.AddServiceAccount(saEmail, "acme-routing.io")
	if err != nil {
		t.Fatal(err)
	}
	f.keyFile = keyFile
	sm := lambdatest.StartSecretsManager(t)
	arn := sm.Put(t, "gmail-credentials", string(keyFile))
	cache := secrets.NewCache(sm.Client, time.Minute)
	log, lb := testkit.NewLogger()
	f.logs = lb
	f.state = gmail.StoreState{Docs: f.tbl.st}
	f.fetcher = &gmail.Fetcher{
		Client: &gmail.Client{BaseURL: f.g.URL, Tokens: &gmail.OAuth{
			Secret:   func(ctx context.Context) (string, error) { return cache.String(ctx, arn) },
			TokenURL: f.g.TokenURL(),
		}},
		History:         f.state,
		InternalDomains: []string{"acme-routing.io"},
		Log:             log,
	}
	return f
}

// baseline sets the mailbox's cursor to its current history id, as the
// renewer's first watch does.
func (f *fetchFixture) baseline(t *testing.T) {
	t.Helper()
	if err := f.state.PutCursor(ctxT(t), rep, gmail.Cursor{HistoryID: f.g.HistoryID(rep)}); err != nil {
		t.Fatal(err)
	}
}

// notify is the fetch item a push for the mailbox's current state stores.
func (f *fetchFixture) notify() store.FetchRecord {
	f.seq++
	return store.FetchRecord{Source: gmail.Source, NotificationID: fmt.Sprintf("%d", 2070443601311540+f.seq),
		Mailbox: rep, Resource: strconv.FormatUint(f.g.HistoryID(rep), 10), ReceivedAt: time.Now()}
}

func (f *fetchFixture) fetch(t *testing.T, rec store.FetchRecord) []store.SignalRecord {
	t.Helper()
	sigs, err := f.fetcher.Fetch(ctxT(t), rec)
	if err != nil {
		t.Fatalf("fetch %s: %v", rec.NotificationID, err)
	}
	return sigs
}

// storeAll writes the signals as the fetcher function does; it returns how
// many were new.
func (f *fetchFixture) storeAll(t *testing.T, sigs []store.SignalRecord) int {
	t.Helper()
	n := 0
	for _, s := range sigs {
		created, err := f.tbl.st.PutSignal(ctxT(t), s)
		if err != nil {
			t.Fatal(err)
		}
		if created {
			n++
		}
	}
	return n
}

func rawMail(from, to, cc, subject string, headers map[string]string, body string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "Received: from mail-sor-f41.google.com by mx.google.com\r\n")
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\n", from, to)
	if cc != "" {
		fmt.Fprintf(&b, "Cc: %s\r\n", cc)
	}
	fmt.Fprintf(&b, "Subject: %s\r\nDate: Mon, 02 Mar 2026 09:41:07 +0000\r\n", subject)
	fmt.Fprintf(&b, "Message-ID: <%d@mail.gmail.com>\r\nMIME-Version: 1.0\r\n", time.Now().UnixNano())
	keys := make([]string, 0, len(headers))
	for k := range headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\r\n", k, headers[k])
	}
	if _, ok := headers["Content-Type"]; !ok {
		b.WriteString("Content-Type: text/plain; charset=\"UTF-8\"\r\n")
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	return []byte(b.String())
}

var sentAt = time.Date(2026, 3, 2, 9, 41, 7, 0, time.UTC)

func TestFetchTwoNewMessagesTwoSignals(t *testing.T) {
	f := newFetchFixture(t)
	f.baseline(t)
	reply := rawMail(`"Dana Whitfield" <Dana.Whitfield@northwind-logistics.com>`, `Sam Ortega <`+rep+`>`, "li.chen@northwind-logistics.com",
		"Re: Route optimisation pilot", nil,
		"Hi Sam,\r\n\r\nCould you send over a proposal with pricing for 40 seats?\r\n\r\nBest,\r\nDana\r\n")
	idIn, _ := f.g.AddMessage(rep, reply, sentAt, "INBOX", "UNREAD")
	out := rawMail(rep, buyer, "", "Proposal attached", map[string]string{"In-Reply-To": "<x@y>"}, "Dana, the proposal is attached.\r\n")
	idOut, _ := f.g.AddMessage(rep, out, sentAt.Add(time.Hour), "SENT")

	sigs := f.fetch(t, f.notify())
	if len(sigs) != 2 {
		t.Fatalf("signals = %d, want 2", len(sigs))
	}
	in, o := sigs[0], sigs[1]
	if in.EventID != idIn || o.EventID != idOut || in.Source != "gmail" {
		t.Fatalf("event ids %s %s, want the Gmail message ids %s %s", in.EventID, o.EventID, idIn, idOut)
	}
	if in.PersonEmail != buyer || in.Signal.From != buyer || in.Signal.To[0] != rep || in.Signal.Cc[0] != "li.chen@northwind-logistics.com" {
		t.Fatalf("inbound signal %+v", in)
	}
	if !in.Signal.At.Equal(sentAt) || in.Signal.Subject != "Re: Route optimisation pilot" {
		t.Fatalf("inbound at %v subject %q", in.Signal.At, in.Signal.Subject)
	}
	if !strings.Contains(in.Signal.Body, "proposal with pricing for 40 seats") || in.Signal.Headers["Content-Type"] == "" {
		t.Fatalf("inbound body %q headers %v", in.Signal.Body, in.Signal.Headers)
	}
	if _, ok := in.Signal.Headers["Received"]; ok {
		t.Fatal("transport headers kept")
	}
	if o.PersonEmail != buyer || o.Signal.From != rep || o.Signal.Headers["In-Reply-To"] != "<x@y>" {
		t.Fatalf("outbound signal: person %q from %q headers %v", o.PersonEmail, o.Signal.From, o.Signal.Headers)
	}
	if n := f.storeAll(t, sigs); n != 2 {
		t.Fatalf("stored %d new signals, want 2", n)
	}
	// The engine reads the stored body as mail.
	if m := mail.Read(in.Signal.Headers, in.Signal.Subject, in.Signal.Body); !strings.Contains(m.Text, "40 seats") || m.Machine != "" {
		t.Fatalf("mail.Read on the signal: %+v", m)
	}
	cur, _, _ := f.state.GetCursor(ctxT(t), rep)
	if cur.HistoryID != f.g.HistoryID(rep) {
		t.Fatalf("cursor %d, want %d", cur.HistoryID, f.g.HistoryID(rep))
	}
}

func TestFetchOverlappingWindowsStoreNoDuplicates(t *testing.T) {
	f := newFetchFixture(t)
	f.baseline(t)
	base, _, _ := f.state.GetCursor(ctxT(t), rep)
	var notes []store.FetchRecord
	for i := 0; i < 3; i++ {
		f.g.AddMessage(rep, rawMail(buyer, rep, "", fmt.Sprintf("Re: terms %d", i), nil, "What are your payment terms?\r\n"), sentAt.Add(time.Duration(i)*time.Minute))
		notes = append(notes, f.notify())
	}
	// Three notifications fetched in parallel (one batch, parallel shards).
	var (
		mu  sync.Mutex
		all []store.SignalRecord
		wg  sync.WaitGroup
	)
	for _, n := range notes {
		wg.Add(1)
		go func(n store.FetchRecord) {
			defer wg.Done()
			sigs, err := f.fetcher.Fetch(ctxT(t), n)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			all = append(all, sigs...)
			mu.Unlock()
		}(n)
	}
	wg.Wait()
	f.storeAll(t, all)
	// A fetch that read the old cursor (a slow overlapping invocation) lists the same messages again.
	if err := f.state.PutCursor(ctxT(t), rep, base); err != nil {
		t.Fatal(err)
	}
	again := f.fetch(t, f.notify())
	if len(again) != 3 {
		t.Fatalf("re-listed %d, want the same 3", len(again))
	}
	if n := f.storeAll(t, again); n != 0 {
		t.Fatalf("overlap stored %d new signals, want 0", n)
	}
	if n := f.tbl.count(t); n != 3+1 { // 3 signals + the cursor document
		t.Fatalf("items = %d, want 3 signals and the cursor", n)
	}
}

func TestFetchFirstNotificationSetsBaseline(t *testing.T) {
	f := newFetchFixture(t)
	f.g.AddMessage(rep, rawMail(buyer, rep, "", "hello", nil, "hi\r\n"), sentAt)
	if sigs := f.fetch(t, f.notify()); len(sigs) != 0 {
		t.Fatalf("first notification yielded %d signals; it only sets the baseline", len(sigs))
	}
	f.g.AddMessage(rep, rawMail(buyer, rep, "", "Re: hello", nil, "Can we book a demo next week?\r\n"), sentAt.Add(time.Hour))
	sigs := f.fetch(t, f.notify())
	if len(sigs) != 1 || sigs[0].Signal.Subject != "Re: hello" {
		t.Fatalf("second notification: %d signals", len(sigs))
	}
}

func TestFetchAlreadyCoveredNotificationCallsNothing(t *testing.T) {
	f := newFetchFixture(t)
	f.baseline(t)
	f.g.AddMessage(rep, rawMail(buyer, rep, "", "a", nil, "a\r\n"), sentAt)
	early := f.notify()
	f.g.AddMessage(rep, rawMail(buyer, rep, "", "b", nil, "b\r\n"), sentAt)
	late := f.notify()
	if sigs := f.fetch(t, late); len(sigs) != 2 {
		t.Fatalf("late notification: %d signals, want 2", len(sigs))
	}
	calls := f.g.Count(gmailtest.OpHistoryList)
	if sigs := f.fetch(t, early); len(sigs) != 0 {
		t.Fatalf("early notification after the late one: %d signals, want 0", len(sigs))
	}
	if f.g.Count(gmailtest.OpHistoryList) != calls {
		t.Fatal("an already covered notification still listed history")
	}
}

func TestFetchRetryListsItsWindowAgain(t *testing.T) {
	f := newFetchFixture(t)
	f.baseline(t)
	id1, _ := f.g.AddMessage(rep, rawMail(buyer, rep, "", "one", nil, "one\r\n"), sentAt)
	n1 := f.notify()
	f.fetch(t, n1) // suppose storing its signals then failed
	f.g.AddMessage(rep, rawMail(buyer, rep, "", "two", nil, "two\r\n"), sentAt)
	f.fetch(t, f.notify()) // the cursor moves past n1's window
	sigs := f.fetch(t, n1) // the stream retries n1
	found := false
	for _, s := range sigs {
		found = found || s.EventID == id1
	}
	if !found {
		t.Fatalf("the retry of n1 did not read n1's message again (%d signals)", len(sigs))
	}
}

func TestFetchHistory404Resyncs(t *testing.T) {
	f := newFetchFixture(t)
	f.baseline(t)
	old, _ := f.g.AddMessage(rep, rawMail(buyer, rep, "", "old", nil, "old\r\n"), time.Now().Add(-30*24*time.Hour))
	recent, _ := f.g.AddMessage(rep, rawMail(buyer, rep, "", "recent", nil, "Send the order form please.\r\n"), time.Now().Add(-time.Hour))
	f.g.ExpireHistory(rep) // the stored cursor is now older than Gmail's history
	n := f.notify()
	sigs := f.fetch(t, n)
	if f.g.Count(gmailtest.OpMessagesList) != 1 {
		t.Fatalf("messages.list called %d times, want 1 (resync)", f.g.Count(gmailtest.OpMessagesList))
	}
	if len(sigs) != 1 || sigs[0].EventID != recent {
		t.Fatalf("resync signals %v, want only the recent message (not %s)", ids(sigs), old)
	}
	cur, _, _ := f.state.GetCursor(ctxT(t), rep)
	if strconv.FormatUint(cur.HistoryID, 10) != n.Resource {
		t.Fatalf("cursor after resync %d, want the notification's %s", cur.HistoryID, n.Resource)
	}
	// History works again from there.
	f.g.AddMessage(rep, rawMail(buyer, rep, "", "next", nil, "next\r\n"), time.Now())
	if sigs := f.fetch(t, f.notify()); len(sigs) != 1 || f.g.Count(gmailtest.OpMessagesList) != 1 {
		t.Fatalf("after resync: %d signals, %d lists", len(sigs), f.g.Count(gmailtest.OpMessagesList))
	}
}

func ids(sigs []store.SignalRecord) []string {
	var out []string
	for _, s := range sigs {
		out = append(out, s.EventID)
	}
	return out
}

func TestFetchTransientErrorsAreRetryable(t *testing.T) {
	for _, tc := range []struct {
		op   string
		code int
		want bool
	}{
		{gmailtest.OpHistoryList, 429, true},
		{gmailtest.OpHistoryList, 500, true},
		{gmailtest.OpMessageGet, 503, true},
		{gmailtest.OpToken, 500, true},
		{gmailtest.OpHistoryList, 403, false},
	} {
		t.Run(fmt.Sprintf("%s %d", tc.op, tc.code), func(t *testing.T) {
			f := newFetchFixture(t)
			f.baseline(t)
			before, _, _ := f.state.GetCursor(ctxT(t), rep)
			f.g.AddMessage(rep, rawMail(buyer, rep, "", "x", nil, "x\r\n"), sentAt)
			n := f.notify()
			f.g.Fail(tc.op, tc.code)
			_, err := f.fetcher.Fetch(ctxT(t), n)
			if err == nil {
				t.Fatal("no error")
			}
			if retry.IsLater(err) != tc.want {
				t.Fatalf("retryable = %v, want %v: %v", !tc.want, tc.want, err)
			}
			after, _, _ := f.state.GetCursor(ctxT(t), rep)
			if after.HistoryID != before.HistoryID {
				t.Fatal("a failed fetch moved the cursor")
			}
			if sigs := f.fetch(t, n); len(sigs) != 1 { // the stream's retry succeeds
				t.Fatalf("retry: %d signals", len(sigs))
			}
		})
	}
}

func TestFetchSkipsWhatIsNoEvidence(t *testing.T) {
	f := newFetchFixture(t)
	f.baseline(t)
	f.g.AddMessage(rep, rawMail(rep, buyer, "", "draft", nil, "unsent\r\n"), sentAt, "DRAFT")
	f.g.AddMessage(rep, rawMail(buyer, rep, "", "spam", nil, "win\r\n"), sentAt, "SPAM")
	f.g.AddMessage(rep, rawMail("li@acme-routing.io", rep, "", "lunch?", nil, "internal\r\n"), sentAt, "INBOX")
	f.g.AddMessage(rep, []byte("this is not a message"), sentAt, "INBOX")
	auto, _ := f.g.AddMessage(rep, rawMail(buyer, rep, "", "Automatic reply: proposal", map[string]string{"Auto-Submitted": "auto-replied"}, "I am out of office until Monday.\r\n"), sentAt, "INBOX")
	sigs := f.fetch(t, f.notify())
	if len(sigs) != 1 || sigs[0].EventID != auto {
		t.Fatalf("signals %v, want only the auto-reply (kept for the engine to discount)", ids(sigs))
	}
	if sigs[0].Signal.Headers["Auto-Submitted"] != "auto-replied" {
		t.Fatalf("Auto-Submitted not kept: %v", sigs[0].Signal.Headers)
	}
	if m := mail.Read(sigs[0].Signal.Headers, sigs[0].Signal.Subject, sigs[0].Signal.Body); m.Machine != mail.MachineAutoReply {
		t.Fatalf("engine would not see an auto-reply: %+v", m)
	}
}

func TestFetchLatin1AndLargeAttachment(t *testing.T) {
	f := newFetchFixture(t)
	f.baseline(t)
	latin1 := rawMail(buyer, rep, "", "Angebot", map[string]string{
		"Content-Type": `text/plain; charset="iso-8859-1"`, "Content-Transfer-Encoding": "8bit"},
		"K\xf6nnen Sie uns ein Preisangebot f\xfcr 40 Lizenzen schicken?\r\n")
	f.g.AddMessage(rep, latin1, sentAt)
	pdf := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("%PDF-1.7 binary ", 40000)))
	var wrapped strings.Builder
	for len(pdf) > 76 {
		wrapped.WriteString(pdf[:76] + "\r\n")
		pdf = pdf[76:]
	}
	wrapped.WriteString(pdf + "\r\n")
	multi := rawMail(buyer, rep, "", "Signed order form", map[string]string{"Content-Type": `multipart/mixed; boundary="b1"`},
		"--b1\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nHere is the signed order form. Gr\u00fc\u00dfe\r\n"+
			"--b1\r\nContent-Type: application/pdf; name=\"order-form-signed.pdf\"\r\nContent-Disposition: attachment; filename=\"order-form-signed.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"+
			wrapped.String()+"--b1--\r\n")
	if len(multi) < 500<<10 {
		t.Fatalf("test message only %d bytes", len(multi))
	}
	f.g.AddMessage(rep, multi, sentAt)
	sigs := f.fetch(t, f.notify())
	if len(sigs) != 2 {
		t.Fatalf("signals = %d", len(sigs))
	}
	for _, s := range sigs {
		if !utf8.ValidString(s.Signal.Body) || len(s.Signal.Body) > 100<<10 {
			t.Fatalf("body not storable: valid UTF-8 %v, %d bytes", utf8.ValidString(s.Signal.Body), len(s.Signal.Body))
		}
	}
	m := mail.Read(sigs[0].Signal.Headers, sigs[0].Signal.Subject, sigs[0].Signal.Body)
	if !strings.Contains(m.Text, "Können Sie uns ein Preisangebot für 40 Lizenzen") {
		t.Fatalf("latin-1 text after storing: %q", m.Text)
	}
	m = mail.Read(sigs[1].Signal.Headers, sigs[1].Signal.Subject, sigs[1].Signal.Body)
	if !strings.Contains(m.Text, "signed order form. Grüße") || !strings.Contains(m.Text, "Attachment: order-form-signed.pdf") {
		t.Fatalf("compacted multipart reads %q", m.Text)
	}
	if n := f.storeAll(t, sigs); n != 2 {
		t.Fatalf("stored %d", n)
	}
}

func TestFetchNeverLogsSecrets(t *testing.T) {
	f := newFetchFixture(t)
	f.baseline(t)
	f.g.AddMessage(rep, rawMail(buyer, rep, "", "x", nil, "x\r\n"), sentAt)
	f.g.Fail(gmailtest.OpHistoryList, 500)
	_, err := f.fetcher.Fetch(ctxT(t), f.notify())
	f.fetch(t, f.notify())
	f.g.RevokeAccessTokens() // Gmail answers 401: a new token is fetched once
	f.g.AddMessage(rep, rawMail(buyer, rep, "", "y", nil, "y\r\n"), sentAt)
	if sigs := f.fetch(t, f.notify()); len(sigs) != 1 {
		t.Fatalf("after a revoked access token: %d signals", len(sigs))
	}
	keyLines := strings.Split(string(f.keyFile), `\n`)
	secretBits := []string{"ya29.", "PRIVATE KEY", keyLines[1][:20], "assertion"}
	for _, s := range secretBits {
		if strings.Contains(f.logs.String(), s) || strings.Contains(fmt.Sprint(err), s) {
			t.Fatalf("logs or errors contain %q", s)
		}
	}
}
