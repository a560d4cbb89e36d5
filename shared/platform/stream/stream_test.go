package stream_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/stagemover/stagemover/shared/platform/metrics"
	"github.com/stagemover/stagemover/shared/platform/stream"
)

func record(seq, name string) events.DynamoDBEventRecord {
	img := map[string]events.DynamoDBAttributeValue{"type": events.NewStringAttribute("thing")}
	if name != "" {
		img["name"] = events.NewStringAttribute(name)
	}
	return events.DynamoDBEventRecord{EventName: "INSERT", Change: events.DynamoDBStreamRecord{SequenceNumber: seq, NewImage: img}}
}

func decodeName(item map[string]types.AttributeValue) (string, error) {
	v, ok := item["name"].(*types.AttributeValueMemberS)
	if !ok {
		return "", errors.New("no name")
	}
	return v.Value, nil
}

func TestBatch(t *testing.T) {
	var logs bytes.Buffer
	m := metrics.New(nil, "StageMover", "test")
	var seen []string
	b := stream.Batch[string]{
		Decode: decodeName,
		Process: func(_ context.Context, i int, r events.DynamoDBEventRecord, name string) error {
			seen = append(seen, fmt.Sprintf("%d:%s:%s", i, r.Change.SequenceNumber, name))
			if name == "fails" {
				return errors.New("dependency down")
			}
			return nil
		},
		Unusable: "thing not usable", Log: slog.New(slog.NewJSONHandler(&logs, nil)), Metrics: m,
	}

	// every record processed in order; the undecodable one counted, logged and skipped
	resp, err := b.Handle(context.Background(), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{record("1", "a"), record("2", ""), record("3", "b")}})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("resp %+v, %v", resp, err)
	}
	if strings.Join(seen, " ") != "0:1:a 2:3:b" || m.Total(metrics.SignalRejected) != 1 {
		t.Fatalf("processed %v, rejected %v", seen, m.Total(metrics.SignalRejected))
	}
	if !strings.Contains(logs.String(), `"msg":"thing not usable"`) || !strings.Contains(logs.String(), `"sequence":"2"`) || !strings.Contains(logs.String(), `"reason":"no name"`) {
		t.Fatalf("log: %s", logs.String())
	}

	// the first failure stops the batch: it and every later record are reported
	seen = nil
	resp, _ = b.Handle(context.Background(), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{record("4", "a"), record("5", "fails"), record("6", "b"), record("7", "")}})
	var failed []string
	for _, f := range resp.BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	if strings.Join(seen, " ") != "0:4:a 1:5:fails" || strings.Join(failed, ",") != "5,6,7" {
		t.Fatalf("processed %v, failures %v", seen, failed)
	}
}
