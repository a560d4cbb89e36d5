package main

// The fetcher's plain sample run is a row of TestEveryFunctionWithItsSample
// (shared/testkit/lambdatest); these tests run its retries and failures with
// the same lambdatest.Fixture: the real bootstrap (built as for Lambda) under
// the Lambda Runtime Interface Emulator, against DynamoDB Local, an
// in-process Secrets Manager (kumo) holding the provider credentials, and the
// provider stand-ins over real HTTP: Microsoft Graph
// (shared/source/graph/graphtest) and Google (shared/source/gmail/gmailtest).
// The samples events/fetcher-graph.json and events/fetcher-gmail.json are
// stream batches with one fetch item each; the item is put in the table
// first, as the ingest function stores it.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/stagemover/stagemover/shared/source/gmail"
	"github.com/stagemover/stagemover/shared/source/gmail/gmailtest"
	"github.com/stagemover/stagemover/shared/source/graph/graphtest"
	"github.com/stagemover/stagemover/shared/store"
	"github.com/stagemover/stagemover/shared/testkit"
	"github.com/stagemover/stagemover/shared/testkit/lambdatest"
)

func TestMain(m *testing.M) { os.Exit(lambdatest.RunTests(m)) }

const (
	mailbox = testkit.SampleMailbox
	buyer   = "dana.whitfield@northwind-logistics.com"
	// The user id and tenant in the Graph sample's resource path.
	sampleUserID = "5b2f7c1e-8d3a-4f6b-9c0e-1a2b3c4d5e6f"
)

type fixture struct {
	*lambdatest.Fixture
	store  *store.Store
	graph  *graphtest.Server
	google *gmailtest.Server
}

func setup(t *testing.T) *fixture {
	f := &fixture{Fixture: lambdatest.NewFixture(t, "fetcher"), graph: graphtest.New()}
	f.store = f.Store()
	t.Cleanup(f.graph.Close)
	var err error
	if f.google, err = gmailtest.NewServer(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.google.Close)
	keyFile, err := f.google.AddServiceAccount("stagemover-reader@acme-routing-mail.iam.gserviceaccount.com", "acme-routing.io")
	if err != nil {
		t.Fatal(err)
	}
	clientState := testkit.RandomSecret(t, "cs")
	f.PutSecret(t, "GMAIL_CREDENTIALS_SECRET_ARN", "stagemover/gmail-credentials", string(keyFile),
		pemChunk(t, testkit.SecretField(t, string(keyFile), "private_key")))
	f.PutSecret(t, "GRAPH_CREDENTIALS_SECRET_ARN", "stagemover/graph-credentials", f.graph.CredentialsJSON(), f.graph.ClientSecret)
	f.PutSecret(t, "GRAPH_CLIENT_STATE_SECRET_ARN", "stagemover/graph-client-state", testkit.SecretJSON("client_state", clientState), clientState)
	// Where the function finds the stand-ins.
	f.Env["GRAPH_BASE_URL"], f.Env["GRAPH_LOGIN_URL"] = f.graph.GraphURL(), f.graph.LoginURL()
	f.Env["GMAIL_BASE_URL"], f.Env["GOOGLE_TOKEN_URL"] = f.google.URL, f.google.TokenURL()
	return f
}

// pemChunk is a line from the middle of a PEM key: the whole key would be
// logged JSON-escaped, a line of it as it is.
func pemChunk(t *testing.T, pemKey string) string {
	lines := strings.Split(strings.TrimSpace(pemKey), "\n")
	if len(lines) < 5 {
		t.Fatal("the service account key is not a PEM block")
	}
	return lines[len(lines)/2]
}

// putFetch stores the sample's fetch item as the ingest function stored it.
func (f *fixture) putFetch(t *testing.T, event []byte) (store.FetchRecord, string) {
	t.Helper()
	ev := lambdatest.StreamEvent(t, event)
	rec, err := store.FetchFromItem(lambdatest.NewImage(t, ev, 0))
	if err != nil {
		t.Fatal(err)
	}
	if created, err := f.store.PutFetch(context.Background(), rec); err != nil || !created {
		t.Fatalf("PutFetch: %v %v", created, err)
	}
	return rec, ev.Records[0].Change.SequenceNumber
}

