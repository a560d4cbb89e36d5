package docusign_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stagemover/stagemover/shared/source/docusign"
	"github.com/stagemover/stagemover/shared/source/ingest/ingesttest"
)

var safeEventID = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}:(envelope|recipient)-[a-z]+(:[A-Za-z0-9-]{1,64})?:[0-9T:.Z-]{20,40}$`)

// FuzzParse: any body is a valid signal, an ignored event, or a rejection
// with a reason; never a panic.
// Bounded run: go test -fuzz=FuzzParse -fuzztime=30s ./shared/source/docusign
func FuzzParse(f *testing.F) {
	ingesttest.SeedTestdata(f, ``, `{}`, `null`, `{"event":"envelope-sent","data":null}`, "\ufeff <?xml version=\"1.0\"?><DocuSignEnvelopeInformation/>",
		`{"event":"recipient-completed","data":{"envelopeId":"e","recipientId":1,"envelopeSummary":{"recipients":{"signers":[{"email":"a@b.c","recipientId":1,"signedDateTime":"0001-01-01T08:00:00.0000000Z"}]}}},"generatedDateTime":"2026-01-01T00:00:00Z"}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		it, err := docusign.Parse(body, docusign.Config{InternalDomains: []string{"acme-routing.io"}})
		if err != nil {
			if !errors.Is(err, docusign.ErrInvalid) || strings.TrimSpace(err.Error()) == "" {
				t.Fatalf("error of no known kind: %v", err)
			}
			return
		}
		if it.Ignored != "" {
			if it.EventID != "" {
				t.Fatalf("ignored with an event id: %+v", it)
			}
			return
		}
		if err := it.Signal.Validate(); err != nil {
			t.Fatalf("accepted an invalid signal: %v", err)
		}
		if !safeEventID.MatchString(it.EventID) {
			t.Fatalf("unsafe event id %q", it.EventID)
		}
		if !strings.Contains(it.PersonEmail, "@") || strings.HasSuffix(it.PersonEmail, "@acme-routing.io") || it.PersonEmail != strings.ToLower(it.PersonEmail) {
			t.Fatalf("person %q is not a buyer-side address", it.PersonEmail)
		}
		if it.Signal.Action == "viewed" && it.Signal.Session == "" {
			t.Fatal("a view without a session")
		}
	})
}

// FuzzVerify: only the true MAC of the body under the key gets in, whatever
// the headers hold.
func FuzzVerify(f *testing.F) {
	body := []byte(`{"event":"envelope-sent"}`)
	good := docusign.Sign([]byte(testKey), body)
	f.Add("x-docusign-signature-1", good, body)
	f.Add("X-DocuSign-Signature-2", good+","+good, body)
	f.Add("x-docusign-signature-1", "AAAA", body)
	f.Fuzz(func(t *testing.T, name, value string, b []byte) {
		req := events.APIGatewayV2HTTPRequest{Headers: map[string]string{name: value}}
		if docusign.Verify([][]byte{[]byte(testKey)}, docusign.Signatures(req), b) == nil {
			if !strings.Contains(value, docusign.Sign([]byte(testKey), b)) {
				t.Fatalf("accepted %q: %q for a body it does not sign", name, value)
			}
		}
	})
}
