package calendly

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/stagemover/stagemover/shared/core/signal"
	"github.com/stagemover/stagemover/shared/source/ingest"
)

// Webhook events (Webhook Payload "event" allowed values).
const (
	EventInviteeCreated  = "invitee.created"
	EventInviteeCanceled = "invitee.canceled"
)

// ignoredEvents are the other documented events a subscription can carry.
// They are acknowledged (200 "ignored") and store nothing, so adding them
// to the subscription by hand never makes Calendly retry or disable it:
//   - invitee_no_show.created/.deleted: a no-show mark is a host's note
//     that can be undone later (.deleted); as evidence it would need a way
//     to un-retire a meeting, which the signal contract has not got.
//   - routing_form_submission.created, event_type.*, meeting_recap.*,
//     contact.*: not meetings.
var ignoredEvents = map[string]bool{
	"invitee_no_show.created":         true,
	"invitee_no_show.deleted":         true,
	"routing_form_submission.created": true,
	"event_type.created":              true,
	"event_type.deleted":              true,
	"event_type.updated":              true,
	"meeting_recap.created":           true,
	"meeting_recap.updated":           true,
	"meeting_recap.deleted":           true,
	"contact.created":                 true,
	"contact.updated":                 true,
	"contact.deleted":                 true,
}

// ErrIgnored marks a documented event this source does not turn into a
// signal; Webhook skips it (ingest.Unused): 200, nothing stored.
var ErrIgnored = errors.New("event ignored")

// ErrInvalid marks a body that is not a usable Calendly delivery; Parse
// refuses it with an ingest.RejectError (400) wrapping ErrInvalid.
var ErrInvalid = errors.New("invalid calendly delivery")

// Delivery is the Webhook Payload envelope.
type Delivery struct {
	Event     string          `json:"event"`
	CreatedAt time.Time       `json:"created_at"`
	CreatedBy string          `json:"created_by"`
	Payload   json.RawMessage `json:"payload"`
}

// Invitee is the part of the Invitee Payload a meeting signal needs; the
// other documented fields (questions_and_answers, tracking, payment, ...)
// are not read.
type Invitee struct {
	URI          string          `json:"uri"`
	Email        string          `json:"email"`
	Name         string          `json:"name"`
	Status       string          `json:"status"` // active|canceled
	CreatedAt    time.Time       `json:"created_at"`
	UpdatedAt    time.Time       `json:"updated_at"`
	Rescheduled  bool            `json:"rescheduled"` // canceled because it moved to new_invitee
	OldInvitee   *string         `json:"old_invitee"` // set on the invitee.created of a reschedule
	NewInvitee   *string         `json:"new_invitee"`
	Cancellation *Cancellation   `json:"cancellation"`
	Event        *ScheduledEvent `json:"scheduled_event"`
}

// Cancellation is the invitee's cancellation object.
type Cancellation struct {
	CanceledBy   string    `json:"canceled_by"`
	Reason       string    `json:"reason"`
	CancelerType string    `json:"canceler_type"` // host|invitee
	CreatedAt    time.Time `json:"created_at"`
}

// ScheduledEvent is the embedded scheduled_event.
type ScheduledEvent struct {
	URI         string       `json:"uri"`
	Name        string       `json:"name"`
	Status      string       `json:"status"`
	StartTime   time.Time    `json:"start_time"`
	EndTime     time.Time    `json:"end_time"`
	Memberships []Membership `json:"event_memberships"`
	Guests      []Guest      `json:"event_guests"`
}

// Membership is a host of the event (the vendor's side).
type Membership struct {
	User      string `json:"user"`
	UserEmail string `json:"user_email"`
	UserName  string `json:"user_name"`
}

// Guest is an extra attendee the invitee added.
type Guest struct {
	Email string `json:"email"`
}

// Meeting is one delivery normalised: the signal to store, whom it is
// about, and its idempotency key.
type Meeting struct {
	Event       string        `json:"event"`        // the webhook event type
	EventID     string        `json:"event_id"`     // stable for redeliveries of this delivery
	PersonEmail string        `json:"person_email"` // the invitee: the deal is resolved from it later
	Signal      signal.Signal `json:"signal"`
}

const (
	maxTitle     = 500
	maxAttendees = 100
	maxEventID   = 240
)

// segment is one path segment of an invitee URI (UUIDs in practice).
var segment = regexp.MustCompile(`^[A-Za-z0-9._~-]{1,80}$`)

