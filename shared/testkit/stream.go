package testkit

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// StreamBatch is a DynamoDB stream batch with its members in the order
// Lambda delivers them (and AWS documents them), which aws-lambda-go's
// struct order is not, for writing sample events.
type StreamBatch struct {
	Records []StreamRecord `json:"Records"`
}

// StreamRecord is one record of a StreamBatch.
type StreamRecord struct {
	EventID      string `json:"eventID"`
	EventName    string `json:"eventName"`
	EventVersion string `json:"eventVersion"`
	EventSource  string `json:"eventSource"`
	AWSRegion    string `json:"awsRegion"`
	DynamoDB     struct {
		ApproximateCreationDateTime int64                                    `json:"ApproximateCreationDateTime"`
		Keys                        map[string]events.DynamoDBAttributeValue `json:"Keys"`
		NewImage                    map[string]events.DynamoDBAttributeValue `json:"NewImage,omitempty"`
		OldImage                    map[string]events.DynamoDBAttributeValue `json:"OldImage,omitempty"`
		SequenceNumber              string                                   `json:"SequenceNumber"`
		SizeBytes                   int64                                    `json:"SizeBytes"`
		StreamViewType              string                                   `json:"StreamViewType"`
	} `json:"dynamodb"`
	EventSourceARN string `json:"eventSourceARN"`
}

// NewStreamBatch orders records as Lambda delivers them.
func NewStreamBatch(records ...events.DynamoDBEventRecord) StreamBatch {
	var b StreamBatch
	for _, r := range records {
		o := StreamRecord{
			EventID: r.EventID, EventName: r.EventName, EventVersion: r.EventVersion,
			EventSource: r.EventSource, AWSRegion: r.AWSRegion, EventSourceARN: r.EventSourceArn,
		}
		o.DynamoDB.ApproximateCreationDateTime = r.Change.ApproximateCreationDateTime.Unix()
		o.DynamoDB.Keys = r.Change.Keys
		o.DynamoDB.NewImage = r.Change.NewImage
		o.DynamoDB.OldImage = r.Change.OldImage
		o.DynamoDB.SequenceNumber = r.Change.SequenceNumber
		o.DynamoDB.SizeBytes = r.Change.SizeBytes
		o.DynamoDB.StreamViewType = r.Change.StreamViewType
		b.Records = append(b.Records, o)
	}
	return b
}

// DecodeStreamEvent decodes a DynamoDB stream event (a sample from
// events/) and requires at least one record.
func DecodeStreamEvent(t testing.TB, raw []byte) events.DynamoDBEvent {
	t.Helper()
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatalf("testkit: not a DynamoDB stream event: %v", err)
	}
	if len(ev.Records) == 0 {
		t.Fatal("testkit: stream event has no records")
	}
	return ev
}

// ReadStream reads every shard of the stream arn from its trim horizon
// until it holds at least want records (15 s at most).
func ReadStream(ctx context.Context, t testing.TB, api *dynamodbstreams.Client, arn string, want int) []streamtypes.Record {
	t.Helper()
	var out []streamtypes.Record
	deadline := time.Now().Add(15 * time.Second)
	for len(out) < want {
		if time.Now().After(deadline) {
			t.Fatalf("testkit: stream delivered %d of %d records", len(out), want)
		}
		out = out[:0]
		desc, err := api.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		for _, sh := range desc.StreamDescription.Shards {
			it, err := api.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
				StreamArn: aws.String(arn), ShardId: sh.ShardId, ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon,
			})
			if err != nil {
				t.Fatal(err)
			}
			iter := it.ShardIterator
			for i := 0; iter != nil && i < 5; i++ {
				got, err := api.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter})
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, got.Records...)
				if len(got.Records) == 0 {
					break
				}
				iter = got.NextShardIterator
			}
		}
		if len(out) < want {
			time.Sleep(100 * time.Millisecond)
		}
	}
	return out
}