// failedAttempts is the fetch item's count of failed attempts.
func (f *fixture) failedAttempts(t *testing.T, rec store.FetchRecord) int {
	t.Helper()
	out, err := f.Table.DB.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName:      aws.String(f.Table.Name),
		Key:            map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: rec.Key()}, "sk": &types.AttributeValueMemberS{Value: "FETCH"}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	n, ok := out.Item["failed_attempts"].(*types.AttributeValueMemberN)
	if !ok {
		return 0
	}
	v, _ := strconv.Atoi(n.Value)
	return v
}

// run is the common course: the provider fails once (the record comes
// back as a batch item failure, nothing stored), the stream's retry
// fetches and stores the signal, a redelivery stores nothing new.
func (f *fixture) run(t *testing.T, sample string, fail func(), check func(store.SignalRecord)) {
	event := testkit.Event(t, sample)
	rec, seq := f.putFetch(t, event)
	rie := f.Start(t)

	fail()
	resp := rie.InvokeBatch(t, event)
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != seq {
		t.Fatalf("provider failing: batch item failures %+v, want the record %s\n%s", resp.BatchItemFailures, seq, rie.Output())
	}
	if n := len(f.Signals(t)); n != 0 {
		t.Errorf("%d signals stored by a failed fetch, want 0", n)
	}
	if n := f.failedAttempts(t, rec); n != 1 {
		t.Errorf("failed_attempts = %d after one failed fetch, want 1", n)
	}

	// The stream retries the record; the provider answers now.
	if resp := rie.InvokeBatch(t, event); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("retry: batch item failures %+v\n%s", resp.BatchItemFailures, rie.Output())
	}
	sigs := f.Signals(t)
	if len(sigs) != 1 {
		t.Fatalf("%d signals after the fetch, want 1\n%s", len(sigs), rie.Output())
	}
	s := sigs[0]
	if s.PersonEmail != buyer || s.Signal.Kind != "email" || s.Signal.From != buyer ||
		!strings.Contains(s.Signal.Body, "proposal with pricing") {
		t.Errorf("stored signal %+v", s)
	}
	check(s)

	// A redelivery of the same record stores nothing new.
	if resp := rie.InvokeBatch(t, event); len(resp.BatchItemFailures) != 0 {
		t.Errorf("redelivery: batch item failures %+v", resp.BatchItemFailures)
	}
	if n := len(f.Signals(t)); n != 1 {
		t.Errorf("%d signals after a redelivery, want still 1", n)
	}

	out := rie.Output()
	if !strings.Contains(out, "fetch failed; the stream will retry") || !strings.Contains(out, `"msg":"fetched"`) {
		t.Errorf("expected the function's JSON log lines in its output:\n%s", out)
	}
	f.AssertNoSecrets(t, out)
}

func TestFetcherGraphSampleRetried(t *testing.T) {
	f := setup(t)
	// The message the sample notification is about, in the sample's mailbox.
	msg := testkit.ReadRepoFile(t, "shared/source/graph/testdata/message-buyer-reply.json")
	f.graph.AddUserWithID(mailbox, sampleUserID)
	id := f.graph.AddMessage(mailbox, msg)

	f.run(t, "fetcher-graph.json",
		func() { f.graph.Fail(http.MethodGet, "/messages/"+id, http.StatusServiceUnavailable, 0, 1) },
		func(s store.SignalRecord) {
			if s.Source != "graph" || !strings.Contains(s.EventID, "CAH7pQx1N3u8r=Zt4kWv0dYf2sLq9m") {
				t.Errorf("signal %s %s: want the Graph message's internetMessageId", s.Source, s.EventID)
			}
		})
	gets := 0
	for _, r := range f.graph.Requests() {
		if strings.HasPrefix(r, "GET /v1.0/users/") && strings.HasSuffix(r, "/messages/"+id) {
			gets++
		}
	}
	if gets != 3 {
		t.Errorf("%d message GETs in the stand-in's log, want 3 (failed, fetched, redelivered)", gets)
	}
	if n := f.graph.TokenRequests(); n != 1 {
		t.Errorf("%d token requests, want 1 (the token is cached)", n)
	}
}

