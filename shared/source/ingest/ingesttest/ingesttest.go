// Package ingesttest serves one route's ingest.Handler for a source's own
// tests: on a fresh DynamoDB Local table, over HTTP as API Gateway calls
// it, with its logs and metrics to assert on and its key checked never to
// leak into either a response or the logs.
package ingesttest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/stagemover/stagemover/shared/dev/ddblocal"
	"github.com/stagemover/stagemover/shared/platform/apigw"
	"github.com/stagemover/stagemover/shared/platform/metrics"
	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/store"
	"github.com/stagemover/stagemover/shared/testkit"
)

// Fixture is a route's handler under test.
type Fixture struct {
	Handler *ingest.Handler
	URL     string // the server's base URL
	Table   *ddblocal.TestTable
	Metrics *metrics.Recorder
	Logs    *testkit.LogBuffer
	key     string
}

// New serves source on route ("POST /path") with key as the route's key,
// its metrics dimensioned as function. At cleanup it fails the test when
// the key appears in the logs.
func New(t *testing.T, route, function string, source ingest.Source, key string) *Fixture {
	t.Helper()
	tbl := ddblocal.ForTest(t)
	f := &Fixture{Table: tbl, Metrics: metrics.New(nil, "StageMover", function), Logs: &testkit.LogBuffer{}, key: key}
	f.Handler = &ingest.Handler{
		Source:  source,
		Key:     func(context.Context) ([]byte, error) { return []byte(key), nil },
		Store:   store.New(tbl.DB, tbl.Name),
		Log:     f.Logs.LoggerAt(slog.LevelInfo),
		Metrics: f.Metrics,
	}
	srv := httptest.NewServer(apigw.Handler(route, f.Handler.Handle))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	t.Cleanup(func() {
		if strings.Contains(f.Logs.String(), key) {
			t.Errorf("the route's key appears in the logs")
		}
	})
	return f
}

// Do sends req and returns the status and body; a body that holds the key
// fails the test. A failed request is an error and status 0.
func (f *Fixture) Do(t *testing.T, req *http.Request) (int, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0, nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if strings.Contains(string(raw), f.key) {
		t.Errorf("the route's key appears in a response")
	}
	return resp.StatusCode, raw
}

// Signals are the table's items, each of which must be a signal.
func (f *Fixture) Signals(t *testing.T) []store.SignalRecord {
	t.Helper()
	out, err := f.Table.DB.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(f.Table.Name)})
	if err != nil {
		t.Fatal(err)
	}
	var recs []store.SignalRecord
	for _, item := range out.Items {
		rec, err := store.SignalFromItem(item)
		if err != nil {
			t.Fatalf("an item that is not a signal was stored: %v", err)
		}
		recs = append(recs, rec)
	}
	return recs
}
