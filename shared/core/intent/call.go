package intent

import (
	"fmt"
	"strings"

	"github.com/stagemover/stagemover/shared/core/signal"
)

// Calls: a connected call of a minimum length is contact; its notes are
// read like buyer text, without the rep's own offers.

func (st *state) call(i int, s *signal.Signal) {
	max := st.t.ExcerptChars
	notes := strings.TrimSpace(s.Notes)
	if s.Outcome != "" && s.Outcome != "connected" {
		st.discount(i, CueCallNotConnected, notes, "call outcome "+s.Outcome)
		return
	}
	if s.DurationS < st.t.MinCallSeconds {
		st.discount(i, CueCallShort, notes, fmt.Sprintf("connected for %ds, under the %ds minimum", s.DurationS, st.t.MinCallSeconds))
		return
	}
	var tc *textCues
	if notes != "" {
		tc = st.readCues(notes, false, true)
		if m, ok := tc.good[CueCallGatekeeper]; ok && m.sent == 0 && !reachedBuyer(tc.d) {
			st.discount(i, CueCallGatekeeper, tc.excerpt(m, max), "reached a gatekeeper, not the buyer")
			return
		}
		if m, ok := tc.good[CueRefusal]; ok {
			ev := st.add(i, CueRefusal, tc.excerpt(m, max), true)
			ev.Note = "explicit refusal on the call"
			return
		}
	}
	ev := st.add(i, CueCallConnected, fmt.Sprintf("%s call, %ds: %s", s.Direction, s.DurationS, notes), true)
	ev.buyer = true
	if tc == nil {
		return
	}
	for _, c := range buyerEvidenceCues {
		if c == CueSignedDocumentSent || c == CueDemoHeldText {
			continue
		}
		if m, ok := tc.good[c]; ok {
			if vendorVoice(tc.d, m) {
				st.discount(i, c, tc.excerpt(m, max), "the rep's own offer in the call notes, not the buyer's")
				continue
			}
			ev := st.add(i, c, tc.excerpt(m, max), true)
			ev.buyer = true
			ev.Note = "from the call notes"
			if c == CueMeetingBookedText {
				st.meetings = append(st.meetings, &meetingState{ev: len(st.evs) - 1, active: true, text: true})
			}
		}
	}
	if m, ok := tc.good[CueMeetingCancel]; ok {
		st.cancelMeetings(i, nil, tc.excerpt(m, max))
	}
	if m, ok := tc.good[CueDeferral]; ok {
		ev := st.add(i, CueDeferral, tc.excerpt(m, max), true)
		ev.Note = "vague deferral on the call"
	}
	st.negatedReasons(i, tc)
}

// reachedBuyer: call notes saying the gatekeeper put the rep through.
func reachedBuyer(d *textDoc) bool {
	for i, t := range d.toks {
		if d.w.transferWords[t.norm] {
			return true
		}
		for _, q := range d.w.transferPhrases {
			if i+1 >= len(q) && seqAt(d, [][]string{q}, i+1-len(q), len(d.toks)) > 0 {
				return true
			}
		}
	}
	return false
}
