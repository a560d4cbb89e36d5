// Package stream is the one loop the table's stream handlers (evaluator,
// fetcher, mover) run over a batch: decode each record's new image into the
// store's typed item, process it, and report what to retry.
package stream

import (
	"context"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/stagemover/stagemover/shared/platform/ddbevent"
	"github.com/stagemover/stagemover/shared/platform/metrics"
)

// Batch handles a batch of stream records carrying items of type T.
type Batch[T any] struct {
	// Decode turns a record's new image into the store's typed item
	// (store.SignalFromItem, store.FetchFromItem, store.DecisionFromItem).
	Decode func(item map[string]types.AttributeValue) (T, error)
	// Process handles the i-th record of the batch. An error means the
	// record is to be delivered again.
	Process func(ctx context.Context, i int, r events.DynamoDBEventRecord, v T) error
	// Unusable is the warning logged, with the record's sequence number and
	// the reason, for a record that does not decode: it is counted as
	// metrics.SignalRejected and skipped, since no retry can fix it.
	Unusable string
	Log      *slog.Logger
	Metrics  *metrics.Recorder // nil: not counted
}

// Handle goes through the records in order and reports the ones to retry.
func (b Batch[T]) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	for i, r := range ev.Records {
		item, err := ddbevent.ToAttributeValueMap(r.Change.NewImage)
		var v T
		if err == nil {
			v, err = b.Decode(item)
		}
		if err != nil {
			b.Metrics.Inc(metrics.SignalRejected)
			b.log().WarnContext(ctx, b.Unusable, "sequence", r.Change.SequenceNumber, "reason", err.Error())
			continue
		}
		if err := b.Process(ctx, i, r, v); err != nil {
			// The stream resumes from the first failed record, so the rest
			// would be delivered again anyway: stop here (and stop spending
			// the rate limit). This is the batch's one failure policy.
			return failFrom(ev.Records[i:]), nil
		}
	}
	return events.DynamoDBEventResponse{}, nil
}

// failFrom reports records as batch item failures.
func failFrom(recs []events.DynamoDBEventRecord) events.DynamoDBEventResponse {
	var resp events.DynamoDBEventResponse
	for _, r := range recs {
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: r.Change.SequenceNumber})
	}
	return resp
}

func (b Batch[T]) log() *slog.Logger {
	if b.Log != nil {
		return b.Log
	}
	return slog.Default()
}
