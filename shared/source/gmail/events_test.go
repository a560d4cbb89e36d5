package gmail_test

// events/ingest-gmail.json and events/fetcher-gmail.json are generated here:
// the push request is built as Pub/Sub sends it (body per
// https://cloud.google.com/pubsub/docs/push, data per
// https://developers.google.com/gmail/api/guides/push, token per
// https://cloud.google.com/pubsub/docs/authenticate-push-subscriptions, signed
// with testdata/sample-oidc-key.pem), handled by the real handler into
// DynamoDB Local, and the fetch item's stream record is what the fetcher
// sample holds. TestSampleEvents fails when a file differs; regenerate with
//
//	go test ./shared/source/gmail -run TestSampleEvents -update

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stagemover/stagemover/shared/dev/ddblocal"
	"github.com/stagemover/stagemover/shared/platform/ddbevent"
	"github.com/stagemover/stagemover/shared/platform/metrics"
	"github.com/stagemover/stagemover/shared/source/gmail"
	"github.com/stagemover/stagemover/shared/source/gmail/gmailtest"
	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/store"
	"github.com/stagemover/stagemover/shared/testkit"
)

var update = flag.Bool("update", false, "rewrite events/ingest-gmail.json and events/fetcher-gmail.json")

// The sample: Sam's mailbox changed at 09:41:07 (Dana's reply arrived);
// Pub/Sub published at 09:41:09.482 and pushed at 09:41:09.731.
const (
	sampleMailbox      = "sam.ortega@acme-routing.io"
	sampleHistoryID    = 4817392
	sampleMessageID    = "11093752481723045"
	sampleSubscription = "projects/acme-routing-mail/subscriptions/stagemover-gmail-push"
	samplePushSA       = "gmail-push@acme-routing-mail.iam.gserviceaccount.com"
	sampleAPIID        = "r8k2m4x7q1"
	sampleRegion       = "us-east-1"
	sampleAccount      = "123456789012"
	sampleAudience     = "https://" + sampleAPIID + ".execute-api." + sampleRegion + ".amazonaws.com/gmail/push"
	sampleRoute        = "POST /gmail/push"
	sampleStream       = "arn:aws:dynamodb:us-east-1:123456789012:table/stagemover-Table-1UX5K8Q2ZP3NR/stream/2026-03-01T08:15:42.118"
)

var (
	samplePublished = time.Date(2026, 3, 2, 9, 41, 9, 482_000_000, time.UTC)
	sampleReceived  = time.Date(2026, 3, 2, 9, 41, 9, 731_000_000, time.UTC)
)

func sampleKeys(t testing.TB) *gmailtest.KeySet {
	t.Helper()
	pem, err := os.ReadFile("testdata/sample-oidc-key.pem")
	if err != nil {
		t.Fatal(err)
	}
	ks, err := gmailtest.NewKeySetFromPEM(pem)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// samplePushBody is the body Pub/Sub POSTs: message id and publish time in
// both spellings, data the standard-base64 Gmail notification (its
// historyId a string, as in Gmail's guide).
func samplePushBody() []byte {
	data := fmt.Sprintf(`{"emailAddress":%q,"historyId":"%d"}`, sampleMailbox, sampleHistoryID)
	pub := samplePublished.Format("2006-01-02T15:04:05.000Z")
	return []byte(fmt.Sprintf(`{"message":{"data":%q,"messageId":%q,"message_id":%q,"publishTime":%q,"publish_time":%q},"subscription":%q}`,
		base64.StdEncoding.EncodeToString([]byte(data)), sampleMessageID, sampleMessageID, pub, pub, sampleSubscription))
}

func generateIngest(t *testing.T, ks *gmailtest.KeySet) []byte {
	body := samplePushBody()
	claims := gmailtest.DefaultPushClaims(sampleAudience, samplePublished.Truncate(time.Second))
	claims.Email = samplePushSA
	claims.AZP, claims.Sub = "108429537164902837561", "108429537164902837561"
	token := ks.Mint(claims)
	const ua = "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)"
	ev := testkit.NewHTTPEvent(testkit.HTTPRequest{
		Path: "/gmail/push", Body: body, SourceIP: "66.249.84.162", UserAgent: ua, RequestID: "Kx3vLhYdoAMEbQw=",
		At: sampleReceived,
		Headers: map[string]string{
			"accept-encoding": "gzip, deflate, br",
			"authorization":   "Bearer " + token,
			"content-type":    "application/json",
			"from":            "noreply@google.com",
			"x-amzn-trace-id": "Root=1-69a55b55-3e8c1f0a7b2d4e6f8a0c2e4b",
		},
	})
	return testkit.MarshalIndent(t, ev)
}

// generateFetcher runs the handler on the ingest sample into DynamoDB Local
// and returns the fetch item's stream record as Lambda delivers it.
func generateFetcher(t *testing.T, ks *gmailtest.KeySet, sample []byte) []byte {
	tbl := ddblocal.ForTest(t)
	ctx := ctxT(t)
	now := func() time.Time { return sampleReceived }
	st := store.New(tbl.DB, tbl.Name, store.WithClock(now))
	srv := gmailtest.NewServerWithKeys(ks)
	defer srv.Close()
	h := &ingest.Handler{
		Source:  gmail.Webhook{Verifier: &gmail.Verifier{Keys: &gmail.KeySet{URL: srv.CertsURL(), Now: now}, Audience: sampleAudience, Email: samplePushSA, Now: now}},
		Store:   st,
		Now:     now,
		Log:     testkit.DiscardLogger(),
		Metrics: metrics.New(nil, "StageMover", "ingest-gmail"),
	}
	var req events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(sample, &req); err != nil {
		t.Fatal(err)
	}
	resp, err := h.Handle(ctx, req)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("sample ingest: %d %s %v", resp.StatusCode, resp.Body, err)
	}
	recs := testkit.ReadStream(ctx, t, tbl.Streams, tbl.StreamARN, 1)
	ev, err := ddbevent.FromStreamRecord(recs[0], tbl.StreamARN)
	if err != nil {
		t.Fatal(err)
	}
	ev.EventID = "5d1e8a3c7f2b49e0a6c4d8b1f3e7a925"
	ev.AWSRegion = sampleRegion
	ev.EventSourceArn = sampleStream
	ev.Change.SequenceNumber = "4421584400000000017450438811"
	ev.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: sampleReceived.Truncate(time.Second)}
	return testkit.MarshalIndent(t, testkit.NewStreamBatch(ev))
}

