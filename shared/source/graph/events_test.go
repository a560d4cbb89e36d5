package graph_test

// The Lambda samples events/ingest-graph-validation.json,
// events/ingest-graph-notification.json and events/fetcher-graph.json are
// generated here: the API Gateway events from the values below, the stream
// batch from what the handler really stores for the notification sample in
// DynamoDB Local (read back from the table's stream). TestSampleEvents fails
// when a file differs; regenerate with
//
//	go test ./shared/source/graph -run TestSampleEvents -update

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stagemover/stagemover/shared/dev/ddblocal"
	"github.com/stagemover/stagemover/shared/platform/ddbevent"
	"github.com/stagemover/stagemover/shared/platform/metrics"
	"github.com/stagemover/stagemover/shared/source/graph"
	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/source/ingest/ingesttest"
	"github.com/stagemover/stagemover/shared/store"
	"github.com/stagemover/stagemover/shared/testkit"
)

// SampleClientState is the clientState of events/ingest-graph-notification.json
// (never a deployment's secret).
const SampleClientState = "stagemover-graph-sample-client-state-not-for-production"

const (
	sampleMailbox    = "sam.ortega@acme-routing.io"
	sampleUserID     = "5b2f7c1e-8d3a-4f6b-9c0e-1a2b3c4d5e6f"
	sampleTenantID   = "84bd8158-6d4d-4958-8b9f-9d6445542f95"
	sampleMessageID  = "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A9HRsdplw2EuW2fFqt5C6RgAABZz9vAAA"
	sampleSubID      = "7f105c7d-2dc5-4530-97cd-4e7ae6534c07"
	sampleAPIHost    = "r8k2m4x7q1.execute-api.us-east-1.amazonaws.com"
	sampleStreamARN  = "arn:aws:dynamodb:us-east-1:123456789012:table/stagemover-Table-1UX5K8Q2ZP3NR/stream/2026-03-01T08:15:42.118"
	sampleValidation = "Validation: Testing client application reachability for subscription Request-Id: 3b3f9821-ce3f-23d9-879b-00a23f3c2d1e"
)

// The notification arrives 13 s after the message (Graph's usual latency).
var sampleReceived = time.Date(2026, 3, 2, 9, 41, 20, 317_000_000, time.UTC)

func sampleAPIEvent(query url.Values, contentType, body, requestID, trace string, at time.Time) testkit.HTTPEvent {
	e := testkit.NewHTTPEvent(testkit.HTTPRequest{
		Path: "/webhooks/graph", Query: query.Encode(), Body: []byte(body),
		SourceIP: "52.159.23.209", RequestID: requestID, At: at.UTC(),
		Headers: map[string]string{"content-type": contentType, "x-amzn-trace-id": trace},
	})
	e.QueryStringParameters = map[string]string{}
	for k := range query {
		e.QueryStringParameters[k] = query.Get(k)
	}
	return e
}

