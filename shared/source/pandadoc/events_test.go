package pandadoc_test

import (
	"bytes"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/source/ingest/ingesttest"
	"github.com/stagemover/stagemover/shared/source/pandadoc"
	"github.com/stagemover/stagemover/shared/testkit"
)

// SampleSharedKey is the key events/ingest-pandadoc.json is signed with.
// Never use it in a deployment.
const SampleSharedKey = "pandadoc-sample-shared-key-not-for-production"

// Route is the HTTP API route the sample (and the lead's template) use.
const Route = "POST /webhooks/pandadoc"

const (
	sampleFile     = "ingest-pandadoc.json"
	sampleTestdata = "completed-batch"
)

var sampleAt = time.Date(2026, 3, 10, 8, 12, 46, 0, time.UTC)

func buildSample(t testing.TB) []byte {
	t.Helper()
	var body bytes.Buffer
	if err := json.Compact(&body, readTestdata(t, sampleTestdata)); err != nil {
		t.Fatal(err)
	}
	sig := pandadoc.Sign([]byte(SampleSharedKey), body.Bytes())
	e := testkit.NewHTTPEvent(testkit.HTTPRequest{
		Path: "/webhooks/pandadoc", Query: "signature=" + sig, Body: body.Bytes(),
		SourceIP: "34.210.167.51", UserAgent: "PandaDoc-Webhooks/1.0", RequestID: "Pd4wQkR7oAMEdZa=",
		At: sampleAt, EpochMillis: 187,
		Headers: map[string]string{
			"content-type":                "application/json",
			"x-amzn-trace-id":             "Root=1-" + strconv.FormatInt(sampleAt.Unix(), 16) + "-5d2e8a1f3c7b9e0d4a6f2c81",
			"x-pandadoc-webhook-event-id": "b1f7c2a9-3d4e-4f60-8a1b-9c2d3e4f5a6b",
		},
	})
	e.QueryStringParameters = map[string]string{"signature": sig}
	return testkit.MarshalIndent(t, e)
}

var sample = ingesttest.Sample{File: sampleFile, Route: Route, Regen: "go test ./shared/source/pandadoc -run TestSampleEventIsGenerated -update"}

// TestSampleEventIsGenerated: events/ingest-pandadoc.json is exactly what
// the testdata delivery and the signing scheme produce (-update rewrites
// it), decodes as an API Gateway v2 request and verifies with
// SampleSharedKey.
func TestSampleEventIsGenerated(t *testing.T) {
	req := sample.AssertGenerated(t, buildSample(t), *update)
	if err := pandadoc.Verify([][]byte{[]byte(SampleSharedKey)}, (&ingest.Request{HTTP: req}).Query(pandadoc.QueryParamSignature), []byte(req.Body)); err != nil {
		t.Fatalf("sample signature: %v", err)
	}
}

// TestSampleEvent: the sample, handled as the Lambda receives it, stores
// the golden signals; handled again, nothing.
func TestSampleEvent(t *testing.T) {
	ingesttest.AssertSampleStored(t, newFixture(t, SampleSharedKey).Fixture, sample.Read(t), sampleAt, parse(t, sampleTestdata),
		func(it pandadoc.Item) ingesttest.Stored {
			return ingesttest.Stored{EventID: it.EventID, PersonEmail: it.PersonEmail, Signal: it.Signal}
		})
}
