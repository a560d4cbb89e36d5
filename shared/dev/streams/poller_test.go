package streams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/stagemover/stagemover/shared/dev/ddblocal"
)

func TestMain(m *testing.M) { os.Exit(ddblocal.RunTests(m)) }

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func item(pk, sk string, kv ...string) map[string]types.AttributeValue {
	m := map[string]types.AttributeValue{"pk": s(pk), "sk": s(sk)}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = s(kv[i+1])
	}
	return m
}

func put(t *testing.T, tt *ddblocal.TestTable, it map[string]types.AttributeValue) {
	t.Helper()
	if _, err := tt.DB.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(tt.Name), Item: it}); err != nil {
		t.Fatal(err)
	}
}

// recorder is a handler that records every invocation.
type recorder struct {
	mu      sync.Mutex
	batches [][]events.DynamoDBEventRecord
	fail    func(r events.DynamoDBEventRecord, attempt int) bool // per record
	mode    string                                               // "error" or "items"
	seen    map[string]int
}

func (rc *recorder) handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.seen == nil {
		rc.seen = map[string]int{}
	}
	rc.batches = append(rc.batches, ev.Records)
	var resp events.DynamoDBEventResponse
	for _, r := range ev.Records {
		key := keyOf(r)
		rc.seen[key]++
		if rc.fail != nil && rc.fail(r, rc.seen[key]) {
			if rc.mode == "error" {
				return resp, fmt.Errorf("cannot process %s", key)
			}
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: r.Change.SequenceNumber})
		}
	}
	return resp, nil
}

// succeeded lists the keys in the order their successful invocation saw them.
func (rc *recorder) all() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []string
	for _, b := range rc.batches {
		for _, r := range b {
			out = append(out, keyOf(r))
		}
	}
	return out
}

func keyOf(r events.DynamoDBEventRecord) string {
	return r.Change.Keys["pk"].String() + "/" + r.Change.Keys["sk"].String()
}

func templateSources(t *testing.T) (evaluator, mover EventSource) {
	srcs, err := FromTemplate(repoTemplate(t))
	if err != nil {
		t.Fatal(err)
	}
	return srcs[0], srcs[1]
}

func newPoller(t *testing.T, tt *ddblocal.TestTable, subs ...Subscription) *Poller {
	p := NewPoller(tt.Streams, tt.StreamARN, slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})), subs...)
	p.Backoff = func(int) time.Duration { return time.Millisecond }
	return p
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) { w.t.Logf("%s", b); return len(b), nil }

