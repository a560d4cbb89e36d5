package intent

// Reading the cues of one text: which phrase matches count once negation,
// tense, questions and context are taken into account.

type textCues struct {
	d       *textDoc
	good    map[string]cueMatch
	order   []string
	negated []cueMatch
	hypo    []cueMatch // terms named only for a purchase that may not happen
}

// Cues that a hypothetical purchase ("if we go ahead next year, legal would
// want to review the DPA") turns into talk about a future that may not
// come: not negotiation.
var hypotheticalCues = map[string]bool{CueProcurement: true, CueLegalReview: true, CueSecurityReview: true, CueContractTerms: true,
	CuePaymentTerms: true, CuePricingQuestion: true, CueRedlines: true}

// Cues after a contrast that engage despite a refusal of something else.
var partialEngageCues = []string{CueEngage, CuePricingQuestion, CuePricingNegotiation, CuePaymentTerms, CueContractTerms}

// partialRefusal: the buyer declines one thing and engages on another in
// the same breath ("we're not interested in the add-on, but can we discuss
// the core licence?"). A deferral after the contrast keeps the refusal.
func partialRefusal(tc *textCues, r cueMatch) bool {
	d := tc.d
	c := -1
	s := d.sents[r.sent]
	for j := r.to; j < s.to; j++ {
		if d.w.contrastWords[d.toks[j].norm] {
			c = j
			break
		}
	}
	if c < 0 && r.sent+1 < len(d.sents) {
		if n := d.sents[r.sent+1]; n.to > n.from && d.w.contrastWords[d.toks[n.from].norm] {
			c = n.from
		}
	}
	if c < 0 {
		return false
	}
	if m, ok := tc.good[CueDeferral]; ok && m.from > c {
		return false
	}
	for _, cue := range partialEngageCues {
		if m, ok := tc.good[cue]; ok && m.from > c {
			return true
		}
	}
	return false
}

// readCues scans text and keeps, per cue, the first occurrence that counts.
func (st *state) readCues(text string, vendor bool, notes bool) *textCues {
	d := tokenize(text, st.w)
	return st.filterCues(d, st.r.lex.scan(d), vendor, notes)
}

// filterCues keeps the cues of one side that pass negation, tense and
// context checks.
func (st *state) filterCues(d *textDoc, ms []cueMatch, vendor bool, notes bool) *textCues {
	tc := &textCues{d: d, good: map[string]cueMatch{}}
	var hypo map[int]bool // sentences about a purchase that may not happen
	if !vendor {
		for _, m := range ms {
			if m.cue == CueHypothetical && !d.sents[m.sent].question {
				if hypo == nil {
					hypo = map[int]bool{}
				}
				hypo[m.sent] = true
			}
		}
	}
	for _, m := range ms {
		info := cueTable[m.cue]
		if info.vendor != vendor || (notes && !info.notes) {
			continue
		}
		if hypo[m.sent] && hypotheticalCues[m.cue] {
			tc.hypo = append(tc.hypo, m)
			continue
		}
		if _, done := tc.good[m.cue]; done {
			continue
		}
		if info.negatable && negatedMatch(tc.d, m, info) {
			tc.negated = append(tc.negated, m)
			continue
		}
		if info.pastOnly && futureMatch(tc.d, m) {
			continue
		}
		if m.cue == CueSignedDocumentSent && (presentSign(tc.d, m) || wantedSigned(tc.d, m)) {
			continue
		}
		if info.noQuestion && tc.d.sents[m.sent].question {
			continue
		}
		if info.question && !isQuestionContext(tc.d, m) {
			continue
		}
		if info.hedge {
			words := tc.d.w.hedgeWords
			if m.cue == CueRefusal {
				words = tc.d.w.conditionalWords
			}
			if hedgedMatch(tc.d, m, words) {
				continue
			}
		}
		if info.history && historyContext(tc.d, m) {
			continue
		}
		if info.pastExc && pastContext(tc.d, m, st.in.Now.Year()) {
			continue
		}
		if info.objection && !vendor && !notes && echoesVendor(tc.d, m) {
			continue
		}
		if info.untilExc && untilAfter(tc.d, m) {
			continue
		}
		tc.good[m.cue] = m
		tc.order = append(tc.order, m.cue)
	}
	return tc
}

func (tc *textCues) excerpt(m cueMatch, max int) string {
	return tc.d.excerpt(m.from, m.to, max)
}

func (tc *textCues) has(c string) bool { _, ok := tc.good[c]; return ok }

// vendorVoice reports a cue in call notes that describes the rep's move.
func vendorVoice(d *textDoc, m cueMatch) bool {
	for j := clauseStart(d, m); j < m.from; j++ {
		w := d.toks[j].norm
		if d.w.buyerSubjects[w] {
			return false
		}
		if d.w.vendorVerbs[w] {
			return true
		}
	}
	return false
}

// echoesVendor: "the discount you offered" acknowledges the vendor's
// terms rather than negotiating them (unless it is asked about).
func echoesVendor(d *textDoc, m cueMatch) bool {
	s := d.sents[m.sent]
	for j := m.to; !s.question && j+1 < s.to && j < m.to+3; j++ {
		if next := d.toks[j+1].norm; d.w.youWords[d.toks[j].norm] && (d.w.vendorVerbs[next] || d.w.vendorEchoVerbs[next]) {
			return true
		}
	}
	return false
}

// presentSign: French "je le signe" is the verb now, not "signé" (signed);
// both fold to "signe".
func presentSign(d *textDoc, m cueMatch) bool {
	for j := m.from; j < m.to; j++ {
		if d.w.presentSignVerbs[d.toks[j].norm] && j > 0 && d.w.presentSignPronouns[d.toks[j-1].norm] {
			return true
		}
	}
	return false
}

// wantedSigned: "we need the contract signed by ..." asks for a signature.
func wantedSigned(d *textDoc, m cueMatch) bool {
	s := d.sents[m.sent]
	return anyIn(d, m.to, min(s.to, m.to+3), d.w.deadlineWords) || anyIn(d, clauseStart(d, m), m.from, d.w.wantWords)
}
