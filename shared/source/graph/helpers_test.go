package graph_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/stagemover/stagemover/shared/dev/ddblocal"
	"github.com/stagemover/stagemover/shared/platform/apigw"
	"github.com/stagemover/stagemover/shared/platform/metrics"
	"github.com/stagemover/stagemover/shared/source/graph"
	"github.com/stagemover/stagemover/shared/source/graph/graphtest"
	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/store"
	"github.com/stagemover/stagemover/shared/testkit"
)

func TestMain(m *testing.M) { os.Exit(ddblocal.RunTests(m)) }

// clientState is the test deployment's clientState secret.
const clientState = "secretClientValue"

const route = "POST /webhooks/graph"

// env is a notification handler on DynamoDB Local, served over HTTP the
// way API Gateway would call it.
type env struct {
	tbl     *ddblocal.TestTable
	st      *store.Store
	handler *ingest.Handler
	srv     *httptest.Server
	metrics *metrics.Recorder
	logs    *testkit.LogBuffer
	clock   *testkit.Clock
}

func newEnv(t *testing.T, now *testkit.Clock) *env {
	t.Helper()
	tbl := ddblocal.ForTest(t)
	e := &env{tbl: tbl, metrics: metrics.New(nil, "StageMover", "ingest-graph"), logs: &testkit.LogBuffer{}, clock: now}
	e.st = store.New(tbl.DB, tbl.Name, store.WithClock(now.Now))
	e.handler = &ingest.Handler{
		Source:  graph.Webhook{Mailboxes: []string{mailbox}},
		Key:     func(context.Context) ([]byte, error) { return []byte(clientState), nil },
		Store:   e.st,
		Now:     now.Now,
		Log:     e.logs.Logger(),
		Metrics: e.metrics,
	}
	e.srv = httptest.NewServer(apigw.Handler(route, e.handler.Handle))
	t.Cleanup(e.srv.Close)
	return e
}

// watched is the notification URL query the Renewer sets for the watched
// mailbox's messages.
const watched = "kind=messages&mailbox=sam.ortega%40acme-routing.io"

// url is the notification URL with an optional raw query.
func (e *env) url(rawQuery string) string {
	u := e.srv.URL + "/webhooks/graph"
	if rawQuery != "" {
		u += "?" + rawQuery
	}
	return u
}

type response struct {
	status      int
	contentType string
	body        string
}

func post(t *testing.T, target, contentType string, body []byte) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), body: string(b)}
}

// items returns every item of the table.
func (e *env) items(t *testing.T) []map[string]types.AttributeValue {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := e.tbl.DB.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(e.tbl.Name), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	return out.Items
}

// fetches returns the table's fetch items, decoded.
func (e *env) fetches(t *testing.T) []store.FetchRecord {
	t.Helper()
	var out []store.FetchRecord
	for _, it := range e.items(t) {
		if s, ok := it["type"].(*types.AttributeValueMemberS); ok && s.Value == store.TypeFetch {
			r, err := store.FetchFromItem(it)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, r)
		}
	}
	return out
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withClientState replaces the docs' clientState placeholder value.
func withClientState(b []byte, state string) []byte {
	return bytes.ReplaceAll(b, []byte(`"clientState":"secretClientValue"`), []byte(`"clientState":"`+state+`"`))
}

// newStandIn starts the Graph stand-in and a client for it.
func newStandIn(t *testing.T, now *testkit.Clock, opts ...graphtest.Option) (*graphtest.Server, *graph.Client) {
	t.Helper()
	if now != nil {
		opts = append([]graphtest.Option{graphtest.WithClock(now.Now)}, opts...)
	}
	s := graphtest.New(opts...)
	t.Cleanup(s.Close)
	c := &graph.Client{
		GraphURL:    s.GraphURL(),
		LoginURL:    s.LoginURL(),
		Credentials: graph.CredentialsFrom(func(context.Context) (string, error) { return s.CredentialsJSON(), nil }),
	}
	if now != nil {
		c.Now = now.Now
	}
	return s, c
}

func mustContain(t *testing.T, what, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Fatalf("%s %q does not contain %q", what, s, sub)
	}
}

// ignored is what the notification URL counted as ignored for reason.
func (e *env) ignored(reason ingest.Skip) float64 {
	return e.metrics.TotalWith(ingest.MetricIgnored, metrics.Dim{Name: "Source", Value: graph.Source}, metrics.Dim{Name: "Reason", Value: string(reason)})
}
