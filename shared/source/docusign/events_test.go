package docusign_test

import (
	"bytes"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/source/docusign"
	"github.com/stagemover/stagemover/shared/source/ingest/ingesttest"
	"github.com/stagemover/stagemover/shared/testkit"
)

// SampleHMACKey is the key events/ingest-docusign.json is signed with
// (X-DocuSign-Signature-1). Never use it in a deployment.
const SampleHMACKey = "docusign-sample-hmac-key-not-for-production"

// Route is the HTTP API route the sample (and the lead's template) use.
const Route = "POST /webhooks/docusign"

const (
	sampleFile     = "ingest-docusign.json"
	sampleTestdata = "recipient-completed"
)

var sampleAt = time.Date(2026, 3, 9, 16, 5, 14, 0, time.UTC)

func buildSample(t testing.TB) []byte {
	t.Helper()
	var body bytes.Buffer
	if err := json.Compact(&body, readTestdata(t, sampleTestdata)); err != nil {
		t.Fatal(err)
	}
	sig := docusign.Sign([]byte(SampleHMACKey), body.Bytes())
	e := testkit.NewHTTPEvent(testkit.HTTPRequest{
		Path: "/webhooks/docusign", Body: body.Bytes(),
		SourceIP: "162.248.184.11", UserAgent: "DocuSign Connect", RequestID: "Ds5xRlS8pBNFeAb=",
		At: sampleAt, EpochMillis: 187,
		Headers: map[string]string{
			"content-type":           "application/json",
			"x-amzn-trace-id":        "Root=1-" + strconv.FormatInt(sampleAt.Unix(), 16) + "-5d2e8a1f3c7b9e0d4a6f2c81",
			"x-authorization-digest": "HMACSHA256",
			"x-docusign-accountid":   "7d3a1f2e-9c4b-4e8a-b6d5-2f1e0c9b8a7d",
			"x-docusign-signature-1": sig,
		},
	})
	return testkit.MarshalIndent(t, e)
}

var sample = ingesttest.Sample{File: sampleFile, Route: Route, Regen: "go test ./shared/source/docusign -run TestSampleEventIsGenerated -update"}

// TestSampleEventIsGenerated: events/ingest-docusign.json is exactly what
// the testdata delivery and the signing scheme produce (-update rewrites
// it), decodes as an API Gateway v2 request and verifies with
// SampleHMACKey.
func TestSampleEventIsGenerated(t *testing.T) {
	req := sample.AssertGenerated(t, buildSample(t), *update)
	if err := docusign.Verify([][]byte{[]byte(SampleHMACKey)}, docusign.Signatures(req), []byte(req.Body)); err != nil {
		t.Fatalf("sample signature: %v", err)
	}
}

// TestSampleEvent: the sample, handled as the Lambda receives it, stores
// the golden signals; handled again, nothing.
func TestSampleEvent(t *testing.T) {
	ingesttest.AssertSampleStored(t, newFixture(t, SampleHMACKey).Fixture, sample.Read(t), sampleAt, []docusign.Item{parse(t, sampleTestdata)},
		func(it docusign.Item) ingesttest.Stored {
			return ingesttest.Stored{EventID: it.EventID, PersonEmail: it.PersonEmail, Signal: it.Signal}
		})
}