func TestFetcherGmailSampleRetried(t *testing.T) {
	f := setup(t)
	// The mailbox was fetched up to its current history id; then the
	// buyer's reply arrived, and Gmail published the sample notification.
	ctx := context.Background()
	cursor := f.google.HistoryID(mailbox)
	if err := (gmail.StoreState{Docs: f.store}).PutCursor(ctx, mailbox, gmail.Cursor{HistoryID: cursor}); err != nil {
		t.Fatal(err)
	}
	raw := strings.ReplaceAll(fmt.Sprintf(`Received: from mail-sor-f41.google.com by mx.google.com
From: Dana Whitfield <%s>
To: Sam Ortega <%s>
Cc: Li Chen <li.chen@northwind-logistics.com>
Subject: Re: Route optimisation pilot - next steps
Date: Mon, 2 Mar 2026 09:41:07 +0000
Message-ID: <CAH7pQx1N3u8r=Zt4kWv0dYf2sLq9m@mail.gmail.com>
In-Reply-To: <20260226160212.4e1b9c@acme-routing.io>
MIME-Version: 1.0
Content-Type: text/plain; charset="UTF-8"

Hi Sam,

Thanks for the demo on Thursday. Could you send over a proposal with pricing
for 40 driver seats on the annual plan?

Best,
Dana
`, buyer, mailbox), "\n", "\r\n")
	id, hid := f.google.AddMessage(mailbox, []byte(raw), time.Date(2026, 3, 2, 9, 41, 7, 0, time.UTC), "INBOX", "UNREAD")
	if hid <= cursor {
		t.Fatalf("stand-in history id %d not after the cursor %d", hid, cursor)
	}

	f.run(t, "fetcher-gmail.json",
		func() { f.google.Fail(gmailtest.OpHistoryList, http.StatusServiceUnavailable) },
		func(s store.SignalRecord) {
			if s.Source != gmail.Source || s.EventID != id {
				t.Errorf("signal %s %s: want the Gmail message id %s", s.Source, s.EventID, id)
			}
		})
	c, found, err := (gmail.StoreState{Docs: f.store}).GetCursor(ctx, mailbox)
	if err != nil || !found || c.HistoryID != hid {
		t.Errorf("cursor after the fetch: %+v %v %v, want history id %d", c, found, err, hid)
	}
	if n := f.google.Count(gmailtest.OpMessageGet); n != 2 {
		t.Errorf("%d messages.get, want 2 (fetched, redelivered)", n)
	}
}

// A fetch that fails on every attempt the event source mapping makes (1 +
// MaximumRetryAttempts = 3) is counted on the last one as the FetchFailed
// metric the FetchFailuresAlarm watches, and still comes back as a batch
// item failure, so the mapping sends it to the failure queue.
func TestFetcherLastAttemptCountsFetchFailed(t *testing.T) {
	f := setup(t)
	f.graph.AddUserWithID(mailbox, sampleUserID)
	event := testkit.Event(t, "fetcher-graph.json")
	rec, seq := f.putFetch(t, event)
	rie := f.Start(t)
	f.graph.Fail(http.MethodGet, "/messages/", http.StatusServiceUnavailable, 0, 3)
	for attempt := 1; attempt <= 3; attempt++ {
		resp := rie.InvokeBatch(t, event)
		if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != seq {
			t.Fatalf("attempt %d: batch item failures %+v, want the record %s", attempt, resp.BatchItemFailures, seq)
		}
		if got := countMetric(t, rie.Output(), "FetchFailed"); (attempt < 3 && got != 0) || (attempt == 3 && got != 1) {
			t.Errorf("after attempt %d: %d FetchFailed metrics, want %d", attempt, got, attempt/3)
		}
	}
	if n := f.failedAttempts(t, rec); n != 3 {
		t.Errorf("failed_attempts = %d, want 3", n)
	}
	if n := len(f.Signals(t)); n != 0 {
		t.Errorf("%d signals stored by failed fetches", n)
	}
	f.AssertNoSecrets(t, rie.Output())
}

