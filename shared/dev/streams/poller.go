package streams

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/stagemover/stagemover/shared/dev/ctxsleep"
	"github.com/stagemover/stagemover/shared/platform/ddbevent"
)

// StreamsAPI is the part of *dynamodbstreams.Client the poller uses.
type StreamsAPI interface {
	DescribeStream(ctx context.Context, in *dynamodbstreams.DescribeStreamInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error)
	GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

// Handler is a stream-triggered Lambda handler.
type Handler func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

// Subscription is one event source mapping: a source's settings, the
// function, and the on-failure destination (the "failure queue").
type Subscription struct {
	Source  EventSource
	Handler Handler
	// OnFailure receives the records of a batch discarded after
	// MaximumRetryAttempts, with the last error. nil: logged only.
	OnFailure func(ctx context.Context, records []events.DynamoDBEventRecord, err error)
}

// Poller reads a stream and delivers records to subscriptions with Lambda's
// event-source-mapping semantics. Each subscription has its own position in
// every shard, like separate event source mappings.
//
// Delivery model (per subscription, per shard, strictly in stream order):
//   - records failing the source's FilterCriteria are dropped (never delivered);
//   - batches hold up to BatchSize records of one shard;
//   - handler error (or panic): with BisectBatchOnFunctionError a batch of n>1
//     is split into halves that are retried one after the other (a split
//     does not count as a retry); otherwise the batch is retried;
//   - ReportBatchItemFailures: records before the lowest reported sequence
//     number are done; delivery resumes from that record (an identifier
//     that is empty or not in the batch fails the whole batch);
//   - a record at the head of the shard is invoked at most
//     1+MaximumRetryAttempts times (-1 = forever); then the failing batch goes
//     to OnFailure and delivery moves on;
//   - parent shards are finished before their children are read.
//
// Subscriptions and shards are served one after another by one goroutine, so
// handlers never run concurrently and Drain is deterministic.
type Poller struct {
	// IdleSleep is Run's pause when nothing was read (default 200 ms).
	IdleSleep time.Duration
	// Backoff is the pause before retry number attempt (1-based) of a
	// failed batch (default 10 ms for every attempt).
	Backoff func(attempt int) time.Duration
	// EmptyPolls is how many consecutive rounds with nothing read and nothing
	// pending end Drain (default 2); DrainPollInterval separates them
	// (default 10 ms).
	EmptyPolls        int
	DrainPollInterval time.Duration
	// Region, when set, replaces the records' awsRegion (DynamoDB Local
	// reports "ddblocal"; Lambda reports the table's region).
	Region string

	streams   StreamsAPI
	streamARN string
	log       *slog.Logger
	subs      []*subState
	mu        sync.Mutex // one Run/Drain at a time
}

type subState struct {
	sub    Subscription
	filter Filter
	err    error // filter compile error
	shards map[string]*shardState
	order  []string
	seen   bool // first DescribeStream done (LATEST applies to shards open then)
}

type shardState struct {
	id, parent string
	latest     bool    // start at LATEST (StartingPosition LATEST, shard open at start)
	iterator   *string // nil: acquire one
	lastRead   string  // sequence number of the last record read (checkpoint for re-acquire)
	closed     bool    // GetRecords gave no next iterator: nothing more to read
	pending    []events.DynamoDBEventRecord
	segs       []int // sizes of bisected batches still to deliver, at the head of pending
	attempts   int   // failed invocations in a row with the same head record
}

func (s *shardState) done() bool { return s.closed && len(s.pending) == 0 }

// NewPoller creates a poller for streamARN. streams is usually a
// *dynamodbstreams.Client. A nil logger discards logs.
func NewPoller(streams StreamsAPI, streamARN string, logger *slog.Logger, subs ...Subscription) *Poller {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	p := &Poller{
		IdleSleep:         200 * time.Millisecond,
		Backoff:           func(int) time.Duration { return 10 * time.Millisecond },
		EmptyPolls:        2,
		DrainPollInterval: 10 * time.Millisecond,
		streams:           streams,
		streamARN:         streamARN,
		log:               logger,
	}
	for _, sub := range subs {
		st := &subState{sub: sub, shards: map[string]*shardState{}}
		st.filter, st.err = CompileFilter(sub.Source.Patterns)
		if sub.Source.BatchSize < 1 {
			st.sub.Source.BatchSize = 100
		}
		p.subs = append(p.subs, st)
	}
	return p
}

func (p *Poller) check() error {
	for _, s := range p.subs {
		if s.err != nil {
			return fmt.Errorf("streams: %s: %w", s.sub.Source.Name(), s.err)
		}
		if s.sub.Handler == nil {
			return fmt.Errorf("streams: %s: no handler", s.sub.Source.Name())
		}
	}
	return nil
}

// Run polls until ctx is done, sleeping IdleSleep when there is nothing to
// read. Stream errors are logged and retried. It returns nil when ctx ends,
// or an error for an invalid subscription.
func (p *Poller) Run(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.check(); err != nil {
		return err
	}
	for ctx.Err() == nil {
		r, err := p.round(ctx)
		if err != nil && ctx.Err() == nil {
			p.log.Warn("stream poll failed", "stream", p.streamARN, "err", err)
		}
		if err != nil || (r.read == 0 && r.pending == 0) {
			ctxsleep.Sleep(ctx, p.IdleSleep)
		}
	}
	return nil
}

// Drain delivers until no subscription has anything pending and EmptyPolls
// rounds in a row read nothing, and returns the number of records handlers
// completed successfully. Records written by handlers during Drain are
// delivered too (to every subscription whose filter they pass).
func (p *Poller) Drain(ctx context.Context) (delivered int, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.check(); err != nil {
		return 0, err
	}
	empty := 0
	for {
		r, err := p.round(ctx)
		delivered += r.delivered
		if err != nil {
			return delivered, err
		}
		if r.read == 0 && r.pending == 0 && r.delivered == 0 {
			empty++
			if empty >= p.EmptyPolls {
				return delivered, nil
			}
			if !ctxsleep.Sleep(ctx, p.DrainPollInterval) {
				return delivered, ctx.Err()
			}
		} else {
			empty = 0
		}
	}
}

type roundResult struct{ read, delivered, pending int }

// round refreshes the shard list, then for every subscription and every
// readable shard reads once and delivers everything pending.
func (p *Poller) round(ctx context.Context) (roundResult, error) {
	var r roundResult
	shards, err := p.describe(ctx)
	if err != nil {
		return r, err
	}
	for _, s := range p.subs {
		if s.sub.Source.Disabled {
			continue
		}
		s.sync(shards)
		for _, id := range s.order {
			sh := s.shards[id]
			if sh.done() {
				continue
			}
			if par, ok := s.shards[sh.parent]; ok && !par.done() {
				continue // finish the parent first
			}
			if len(sh.pending) < s.sub.Source.BatchSize && !sh.closed {
				n, err := p.read(ctx, s, sh)
				r.read += n
				if err != nil {
					return r, err
				}
			}
			d, err := p.deliver(ctx, s, sh)
			r.delivered += d
			r.pending += len(sh.pending)
			if err != nil {
				return r, err
			}
		}
	}
	return r, nil
}

func (p *Poller) describe(ctx context.Context) ([]streamtypes.Shard, error) {
	var shards []streamtypes.Shard
	var start *string
	for {
		out, err := p.streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{
			StreamArn: aws.String(p.streamARN), ExclusiveStartShardId: start,
		})
		if err != nil {
			return nil, fmt.Errorf("streams: describe stream %s: %w", p.streamARN, err)
		}
		if out.StreamDescription == nil {
			return shards, nil
		}
		shards = append(shards, out.StreamDescription.Shards...)
		start = out.StreamDescription.LastEvaluatedShardId
		if start == nil {
			return shards, nil
		}
	}
}

