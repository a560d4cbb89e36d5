package pandadoc_test

import (
	"bytes"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/core/intent"
	"github.com/stagemover/stagemover/shared/core/signal"
	"github.com/stagemover/stagemover/shared/source/ingest/ingesttest"
	"github.com/stagemover/stagemover/shared/source/pandadoc"
)

var update = flag.Bool("update", false, "rewrite testdata/golden and the events/ sample from the code")

// internal is the vendor's domain in every sample.
var internal = []string{"acme-routing.io"}

var readTestdata = ingesttest.ReadTestdata

func parse(t *testing.T, name string) []pandadoc.Item {
	t.Helper()
	items, err := pandadoc.Parse(readTestdata(t, name), pandadoc.Config{InternalDomains: internal})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return items
}

var goldenNames = []string{"state-sent", "state-viewed", "state-declined", "recipient-completed", "completed-batch", "internal-viewer", "ignored-updated", "ignored-draft"}

// TestGolden: every sample delivery normalises to exactly its golden items.
func TestGolden(t *testing.T) {
	ingesttest.GoldenEach(t, goldenNames, *update, func(t *testing.T, name string) any { return parse(t, name) })
}

func one(t *testing.T, name string) pandadoc.Item {
	t.Helper()
	items := parse(t, name)
	if len(items) != 1 {
		t.Fatalf("%s: %d items, want 1", name, len(items))
	}
	return items[0]
}

// TestMapping spells out what the golden files hold.
func TestMapping(t *testing.T) {
	const dana = "dana.whitfield@northwind-logistics.com"
	sent := one(t, "state-sent")
	s := sent.Signal
	if s.Kind != signal.KindDocument || s.Action != "sent" || s.DocType != "proposal" || s.Actor != "sam.ortega@acme-routing.io" ||
		s.Name != "Northwind Logistics - Route Optimisation Proposal" || !s.At.Equal(time.Date(2026, 3, 3, 9, 2, 17, 331904000, time.UTC)) || s.Session != "" {
		t.Errorf("sent = %+v", s)
	}
	if sent.PersonEmail != dana {
		t.Errorf("sent person = %q, want the buyer signer", sent.PersonEmail)
	}
	if sent.EventID != "kQ3hZ7bB6pKRbjagoZnW2a:document_state_changed:document.sent:2026-03-03T09:02:17.331904Z" {
		t.Errorf("sent event id = %q", sent.EventID)
	}
	viewed := one(t, "state-viewed")
	if viewed.Signal.Action != "viewed" || viewed.Signal.Actor != dana ||
		viewed.Signal.Session != "pandadoc:kQ3hZ7bB6pKRbjagoZnW2a:"+dana+":2026-03-03" || viewed.EventID == sent.EventID {
		t.Errorf("viewed = %+v %q", viewed.Signal, viewed.EventID)
	}
	declined := one(t, "state-declined")
	if declined.Signal.Action != "declined" || declined.Signal.Actor != dana {
		t.Errorf("declined = %+v", declined.Signal)
	}
	rc := one(t, "recipient-completed")
	if rc.Signal.Action != "completed" || rc.Signal.Actor != dana || rc.Signal.DocType != "contract" ||
		!rc.Signal.At.Equal(time.Date(2026, 3, 9, 16, 5, 11, 482000000, time.UTC)) || rc.PersonEmail != dana {
		t.Errorf("recipient_completed = %+v person %q", rc.Signal, rc.PersonEmail)
	}
	batch := parse(t, "completed-batch")
	if len(batch) != 2 || batch[0].Signal.Actor != "priya.nair@acme-routing.io" || batch[0].PersonEmail != dana ||
		batch[1].Signal.Actor != dana || batch[1].Signal.Action != "completed" || batch[0].EventID == batch[1].EventID || batch[1].Index != 1 {
		t.Errorf("batch = %+v", batch)
	}
	// the vendor's own view keeps the vendor as actor: the engine discounts it
	iv := one(t, "internal-viewer")
	if iv.Signal.Actor != "priya.nair@acme-routing.io" || iv.PersonEmail != dana || iv.Signal.Action != "viewed" {
		t.Errorf("internal viewer = %+v person %q", iv.Signal, iv.PersonEmail)
	}
	for _, name := range []string{"ignored-updated", "ignored-draft"} {
		if it := one(t, name); it.Ignored == "" || it.EventID != "" {
			t.Errorf("%s: %+v, want ignored", name, it)
		}
	}
}

