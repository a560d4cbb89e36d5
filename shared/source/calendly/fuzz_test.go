package calendly_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/source/calendly"
	"github.com/stagemover/stagemover/shared/source/ingest/ingesttest"
)

var safeEventID = regexp.MustCompile(`^[A-Za-z0-9._~:/-]{1,300}$`)

// FuzzParse: any body is either a valid meeting signal, a documented event
// that is ignored, or rejected with a reason; it never panics.
// Seeds: every testdata delivery. Bounded run: go test -fuzz=FuzzParse -fuzztime=30s
func FuzzParse(f *testing.F) {
	ingesttest.SeedTestdata(f, ``, `{}`, `null`, `[]`, `{"event":"invitee.created","payload":null}`,
		`{"event":"invitee.canceled","payload":{"uri":"https://api.calendly.com/scheduled_events/a/invitees/b","email":"a@b.c","rescheduled":true,"scheduled_event":{"start_time":"2026-01-01T00:00:00Z"},"updated_at":"2026-01-01T00:00:00Z"}}`,
		`{"event":"invitee.created","payload":{"uri":"http://x/%zz","email":"a@b"}}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := calendly.Parse(body)
		if err != nil {
			if !errors.Is(err, calendly.ErrIgnored) && !errors.Is(err, calendly.ErrInvalid) {
				t.Fatalf("error of no known kind: %v", err)
			}
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatal("rejection without a reason")
			}
			return
		}
		if err := m.Signal.Validate(); err != nil {
			t.Fatalf("accepted an invalid signal: %v", err)
		}
		if !safeEventID.MatchString(m.EventID) {
			t.Fatalf("unsafe event id %q", m.EventID)
		}
		if !strings.Contains(m.PersonEmail, "@") || m.PersonEmail != strings.ToLower(m.PersonEmail) {
			t.Fatalf("person email %q", m.PersonEmail)
		}
		if m.Signal.StartsAt == nil || m.Signal.At.IsZero() || len(m.Signal.Attendees) > 100 || len(m.Signal.Title) > 500 {
			t.Fatalf("accepted an incomplete or unbounded signal: %+v", m.Signal)
		}
		switch m.Signal.Status {
		case "scheduled", "rescheduled", "canceled":
		default:
			t.Fatalf("status %q", m.Signal.Status)
		}
	})
}

// FuzzSignatureHeader: the header parser never panics, accepts only
// well-formed values, and Verify never accepts a header that does not carry
// the true MAC of the body (no forgery through parsing quirks).
// Bounded run: go test -fuzz=FuzzSignatureHeader -fuzztime=30s
func FuzzSignatureHeader(f *testing.F) {
	now := time.Date(2026, 3, 2, 10, 15, 9, 0, time.UTC)
	body := []byte(`{"event":"invitee.created"}`)
	good := calendly.Sign([]byte(testKey), now, body)
	for _, s := range []string{good, good + ",v1=" + strings.Repeat("0", 64), "t=1772446509", "v1=abc", "t=,v1=", ",,,",
		"t=1772446509,v1=" + strings.Repeat("g", 64), "t=1772446509 ,v1 = " + good[len("t=1772446509,v1="):],
		"sha256=" + strings.Repeat("a", 64), "t=0001772446509,v1=00"} {
		f.Add(s, body)
	}
	f.Fuzz(func(t *testing.T, header string, b []byte) {
		p, err := calendly.ParseSignatureHeader(header)
		if err == nil {
			if len(p.V1) == 0 || len(p.V1) > 8 || p.Timestamp < 0 {
				t.Fatalf("accepted %q as %+v", header, p)
			}
			for _, v := range p.V1 {
				if len(v) != 32 {
					t.Fatalf("accepted a %d-byte v1", len(v))
				}
			}
		}
		at := now
		if err == nil {
			at = time.Unix(p.Timestamp, 0)
		}
		if calendly.Verify([]byte(testKey), header, b, at, time.Minute) == nil {
			// the only way in is the real MAC over the header's own t
			want := calendly.Sign([]byte(testKey), at, b)
			mac := want[strings.Index(want, "v1=")+3:]
			if !strings.Contains(strings.ToLower(header), mac) {
				t.Fatalf("Verify accepted %q for a body it does not sign", header)
			}
		}
	})
}
