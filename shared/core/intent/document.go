package intent

import (
	"fmt"
	"strings"

	"github.com/stagemover/stagemover/shared/core/signal"
)

// Documents: proposals and contracts sent by the vendor, viewed and signed
// by the buyer side.

func isAlnum(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= '0' && b <= '9'
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (st *state) document(i int, s *signal.Signal) {
	excerpt := strings.TrimSpace(s.Name)
	if s.DocType != "" {
		excerpt = s.DocType + ": " + excerpt
	}
	actor := st.side(s.Actor)
	switch s.Action {
	case "sent":
		if actor == sideBuyer || actor == sideThird {
			st.discount(i, "document_sent", excerpt, "sent by "+s.Actor+", not by the vendor")
			return
		}
		switch {
		case contains(st.t.ProposalDocTypes, s.DocType):
			st.add(i, CueProposalSent, excerpt, true)
		case s.DocType == "contract":
			ev := st.add(i, CueContractSent, excerpt, true)
			ev.Note = "a contract sent alone is not negotiation"
		default:
			st.discount(i, "document_sent", excerpt, "not a proposal or quote")
		}
	case "viewed":
		if st.notByBuyer(i, s, actor, excerpt, CueInternalViewer, "viewed by the vendor's own staff ("+s.Actor+")") {
			return
		}
		if s.Session != "" {
			key := addrOf(s.Actor) + "\x00" + s.Session
			if first, seen := st.sessions[key]; seen {
				st.discount(i, CueDuplicateSession, excerpt, fmt.Sprintf("same viewing session as signal %d", first))
				return
			}
			st.sessions[key] = i
		}
		switch {
		case contains(st.t.ProposalDocTypes, s.DocType):
			if !st.t.ProposalViewCounts {
				st.discount(i, CueProposalViewed, excerpt, "rules do not count proposal views")
				return
			}
			ev := st.add(i, CueProposalViewed, excerpt, true)
			ev.buyer = true
		case s.DocType == "contract":
			ev := st.add(i, CueContractViewed, excerpt, true)
			ev.buyer = true
			ev.Note = "merely opening a contract is not negotiation"
		default:
			ev := st.add(i, "document_viewed", excerpt, false)
			ev.Note = "viewing this document shows no stage"
		}
	case "completed":
		if st.notByBuyer(i, s, actor, excerpt, CueVendorSigned, "completed by the vendor side ("+s.Actor+"): not the buyer's signature") {
			if actor != sideVendor {
				st.flagWhy = append(st.flagWhy, Reason{Signal: i, Kind: string(s.Kind), Cue: CueThirdParty, Rule: PolicyThirdParty, Excerpt: excerpt,
					Note: "a signature from outside the buyer's organisation needs review"})
			}
			return
		}
		wonType := contains(st.t.WonDocTypes, s.DocType) || (s.DocType == "other" && contains(st.t.WonDocTypes, "contract") && st.w.looksLikeOrder(s.Name))
		if !wonType || st.w.isNDA(s.Name) {
			ev := st.add(i, "document_completed", excerpt, false)
			ev.Note = "signing this document does not win the deal"
			return
		}
		ev := st.add(i, CueBuyerSigned, excerpt, true)
		ev.buyer = true
	case "declined":
		if actor != sideBuyer {
			st.discount(i, CueDocumentDeclined, excerpt, "declined by "+s.Actor+", not the buyer side")
			return
		}
		st.add(i, CueDocumentDeclined, excerpt, true)
	}
}

// notByBuyer discounts a document viewed or completed by the vendor side
// (as vendorCue) or by someone outside the buyer's organisation, and
// reports whether it did.
func (st *state) notByBuyer(i int, s *signal.Signal, actor, excerpt, vendorCue, vendorNote string) bool {
	switch actor {
	case sideVendor:
		st.discount(i, vendorCue, excerpt, vendorNote)
		return true
	case sideThird, sideNone:
		st.discount(i, CueThirdParty, excerpt, s.Action+" by someone outside the buyer's organisation ("+s.Actor+")")
		return true
	}
	return false
}
