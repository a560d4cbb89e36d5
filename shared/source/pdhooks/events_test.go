package pdhooks_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stagemover/stagemover/shared/dev/ddblocal"
	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/source/pdhooks"
	"github.com/stagemover/stagemover/shared/store"
	"github.com/stagemover/stagemover/shared/testkit"
)

var update = flag.Bool("update", false, "rewrite events/ingest-pipedrive.json")

// Sample credentials of events/ingest-pipedrive.json. Never deploy them.
const (
	SampleUser     = "stagemover"
	SamplePassword = "pipedrive-sample-password-not-for-production"
	Route          = "POST /pipedrive"
	sampleFile     = "ingest-pipedrive.json"
)

func buildSample(t testing.TB) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "deal-stage-change.json"))
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	if err := json.Compact(&body, raw); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 5, 9, 12, 45, 0, time.UTC)
	e := testkit.NewHTTPEvent(testkit.HTTPRequest{
		Path: "/pipedrive", Body: body.Bytes(), SourceIP: "185.166.142.20", RequestID: "Pd4kQw7ZoAMEbXa=",
		At: at, EpochMillis: 87,
		Headers: map[string]string{
			"authorization":   "Basic " + base64.StdEncoding.EncodeToString([]byte(SampleUser+":"+SamplePassword)),
			"content-type":    "application/json",
			"x-amzn-trace-id": "Root=1-" + strconv.FormatInt(at.Unix(), 16) + "-5d2a7c9e1f3b4a6c8e0d2f41",
		},
	})
	return testkit.MarshalIndent(t, e)
}

// TestSampleEventIsGenerated: events/ingest-pipedrive.json is what the
// testdata delivery produces (-update rewrites it), and the handler accepts
// it with the sample credentials and mirrors the deal.
func TestSampleEventIsGenerated(t *testing.T) {
	root, err := ddblocal.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "events", sampleFile)
	want := buildSample(t)
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run go test ./shared/source/pdhooks -run TestSampleEventIsGenerated -update", sampleFile)
	}
	var req events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(got, &req); err != nil {
		t.Fatal(err)
	}
	tt := ddblocal.ForTest(t)
	st := store.New(tt.DB, tt.Name)
	h := &ingest.Handler{
		Source: &pdhooks.Webhook{Table: pdhooks.Table{Store: st}, Mirror: st, IntegrationUserID: 1000},
		Key: pdhooks.Key(func(context.Context) (pdhooks.Credentials, error) {
			return pdhooks.Credentials{User: SampleUser, Password: SamplePassword}, nil
		}),
	}
	resp, err := h.Handle(context.Background(), req)
	if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, "processed") {
		t.Fatalf("%d %s %v", resp.StatusCode, resp.Body, err)
	}
	ds, err := st.GetDealState(context.Background(), 4217)
	if err != nil || ds.StageID != 3 || ds.PipelineID != 1 {
		t.Fatalf("mirror %+v %v", ds, err)
	}
	if resp, _ := h.Handle(context.Background(), req); resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, "duplicate") {
		t.Fatalf("replay: %d %s", resp.StatusCode, resp.Body)
	}
}