func sampleNotificationBody() string {
	// the field order of the docs' change notification example
	type resourceData struct {
		ODataType string `json:"@odata.type"`
		ODataID   string `json:"@odata.id"`
		ODataEtag string `json:"@odata.etag"`
		ID        string `json:"id"`
	}
	type notification struct {
		ID                             string       `json:"id"`
		SubscriptionID                 string       `json:"subscriptionId"`
		SubscriptionExpirationDateTime string       `json:"subscriptionExpirationDateTime"`
		ClientState                    string       `json:"clientState"`
		ChangeType                     string       `json:"changeType"`
		Resource                       string       `json:"resource"`
		TenantID                       string       `json:"tenantId"`
		ResourceData                   resourceData `json:"resourceData"`
	}
	n := notification{
		ID:                             "lsgTZMr9KwAAA",
		SubscriptionID:                 sampleSubID,
		SubscriptionExpirationDateTime: "2026-03-05T07:55:03.118Z", // created at the handshake, 4215 minutes ahead
		ClientState:                    SampleClientState,
		ChangeType:                     "created",
		Resource:                       "users/" + sampleUserID + "@" + sampleTenantID + "/messages/" + sampleMessageID,
		TenantID:                       sampleTenantID,
		ResourceData: resourceData{
			ODataType: "#Microsoft.Graph.Message",
			ODataID:   "Users/" + sampleUserID + "@" + sampleTenantID + "/Messages/" + sampleMessageID,
			ODataEtag: `W/"CQAAABYAAAD0dGx2mXDYS5bZ8Wq3kLpGAAAFq1rT"`,
			ID:        sampleMessageID,
		},
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(struct {
		Value []notification `json:"value"`
	}{[]notification{n}})
	return strings.TrimSpace(buf.String())
}

func sampleQuery() url.Values {
	return url.Values{graph.QueryMailbox: {sampleMailbox}, graph.QueryKind: {graph.KindMessages}}
}

func checkSample(t *testing.T, name string, got []byte) []byte {
	t.Helper()
	return ingesttest.GoldenBytes(t, filepath.Join("..", "..", "..", "events", name), got, *update,
		"what the code generates now (run go test ./shared/source/graph -run TestSampleEvents -update)")
}

func TestSampleEvents(t *testing.T) {
	ctx := context.Background()
	// 1. the validation handshake Graph makes when the subscription is created
	vq := sampleQuery()
	vq.Set(graph.QueryValidationToken, sampleValidation)
	validationAt := time.Date(2026, 3, 2, 9, 40, 3, 118_000_000, time.UTC)
	vraw := checkSample(t, "ingest-graph-validation.json", testkit.MarshalIndent(t,
		sampleAPIEvent(vq, "text/plain; charset=utf-8", "", "Kx3vQjPZoAMEbUw=", "Root=1-69a55b13-1e2f3a4b5c6d7e8f9a0b1c2d", validationAt)))

	// 2. the change notification for the buyer's reply
	body := sampleNotificationBody()
	nraw := checkSample(t, "ingest-graph-notification.json", testkit.MarshalIndent(t,
		sampleAPIEvent(sampleQuery(), "application/json", body, "Kx3vQjPZoAMEbVw=", "Root=1-69a55b60-5c1d3e7f9a2b4c6d8e0f1a2b", sampleReceived)))

	tbl := ddblocal.ForTest(t)
	st := store.New(tbl.DB, tbl.Name, store.WithClock(func() time.Time { return sampleReceived }))
	h := &ingest.Handler{Source: graph.Webhook{Mailboxes: []string{sampleMailbox}}, Store: st,
		Key: func(context.Context) ([]byte, error) { return []byte(SampleClientState), nil },
		Now: func() time.Time { return sampleReceived }, Log: testkit.DiscardLogger(), Metrics: metrics.New(nil, "StageMover", "ingest-graph")}

	var vreq events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(vraw, &vreq); err != nil {
		t.Fatal(err)
	}
	resp, err := h.Handle(ctx, vreq)
	if err != nil || resp.StatusCode != 200 || resp.Body != sampleValidation || resp.Headers["Content-Type"] != "text/plain; charset=utf-8" {
		t.Fatalf("validation sample: %v %+v", err, resp)
	}

	var nreq events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(nraw, &nreq); err != nil {
		t.Fatal(err)
	}
	resp, err = h.Handle(ctx, nreq)
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("notification sample: %v %+v", err, resp)
	}

	// 3. the stream record of the stored fetch item
	recs := testkit.ReadStream(ctx, t, tbl.Streams, tbl.StreamARN, 1)
	if len(recs) != 1 {
		t.Fatalf("%d stream records, want 1", len(recs))
	}
	rec := recs[0]
	ev, err := ddbevent.FromStreamRecord(rec, tbl.StreamARN)
	if err != nil {
		t.Fatal(err)
	}
	ev.EventID = "e41c7a2b9f0d4e8a8b6c3d1f0a9e7b52"
	ev.AWSRegion = "us-east-1"
	ev.EventSourceArn = sampleStreamARN
	ev.Change.SequenceNumber = "4421584500000000017450439377"
	ev.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: sampleReceived.Truncate(time.Second)}
	fraw := checkSample(t, "fetcher-graph.json", testkit.MarshalIndent(t, orderedStreamBatch(ev)))

	// the fetcher sample decodes into the fetch item and fetches the reply
	var batch events.DynamoDBEvent
	if err := json.Unmarshal(fraw, &batch); err != nil || len(batch.Records) != 1 {
		t.Fatalf("fetcher sample: %v", err)
	}
	item, err := ddbevent.ToAttributeValueMap(batch.Records[0].Change.NewImage)
	if err != nil {
		t.Fatal(err)
	}
	fr, err := store.FetchFromItem(item)
	if err != nil {
		t.Fatal(err)
	}
	if fr.Mailbox != sampleMailbox || fr.Source != graph.Source || bytes.Contains(fraw, []byte(SampleClientState)) {
		t.Fatalf("fetch item %+v (or the sample holds the clientState)", fr)
	}
	now := testkit.NewClock(sampleReceived.Add(2 * time.Second))
	s, c := newStandIn(t, now)
	s.AddUserWithID(sampleMailbox, sampleUserID)
	if got := s.AddMessage(sampleMailbox, readTestdata(t, "message-buyer-reply.json")); got != sampleMessageID {
		t.Fatalf("stand-in message id %q", got)
	}
	sigs, err := newFetcher(c, now).Fetch(ctx, fr)
	if err != nil || len(sigs) != 1 || sigs[0].PersonEmail != "dana.whitfield@northwind-logistics.com" {
		t.Fatalf("fetch of the sample: %v %+v", err, sigs)
	}
}

// orderedStreamBatch keeps the field order of the records Lambda delivers.
func orderedStreamBatch(r events.DynamoDBEventRecord) any {
	type dynamodbPart struct {
		ApproximateCreationDateTime int64                                    `json:"ApproximateCreationDateTime"`
		Keys                        map[string]events.DynamoDBAttributeValue `json:"Keys"`
		NewImage                    map[string]events.DynamoDBAttributeValue `json:"NewImage,omitempty"`
		SequenceNumber              string                                   `json:"SequenceNumber"`
		SizeBytes                   int64                                    `json:"SizeBytes"`
		StreamViewType              string                                   `json:"StreamViewType"`
	}
	type record struct {
		EventID        string       `json:"eventID"`
		EventName      string       `json:"eventName"`
		EventVersion   string       `json:"eventVersion"`
		EventSource    string       `json:"eventSource"`
		AWSRegion      string       `json:"awsRegion"`
		DynamoDB       dynamodbPart `json:"dynamodb"`
		EventSourceARN string       `json:"eventSourceARN"`
	}
	return struct {
		Records []record `json:"Records"`
	}{Records: []record{{
		EventID: r.EventID, EventName: r.EventName, EventVersion: r.EventVersion, EventSource: r.EventSource,
		AWSRegion: r.AWSRegion, EventSourceARN: r.EventSourceArn,
		DynamoDB: dynamodbPart{
			ApproximateCreationDateTime: r.Change.ApproximateCreationDateTime.Unix(),
			Keys:                        r.Change.Keys, NewImage: r.Change.NewImage,
			SequenceNumber: r.Change.SequenceNumber, SizeBytes: r.Change.SizeBytes, StreamViewType: r.Change.StreamViewType,
		},
	}}}
}
