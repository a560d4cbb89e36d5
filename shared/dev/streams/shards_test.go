package streams

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	st "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// fakeStreams serves fixed shards, one shard per DescribeStream page and two
// records per GetRecords, and expires the second iterator of shard "child".
type fakeStreams struct {
	shards    []fakeShard
	expired   bool
	iterTypes []string
}

type fakeShard struct {
	id, parent string
	seqs       []int
	closed     bool
}

func (f *fakeStreams) DescribeStream(_ context.Context, in *dynamodbstreams.DescribeStreamInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error) {
	i := 0
	if in.ExclusiveStartShardId != nil {
		for j, s := range f.shards {
			if s.id == *in.ExclusiveStartShardId {
				i = j + 1
			}
		}
	}
	d := &st.StreamDescription{}
	if i < len(f.shards) {
		s := f.shards[i]
		sh := st.Shard{ShardId: aws.String(s.id)}
		if s.parent != "" {
			sh.ParentShardId = aws.String(s.parent)
		}
		d.Shards = []st.Shard{sh}
		if i+1 < len(f.shards) {
			d.LastEvaluatedShardId = aws.String(s.id)
		}
	}
	return &dynamodbstreams.DescribeStreamOutput{StreamDescription: d}, nil
}

func (f *fakeStreams) shard(id string) fakeShard {
	for _, s := range f.shards {
		if s.id == id {
			return s
		}
	}
	panic(id)
}

func (f *fakeStreams) GetShardIterator(_ context.Context, in *dynamodbstreams.GetShardIteratorInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error) {
	s := f.shard(*in.ShardId)
	pos := 0
	desc := string(in.ShardIteratorType)
	switch in.ShardIteratorType {
	case st.ShardIteratorTypeAfterSequenceNumber:
		desc += " " + *in.SequenceNumber
		for i, q := range s.seqs {
			if strconv.Itoa(q) == *in.SequenceNumber {
				pos = i + 1
			}
		}
	case st.ShardIteratorTypeLatest:
		pos = len(s.seqs)
	}
	f.iterTypes = append(f.iterTypes, s.id+" "+desc)
	return &dynamodbstreams.GetShardIteratorOutput{ShardIterator: aws.String(fmt.Sprintf("%s|%d", s.id, pos))}, nil
}

func (f *fakeStreams) GetRecords(_ context.Context, in *dynamodbstreams.GetRecordsInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error) {
	id, p, _ := strings.Cut(*in.ShardIterator, "|")
	pos, _ := strconv.Atoi(p)
	if id == "child" && pos > 0 && !f.expired {
		f.expired = true
		return nil, &st.ExpiredIteratorException{Message: aws.String("expired")}
	}
	s := f.shard(id)
	out := &dynamodbstreams.GetRecordsOutput{}
	end := min(pos+2, len(s.seqs))
	for _, q := range s.seqs[pos:end] {
		seq := strconv.Itoa(q)
		out.Records = append(out.Records, st.Record{
			EventID: aws.String(seq), EventName: st.OperationTypeInsert, EventSource: aws.String("aws:dynamodb"),
			Dynamodb: &st.StreamRecord{SequenceNumber: aws.String(seq),
				Keys: map[string]st.AttributeValue{"pk": &st.AttributeValueMemberS{Value: id}, "sk": &st.AttributeValueMemberS{Value: seq}}},
		})
	}
	if end < len(s.seqs) || !s.closed {
		out.NextShardIterator = aws.String(fmt.Sprintf("%s|%d", id, end))
	}
	return out, nil
}

func TestShardLineage(t *testing.T) {
	f := &fakeStreams{shards: []fakeShard{
		{id: "child", parent: "parent", seqs: []int{5, 6, 7}},
		{id: "parent", seqs: []int{1, 2, 3}, closed: true},
		{id: "other", seqs: []int{4}, closed: true},
	}}
	var got []string
	p := NewPoller(f, "arn:stream", nil, Subscription{
		Source: EventSource{Function: "F", Event: "E", BatchSize: 10, MaximumRetryAttempts: -1},
		Handler: func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			var b []string
			for _, r := range ev.Records {
				b = append(b, keyOf(r))
			}
			got = append(got, strings.Join(b, ","))
			return events.DynamoDBEventResponse{}, nil
		}})
	n, err := p.Drain(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Shards take turns each round; the parent is read to its end (in two
	// GetRecords) before the child, which is listed first; the child's
	// expired iterator is re-acquired after its last read record.
	want := []string{"parent/1,parent/2", "other/4", "parent/3", "child/5,child/6", "child/7"}
	if n != 7 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("delivered %d: %q, want %q", n, got, want)
	}
	wantIters := []string{"parent TRIM_HORIZON", "other TRIM_HORIZON", "child TRIM_HORIZON", "child AFTER_SEQUENCE_NUMBER 6"}
	if fmt.Sprint(f.iterTypes) != fmt.Sprint(wantIters) {
		t.Fatalf("iterators %q, want %q", f.iterTypes, wantIters)
	}
}
