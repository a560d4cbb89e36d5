package lambdatest_test

// The sample events in events/ are generated here, from the real store code
// writing to DynamoDB Local and the real stream record it produces, so they
// cannot drift from what the functions receive. TestSampleEvents fails when a
// file differs from what the code would generate now; regenerate with
//
//	go test ./shared/testkit/lambdatest -run TestSampleEvents -update

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/stagemover/stagemover/shared/core/signal"
	"github.com/stagemover/stagemover/shared/dev/ddblocal"
	"github.com/stagemover/stagemover/shared/platform/ddbevent"
	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/store"
	"github.com/stagemover/stagemover/shared/testkit"
	"github.com/stagemover/stagemover/shared/testkit/lambdatest"
)

var update = flag.Bool("update", false, "rewrite events/*.json from the current store code")

func TestMain(m *testing.M) { os.Exit(lambdatest.RunTests(m)) }

// SampleSecret is the HMAC secret events/ingest-generic.json is signed with
// (documented in events/README.md; never a real deployment's secret).
const SampleSecret = testkit.SampleIngestSecret

var (
	// The buyer's reply was sent at 09:41:07, forwarded at 09:41:20.317.
	sentAt     = time.Date(2026, 3, 2, 9, 41, 7, 0, time.UTC)
	receivedAt = time.Date(2026, 3, 2, 9, 41, 20, 317_000_000, time.UTC)
	decidedAt  = time.Date(2026, 3, 2, 9, 41, 21, 482_000_000, time.UTC)
)

const (
	sampleDealID  = 4217
	sampleEventID = "gmail-18e0f4c2a7b9d316"
	sampleRegion  = testkit.SampleRegion
	sampleStream  = "arn:aws:dynamodb:us-east-1:123456789012:table/stagemover-Table-1UX5K8Q2ZP3NR/stream/2026-03-01T08:15:42.118"
)

func sampleEnvelope() ingest.Envelope {
	return ingest.Envelope{
		EventID: sampleEventID,
		DealID:  sampleDealID,
		Signal: &signal.Signal{
			Kind:    signal.KindEmail,
			At:      sentAt,
			From:    "dana.whitfield@northwind-logistics.com",
			To:      []string{"sam.ortega@acme-routing.io"},
			Cc:      []string{"li.chen@northwind-logistics.com"},
			Subject: "Re: Route optimisation pilot - next steps",
			Body: "Hi Sam,\n\n" +
				"Thanks for the demo on Thursday, the dispatch team really liked the live re-routing. " +
				"Could you send over a proposal with pricing for 40 driver seats on the annual plan? " +
				"Li (our CFO, cc'd) wants to review it before our budget meeting on the 12th.\n\n" +
				"Also, is SSO included or an add-on?\n\n" +
				"Best,\nDana\n\n" +
				"On Thu, Feb 26, 2026 at 4:02 PM Sam Ortega <sam.ortega@acme-routing.io> wrote:\n" +
				"> Great speaking with you today. The slides from the demo are attached.\n" +
				"> Let me know what the team thinks.\n",
			Headers: map[string]string{
				"Message-ID":  "<CAH7pQx1N3u8r=Zt4kWv0dYf2sLq9m@mail.gmail.com>",
				"In-Reply-To": "<20260226160212.4e1b9c@acme-routing.io>",
			},
		},
	}
}

func generateIngest(t *testing.T) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // as most senders write it
	if err := enc.Encode(sampleEnvelope()); err != nil {
		t.Fatal(err)
	}
	body := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	ts, sig := ingest.Sign([]byte(SampleSecret), receivedAt, body)
	return testkit.MarshalIndent(t, testkit.NewHTTPEvent(testkit.HTTPRequest{
		Path: "/signals", Body: body, At: receivedAt, RequestID: "Kx3vQjPZoAMEbVw=", SourceIP: "203.0.113.24",
		UserAgent: "northwind-mail-bridge/2.4 (+https://northwind-logistics.com)",
		Headers: map[string]string{
			"accept":                 "application/json",
			"content-type":           "application/json",
			"x-amzn-trace-id":        "Root=1-69a55b60-5c1d3e7f9a2b4c6d8e0f1a2b",
			"x-stagemover-signature": sig,
			"x-stagemover-timestamp": ts,
		},
	}))
}

func sampleSignal() store.SignalRecord {
	env := sampleEnvelope()
	return store.SignalRecord{
		Source:     ingest.SourceGeneric,
		EventID:    env.EventID,
		DealID:     env.DealID,
		ReceivedAt: receivedAt,
		Signal:     *env.Signal,
	}
}