func drain(t *testing.T, p *Poller) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	n, err := p.Drain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Drain delivered %d in %s", n, time.Since(start))
	return n
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestTemplateFiltersAgainstDynamoDBLocal(t *testing.T) {
	tt := ddblocal.ForTest(t)
	ctx := context.Background()
	evSrc, mvSrc := templateSources(t)
	var ev, mv recorder
	p := newPoller(t, tt,
		Subscription{Source: evSrc, Handler: ev.handle},
		Subscription{Source: mvSrc, Handler: mv.handle})
	p.Region = "eu-west-1"

	put(t, tt, item("sig#1", "a", "type", "signal"))
	put(t, tt, item("dec#1", "a", "type", "decision", "action", "move"))
	put(t, tt, item("dec#2", "a", "type", "decision", "action", "hold"))
	put(t, tt, item("sig#1", "a", "type", "signal", "note", "changed")) // MODIFY
	put(t, tt, item("other#1", "a", "type", "deal"))
	// INSERT through UpdateItem.
	_, err := tt.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(tt.Name), Key: item("sig#2", "a"),
		UpdateExpression:          aws.String("SET #t = :t"),
		ExpressionAttributeNames:  map[string]string{"#t": "type"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": s("signal")},
	})
	if err != nil {
		t.Fatal(err)
	}
	// MODIFY through UpdateItem: a decision becomes a move (not an INSERT).
	_, err = tt.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(tt.Name), Key: item("dec#2", "a"),
		UpdateExpression:          aws.String("SET #a = :m"),
		ExpressionAttributeNames:  map[string]string{"#a": "action"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":m": s("move")},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Transactions write stream records too.
	_, err = tt.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(tt.Name), Item: item("sig#3", "a", "type", "signal")}},
		{Put: &types.Put{TableName: aws.String(tt.Name), Item: item("dec#3", "a", "type", "decision", "action", "move")}},
		{Delete: &types.Delete{TableName: aws.String(tt.Name), Key: item("sig#1", "a")}},
	}})
	if err != nil {
		t.Fatal(err)
	}

	n := drain(t, p)
	if got, want := ev.all(), []string{"sig#1/a", "sig#2/a", "sig#3/a"}; !equal(got, want) {
		t.Errorf("evaluator got %v, want %v", got, want)
	}
	if got, want := mv.all(), []string{"dec#1/a", "dec#3/a"}; !equal(got, want) {
		t.Errorf("mover got %v, want %v", got, want)
	}
	if n != 5 {
		t.Errorf("Drain delivered %d, want 5", n)
	}
	// The record is what Lambda delivers.
	r := ev.batches[0][0]
	if r.EventSource != "aws:dynamodb" || r.EventSourceArn != tt.StreamARN || r.EventName != "INSERT" ||
		r.EventVersion == "" || r.EventID == "" || r.AWSRegion != "eu-west-1" || r.Change.StreamViewType != "NEW_AND_OLD_IMAGES" ||
		r.Change.SequenceNumber == "" || r.Change.SizeBytes == 0 || r.Change.ApproximateCreationDateTime.IsZero() ||
		r.Change.NewImage["type"].String() != "signal" || r.Change.OldImage != nil || len(r.Change.Keys) != 2 {
		t.Errorf("unexpected record %+v", r)
	}

	// Nothing new: a second Drain delivers nothing; new writes flow later.
	if n := drain(t, p); n != 0 {
		t.Errorf("second Drain delivered %d", n)
	}
	put(t, tt, item("sig#4", "a", "type", "signal"))
	if n := drain(t, p); n != 1 || ev.all()[3] != "sig#4/a" {
		t.Errorf("third Drain delivered %d: %v", n, ev.all())
	}
}

func TestBatchItemFailureIsRetriedFromTheFailedRecord(t *testing.T) {
	tt := ddblocal.ForTest(t)
	src, _ := templateSources(t)
	src.BatchSize = 4
	rc := recorder{mode: "items", fail: func(r events.DynamoDBEventRecord, attempt int) bool {
		return keyOf(r) == "sig#2/a" && attempt <= 2 // fails twice, then succeeds
	}}
	var failed []events.DynamoDBEventRecord
	p := newPoller(t, tt, Subscription{Source: src, Handler: rc.handle,
		OnFailure: func(_ context.Context, recs []events.DynamoDBEventRecord, _ error) { failed = append(failed, recs...) }})
	for i := 0; i < 6; i++ {
		put(t, tt, item("sig#"+strconv.Itoa(i), "a", "type", "signal"))
	}
	if n := drain(t, p); n != 6 {
		t.Errorf("delivered %d, want 6", n)
	}
	want := []string{
		"sig#0/a", "sig#1/a", "sig#2/a", "sig#3/a", // sig#2 fails: 0,1 done
		"sig#2/a", "sig#3/a", "sig#4/a", "sig#5/a", // retried from sig#2, fails again
		"sig#2/a", "sig#3/a", "sig#4/a", "sig#5/a", // succeeds
	}
	if got := rc.all(); !equal(got, want) {
		t.Errorf("invocations\n got %v\nwant %v", got, want)
	}
	if len(failed) != 0 {
		t.Errorf("OnFailure got %d records", len(failed))
	}
}

