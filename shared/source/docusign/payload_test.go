package docusign_test

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/core/intent"
	"github.com/stagemover/stagemover/shared/core/signal"
	"github.com/stagemover/stagemover/shared/source/docusign"
	"github.com/stagemover/stagemover/shared/source/ingest/ingesttest"
)

var update = flag.Bool("update", false, "rewrite testdata/golden and the events/ sample from the code")

var internal = []string{"acme-routing.io"}

const dana = "dana.whitfield@northwind-logistics.com"

var readTestdata = ingesttest.ReadTestdata

func parse(t *testing.T, name string) docusign.Item {
	t.Helper()
	it, err := docusign.Parse(readTestdata(t, name), docusign.Config{InternalDomains: internal})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return it
}

var goldenNames = []string{"envelope-sent", "recipient-delivered", "envelope-delivered", "recipient-completed", "recipient-delivered-internal", "envelope-completed", "envelope-declined", "ignored-voided"}

func TestGolden(t *testing.T) {
	ingesttest.GoldenEach(t, goldenNames, *update, func(t *testing.T, name string) any { return parse(t, name) })
}

// TestMapping spells out what the golden files hold.
func TestMapping(t *testing.T) {
	sent := parse(t, "envelope-sent")
	s := sent.Signal
	if s.Kind != signal.KindDocument || s.Action != "sent" || s.DocType != "contract" || s.Actor != "sam.ortega@acme-routing.io" ||
		s.Name != "Please DocuSign: Northwind Logistics - Master Services Agreement" || !s.At.Equal(time.Date(2026, 3, 6, 10, 2, 31, 883000000, time.UTC)) {
		t.Errorf("sent = %+v", s)
	}
	if sent.PersonEmail != dana || sent.EventID != "c4e9b2a1-7f3d-4b6e-9a8c-1d2e3f4a5b6c:envelope-sent:2026-03-06T10:02:31.883Z" {
		t.Errorf("sent person %q id %q", sent.PersonEmail, sent.EventID)
	}
	rd, ed := parse(t, "recipient-delivered"), parse(t, "envelope-delivered")
	if rd.Signal.Action != "viewed" || rd.Signal.Actor != dana || rd.Signal.Session == "" || !strings.Contains(rd.EventID, ":recipient-delivered:1:") {
		t.Errorf("recipient-delivered = %+v %q", rd.Signal, rd.EventID)
	}
	// one view reported twice is one session (the engine counts it once), two signals
	if ed.Signal.Actor != dana || ed.Signal.Session != rd.Signal.Session || ed.EventID == rd.EventID {
		t.Errorf("envelope-delivered = %+v %q", ed.Signal, ed.EventID)
	}
	rc := parse(t, "recipient-completed")
	if rc.Signal.Action != "completed" || rc.Signal.Actor != dana || !rc.Signal.At.Equal(time.Date(2026, 3, 9, 16, 5, 11, 482000000, time.UTC)) {
		t.Errorf("recipient-completed = %+v", rc.Signal)
	}
	iv := parse(t, "recipient-delivered-internal")
	if iv.Signal.Actor != "priya.nair@acme-routing.io" || iv.PersonEmail != dana {
		t.Errorf("internal viewer = %+v person %q: the vendor stays the actor, the buyer the person", iv.Signal, iv.PersonEmail)
	}
	ec := parse(t, "envelope-completed")
	if ec.Signal.Actor != dana || !ec.Signal.At.Equal(time.Date(2026, 3, 10, 8, 12, 44, 331000000, time.UTC)) {
		t.Errorf("envelope-completed = %+v", ec.Signal)
	}
	if d := parse(t, "envelope-declined"); d.Signal.Action != "declined" || d.Signal.Actor != dana {
		t.Errorf("declined = %+v", d.Signal)
	}
	if v := parse(t, "ignored-voided"); v.Ignored == "" || v.EventID != "" {
		t.Errorf("voided = %+v, want ignored", v)
	}
}

// TestRetryIsTheSameEvent: Connect's retry changes retryCount and
// generatedDateTime; the event id does not change.
func TestRetryIsTheSameEvent(t *testing.T) {
	b := readTestdata(t, "recipient-completed")
	retry := bytes.Replace(b, []byte(`"retryCount": 0`), []byte(`"retryCount": 3`), 1)
	retry = bytes.Replace(retry, []byte(`"generatedDateTime": "2026-03-09T16:05:14.3020000Z"`), []byte(`"generatedDateTime": "2026-03-09T17:35:02.0000000Z"`), 1)
	if bytes.Equal(b, retry) {
		t.Fatal("sample not changed")
	}
	it, err := docusign.Parse(retry, docusign.Config{InternalDomains: internal})
	if err != nil || it.EventID != parse(t, "recipient-completed").EventID {
		t.Fatalf("retry id %q %v", it.EventID, err)
	}
}

