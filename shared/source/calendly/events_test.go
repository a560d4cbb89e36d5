package calendly_test

import (
	"bytes"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stagemover/stagemover/shared/source/calendly"
	"github.com/stagemover/stagemover/shared/testkit"
)

// SampleSigningKey is the key events/ingest-calendly-*.json are signed
// with. Never use it in a deployment.
const SampleSigningKey = "calendly-sample-signing-key-not-for-production"

// samples: the events/ files, each built from a testdata delivery and
// signed one second after Calendly created the webhook event.
var samples = []struct {
	file, testdata, requestID, sourceIP string
	signedAt                            time.Time
}{
	{"ingest-calendly-created.json", "invitee-created", "Lq7wRkT2oAMEcXy=", "203.0.113.61", time.Date(2026, 3, 2, 10, 15, 9, 0, time.UTC)},
	{"ingest-calendly-canceled.json", "invitee-canceled", "Mr8xSlU3pBNFdYz=", "203.0.113.62", time.Date(2026, 3, 4, 8, 31, 54, 0, time.UTC)},
}

// Route is the HTTP API route the samples (and the lead's template) use.
const Route = "POST /webhooks/calendly"

func buildSample(t testing.TB, i int) []byte {
	t.Helper()
	s := samples[i]
	var body bytes.Buffer
	if err := json.Compact(&body, readTestdata(t, s.testdata)); err != nil {
		t.Fatal(err)
	}
	e := testkit.NewHTTPEvent(testkit.HTTPRequest{
		Path: "/webhooks/calendly", Body: body.Bytes(),
		SourceIP: s.sourceIP, RequestID: s.requestID,
		At: s.signedAt, EpochMillis: 214,
		Headers: map[string]string{
			"content-type":               "application/json",
			"x-amzn-trace-id":            "Root=1-" + strconv.FormatInt(s.signedAt.Unix(), 16) + "-3b6e1f0a9c2d4e8b7a5f1c3d",
			"calendly-webhook-signature": calendly.Sign([]byte(SampleSigningKey), s.signedAt, body.Bytes()),
		},
	})
	return testkit.MarshalIndent(t, e)
}

func readSample(t testing.TB, i int) events.APIGatewayV2HTTPRequest {
	t.Helper()
	return testkit.DecodeHTTPEvent(t, testkit.Event(t, samples[i].file))
}

// TestSampleEventsAreGenerated: the events/ files are exactly what the
// testdata deliveries and the signing scheme produce (-update rewrites
// them), decode as API Gateway v2 requests, and carry a signature that
// verifies at their signing time with SampleSigningKey.
func TestSampleEventsAreGenerated(t *testing.T) {
	for i, s := range samples {
		t.Run(s.file, func(t *testing.T) {
			want := buildSample(t, i)
			testkit.Golden(t, "events/"+s.file, want, *update, "go test ./shared/source/calendly -run TestSampleEventsAreGenerated -update")
			req := readSample(t, i)
			if req.RouteKey != Route || req.RequestContext.HTTP.Method != "POST" {
				t.Fatalf("route %q", req.RouteKey)
			}
			if err := calendly.Verify([]byte(SampleSigningKey), req.Headers["calendly-webhook-signature"], []byte(req.Body), s.signedAt, 0); err != nil {
				t.Fatalf("sample signature: %v", err)
			}
			if _, err := calendly.Parse([]byte(req.Body)); err != nil {
				t.Fatalf("sample body: %v", err)
			}
		})
	}
}