func (s *subState) sync(shards []streamtypes.Shard) {
	for _, sh := range shards {
		id := aws.ToString(sh.ShardId)
		if _, ok := s.shards[id]; ok {
			continue
		}
		st := &shardState{id: id, parent: aws.ToString(sh.ParentShardId)}
		// LATEST applies to the shards open when the mapping starts; shards
		// that appear later are read from their beginning.
		if !s.seen && s.sub.Source.StartingPosition == "LATEST" {
			st.latest = true
		}
		s.shards[id] = st
		s.order = append(s.order, id)
	}
	s.seen = true
}

func (p *Poller) read(ctx context.Context, s *subState, sh *shardState) (int, error) {
	if sh.iterator == nil {
		in := &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(p.streamARN), ShardId: aws.String(sh.id)}
		switch {
		case sh.lastRead != "":
			in.ShardIteratorType = streamtypes.ShardIteratorTypeAfterSequenceNumber
			in.SequenceNumber = aws.String(sh.lastRead)
		case sh.latest:
			in.ShardIteratorType = streamtypes.ShardIteratorTypeLatest
		default:
			in.ShardIteratorType = streamtypes.ShardIteratorTypeTrimHorizon
		}
		out, err := p.streams.GetShardIterator(ctx, in)
		var trimmed *streamtypes.TrimmedDataAccessException
		if errors.As(err, &trimmed) && sh.lastRead != "" {
			p.log.Warn("stream records trimmed before they were read", "source", s.sub.Source.Name(), "shard", sh.id, "after", sh.lastRead)
			in.ShardIteratorType, in.SequenceNumber = streamtypes.ShardIteratorTypeTrimHorizon, nil
			out, err = p.streams.GetShardIterator(ctx, in)
		}
		var gone *streamtypes.ResourceNotFoundException
		if errors.As(err, &gone) {
			sh.closed = true // shard trimmed away
			return 0, nil
		}
		if err != nil {
			return 0, fmt.Errorf("streams: shard iterator for %s: %w", sh.id, err)
		}
		sh.latest = false
		if out.ShardIterator == nil {
			sh.closed = true
			return 0, nil
		}
		sh.iterator = out.ShardIterator
	}
	out, err := p.streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: sh.iterator, Limit: aws.Int32(1000)})
	var expired *streamtypes.ExpiredIteratorException
	if errors.As(err, &expired) {
		sh.iterator = nil // re-acquire AFTER_SEQUENCE_NUMBER lastRead next time
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("streams: get records from %s: %w", sh.id, err)
	}
	sh.iterator = out.NextShardIterator
	if sh.iterator == nil {
		sh.closed = true
	}
	for _, rec := range out.Records {
		ev, err := ddbevent.FromStreamRecord(rec, p.streamARN)
		if err != nil {
			return 0, fmt.Errorf("streams: convert record %s: %w", aws.ToString(rec.EventID), err)
		}
		if p.Region != "" {
			ev.AWSRegion = p.Region
		}
		sh.lastRead = ev.Change.SequenceNumber
		if s.filter.Match(ev) {
			sh.pending = append(sh.pending, ev)
		}
	}
	return len(out.Records), nil
}