func sampleDecision() store.Decision {
	rec := sampleSignal()
	at := sentAt.Format(time.RFC3339)
	return store.Decision{
		DealID:         sampleDealID,
		SignalKey:      rec.Key(),
		EventID:        rec.EventID,
		Action:         store.ActionMove,
		TargetStage:    "Proposal Made",
		TargetPipeline: "Sales",
		Status:         "open",
		Rule:           "proposal_requested",
		Reasons: []store.Reason{
			{Signal: 0, Kind: "email", At: at, Cue: "proposal_request", Excerpt: "Could you send over a proposal with pricing for 40 driver seats", Rule: "proposal_requested", Counted: true},
			{Signal: 0, Kind: "email", At: at, Cue: "stakeholder_added", Excerpt: "Li (our CFO, cc'd) wants to review it", Counted: true},
		},
	}
}

// generateStreamEvents writes the sample signal and decision with the real
// store into DynamoDB Local and returns the stream records Lambda would
// deliver for them (only the ids, sequence numbers and ARN are fixed, so the
// files are reproducible).
func generateStreamEvents(t *testing.T) (evaluator, mover []byte) {
	tbl := ddblocal.ForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	clock := receivedAt
	st := store.New(tbl.DB, tbl.Name, store.WithClock(func() time.Time { return clock }))
	rec := sampleSignal()
	if created, err := st.PutSignal(ctx, rec); err != nil || !created {
		t.Fatalf("PutSignal: created %v, %v", created, err)
	}
	clock = decidedAt
	dec := sampleDecision()
	if created, err := st.PutDecision(ctx, dec); err != nil || !created {
		t.Fatalf("PutDecision: created %v, %v", created, err)
	}

	records := testkit.ReadStream(ctx, t, tbl.Streams, tbl.StreamARN, 2)
	byPK := map[string]events.DynamoDBEventRecord{}
	for _, r := range records {
		ev, err := ddbevent.FromStreamRecord(r, tbl.StreamARN)
		if err != nil {
			t.Fatal(err)
		}
		byPK[ev.Change.Keys["pk"].String()] = ev
	}
	sig, ok := byPK[rec.Key()]
	if !ok {
		t.Fatalf("no stream record for %s", rec.Key())
	}
	decRec, ok := byPK[fmt.Sprintf("DEAL#%d", dec.DealID)]
	if !ok {
		t.Fatalf("no stream record for the decision")
	}
	// The stream image must be the stored item.
	checkImageIsItem(ctx, t, tbl.DB, tbl.Name, sig)
	checkImageIsItem(ctx, t, tbl.DB, tbl.Name, decRec)

	fix := func(r *events.DynamoDBEventRecord, id, seq string, at time.Time) {
		r.EventID = id
		r.AWSRegion = sampleRegion
		r.EventSourceArn = sampleStream
		r.Change.SequenceNumber = seq
		r.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: at.Truncate(time.Second)}
	}
	fix(&sig, "7b3f1e9c2a8d4f60b5e1c7a9d3f2e8b4", "4421584500000000017450439091", receivedAt)
	fix(&decRec, "c2e8a4f6b1d9473e8a5c0f2b7d6e1a93", "4421584600000000017450439412", decidedAt)
	return testkit.MarshalIndent(t, testkit.NewStreamBatch(sig)), testkit.MarshalIndent(t, testkit.NewStreamBatch(decRec))
}

func checkImageIsItem(ctx context.Context, t *testing.T, db *dynamodb.Client, table string, rec events.DynamoDBEventRecord) {
	t.Helper()
	key, err := ddbevent.ToAttributeValueMap(rec.Change.Keys)
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	item, err := ddbevent.FromAttributeValueMap(got.Item)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := string(testkit.MarshalIndent(t, item)), string(testkit.MarshalIndent(t, rec.Change.NewImage)); a != b {
		t.Errorf("stream NewImage differs from the stored item:\nitem:  %s\nimage: %s", a, b)
	}
}

// TestSampleEvents checks (or, with -update, rewrites) events/*.json
// against what the code generates now, then checks each file decodes into
// the aws-lambda-go event type its function takes.
func TestSampleEvents(t *testing.T) {
	root := testkit.RepoRoot(t)
	evaluator, mover := generateStreamEvents(t)
	want := map[string][]byte{
		"ingest-generic.json": generateIngest(t),
		"evaluator.json":      evaluator,
		"mover.json":          mover,
	}
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		testkit.Golden(t, "events/"+name, want[name], *update, "go test ./shared/testkit/lambdatest -run TestSampleEvents -update")
	}
	t.Run("ingest-generic", func(t *testing.T) { checkIngestSample(t, root) })
	t.Run("evaluator", func(t *testing.T) { checkStreamSample(t, root, "evaluator.json", checkSignalImage) })
	t.Run("mover", func(t *testing.T) { checkStreamSample(t, root, "mover.json", checkDecisionImage) })
}

