package lambdatest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/stagemover/stagemover/shared/platform/ddbevent"
	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/testkit"
)

// SignHTTPEvent returns an API Gateway v2 event with body replaced by body
// (nil keeps the event's body) and signed with secret at now, the way a
// sender signs POST /signals.
func SignHTTPEvent(t testing.TB, event []byte, body []byte, secret string, now time.Time) []byte {
	t.Helper()
	var req events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(event, &req); err != nil {
		t.Fatalf("lambdatest: not an API Gateway v2 event: %v", err)
	}
	if body != nil {
		req.Body, req.IsBase64Encoded = string(body), false
	}
	raw, err := ingest.RequestBody(req)
	if err != nil {
		t.Fatal(err)
	}
	ts, sig := ingest.Sign([]byte(secret), now, raw)
	return WithHeaders(t, event, body, map[string]string{"x-stagemover-timestamp": ts, "x-stagemover-signature": sig})
}

// WithHeaders is testkit.WithHeaders.
func WithHeaders(t testing.TB, event []byte, body []byte, headers map[string]string) []byte {
	t.Helper()
	return testkit.WithHeaders(t, event, body, headers)
}

// StreamEvent is testkit.DecodeStreamEvent.
func StreamEvent(t testing.TB, raw []byte) events.DynamoDBEvent {
	t.Helper()
	return testkit.DecodeStreamEvent(t, raw)
}

// NewImage returns record i's NewImage as an SDK item.
func NewImage(t testing.TB, ev events.DynamoDBEvent, i int) map[string]types.AttributeValue {
	t.Helper()
	item, err := ddbevent.ToAttributeValueMap(ev.Records[i].Change.NewImage)
	if err != nil {
		t.Fatal(err)
	}
	return item
}

// Items returns every item of table whose "type" attribute is itemType
// (a consistent scan; test tables are small).
func Items(t testing.TB, db *dynamodb.Client, table, itemType string) []map[string]types.AttributeValue {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var items []map[string]types.AttributeValue
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{
		TableName:                 aws.String(table),
		ConsistentRead:            aws.Bool(true),
		FilterExpression:          aws.String("#t = :t"),
		ExpressionAttributeNames:  map[string]string{"#t": "type"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberS{Value: itemType}},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("lambdatest: scan %s: %v", table, err)
		}
		items = append(items, page.Items...)
	}
	return items
}
