package intent

// proposalMatches drops proposal matches in a sentence that only advertises
// list prices ("plans start at £9", "ab 14 € pro Nutzer", "à partir de
// 39 €", "desde 18 €", "vanaf € 6") and puts the matches that name an
// offer or an attachment first.
func (st *state) proposalMatches(d *textDoc, ms []cueMatch) ([]cueMatch, *cueMatch) {
	var teaser, later map[int]bool
	for _, m := range ms {
		switch m.cue {
		case CuePriceTeaser:
			if teaser == nil {
				teaser = map[int]bool{}
			}
			teaser[m.sent] = true
		case CueFutureTime:
			if later == nil {
				later = map[int]bool{}
			}
			later[m.sent] = true
		}
	}
	out := make([]cueMatch, 0, len(ms))
	var weak []cueMatch
	var promised *cueMatch
	for _, m := range ms {
		if m.cue == CueProposalDelivered {
			if teaser[m.sent] {
				continue
			}
			if later[m.sent] && !attachedSentence(d, m.sent) {
				// "next week I'll send you the proposal": promised, not sent
				if promised == nil {
					mm := m
					promised = &mm
				}
				continue
			}
			if !offerMatch(d, m) {
				weak = append(weak, m)
				continue
			}
		}
		out = append(out, m)
	}
	return append(out, weak...), promised
}

func attachedSentence(d *textDoc, sent int) bool {
	s := d.sents[sent]
	return anyIn(d, s.from, s.to, d.w.attachWords)
}

// docMatch reports a proposal match that names the offer document.
func docMatch(d *textDoc, m cueMatch) bool {
	return anyIn(d, m.from, min(m.to, len(d.toks)), d.w.docWords)
}

func hasCue(ms []cueMatch, cue string) bool {
	for _, m := range ms {
		if m.cue == cue {
			return true
		}
	}
	return false
}

// offerMatch reports a proposal match that names an offer or an attachment.
func offerMatch(d *textDoc, m cueMatch) bool {
	return anyIn(d, m.from, min(m.to, len(d.toks)), d.w.offerWords)
}

// engagedBefore: the buyer took part in the conversation before signal i
// (the deal is past Qualified, or a reply, call or meeting came earlier).
func (st *state) engagedBefore(i int) bool {
	if st.p.Rank(st.in.Deal.Stage) >= 1 {
		return true
	}
	for _, ev := range st.evs {
		if !ev.Counted || ev.Signal >= i {
			continue
		}
		if ev.buyer {
			return true
		}
		switch ev.Cue {
		case CueCallConnected, CueMeetingBooked, CueMeetingHeld, CueMeetingAcceptConfirm:
			return true
		}
	}
	return false
}