func checkIngestSample(t *testing.T, root string) {
	raw, err := os.ReadFile(filepath.Join(root, "events", "ingest-generic.json"))
	if err != nil {
		t.Fatal(err)
	}
	var req events.APIGatewayV2HTTPRequest
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		t.Fatalf("not an API Gateway v2 HTTP request: %v", err)
	}
	rc := req.RequestContext
	switch {
	case req.Version != "2.0", req.RouteKey != "POST /signals", rc.RouteKey != req.RouteKey,
		req.RawPath != "/signals", rc.HTTP.Path != "/signals", rc.HTTP.Method != "POST",
		rc.Stage != "$default", rc.AccountID == "", rc.APIID == "", rc.DomainName == "", rc.RequestID == "",
		rc.HTTP.Protocol == "", rc.HTTP.SourceIP == "", rc.HTTP.UserAgent == "", rc.Time == "", rc.TimeEpoch == 0,
		req.IsBase64Encoded:
		t.Errorf("request shape: %+v", req)
	}
	for k := range req.Headers {
		if k != strings.ToLower(k) {
			t.Errorf("header %q: HTTP API lowercases header names", k)
		}
	}
	if req.Headers["content-type"] != "application/json" || req.Headers["content-length"] != fmt.Sprint(len(req.Body)) {
		t.Errorf("content-type/content-length headers wrong: %v", req.Headers)
	}
	body, _ := ingest.RequestBody(req)
	ts := ingest.Header(req, ingest.HeaderTimestamp)
	at, _ := time.Parse("02/Jan/2006:15:04:05 -0700", rc.Time)
	if fmt.Sprint(at.Unix()) != ts || rc.TimeEpoch/1000 != at.Unix() {
		t.Errorf("timestamp header %s, requestContext time %q and timeEpoch %d disagree", ts, rc.Time, rc.TimeEpoch)
	}
	if err := ingest.Verify([]byte(SampleSecret), ts, ingest.Header(req, ingest.HeaderSignature), body, at, time.Minute); err != nil {
		t.Errorf("signature with the documented secret: %v", err)
	}
	var env ingest.Envelope
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(&env); err != nil {
		t.Fatalf("body is not a signal envelope: %v", err)
	}
	if env.EventID == "" || env.DealID <= 0 || env.Signal == nil || env.Signal.Kind != signal.KindEmail {
		t.Errorf("envelope: %+v", env)
	} else if err := env.Signal.Validate(); err != nil {
		t.Errorf("signal: %v", err)
	}
}

func checkStreamSample(t *testing.T, root, name string, checkImage func(*testing.T, events.DynamoDBEventRecord)) {
	raw, err := os.ReadFile(filepath.Join(root, "events", name))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.DynamoDBEvent
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		t.Fatalf("not a DynamoDB stream event: %v", err)
	}
	if len(ev.Records) != 1 {
		t.Fatalf("%d records, want 1", len(ev.Records))
	}
	r := ev.Records[0]
	switch {
	case r.EventID == "", r.EventName != "INSERT", r.EventVersion != "1.1", r.EventSource != "aws:dynamodb",
		r.AWSRegion == "", !strings.HasPrefix(r.EventSourceArn, "arn:aws:dynamodb:") || !strings.Contains(r.EventSourceArn, "/stream/"),
		r.Change.ApproximateCreationDateTime.IsZero(), r.Change.SequenceNumber == "", r.Change.SizeBytes <= 0,
		r.Change.StreamViewType != "NEW_AND_OLD_IMAGES", r.Change.OldImage != nil:
		t.Errorf("record shape: %+v", r)
	}
	if len(r.Change.Keys) != 2 || r.Change.Keys["pk"].String() != r.Change.NewImage["pk"].String() ||
		r.Change.Keys["sk"].String() != r.Change.NewImage["sk"].String() {
		t.Errorf("Keys %v do not match the image's pk/sk", r.Change.Keys)
	}
	checkImage(t, r)
}

func checkSignalImage(t *testing.T, r events.DynamoDBEventRecord) {
	item, err := ddbevent.ToAttributeValueMap(r.Change.NewImage)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := store.SignalFromItem(item)
	if err != nil {
		t.Fatal(err)
	}
	// The evaluator's sample is the signal the ingest sample stores.
	want := sampleSignal()
	if rec.Key() != want.Key() || rec.DealID != want.DealID || !rec.ReceivedAt.Equal(want.ReceivedAt) ||
		string(testkit.MarshalIndent(t, rec.Signal)) != string(testkit.MarshalIndent(t, want.Signal)) {
		t.Errorf("signal image decodes to %+v, want %+v", rec, want)
	}
	if r.Change.NewImage["type"].String() != store.TypeSignal {
		t.Errorf("type = %q", r.Change.NewImage["type"].String())
	}
}

func checkDecisionImage(t *testing.T, r events.DynamoDBEventRecord) {
	item, err := ddbevent.ToAttributeValueMap(r.Change.NewImage)
	if err != nil {
		t.Fatal(err)
	}
	d, err := store.DecisionFromItem(item)
	if err != nil {
		t.Fatal(err)
	}
	want := sampleDecision()
	if d.DealID != want.DealID || d.SortKey() != want.SortKey() || d.Action != store.ActionMove ||
		d.State != store.StatePending || d.TargetStage != want.TargetStage || d.Attempts != 0 || len(d.Reasons) != len(want.Reasons) {
		t.Errorf("decision image decodes to %+v", d)
	}
}
