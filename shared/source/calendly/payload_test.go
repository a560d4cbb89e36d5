package calendly_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/core/intent"
	"github.com/stagemover/stagemover/shared/core/signal"
	"github.com/stagemover/stagemover/shared/source/calendly"
	"github.com/stagemover/stagemover/shared/source/ingest/ingesttest"
)

var update = flag.Bool("update", false, "rewrite testdata/golden and the events/ samples from the code")

var readTestdata = ingesttest.ReadTestdata

func parse(t *testing.T, name string) calendly.Meeting {
	t.Helper()
	m, err := calendly.Parse(readTestdata(t, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return m
}

// TestGolden: every sample delivery normalises to exactly its golden signal.
func TestGolden(t *testing.T) {
	ingesttest.GoldenEach(t, []string{"invitee-created", "invitee-canceled", "rescheduled-canceled", "rescheduled-created"}, *update,
		func(t *testing.T, name string) any { return parse(t, name) })
}

// TestMapping spells out what the golden files hold, so a regenerated
// golden file cannot silently change the meaning.
func TestMapping(t *testing.T) {
	created := parse(t, "invitee-created")
	canceled := parse(t, "invitee-canceled")
	resCancel := parse(t, "rescheduled-canceled")
	resCreate := parse(t, "rescheduled-created")

	start := time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)
	s := created.Signal
	if s.Kind != signal.KindMeeting || s.Status != "scheduled" || s.StartsAt == nil || !s.StartsAt.Equal(start) ||
		s.Title != "Route Optimisation Demo" || s.Organizer != "sam.ortega@acme-routing.io" ||
		!s.At.Equal(time.Date(2026, 3, 2, 10, 15, 7, 412903000, time.UTC)) {
		t.Errorf("created signal = %+v", s)
	}
	wantAtt := []string{"sam.ortega@acme-routing.io", "dana.whitfield@northwind-logistics.com", "li.chen@northwind-logistics.com"}
	if strings.Join(s.Attendees, ",") != strings.Join(wantAtt, ",") {
		t.Errorf("attendees = %v, want hosts, invitee, guests: %v", s.Attendees, wantAtt)
	}
	if created.PersonEmail != "dana.whitfield@northwind-logistics.com" {
		t.Errorf("person = %q", created.PersonEmail)
	}
	if canceled.Signal.Status != "canceled" || !canceled.Signal.StartsAt.Equal(start) ||
		!canceled.Signal.At.Equal(time.Date(2026, 3, 4, 8, 31, 52, 104577000, time.UTC)) {
		t.Errorf("canceled signal = %+v", canceled.Signal)
	}
	// a cancel after a create is a new signal; the same invitee keeps its path
	if created.EventID == canceled.EventID || !strings.HasPrefix(canceled.EventID, strings.TrimSuffix(created.EventID, ":invitee.created")) {
		t.Errorf("event ids: created %q, canceled %q", created.EventID, canceled.EventID)
	}
	if created.EventID != "scheduled_events/b7f3c2d1-4e5a-4f68-9a0b-3c2d1e4f5a6b/invitees/0e9d8c7b-6a5f-4e3d-8c2b-1a0f9e8d7c6b:invitee.created" {
		t.Errorf("created event id = %q", created.EventID)
	}
	if resCancel.Signal.Status != "rescheduled" || !strings.HasSuffix(resCancel.EventID, ":invitee.canceled:rescheduled") {
		t.Errorf("the canceled half of a reschedule = %q %q, want rescheduled (never canceled)", resCancel.Signal.Status, resCancel.EventID)
	}
	if resCreate.Signal.Status != "rescheduled" || !resCreate.Signal.StartsAt.Equal(time.Date(2026, 3, 12, 14, 0, 0, 0, time.UTC)) ||
		!strings.HasSuffix(resCreate.EventID, ":invitee.created:rescheduled") {
		t.Errorf("the created half of a reschedule = %+v %q", resCreate.Signal, resCreate.EventID)
	}
	if resCreate.PersonEmail != "tomas.herrera@brightwater-foods.es" {
		t.Errorf("person = %q", resCreate.PersonEmail)
	}
}

// TestRescheduleKeepsTheBooking runs the intent engine on the signals: a
// reschedule (both halves, in either order) still counts as a booked demo;
// a cancellation without a new time does not.
func TestRescheduleKeepsTheBooking(t *testing.T) {
	engine := intent.NewEngine(intent.DefaultRules())
	deal := func(email string) intent.Deal {
		return intent.Deal{ID: 7, Pipeline: "Sales", Stage: "Contact Made", Status: "open", PersonEmail: email}
	}
	decide := func(d intent.Deal, now time.Time, sigs ...calendly.Meeting) intent.Decision {
		in := intent.Input{Now: now, Deal: d, InternalDomains: []string{"acme-routing.io"}}
		for _, m := range sigs {
			in.Signals = append(in.Signals, m.Signal)
		}
		dec, err := engine.Decide(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		return dec
	}
	tomas := deal("tomas.herrera@brightwater-foods.es")
	dana := deal("dana.whitfield@northwind-logistics.com")
	now := time.Date(2026, 3, 6, 12, 0, 0, 0, time.UTC)

	// Tomás booked first (the old invitee's invitee.created), then moved it.
	var original calendly.Meeting
	{
		b := readTestdata(t, "rescheduled-canceled")
		b = bytes.Replace(b, []byte(`"event": "invitee.canceled"`), []byte(`"event": "invitee.created"`), 1)
		b = bytes.Replace(b, []byte(`"rescheduled": true`), []byte(`"rescheduled": false`), 1)
		var err error
		if original, err = calendly.Parse(b); err != nil {
			t.Fatal(err)
		}
	}
	resCancel, resCreate := parse(t, "rescheduled-canceled"), parse(t, "rescheduled-created")
	for name, order := range map[string][]calendly.Meeting{
		"cancel half first":  {original, resCancel, resCreate},
		"created half first": {original, resCreate, resCancel},
		"only the new half":  {original, resCreate},
	} {
		if d := decide(tomas, now, order...); d.Stage != "Demo Scheduled" {
			t.Errorf("%s: decision %q, want Demo Scheduled; reasons %+v", name, d.Stage, d.Reasons)
		}
	}
	if d := decide(dana, now, parse(t, "invitee-created")); d.Stage != "Demo Scheduled" {
		t.Errorf("booking: decision %q, want Demo Scheduled", d.Stage)
	}
	if d := decide(dana, now, parse(t, "invitee-created"), parse(t, "invitee-canceled")); d.Stage != "" {
		t.Errorf("booking then cancel: decision %q, want no move", d.Stage)
	}
}

func TestIgnoredEvents(t *testing.T) {
	_, err := calendly.Parse(readTestdata(t, "invitee-no-show-created"))
	if !errors.Is(err, calendly.ErrIgnored) {
		t.Fatalf("invitee_no_show.created: %v, want ErrIgnored", err)
	}
	for _, ev := range []string{"routing_form_submission.created", "event_type.updated", "invitee_no_show.deleted"} {
		_, err := calendly.Parse([]byte(`{"event":"` + ev + `","created_at":"2026-03-02T10:00:00Z","payload":{}}`))
		if !errors.Is(err, calendly.ErrIgnored) {
			t.Errorf("%s: %v, want ErrIgnored", ev, err)
		}
	}
}

func TestParseRejects(t *testing.T) {
	good := string(readTestdata(t, "invitee-created"))
	swap := ingesttest.Swapper(t, good)
	tests := []ingesttest.Reject{
		{"empty", ``, "not a Calendly webhook payload"},
		{"not JSON", `<xml/>`, "invalid JSON"},
		{"array", `[]`, "JSON object"},
		{"two objects", `{"event":"invitee.created"} {}`, "exactly one"},
		{"no event", `{"payload":{}}`, "event is required"},
		{"unknown event", `{"event":"invitee.updated","payload":{}}`, "not supported"},
		{"event wrong type", `{"event":5}`, `"event" has the wrong type`},
		{"no payload", `{"event":"invitee.created"}`, "payload is required"},
		{"null payload", `{"event":"invitee.created","payload":null}`, "payload is required"},
		{"payload not an object", `{"event":"invitee.created","payload":"x"}`, "not an invitee"},
		{"bad time", swap(`"start_time": "2026-03-10T15:00:00.000000Z"`, `"start_time": "tomorrow"`), "RFC 3339"},
		{"no invitee uri", swap(`"uri": "https://api.calendly.com/scheduled_events/b7f3c2d1-4e5a-4f68-9a0b-3c2d1e4f5a6b/invitees/`, `"uri_": "`), "payload.uri"},
		{"relative uri", swap(`"uri": "https://api.calendly.com/scheduled_events/b7f3c2d1-4e5a-4f68-9a0b-3c2d1e4f5a6b/invitees/`, `"uri": "/x/`), "absolute"},
		{"uri with odd path", swap(`/invitees/0e9d8c7b-6a5f-4e3d-8c2b-1a0f9e8d7c6b"`, `/invitees/a b"`), "unexpected path segment"},
		{"no email", swap(`"email": "dana.whitfield@northwind-logistics.com"`, `"email": ""`), "payload.email"},
		{"email with a name", swap(`"email": "dana.whitfield@northwind-logistics.com"`, `"email": "Dana <dana@x.example>"`), "payload.email"},
		{"no scheduled event", swap(`"scheduled_event": {`, `"scheduled_event_": {`), "scheduled_event is required"},
		{"no start time", swap(`"start_time": "2026-03-10T15:00:00.000000Z"`, `"start_time": null`), "start_time is required"},
		{"no time at all", strings.NewReplacer(`"created_at": "2026-03-02T10:15:08.000000Z"`, `"created_at": null`,
			`"created_at": "2026-03-02T10:15:07.412903Z"`, `"created_at": null`).Replace(good), "created_at"},
	}
	ingesttest.AssertRejects(t, tests, calendly.ErrInvalid, func(b []byte) error {
		_, err := calendly.Parse(b)
		return err
	})
}

func TestAttendeesDeduplicatedAndBounded(t *testing.T) {
	b := readTestdata(t, "invitee-created")
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	ev := doc["payload"].(map[string]any)["scheduled_event"].(map[string]any)
	var guests []any
	guests = append(guests, map[string]any{"email": "DANA.WHITFIELD@northwind-logistics.com"}, map[string]any{"email": "not an address"},
		map[string]any{"email": "Li.Chen@northwind-logistics.com"}, map[string]any{"email": "li.chen@northwind-logistics.com"})
	ev["event_guests"] = guests
	b, _ = json.Marshal(doc)
	m, err := calendly.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	// duplicates (in any case) and junk are dropped
	if got := strings.Join(m.Signal.Attendees, ","); got != "sam.ortega@acme-routing.io,dana.whitfield@northwind-logistics.com,li.chen@northwind-logistics.com" {
		t.Fatalf("attendees = %v", got)
	}
	guests = nil
	for i := 0; i < 300; i++ {
		guests = append(guests, map[string]any{"email": fmt.Sprintf("guest%d@buyer.example", i)})
	}
	ev["event_guests"] = guests
	b, _ = json.Marshal(doc)
	if m, err = calendly.Parse(b); err != nil {
		t.Fatal(err)
	}
	if n := len(m.Signal.Attendees); n != 100 {
		t.Fatalf("%d attendees kept, want the bound of 100", n)
	}
}
