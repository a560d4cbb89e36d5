package gmail_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/platform/retry"
	"github.com/stagemover/stagemover/shared/source/gmail"
	"github.com/stagemover/stagemover/shared/source/gmail/gmailtest"
	"github.com/stagemover/stagemover/shared/testkit"
)

func TestRenewerWatchesAndRenewsBeforeExpiry(t *testing.T) {
	g := google(t)
	c := testkit.NewClock(time.Now().UTC().Truncate(time.Millisecond))
	g.Now = c.Now
	keyFile, _ := g.AddServiceAccount(saEmail, "acme-routing.io")
	tbl := newTable(t)
	state := gmail.StoreState{Docs: tbl.st}
	const li = "li.chen@acme-routing.io"
	outsider := "x@not-delegated.example"
	r := &gmail.Renewer{
		Client:    &gmail.Client{BaseURL: g.URL, Tokens: &gmail.OAuth{Secret: staticSecret(keyFile), TokenURL: g.TokenURL(), Now: c.Now}},
		Mailboxes: []string{rep, " LI.CHEN@acme-routing.io ", outsider},
		Topic:     "projects/acme-routing-mail/topics/gmail-push",
		LabelIDs:  []string{"INBOX", "SENT"},
		Watches:   state,
		History:   state,
		Now:       c.Now,
		Log:       testkit.DiscardLogger(),
	}
	res, err := r.Renew(ctxT(t))
	if err == nil || !strings.Contains(err.Error(), outsider) || strings.Contains(err.Error(), rep) {
		t.Fatalf("the undelegated mailbox's failure should be reported alone: %v", err)
	}
	if len(res) != 3 || !res[0].Renewed || !res[1].Renewed || res[2].Err == nil {
		t.Fatalf("results %+v", res)
	}
	w := g.Watches()
	if len(w) != 2 || w[0].Mailbox != rep || w[1].Mailbox != li || w[0].TopicName != r.Topic || strings.Join(w[0].LabelIDs, ",") != "INBOX,SENT" {
		t.Fatalf("watch calls %+v", w)
	}
	exp, found, _ := state.GetWatchExpiry(ctxT(t), rep)
	if !found || !exp.Equal(c.Now().Add(7*24*time.Hour)) {
		t.Fatalf("stored expiry %v, want %v", exp, c.Now().Add(7*24*time.Hour))
	}
	cur, found, _ := state.GetCursor(ctxT(t), rep)
	if !found || cur.HistoryID != g.HistoryID(rep) {
		t.Fatalf("baseline cursor %+v, want %d", cur, g.HistoryID(rep))
	}

	// Idempotent: a second run the same day calls watch for nobody.
	if _, err := r.Renew(ctxT(t)); err == nil {
		t.Fatal("the outsider keeps failing")
	}
	if n := g.Count(gmailtest.OpWatch); n != 2 {
		t.Fatalf("watch calls after a second run = %d, want 2", n)
	}

	// 5.5 days later the watches expire within 48 h: renewed, cursor kept.
	if err := state.PutCursor(ctxT(t), rep, gmail.Cursor{HistoryID: 999999}); err != nil {
		t.Fatal(err)
	}
	c.Advance(132 * time.Hour)
	r.Mailboxes = []string{rep, li}
	if err := r.Run(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if n := g.Count(gmailtest.OpWatch); n != 4 {
		t.Fatalf("watch calls = %d, want 4", n)
	}
	exp, _, _ = state.GetWatchExpiry(ctxT(t), li)
	if !exp.Equal(c.Now().Add(7 * 24 * time.Hour)) {
		t.Fatalf("renewed expiry %v", exp)
	}
	if cur, _, _ := state.GetCursor(ctxT(t), rep); cur.HistoryID != 999999 {
		t.Fatalf("renewal overwrote the cursor: %d", cur.HistoryID)
	}
}

func TestRenewerNeedsTopicAndReportsWatchErrors(t *testing.T) {
	g := google(t)
	keyFile, _ := g.AddServiceAccount(saEmail, "acme-routing.io")
	tbl := newTable(t)
	state := gmail.StoreState{Docs: tbl.st}
	client := &gmail.Client{BaseURL: g.URL, Tokens: &gmail.OAuth{Secret: staticSecret(keyFile), TokenURL: g.TokenURL()}}
	if err := (&gmail.Renewer{Client: client, Mailboxes: []string{rep}, Watches: state}).Run(ctxT(t)); err == nil {
		t.Fatal("no topic accepted")
	}
	g.Fail(gmailtest.OpWatch, 503)
	err := (&gmail.Renewer{Client: client, Mailboxes: []string{rep}, Topic: "projects/p/topics/t", Watches: state}).Run(ctxT(t))
	if !retry.IsLater(err) {
		t.Fatalf("watch 503: %v", err)
	}
	if _, found, _ := state.GetWatchExpiry(ctxT(t), rep); found {
		t.Fatal("a failed watch stored an expiry")
	}
}

func TestLoadConfig(t *testing.T) {
	env := map[string]string{
		gmail.EnvPushAudience:       "https://x.execute-api.us-east-1.amazonaws.com/gmail/push",
		gmail.EnvPushServiceAccount: "Push@P.iam.gserviceaccount.com",
		gmail.EnvMailboxes:          "Sam@acme.example, li@acme.example,",
		gmail.EnvTopic:              "projects/p/topics/t",
	}
	c, err := gmail.LoadConfig(func(k string) string { return env[k] }, gmail.EnvPushAudience, gmail.EnvTopic)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Mailboxes) != 2 || c.Mailboxes[0] != "sam@acme.example" || c.PushServiceAccount != "push@p.iam.gserviceaccount.com" ||
		c.CertsURL != gmail.GoogleCertsURL || c.TokenURL != gmail.GoogleTokenURL || c.GmailBaseURL != gmail.GmailBaseURL {
		t.Fatalf("config %+v", c)
	}
	env[gmail.EnvTopic] = "my-topic"
	env[gmail.EnvMailboxes] = "not-an-address"
	env[gmail.EnvCertsURL] = "ftp://x"
	_, err = gmail.LoadConfig(func(k string) string { return env[k] }, gmail.EnvCredentialsSecret)
	for _, name := range []string{gmail.EnvTopic, gmail.EnvMailboxes, gmail.EnvCertsURL, gmail.EnvCredentialsSecret} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Fatalf("error %v does not name %s", err, name)
		}
	}
}