// TestEngineReadsTheSignals runs the intent engine on the normalised
// signals: a buyer's signature on the order form wins the deal, the
// vendor's own view of it and the vendor's countersignature do not count.
func TestEngineReadsTheSignals(t *testing.T) {
	decide := ingesttest.Decider(t, time.Date(2026, 3, 11, 12, 0, 0, 0, time.UTC), internal,
		intent.Deal{ID: 4217, Pipeline: "Sales", Status: "open", PersonEmail: "dana.whitfield@northwind-logistics.com", OrgDomain: "northwind-logistics.com"},
		func(it pandadoc.Item) signal.Signal { return it.Signal })
	if d := decide("Demo Scheduled", one(t, "state-sent")); d.Stage != "Proposal Made" {
		t.Errorf("proposal sent: %q %+v, want Proposal Made", d.Stage, d.Reasons)
	}
	if d := decide("Proposal Made", one(t, "recipient-completed")); d.Status != "won" {
		t.Errorf("buyer signed the order form: %q/%q, want won", d.Stage, d.Status)
	}
	batch := parse(t, "completed-batch")
	if d := decide("Proposal Made", batch[0]); d.Status == "won" || d.Stage != "" {
		t.Errorf("vendor countersignature alone: %q/%q, want no move", d.Stage, d.Status)
	}
	if d := decide("Proposal Made", one(t, "internal-viewer")); d.Stage != "" || d.Status == "won" {
		t.Errorf("vendor viewing: %q/%q, want no move", d.Stage, d.Status)
	}
}

func TestDocTypeFromTemplateWhenNameSaysNothing(t *testing.T) {
	b := bytes.Replace(readTestdata(t, "state-sent"), []byte(`"name": "Northwind Logistics - Route Optimisation Proposal"`), []byte(`"name": "Northwind Logistics 2026"`), 1)
	b = bytes.Replace(b, []byte(`"name": "Sales Proposal 2026"`), []byte(`"name": "Standard Quotation"`), 1)
	items, err := pandadoc.Parse(b, pandadoc.Config{InternalDomains: internal})
	if err != nil || items[0].Signal.DocType != "quote" {
		t.Fatalf("%+v %v, want quote from the template name", items, err)
	}
}

func TestNoBuyerRecipientIsIgnored(t *testing.T) {
	b := bytes.ReplaceAll(readTestdata(t, "state-viewed"), []byte("northwind-logistics.com"), []byte("acme-routing.io"))
	items, err := pandadoc.Parse(b, pandadoc.Config{InternalDomains: internal})
	if err != nil || items[0].Ignored == "" || !strings.Contains(items[0].Ignored, "buyer-side") {
		t.Fatalf("%+v %v, want ignored for lack of a buyer", items, err)
	}
	// without INTERNAL_DOMAINS the sender still counts as vendor side
	items, err = pandadoc.Parse(readTestdata(t, "state-sent"), pandadoc.Config{})
	if err != nil || items[0].PersonEmail != "dana.whitfield@northwind-logistics.com" {
		t.Fatalf("%+v %v", items, err)
	}
}

func TestParseRejects(t *testing.T) {
	good := string(readTestdata(t, "state-sent"))
	swap := ingesttest.Swapper(t, good)
	tests := []ingesttest.Reject{
		{"empty", ``, "body is empty"},
		{"not JSON", `<xml/>`, "invalid JSON"},
		{"empty array", `[]`, "no notifications"},
		{"string", `"x"`, "wrong JSON type"},
		{"two arrays", `[] []`, "exactly one"},
		{"no event", `[{"data":{}}]`, "event is required"},
		{"unknown event", `[{"event":"invoice.paid","data":{}}]`, "not supported"},
		{"no data", `[{"event":"document_state_changed"}]`, "data is required"},
		{"no id", swap(`"id": "kQ3hZ7bB6pKRbjagoZnW2a"`, `"id": ""`), "data.id"},
		{"bad status", swap(`"status": "document.sent"`, `"status": "sent"`), "data.status"},
		{"bad time", swap(`"date_modified": "2026-03-03T09:02:17.331904Z"`, `"date_modified": "yesterday"`), "RFC 3339"},
		{"no time", swap(`"date_modified": "2026-03-03T09:02:17.331904Z"`, `"date_modified": null`), "date_modified"},
		{"recipients wrong type", swap(`"recipients": [`, `"recipients": 5, "x": [`), `"recipients" has the wrong type`},
		{"second of two bad", `[` + strings.TrimSpace(good)[1:len(strings.TrimSpace(good))-1] + `,{"event":"document_state_changed","data":null}]`, "notification 1: data is required"},
		{"recipient_completed without action_by", strings.Replace(string(readTestdata(t, "recipient-completed")), `"action_by"`, `"action_byx"`, 1), "action_by"},
	}
	ingesttest.AssertRejects(t, tests, pandadoc.ErrInvalid, func(b []byte) error {
		_, err := pandadoc.Parse(b, pandadoc.Config{InternalDomains: internal})
		return err
	})
}

func TestSingleObjectBody(t *testing.T) {
	b := bytes.TrimSpace(readTestdata(t, "state-sent"))
	items, err := pandadoc.Parse(b[1:len(b)-1], pandadoc.Config{InternalDomains: internal})
	if err != nil || len(items) != 1 || items[0].Signal.Action != "sent" {
		t.Fatalf("%+v %v", items, err)
	}
}
