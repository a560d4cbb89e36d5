package intent

import (
	"fmt"
	"strings"
	"time"

	"github.com/stagemover/stagemover/shared/core/mail"
	"github.com/stagemover/stagemover/shared/core/signal"
)

// buyerTextCues are the cues read in buyer-side text that become evidence.
var buyerEvidenceCues = []string{
	CueSignedDocumentSent, CuePricingNegotiation, CuePaymentTerms, CueContractTerms, CueRedlines, CueSignatureDate,
	CueProcurement, CueLegalReview, CueSecurityReview, CueGoAhead, CuePricingQuestion, CueMeetingBookedText, CueDemoHeldText,
}

func (st *state) email(i int, s *signal.Signal) {
	rd := st.mail.ReadEmail(mail.Email{Headers: s.Headers, From: s.From, Subject: s.Subject, Body: s.Body})
	if rd.Machine != "" {
		st.discount(i, CueMachine, rd.MachineReason, "machine mail ("+rd.Machine+") never advances a deal")
		return
	}
	own, text := rd.Text, rd.WithAttachments()
	side := st.side(s.From)
	if side == sideVendor {
		st.vendorEmail(i, s, text)
		return
	}
	if side == sideThird || side == sideNone {
		switch st.t.ThirdPartySender {
		case "ignore":
			st.discount(i, CueThirdParty, s.From, "sender is neither vendor nor the deal's organisation")
			return
		case "require_buyer_copy":
			if !st.buyerCopied(s) {
				n := len(st.evs)
				st.buyerEmail(i, s, text, own, false)
				strong := false
				for k := n; k < len(st.evs); k++ {
					ev := &st.evs[k]
					if ev.Counted {
						if ev.Cue != CueBuyerReply && ev.Cue != CueDeferral {
							strong = true
						}
						ev.Counted = false
						ev.Note = "third-party sender " + s.From + " (no buyer-side address copied): weaker evidence, not counted"
						ev.vetoable, ev.buyer, ev.review = false, false, false
					}
				}
				if strong {
					st.flagWhy = append(st.flagWhy, Reason{Signal: i, Kind: string(s.Kind), Cue: CueThirdParty, Rule: PolicyThirdParty,
						Excerpt: "third-party sender " + s.From, Note: "evidence from outside the buyer's organisation needs review"})
				}
				return
			}
			st.buyerEmail(i, s, text, own, true)
			return
		}
	}
	st.buyerEmail(i, s, text, own, side != sideBuyer)
}

func (st *state) buyerCopied(s *signal.Signal) bool {
	for _, a := range s.To {
		if st.side(a) == sideBuyer {
			return true
		}
	}
	for _, a := range s.Cc {
		if st.side(a) == sideBuyer {
			return true
		}
	}
	return false
}

// toBuyer: an outbound email reached the buyer side (when no recipients
// were recorded, it is taken to have).
func (st *state) toBuyer(s *signal.Signal) bool {
	return len(s.To)+len(s.Cc) == 0 || st.buyerCopied(s)
}

func (st *state) buyerEmail(i int, s *signal.Signal, text, own string, thirdParty bool) {
	if strings.TrimSpace(text) == "" {
		st.discount(i, CueNoNewText, s.Subject, "no text of the sender's own (only quoted or forwarded history)")
		st.quoted(i, s, nil)
		return
	}
	// an original subject (not "Re:") is the sender's words too
	if subj := strings.TrimSpace(s.Subject); subj != "" && !st.w.isReplySubject(subj) {
		text = subj + ".\n\n" + text
	}
	tc := st.readCues(text, false, false)
	max := st.t.ExcerptChars
	if m, ok := tc.good[CueUnsubscribe]; ok {
		st.discount(i, CueUnsubscribe, tc.excerpt(m, max), "an unsubscribe request is not engagement")
		if st.p.Rank(st.in.Deal.Stage) >= 1 {
			// a buyer who had engaged asks to stop: a person should look
			st.flagWhy = append(st.flagWhy, Reason{Signal: i, Kind: string(s.Kind), Cue: CueUnsubscribe, Rule: PolicyOptOut,
				Excerpt: tc.excerpt(m, max), Note: "an engaged buyer asked to stop: review"})
		}
		return
	}
	if m, ok := tc.good[CueRefusal]; ok {
		if !partialRefusal(tc, m) {
			ev := st.add(i, CueRefusal, tc.excerpt(m, max), true)
			ev.Note = "explicit refusal: no move, never lost automatically"
			st.negatedReasons(i, tc)
			return
		}
		st.discount(i, CueRefusal, tc.excerpt(m, max), "declines one thing but engages on another: not a refusal")
	}
	for _, c := range buyerEvidenceCues {
		m, ok := tc.good[c]
		if !ok {
			continue
		}
		if c == CueSignedDocumentSent && thirdParty {
			st.discount(i, c, tc.excerpt(m, max), "won needs a buyer-side signature; the sender is outside the buyer's organisation")
			continue
		}
		ev := st.add(i, c, tc.excerpt(m, max), true)
		ev.buyer = true
		if c == CueMeetingBookedText {
			st.meetings = append(st.meetings, &meetingState{ev: len(st.evs) - 1, active: true, text: true})
		}
	}
	if m, ok := tc.good[CueMeetingCancel]; ok {
		st.cancelMeetings(i, nil, tc.excerpt(m, max))
	}
	if m, ok := tc.good[CueMeetingAccept]; ok && (st.timeAsk || tc.has(CueMeetingTopic)) {
		st.accept = &acceptState{sig: i, at: s.At, excerpt: tc.excerpt(m, max)}
	}
	if m, ok := tc.good[CueDeferral]; ok {
		ev := st.add(i, CueDeferral, tc.excerpt(m, max), true)
		ev.Note = "vague deferral"
	}
	ev := st.add(i, CueBuyerReply, firstWords(tc.d, max), true)
	ev.buyer = true
	st.negatedReasons(i, tc)
	st.hypoReasons(i, tc)
	if len(s.Body) > len(text)+40 {
		st.quoted(i, s, tc)
	}
}

