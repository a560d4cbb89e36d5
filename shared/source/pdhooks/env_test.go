package pdhooks_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/stagemover/stagemover/shared/core/signal"
	"github.com/stagemover/stagemover/shared/core/stagemap"
	"github.com/stagemover/stagemover/shared/dev/ddblocal"
	"github.com/stagemover/stagemover/shared/pipedrive"
	"github.com/stagemover/stagemover/shared/pipedrive/pipedrivetest"
	"github.com/stagemover/stagemover/shared/platform/apigw"
	"github.com/stagemover/stagemover/shared/platform/metrics"
	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/source/pdhooks"
	"github.com/stagemover/stagemover/shared/store"
)

func TestMain(m *testing.M) { os.Exit(ddblocal.RunTests(m)) }

const (
	hookUser = "stagemover"
	hookPass = "pd-hook-pass-7c1e9a2f4b6d"
	human    = pipedrivetest.DefaultOwnerID // a person in the app
	// sandbox "Sales" pipeline stages
	stQualified, stContact, stDemo, stProposal, stNegotiation = 1, 2, 3, 4, 5
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

type env struct {
	t      *testing.T
	ctx    context.Context
	tt     *ddblocal.TestTable
	st     *store.Store
	tbl    pdhooks.Table
	sb     *pipedrivetest.Server
	client *pipedrive.Client
	h      *ingest.Handler  // POST /pipedrive
	w      *pdhooks.Webhook // its source
	url    string
	logs   *syncBuf
	emf    *syncBuf
	seq    int
}

func setup(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	tt := ddblocal.ForTest(t)
	st := store.New(tt.DB, tt.Name)
	sb, err := pipedrivetest.Start(pipedrivetest.Options{BurstLimit: 1000}) // the storm makes hundreds of requests
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	client, err := pipedrive.New(pipedrive.Config{BaseURL: sb.URL(), Token: pipedrive.StaticToken(sb.Token())})
	if err != nil {
		t.Fatal(err)
	}
	logs, emf := &syncBuf{}, &syncBuf{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := metrics.New(nil, "StageMover", "ingest-pipedrive")
	w := &pdhooks.Webhook{
		Table:             pdhooks.Table{Store: st},
		Mirror:            st,
		Stages:            stagemap.New(stagemap.FromPipedrive{API: client}, st, 15*time.Minute, nil),
		IntegrationUserID: sb.IntegrationUserID(),
		Log:               log,
		Metrics:           m,
		EMF:               emf,
	}
	h := &ingest.Handler{
		Source: w,
		Key: pdhooks.Key(func(context.Context) (pdhooks.Credentials, error) {
			return pdhooks.Credentials{User: hookUser, Password: hookPass}, nil
		}),
		Log:     log,
		Metrics: m,
	}
	srv := httptest.NewServer(apigw.Handler("POST /pipedrive", h.Handle))
	t.Cleanup(srv.Close)
	e := &env{t: t, ctx: ctx, tt: tt, st: st, tbl: w.Table, sb: sb, client: client, h: h, w: w, url: srv.URL + "/pipedrive", logs: logs, emf: emf}
	t.Cleanup(func() {
		if v := sb.ValidationErrors(); len(v) > 0 {
			t.Errorf("sandbox validation errors: %v", v)
		}
		if strings.Contains(logs.String(), hookPass) || strings.Contains(logs.String(), sb.Token()) {
			t.Error("a secret appears in the logs")
		}
	})
	return e
}

func (e *env) subscribe() { e.sb.Subscribe(e.url, hookUser, hookPass, "change", "deal") }

func (e *env) wait() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, 20*time.Second)
	defer cancel()
	if err := e.sb.WaitWebhooks(ctx); err != nil {
		e.t.Fatal(err)
	}
	for _, d := range e.sb.Deliveries() {
		if !d.OK {
			e.t.Fatalf("delivery %s of deal %d failed: %d %s", d.EventID, d.EntityID, d.Status, d.Err)
		}
	}
}

// decide stores a signal (evidence at evidenceAt) and a decision for it,
// and, for a move, runs the mover's state machine to done: live moves PATCH
// the sandbox as the integration user, shadow moves do not.
func (e *env) decide(dealID int64, action, target, rule string, evidenceAt time.Time, live, shadow bool) store.Decision {
	e.t.Helper()
	e.seq++
	rec := store.SignalRecord{Source: "generic", EventID: fmt.Sprintf("ev-%d-%d", dealID, e.seq), DealID: dealID, ReceivedAt: evidenceAt,
		Signal: signal.Signal{Kind: signal.KindEmail, At: evidenceAt, From: "buyer@acme.example", Body: "please send the proposal"}}
	if _, err := e.st.PutSignal(e.ctx, rec); err != nil {
		e.t.Fatal(err)
	}
	d := store.Decision{DealID: dealID, SignalKey: rec.Key(), EventID: rec.EventID, Action: action, TargetStage: target, TargetPipeline: "Sales", Rule: rule}
	if _, err := e.st.PutDecision(e.ctx, d); err != nil {
		e.t.Fatal(err)
	}
	if action != store.ActionMove {
		return d
	}
	if _, err := e.st.Claim(e.ctx, dealID, d.SortKey(), "test", time.Minute); err != nil {
		e.t.Fatal(err)
	}
	deal, _ := e.sb.Deal(dealID)
	to := map[string]int64{"Contact Made": stContact, "Demo Scheduled": stDemo, "Proposal Made": stProposal, "Negotiations Started": stNegotiation}[target]
	out := store.Outcome{State: store.StateDone, FromStageID: deal.StageID, ToStageID: to, Shadow: shadow}
	if live {
		if err := e.st.MarkPatchSent(e.ctx, dealID, d.SortKey(), "test"); err != nil {
			e.t.Fatal(err)
		}
		if _, err := e.client.UpdateDeal(e.ctx, dealID, pipedrive.DealPatch{StageID: pipedrive.Ptr(to)}); err != nil {
			e.t.Fatal(err)
		}
	}
	if err := e.st.Finish(e.ctx, dealID, d.SortKey(), "test", out); err != nil {
		e.t.Fatal(err)
	}
	return d
}

func (e *env) measures(dealID int64) []store.Measure {
	e.t.Helper()
	ms, err := e.st.MeasuresForDeal(e.ctx, dealID)
	if err != nil {
		e.t.Fatal(err)
	}
	return ms
}

func (e *env) countType(typ string) int { return e.count("type", typ) }

func (e *env) countOutcome(o string) int { return e.count("outcome", o) }

func (e *env) count(attr, val string) int {
	e.t.Helper()
	n := 0
	var start map[string]types.AttributeValue
	for {
		out, err := e.tt.DB.Scan(e.ctx, &dynamodb.ScanInput{TableName: aws.String(e.tt.Name), ExclusiveStartKey: start})
		if err != nil {
			e.t.Fatal(err)
		}
		for _, it := range out.Items {
			if v, ok := it[attr].(*types.AttributeValueMemberS); ok && v.Value == val {
				n++
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return n
		}
		start = out.LastEvaluatedKey
	}
}

func (e *env) post(body []byte, user, pass string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if user != "" || pass != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (e *env) report() pdhooks.Report {
	e.t.Helper()
	r, err := e.tbl.Report(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func findRow(r pdhooks.Report, pipeline, rule string) pdhooks.Row {
	for _, x := range r.Rows {
		if x.Pipeline == pipeline && x.Rule == rule {
			return x
		}
	}
	return pdhooks.Row{}
}
