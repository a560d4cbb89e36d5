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

// Words that say the email itself carries a document.
var attachWords = setOf("attached", "attaching", "enclosed", "enclosing", "herewith", "here", "find", "attachment", "attachments", "below",
	"anbei", "beigefugt", "anhang", "anliegend", "hiermit", "hier",
	"joint", "jointe", "ci", "voici", "trouverez", "pj",
	"adjunto", "adjunta", "adjuntamos", "adjuntos", "aqui", "tienes",
	"bijgaand", "bijgevoegd", "bijlage", "hierbij")

func attachedSentence(d *textDoc, sent int) bool {
	s := d.sents[sent]
	for j := s.from; j < s.to; j++ {
		if attachWords[d.toks[j].norm] {
			return true
		}
	}
	return false
}

// Words that make a price mention a proposal or quote carried by the email:
// the document itself or an attachment.
var offerWords = setOf("proposal", "proposals", "quote", "quotes", "quotation", "quotations", "offer", "estimate", "attached", "attaching", "enclosed", "enclosing", "herewith", "attachment", "attachments",
	"angebot", "angebote", "angebots", "kostenvoranschlag", "offerte", "anbei", "beigefugt", "anhang", "anliegend",
	"proposition", "propositions", "devis", "offre", "cotation", "chiffrage", "joint", "jointe", "pj",
	"propuesta", "presupuesto", "oferta", "cotizacion", "adjunto", "adjunta", "adjuntamos", "adjuntos",
	"offertes", "prijsvoorstel", "prijsopgave", "voorstel", "aanbod", "bijgaand", "bijgevoegd", "bijlage")

// Words naming the offer document itself (not just prices or an attachment).
var docWords = setOf("proposal", "proposals", "quote", "quotes", "quotation", "quotations", "offer", "estimate",
	"angebot", "angebote", "angebots", "kostenvoranschlag", "offerte",
	"proposition", "propositions", "devis", "offre", "cotation", "chiffrage",
	"propuesta", "presupuesto", "oferta", "cotizacion",
	"offertes", "prijsvoorstel", "prijsopgave", "voorstel", "aanbod")

// docMatch reports a proposal match that names the offer document.
func docMatch(d *textDoc, m cueMatch) bool {
	for j := m.from; j < m.to && j < len(d.toks); j++ {
		if docWords[d.toks[j].norm] {
			return true
		}
	}
	return false
}

func hasCue(ms []cueMatch, cue string) bool {
	for _, m := range ms {
		if m.cue == cue {
			return true
		}
	}
	return false
}

func offerMatch(d *textDoc, m cueMatch) bool {
	for j := m.from; j < m.to && j < len(d.toks); j++ {
		if offerWords[d.toks[j].norm] {
			return true
		}
	}
	return false
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