// deliver hands everything pending in the shard to the subscription's
// handler, in order, with Lambda's retry semantics.
func (p *Poller) deliver(ctx context.Context, s *subState, sh *shardState) (delivered int, err error) {
	src := s.sub.Source
	for len(sh.pending) > 0 {
		if err := ctx.Err(); err != nil {
			return delivered, err
		}
		n := min(src.BatchSize, len(sh.pending))
		if len(sh.segs) > 0 {
			n = min(sh.segs[0], len(sh.pending))
		}
		batch := append([]events.DynamoDBEventRecord(nil), sh.pending[:n]...)
		resp, herr := p.invoke(ctx, s.sub.Handler, batch)
		if herr != nil && ctx.Err() != nil {
			return delivered, ctx.Err() // shutting down: not the handler's fault
		}

		failedAt, ferr := -1, herr
		if herr == nil && src.ReportBatchItemFailures && len(resp.BatchItemFailures) > 0 {
			failedAt, ferr = lowestFailure(batch, resp.BatchItemFailures)
		} else if herr != nil {
			failedAt = 0
		}
		if failedAt < 0 { // success
			sh.pending = sh.pending[n:]
			if len(sh.segs) > 0 {
				sh.segs = sh.segs[1:]
			}
			sh.attempts = 0
			delivered += n
			continue
		}
		if failedAt > 0 { // partial success: checkpoint before the failed record
			sh.pending = sh.pending[failedAt:]
			if len(sh.segs) > 0 {
				sh.segs[0] -= failedAt
			}
			sh.attempts = 0
			delivered += failedAt
			batch = batch[failedAt:]
		}
		if herr != nil && src.BisectBatchOnFunctionError && len(batch) > 1 {
			half := (len(batch) + 1) / 2
			rest := sh.segs
			if len(rest) > 0 {
				rest = rest[1:]
			}
			sh.segs = append([]int{half, len(batch) - half}, rest...)
			p.log.Warn("batch failed; bisecting", "source", src.Name(), "shard", sh.id, "size", len(batch), "err", herr)
			if !ctxsleep.Sleep(ctx, p.backoff(1)) {
				return delivered, ctx.Err()
			}
			continue
		}
		sh.attempts++
		if src.MaximumRetryAttempts >= 0 && sh.attempts > src.MaximumRetryAttempts {
			p.log.Error("batch discarded after retries", "source", src.Name(), "shard", sh.id,
				"records", len(batch), "first", batch[0].Change.SequenceNumber, "attempts", sh.attempts, "err", ferr)
			if s.sub.OnFailure != nil {
				s.sub.OnFailure(ctx, batch, ferr)
			}
			sh.pending = sh.pending[len(batch):]
			if len(sh.segs) > 0 {
				sh.segs = sh.segs[1:]
			}
			sh.attempts = 0
			continue
		}
		p.log.Warn("batch failed; retrying", "source", src.Name(), "shard", sh.id,
			"records", len(batch), "first", batch[0].Change.SequenceNumber, "attempt", sh.attempts, "err", ferr)
		if !ctxsleep.Sleep(ctx, p.backoff(sh.attempts)) {
			return delivered, ctx.Err()
		}
	}
	return delivered, nil
}