// unquote drops quote markers so quoted lines read as sentences again.
func unquote(body string) string {
	if !strings.Contains(body, "\n>") && !strings.HasPrefix(body, ">") {
		return body
	}
	lines := strings.Split(body, "\n")
	for i, l := range lines {
		t := strings.TrimLeft(l, "> \t")
		if strings.HasSuffix(strings.TrimSpace(t), ":") {
			t += "\n"
		}
		lines[i] = t
	}
	return strings.Join(lines, "\n")
}

func firstWords(d *textDoc, max int) string {
	if len(d.sents) == 0 {
		return ""
	}
	// skip a greeting line ("Hi Owen,")
	s := d.sents[0]
	if len(d.sents) > 1 && s.to-s.from <= 3 {
		s = d.sents[1]
	}
	return d.excerpt(s.from, s.to, max)
}

func (st *state) negatedReasons(i int, tc *textCues) {
	seen := map[string]bool{}
	for _, m := range tc.negated {
		if seen[m.cue] || tc.has(m.cue) || !cueTable[m.cue].mappable {
			continue
		}
		seen[m.cue] = true
		st.discount(i, m.cue, tc.excerpt(m, st.t.ExcerptChars), "negated")
	}
}

// hypoReasons explains terms named only for a hypothetical purchase.
func (st *state) hypoReasons(i int, tc *textCues) {
	seen := map[string]bool{}
	for _, m := range tc.hypo {
		if seen[m.cue] || tc.has(m.cue) {
			continue
		}
		seen[m.cue] = true
		st.discount(i, m.cue, tc.excerpt(m, st.t.ExcerptChars), "named for a purchase that may not happen (\"if we go ahead ...\"): not negotiation")
	}
}

// quoted reports cues that appear only in quoted history or a signature.
func (st *state) quoted(i int, s *signal.Signal, tc *textCues) {
	// the explanation needs the first quoted occurrences only: the start
	// of the history is enough
	body := s.Body
	if tc != nil {
		// skip what the sender wrote now: it was read already
		own := strings.TrimSpace(tc.d.src)
		if len(own) > 48 {
			own = own[len(own)-48:]
		}
		if k := strings.Index(body, own); own != "" && k >= 0 {
			body = body[k+len(own):]
		}
	}
	if len(body) > 1200 {
		body = body[:1200]
	}
	full := st.readCues(unquote(body), false, false)
	seen := map[string]bool{}
	for _, c := range full.order {
		if seen[c] || !cueTable[c].mappable || c == CueDeferral {
			continue
		}
		if tc != nil && tc.has(c) {
			continue
		}
		seen[c] = true
		st.discount(i, c, full.excerpt(full.good[c], st.t.ExcerptChars), "only in quoted history or a signature")
	}
}

func (st *state) vendorEmail(i int, s *signal.Signal, text string) {
	max := st.t.ExcerptChars
	if !st.toBuyer(s) {
		st.discount(i, CueInternalEmail, s.Subject, "between vendor addresses: not buyer engagement")
		return
	}
	d := tokenize(text, st.w)
	ms := st.r.lex.scan(d)
	ms, promised := st.proposalMatches(d, ms)
	tc := st.filterCues(d, ms, true, false)
	if promised != nil && !tc.has(CueProposalDelivered) {
		st.discount(i, CueProposalDelivered, tc.excerpt(*promised, max), "a proposal promised for later, not sent with this email")
	}
	if m, ok := tc.good[CueProposalDelivered]; ok {
		generic := !tc.has(CueDealSpecific) && !docMatch(d, m) && (tc.has(CueProposalPending) || hasCue(ms, CuePriceTeaser))
		if generic {
			st.discount(i, CueProposalDelivered, tc.excerpt(m, max), "a generic price list (a tailored proposal is still to come), not a proposal for this deal")
		} else if offerMatch(d, m) || tc.has(CueDealSpecific) || st.engagedBefore(i) {
			st.add(i, CueProposalDelivered, tc.excerpt(m, max), true)
		} else {
			st.discount(i, CueProposalDelivered, tc.excerpt(m, max), "prices in an introductory email, not a proposal or quote for this deal")
		}
	}
	if m, ok := tc.good[CueMeetingConfirm]; ok && st.accept != nil {
		win := time.Duration(st.t.AcceptConfirmDays) * 24 * time.Hour
		if st.accept.at.IsZero() || s.At.Sub(st.accept.at) <= win {
			ev := st.add(i, CueMeetingAcceptConfirm, tc.excerpt(m, max), true)
			ev.Note = fmt.Sprintf("buyer accepted a time at signal %d: %q", st.accept.sig, st.accept.excerpt)
			st.meetings = append(st.meetings, &meetingState{ev: len(st.evs) - 1, active: true, text: true})
		}
		st.accept = nil
	}
	// buyer-side cues written by the vendor explain themselves
	buyerSide := st.filterCues(d, ms, false, false)
	if buyerSide.has(CueMeetingTopic) {
		st.timeAsk = true
	}
	for _, c := range buyerSide.order {
		if cueTable[c].mappable && c != CueDeferral && c != CueRefusal {
			st.discount(i, c, buyerSide.excerpt(buyerSide.good[c], max), "written by the vendor side: not buyer engagement")
			break
		}
	}
}