// TestSampleEvents checks (or, with -update, rewrites) the two samples.
func TestSampleEvents(t *testing.T) {
	ks := sampleKeys(t)
	pushSample := generateIngest(t, ks)
	want := map[string][]byte{
		"ingest-gmail.json":  pushSample,
		"fetcher-gmail.json": generateFetcher(t, ks, pushSample),
	}
	for name, b := range want {
		path := filepath.Join(testkit.RepoRoot(t), "events", name)
		if *update {
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("wrote %s", path)
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (generate with: go test ./shared/source/gmail -run TestSampleEvents -update)", err)
		}
		if !bytes.Equal(got, b) {
			t.Errorf("events/%s is not what the code generates now; regenerate with go test ./shared/source/gmail -run TestSampleEvents -update", name)
		}
	}
}

// TestPushSampleGolden decodes the sample exactly as documented and checks
// the fetch item the fetcher sample carries.
func TestPushSampleGolden(t *testing.T) {
	root := testkit.RepoRoot(t)
	raw, err := os.ReadFile(filepath.Join(root, "events", "ingest-gmail.json"))
	if err != nil {
		t.Fatal(err)
	}
	var req events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		t.Fatal(err)
	}
	if req.RouteKey != sampleRoute || !strings.HasPrefix(req.Headers["authorization"], "Bearer ey") {
		t.Fatalf("sample route %q or authorization header not as Pub/Sub sends it", req.RouteKey)
	}
	n, err := gmail.DecodePush([]byte(req.Body))
	if err != nil {
		t.Fatal(err)
	}
	want := gmail.Notification{EmailAddress: sampleMailbox, HistoryID: sampleHistoryID, MessageID: sampleMessageID,
		PublishTime: samplePublished, Subscription: sampleSubscription}
	if n != want {
		t.Fatalf("decoded %+v, want %+v", n, want)
	}
	// The token verifies against the sample key at the sample time only.
	srv := gmailtest.NewServerWithKeys(sampleKeys(t))
	defer srv.Close()
	at := func() time.Time { return sampleReceived }
	v := &gmail.Verifier{Keys: &gmail.KeySet{URL: srv.CertsURL(), Now: at}, Audience: sampleAudience, Email: samplePushSA, Now: at}
	id, err := v.Verify(ctxT(t), req.Headers["authorization"])
	if err != nil || id.Email != samplePushSA {
		t.Fatalf("sample token: %+v %v", id, err)
	}
	later := func() time.Time { return sampleReceived.Add(2 * time.Hour) }
	v.Now = later
	if _, err := v.Verify(ctxT(t), req.Headers["authorization"]); err == nil {
		t.Fatal("the sample token still verifies two hours later")
	}

	raw, err = os.ReadFile(filepath.Join(root, "events", "fetcher-gmail.json"))
	if err != nil {
		t.Fatal(err)
	}
	var batch events.DynamoDBEvent
	if err := json.Unmarshal(raw, &batch); err != nil || len(batch.Records) != 1 {
		t.Fatalf("fetcher sample: %v (%d records)", err, len(batch.Records))
	}
	item, err := ddbevent.ToAttributeValueMap(batch.Records[0].Change.NewImage)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := store.FetchFromItem(item)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Source != gmail.Source || rec.NotificationID != sampleMessageID || rec.Mailbox != sampleMailbox ||
		rec.Resource != fmt.Sprint(sampleHistoryID) || !rec.ReceivedAt.Equal(sampleReceived) {
		t.Fatalf("fetch record %+v", rec)
	}
	var payload gmail.Notification
	if err := json.Unmarshal([]byte(rec.Payload), &payload); err != nil || payload != want {
		t.Fatalf("payload %s: %v", rec.Payload, err)
	}
	if batch.Records[0].EventName != "INSERT" {
		t.Fatalf("event name %s", batch.Records[0].EventName)
	}
}