// lowestFailure maps reported item failures to the index of the earliest
// failed record. Lambda treats an empty or unknown identifier as a failure
// of the whole batch.
func lowestFailure(batch []events.DynamoDBEventRecord, failures []events.DynamoDBBatchItemFailure) (int, error) {
	idx := map[string]int{}
	for i, r := range batch {
		idx[r.Change.SequenceNumber] = i
	}
	lowest := len(batch)
	for _, f := range failures {
		i, ok := idx[f.ItemIdentifier]
		if !ok {
			return 0, fmt.Errorf("handler reported batch item failure %q, which is not a sequence number in the batch: whole batch failed", f.ItemIdentifier)
		}
		lowest = min(lowest, i)
	}
	return lowest, fmt.Errorf("handler reported %d batch item failure(s), first at sequence number %s", len(failures), batch[lowest].Change.SequenceNumber)
}

func (p *Poller) invoke(ctx context.Context, h Handler, batch []events.DynamoDBEventRecord) (resp events.DynamoDBEventResponse, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panic: %v", r)
		}
	}()
	return h(ctx, events.DynamoDBEvent{Records: batch})
}

func (p *Poller) backoff(attempt int) time.Duration {
	if p.Backoff == nil {
		return 0
	}
	return p.Backoff(attempt)
}