func TestPermanentFailureGoesToOnFailure(t *testing.T) {
	evSrc, _ := templateSources(t) // bisect, ReportBatchItemFailures, 5 retries, batch 25
	cases := []struct {
		name        string
		mutate      func(*EventSource)
		mode        string
		wantFailed  []string
		wantPoisonN int // invocations that contained the poison record
	}{
		// Function error + bisect: the poison record is isolated, retried
		// MaximumRetryAttempts times, then discarded alone.
		{"error with bisect", func(*EventSource) {}, "error", []string{"sig#3/a"}, 5 + 1 + 3},
		// Item failures: checkpoint at the poison record; after the retries
		// the failing batch (from the poison record on) is discarded.
		{"item failures", func(s *EventSource) {
			s.BatchSize = 4
			s.BisectBatchOnFunctionError = false
			s.MaximumRetryAttempts = 2
		},
			"items", []string{"sig#3/a", "sig#4/a", "sig#5/a", "sig#6/a"}, 3},
		// Function error without bisect: the whole batch is discarded.
		{"error without bisect", func(s *EventSource) {
			s.BatchSize = 2
			s.BisectBatchOnFunctionError = false
			s.MaximumRetryAttempts = 1
		},
			"error", []string{"sig#2/a", "sig#3/a"}, 2},
		// Handler that panics behaves like an error.
		{"panic", func(s *EventSource) { s.BatchSize = 1; s.MaximumRetryAttempts = 0 }, "panic", []string{"sig#3/a"}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tt := ddblocal.ForTest(t)
			src := evSrc
			c.mutate(&src)
			poison := func(r events.DynamoDBEventRecord, _ int) bool { return keyOf(r) == "sig#3/a" }
			rc := recorder{mode: c.mode, fail: poison}
			h := rc.handle
			if c.mode == "panic" {
				h = func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
					rc.handle(ctx, ev)
					for _, r := range ev.Records {
						if poison(r, 0) {
							panic("boom")
						}
					}
					return events.DynamoDBEventResponse{}, nil
				}
			}
			var failed []string
			var failErr error
			p := newPoller(t, tt, Subscription{Source: src, Handler: h,
				OnFailure: func(_ context.Context, recs []events.DynamoDBEventRecord, err error) {
					for _, r := range recs {
						failed = append(failed, keyOf(r))
					}
					failErr = err
				}})
			for i := 0; i < 8; i++ {
				put(t, tt, item("sig#"+strconv.Itoa(i), "a", "type", "signal"))
			}
			delivered := drain(t, p)
			if !equal(failed, c.wantFailed) {
				t.Fatalf("OnFailure got %v, want %v", failed, c.wantFailed)
			}
			if failErr == nil {
				t.Error("OnFailure got no error")
			}
			if delivered != 8-len(c.wantFailed) {
				t.Errorf("delivered %d, want %d", delivered, 8-len(c.wantFailed))
			}
			poisonN := 0
			for _, b := range rc.batches {
				for _, r := range b {
					if poison(r, 0) {
						poisonN++
					}
				}
			}
			if poisonN != c.wantPoisonN {
				t.Errorf("poison record invoked %d times, want %d", poisonN, c.wantPoisonN)
			}
			// Later records still flow.
			put(t, tt, item("sig#9", "a", "type", "signal"))
			if n := drain(t, p); n != 1 {
				t.Errorf("record after the failure: delivered %d", n)
			}
			all := rc.all()
			if all[len(all)-1] != "sig#9/a" {
				t.Errorf("last invocation %v", all[len(all)-1])
			}
		})
	}
}

func TestOrderPerKeyAndBatchSize(t *testing.T) {
	tt := ddblocal.ForTest(t)
	ctx := context.Background()
	src := EventSource{Function: "All", Event: "E", BatchSize: 7, MaximumRetryAttempts: -1}
	var mu sync.Mutex
	var sizes []int
	counters := map[string][]int{}
	var seqs []string
	p := newPoller(t, tt, Subscription{Source: src, Handler: func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		mu.Lock()
		defer mu.Unlock()
		sizes = append(sizes, len(ev.Records))
		for _, r := range ev.Records {
			n, _ := strconv.Atoi(r.Change.NewImage["n"].Number())
			counters[keyOf(r)] = append(counters[keyOf(r)], n)
			seqs = append(seqs, r.Change.SequenceNumber)
		}
		return events.DynamoDBEventResponse{}, nil
	}})
	const perKey = 10
	keys := []string{"deal#1", "deal#2", "deal#3"}
	for i := 1; i <= perKey; i++ {
		for _, k := range keys {
			_, err := tt.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
				TableName: aws.String(tt.Name), Key: item(k, "mirror"),
				UpdateExpression: aws.String("ADD n :one"), ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}},
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := drain(t, p); n != perKey*len(keys) {
		t.Fatalf("delivered %d", n)
	}
	for _, k := range keys {
		got := counters[k+"/mirror"]
		for i, n := range got {
			if n != i+1 {
				t.Fatalf("%s: counter sequence %v not in order", k, got)
			}
		}
		if len(got) != perKey {
			t.Fatalf("%s: %d records", k, len(got))
		}
	}
	for i := 1; i < len(seqs); i++ {
		if len(seqs[i]) < len(seqs[i-1]) || (len(seqs[i]) == len(seqs[i-1]) && seqs[i] <= seqs[i-1]) {
			t.Fatalf("sequence numbers out of order: %s after %s", seqs[i], seqs[i-1])
		}
	}
	want := []int{7, 7, 7, 7, 2}
	if fmt.Sprint(sizes) != fmt.Sprint(want) {
		t.Errorf("batch sizes %v, want %v", sizes, want)
	}
}