// Issue 8, point 5: a mailbox Graph cannot resolve answers 404
// ErrorInvalidUser. That is not a deleted message: the fetch fails on every
// attempt, the last one counts FetchFailed, and the record goes to the
// failure queue, instead of the mail being dropped without a trace.
func TestFetcherGraphUnresolvableMailboxEndsInFailureQueue(t *testing.T) {
	f := setup(t)
	// the stand-in knows no user: Graph answers 404 ErrorInvalidUser
	event := testkit.Event(t, "fetcher-graph.json")
	rec, seq := f.putFetch(t, event)
	rie := f.Start(t)
	for attempt := 1; attempt <= 3; attempt++ {
		resp := rie.InvokeBatch(t, event)
		if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != seq {
			t.Fatalf("attempt %d: batch item failures %+v, want the record %s\n%s", attempt, resp.BatchItemFailures, seq, rie.Output())
		}
	}
	if got := countMetric(t, rie.Output(), "FetchFailed"); got != 1 {
		t.Errorf("%d FetchFailed metrics after 3 failed attempts, want 1", got)
	}
	if n := f.failedAttempts(t, rec); n != 3 {
		t.Errorf("failed_attempts = %d, want 3", n)
	}
	if n := len(f.Signals(t)); n != 0 {
		t.Errorf("%d signals stored", n)
	}
	if out := rie.Output(); !strings.Contains(out, "ErrorInvalidUser") {
		t.Errorf("the failure does not name Graph's error code:\n%s", out)
	}
	f.AssertNoSecrets(t, rie.Output())
}

// Issue 8, point 3: the fetcher reads only the mailboxes in GRAPH_MAILBOXES.
// A fetch item for another mailbox (stored before the list changed) fails
// without a single Graph request, counted, and ends in the failure queue.
func TestFetcherGraphRefusesUnwatchedMailbox(t *testing.T) {
	f := setup(t)
	f.Env["GRAPH_MAILBOXES"] = "li.chen@acme-routing.io"
	f.graph.AddUserWithID(mailbox, sampleUserID)
	event := testkit.Event(t, "fetcher-graph.json")
	_, seq := f.putFetch(t, event)
	rie := f.Start(t)
	resp := rie.InvokeBatch(t, event)
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != seq {
		t.Fatalf("batch item failures %+v, want the record %s\n%s", resp.BatchItemFailures, seq, rie.Output())
	}
	for _, r := range f.graph.Requests() {
		if strings.Contains(r, "/users/") {
			t.Errorf("the fetcher read Graph for an unwatched mailbox: %s", r)
		}
	}
	if n := len(f.Signals(t)); n != 0 {
		t.Errorf("%d signals stored", n)
	}
	if got := countMetric(t, rie.Output(), "GraphMailboxNotWatched"); got != 1 {
		t.Errorf("%d GraphMailboxNotWatched metrics, want 1\n%s", got, rie.Output())
	}
	f.AssertNoSecrets(t, rie.Output())
}

// countMetric counts the EMF lines in output that count name in the
// StageMover namespace with the Function=fetcher dimension, as the
// template's FetchFailuresAlarm selects it.
func countMetric(t *testing.T, output, name string) int {
	t.Helper()
	n := 0
	for _, line := range strings.Split(output, "\n") {
		if !strings.Contains(line, `"_aws"`) || !strings.Contains(line, `"`+name+`"`) {
			continue
		}
		var emf struct {
			AWS struct {
				CloudWatchMetrics []struct {
					Namespace  string
					Dimensions [][]string
					Metrics    []struct{ Name string }
				}
			} `json:"_aws"`
			Function string
		}
		if err := json.Unmarshal([]byte(strings.TrimSpace(line)), &emf); err != nil {
			t.Errorf("EMF line does not decode: %v: %s", err, line)
			continue
		}
		for _, m := range emf.AWS.CloudWatchMetrics {
			if m.Namespace == "StageMover" && len(m.Dimensions) == 1 && len(m.Dimensions[0]) == 1 &&
				m.Dimensions[0][0] == "Function" && emf.Function == "fetcher" && len(m.Metrics) == 1 && m.Metrics[0].Name == name {
				n++
			}
		}
	}
	return n
}