func TestEngineReadsTheSignals(t *testing.T) {
	decide := ingesttest.Decider(t, time.Date(2026, 3, 11, 12, 0, 0, 0, time.UTC), internal,
		intent.Deal{ID: 4217, Pipeline: "Sales", Status: "open", PersonEmail: dana, OrgDomain: "northwind-logistics.com"},
		func(it docusign.Item) signal.Signal { return it.Signal })
	if d := decide("Negotiations Started", parse(t, "recipient-completed")); d.Status != "won" {
		t.Errorf("buyer signed the MSA: %q/%q %+v, want won", d.Stage, d.Status, d.Reasons)
	}
	if d := decide("Negotiations Started", parse(t, "recipient-delivered-internal")); d.Stage != "" || d.Status == "won" {
		t.Errorf("vendor viewing: %q/%q, want no move", d.Stage, d.Status)
	}
}

func TestParseRejects(t *testing.T) {
	good := string(readTestdata(t, "recipient-completed"))
	swap := ingesttest.Swapper(t, good)
	tests := []ingesttest.Reject{
		{"empty", ``, "body is empty"},
		{"xml", `<DocuSignEnvelopeInformation/>`, "XML is not supported"},
		{"not json", `nope`, "invalid JSON at byte"},
		{"array", `[]`, "JSON object"},
		{"two", `{} {}`, "exactly one"},
		{"no event", `{"data":{}}`, "event is required"},
		{"unknown", `{"event":"invoice.paid"}`, "not supported"},
		{"no data", `{"event":"envelope-sent"}`, "data is required"},
		{"no summary", string(readTestdata(t, "no-summary")), "includeData"},
		{"no envelope id", swap(`"envelopeId": "c4e9b2a1-7f3d-4b6e-9a8c-1d2e3f4a5b6c",`+"\n    \"recipientId\"", `"envelopeId": "",`+"\n    \"recipientId\""), "data.envelopeId"},
		{"no recipient id", swap(`"recipientId": "1",`+"\n    \"envelopeSummary\"", `"envelopeSummary"`), "data.recipientId is required"},
		{"unknown recipient", swap(`"recipientId": "1",`+"\n    \"envelopeSummary\"", `"recipientId": "9",`+"\n    \"envelopeSummary\""), "not among"},
		{"bad time", swap(`"signedDateTime": "2026-03-09T16:05:11.4820000Z"`, `"signedDateTime": "Monday"`), "RFC 3339"},
		{"signers wrong type", swap(`"signers": [`, `"signers": 1, "x": [`), `wrong type`},
	}
	ingesttest.AssertRejects(t, tests, docusign.ErrInvalid, func(b []byte) error {
		_, err := docusign.Parse(b, docusign.Config{InternalDomains: internal})
		return err
	})
}

func TestNumericIDs(t *testing.T) {
	b := bytes.Replace(readTestdata(t, "recipient-completed"), []byte(`"recipientId": "1",`+"\n    \"envelopeSummary\""), []byte(`"recipientId": 1,`+"\n    \"envelopeSummary\""), 1)
	it, err := docusign.Parse(b, docusign.Config{InternalDomains: internal})
	if err != nil || it.Signal.Actor != dana {
		t.Fatalf("numeric recipientId: %+v %v", it, err)
	}
}

// A Connect configuration left on the legacy XML format is told so: Connect
// must send JSON SIM. The XML sample is a legacy DocuSignEnvelopeInformation
// message; a byte order mark or leading white space changes nothing.
func TestParseLegacyXMLSaysJSONSIM(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "legacy-xml.xml"))
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string][]byte{
		"legacy message": b,
		"with BOM":       append([]byte("\xef\xbb\xbf"), b...),
		"leading space":  append([]byte("\r\n  "), b...),
		"bare element":   []byte("<x/>"),
	} {
		_, err := docusign.Parse(body, docusign.Config{InternalDomains: internal})
		if !errors.Is(err, docusign.ErrInvalid) {
			t.Fatalf("%s: error %v, want ErrInvalid", name, err)
		}
		const want = "DocuSign Connect must send JSON (SIM); XML is not supported"
		if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "invalid JSON") {
			t.Fatalf("%s: error %q, want it to say %q", name, err, want)
		}
	}
}