// Parse reads a delivery body and returns its meeting signal. It returns an
// error wrapping ErrIgnored for documented events this source skips, and
// ErrInvalid (with a reason fit for a 400 body) for anything else unusable.
//
// Mapping (see FORMAT.md's labelling guide: a canceled meeting without a
// new time does not count, a rescheduled one does):
//   - invitee.created: status "scheduled", or "rescheduled" when old_invitee
//     is set (the booking's new time after a reschedule);
//   - invitee.canceled with rescheduled=false: "canceled";
//   - invitee.canceled with rescheduled=true: the old half of a reschedule
//     (Calendly sends it together with the new invitee.created). It becomes
//     "rescheduled", never "canceled": the engine retires the earlier record
//     of the same meeting and keeps the booking, so whichever half arrives
//     first the meeting stays booked.
func Parse(body []byte) (Meeting, error) {
	var m Meeting
	var d Delivery
	if err := ingest.DecodeJSON(body, &d); err != nil {
		return m, invalid("body is not a Calendly webhook payload: %s", err)
	}
	m.Event = d.Event
	switch {
	case d.Event == EventInviteeCreated || d.Event == EventInviteeCanceled:
	case ignoredEvents[d.Event]:
		return m, fmt.Errorf("%w: %s", ErrIgnored, d.Event)
	case d.Event == "":
		return m, invalid("event is required")
	default:
		return m, invalid("event %q is not supported (want %s or %s)", clip(d.Event, 60), EventInviteeCreated, EventInviteeCanceled)
	}
	if len(bytes.TrimSpace(d.Payload)) == 0 || bytes.Equal(bytes.TrimSpace(d.Payload), []byte("null")) {
		return m, invalid("payload is required")
	}
	var inv Invitee
	if err := json.Unmarshal(d.Payload, &inv); err != nil {
		return m, invalid("payload is not an invitee: %s", ingest.DescribeJSON(err))
	}
	id, err := inviteeID(inv.URI)
	if err != nil {
		return m, err
	}
	email, ok := address(inv.Email)
	if !ok {
		return m, invalid("payload.email must be the invitee's email address")
	}
	ev := inv.Event
	if ev == nil {
		return m, invalid("payload.scheduled_event is required")
	}
	if ev.StartTime.IsZero() {
		return m, invalid("payload.scheduled_event.start_time is required")
	}

	s := signal.Signal{Kind: signal.KindMeeting, Title: clip(strings.TrimSpace(ev.Name), maxTitle)}
	start := ev.StartTime.UTC()
	s.StartsAt = &start
	marker := d.Event
	switch d.Event {
	case EventInviteeCreated:
		s.Status = "scheduled"
		if inv.OldInvitee != nil && *inv.OldInvitee != "" {
			s.Status = "rescheduled"
			marker += ":rescheduled"
		}
		s.At = first(inv.CreatedAt, d.CreatedAt)
	case EventInviteeCanceled:
		s.Status = "canceled"
		if inv.Rescheduled {
			s.Status = "rescheduled"
			marker += ":rescheduled"
		}
		var canceledAt time.Time
		if inv.Cancellation != nil {
			canceledAt = inv.Cancellation.CreatedAt
		}
		s.At = first(canceledAt, inv.UpdatedAt, d.CreatedAt)
	}
	if s.At.IsZero() {
		return m, invalid("payload.created_at (or the webhook's created_at) is required")
	}
	s.At = s.At.UTC()

	seen := map[string]bool{}
	add := func(a string) {
		if a, ok := address(a); ok && !seen[a] && len(s.Attendees) < maxAttendees {
			seen[a] = true
			s.Attendees = append(s.Attendees, a)
		}
	}
	for _, mb := range ev.Memberships {
		if s.Organizer == "" {
			if a, ok := address(mb.UserEmail); ok {
				s.Organizer = a
			}
		}
		add(mb.UserEmail)
	}
	add(email)
	for _, g := range ev.Guests {
		add(g.Email)
	}

	if err := s.Validate(); err != nil {
		return m, invalid("%s", err)
	}
	m.EventID = id + ":" + marker
	m.PersonEmail = email
	m.Signal = s
	return m, nil
}

// inviteeID is the invitee URI's path ("scheduled_events/E/invitees/I"): the
// same invitee is the same booking whatever host the URI names.
func inviteeID(uri string) (string, error) {
	if uri == "" {
		return "", invalid("payload.uri (the invitee URI) is required")
	}
	u, err := url.Parse(uri)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", invalid("payload.uri must be an absolute invitee URI")
	}
	path := strings.Trim(u.Path, "/")
	parts := strings.Split(path, "/")
	if len(parts) < 2 || len(path) > maxEventID-40 {
		return "", invalid("payload.uri must name an invitee (…/scheduled_events/{uuid}/invitees/{uuid})")
	}
	for _, p := range parts {
		if !segment.MatchString(p) {
			return "", invalid("payload.uri has an unexpected path segment")
		}
	}
	return path, nil
}

// address returns a lowercased bare email address, or false.
func address(a string) (string, bool) {
	a = strings.TrimSpace(a)
	if a == "" || len(a) > 320 {
		return "", false
	}
	p, err := mail.ParseAddress(a)
	if err != nil || p.Name != "" || !strings.Contains(p.Address, "@") {
		return "", false
	}
	return strings.ToLower(p.Address), true
}

func first(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

func invalid(format string, args ...any) error {
	return ingest.Reject(http.StatusBadRequest, ErrInvalid, format, args...)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// cut on a rune boundary
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