func TestDrainFollowsWritesByHandlers(t *testing.T) {
	tt := ddblocal.ForTest(t)
	evSrc, mvSrc := templateSources(t)
	var mv recorder
	evaluator := func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		for _, r := range ev.Records {
			deal := r.Change.NewImage["deal"].String()
			_, err := tt.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tt.Name),
				Item: item("decision#"+deal, "v1", "type", "decision", "action", "move")})
			if err != nil {
				return events.DynamoDBEventResponse{}, err
			}
		}
		return events.DynamoDBEventResponse{}, nil
	}
	p := newPoller(t, tt,
		Subscription{Source: mvSrc, Handler: mv.handle}, // mover first: its records appear only later
		Subscription{Source: evSrc, Handler: evaluator})
	put(t, tt, item("sig#1", "a", "type", "signal", "deal", "7"))
	put(t, tt, item("sig#2", "a", "type", "signal", "deal", "8"))
	if n := drain(t, p); n != 4 {
		t.Errorf("delivered %d, want 4", n)
	}
	if got, want := mv.all(), []string{"decision#7/v1", "decision#8/v1"}; !equal(got, want) {
		t.Errorf("mover got %v, want %v", got, want)
	}
}

func TestStartingPositionLatest(t *testing.T) {
	tt := ddblocal.ForTest(t)
	var rc recorder
	p := newPoller(t, tt, Subscription{Source: EventSource{Function: "F", Event: "E", BatchSize: 10, StartingPosition: "LATEST", MaximumRetryAttempts: -1}, Handler: rc.handle})
	put(t, tt, item("old", "a"))
	drain(t, p)
	put(t, tt, item("new", "a"))
	drain(t, p)
	if got := rc.all(); !equal(got, []string{"new/a"}) {
		t.Errorf("LATEST delivered %v", got)
	}
}

func TestRunDeliversUntilCancelled(t *testing.T) {
	tt := ddblocal.ForTest(t)
	evSrc, _ := templateSources(t)
	got := make(chan string, 10)
	p := newPoller(t, tt, Subscription{Source: evSrc, Handler: func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		for _, r := range ev.Records {
			got <- keyOf(r)
		}
		return events.DynamoDBEventResponse{}, nil
	}})
	p.IdleSleep = 20 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	put(t, tt, item("sig#1", "a", "type", "signal"))
	put(t, tt, item("dec#1", "a", "type", "decision"))
	select {
	case k := <-got:
		if k != "sig#1/a" {
			t.Errorf("got %s", k)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run delivered nothing")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
	if len(got) != 0 {
		t.Errorf("unexpected extra delivery %s", <-got)
	}
}

func TestInvalidSubscription(t *testing.T) {
	p := NewPoller(nil, "arn", nil, Subscription{Source: EventSource{Function: "F", Event: "E", Patterns: []string{`{"a":1}`}},
		Handler: func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			return events.DynamoDBEventResponse{}, errors.New("unused")
		}})
	if _, err := p.Drain(context.Background()); err == nil {
		t.Fatal("want error for a malformed pattern")
	}
	if err := NewPoller(nil, "arn", nil, Subscription{Source: EventSource{Function: "F"}}).Run(context.Background()); err == nil {
		t.Fatal("want error for a missing handler")
	}
}
