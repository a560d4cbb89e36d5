package intent

import (
	"fmt"

	"github.com/stagemover/stagemover/shared/core/signal"
)

// Meetings: booked, held, rescheduled and canceled meetings, and meetings
// booked in writing.

func (st *state) meeting(i int, s *signal.Signal) {
	excerpt := s.Title
	if s.StartsAt != nil {
		excerpt += " (" + s.StartsAt.UTC().Format("2006-01-02 15:04Z") + ")"
	}
	buyer, third := false, false
	for _, a := range s.Attendees {
		switch st.side(a) {
		case sideBuyer:
			buyer = true
		case sideThird:
			third = true
		}
	}
	if !buyer && !(third && st.t.ThirdPartySender == "full") {
		note := "all attendees are internal"
		if len(s.Attendees) == 0 {
			note = "no attendees recorded: no buyer-side attendee to count"
		} else if third {
			note = "no buyer-side attendee (only vendor and third-party addresses)"
		}
		if s.Status == "canceled" || s.Status == "no_show" {
			st.cancelMeetings(i, s, excerpt)
			return
		}
		st.discount(i, CueInternalMeeting, excerpt, note)
		return
	}
	switch s.Status {
	case "canceled", "no_show":
		st.cancelMeetings(i, s, excerpt)
	case "held":
		// a held meeting replaces its scheduled record
		st.replaceMeeting(s, "held at signal "+fmt.Sprint(i))
		ev := st.add(i, CueMeetingHeld, excerpt, true)
		ev.buyer = true
		st.meetings = append(st.meetings, &meetingState{ev: len(st.evs) - 1, title: st.w.normTitle(s.Title), starts: s.StartsAt, held: true, active: true})
	case "scheduled", "rescheduled":
		if s.Status == "rescheduled" {
			st.replaceMeeting(s, "rescheduled at signal "+fmt.Sprint(i))
		}
		switch {
		case st.t.MeetingCountsWhen == "held_only":
			st.discount(i, CueMeetingBooked, excerpt, "rules count only held meetings")
			return
		case st.t.MeetingCountsWhen == "future_or_held" && s.StartsAt != nil && !s.At.IsZero() && !s.StartsAt.After(s.At):
			st.discount(i, CueMeetingPast, excerpt, "booked for a time that had already passed")
			return
		}
		ev := st.add(i, CueMeetingBooked, excerpt, true)
		ev.buyer = true
		st.meetings = append(st.meetings, &meetingState{ev: len(st.evs) - 1, title: st.w.normTitle(s.Title), starts: s.StartsAt, active: true})
	}
}

func (st *state) sameMeeting(m *meetingState, s *signal.Signal) bool {
	if m.text {
		return false
	}
	if m.starts != nil && s.StartsAt != nil && m.starts.Equal(*s.StartsAt) {
		return true
	}
	return m.title != "" && m.title == st.w.normTitle(s.Title)
}

// replaceMeeting retires earlier records of the same meeting (a new time
// or a held record supersedes them) without discounting the booking.
func (st *state) replaceMeeting(s *signal.Signal, why string) {
	for _, m := range st.meetings {
		if m.active && !m.held && st.sameMeeting(m, s) {
			m.active = false
			ev := &st.evs[m.ev]
			ev.Counted = false
			ev.Note = "superseded: " + why
		}
	}
}

// cancelMeetings retires the meetings a cancellation names (s != nil: a
// canceled or no-show meeting record; s == nil: the buyer cancelled in
// writing, which retires every meeting not yet held).
func (st *state) cancelMeetings(i int, s *signal.Signal, excerpt string) {
	hit := false
	for _, m := range st.meetings {
		if !m.active || m.held {
			continue
		}
		if s == nil || st.sameMeeting(m, s) {
			m.active = false
			hit = true
			ev := &st.evs[m.ev]
			ev.Counted = false
			ev.Note = fmt.Sprintf("canceled at signal %d without a new time", i)
		}
	}
	if s != nil && !hit {
		// an unknown meeting record: retire bookings made only in writing
		for _, m := range st.meetings {
			if m.active && !m.held && m.text {
				m.active = false
				ev := &st.evs[m.ev]
				ev.Counted = false
				ev.Note = fmt.Sprintf("canceled at signal %d", i)
			}
		}
	}
	if s != nil {
		cue := CueMeetingCanceled
		if s.Status == "no_show" {
			cue = CueMeetingNoShow
		}
		st.discount(i, cue, excerpt, "a canceled meeting (or no-show) without a new time does not count")
		return
	}
	st.discount(i, CueMeetingCanceled, excerpt, "the buyer cancelled in writing")
}
