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

// Words that turn what follows into a contrast: "not the add-on, but ...".
var contrastWords = setOf("but", "however", "though", "aber", "jedoch", "allerdings", "sondern", "doch", "mais", "cependant", "toutefois",
	"pero", "sino", "embargo", "maar", "echter")

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
		if contrastWords[d.toks[j].norm] {
			c = j
			break
		}
	}
	if c < 0 && r.sent+1 < len(d.sents) {
		if n := d.sents[r.sent+1]; n.to > n.from && contrastWords[d.toks[n.from].norm] {
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
	d := tokenize(text)
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
			words := hedgeWords
			if m.cue == CueRefusal {
				words = conditionalWords
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

// Verbs of the rep's own moves in call notes ("Offered a 5% discount").
var vendorVerbs = setOf("offered", "offering", "pitched", "proposed", "quoted", "suggested", "gave", "mentioned", "explained", "presented",
	"angeboten", "vorgeschlagen", "propose", "offert", "suggere", "ofrecido", "ofreci", "propuse", "aangeboden", "voorgesteld")

// Subjects that make such a verb the buyer's ("they proposed a 3-year term").
var buyerSubjects = setOf("they", "he", "she", "customer", "client", "buyer", "prospect", "their", "sie", "kunde", "ils", "elle", "il", "client", "cliente", "ellos", "zij", "klant")

// vendorVoice reports a cue in call notes that describes the rep's move.
func vendorVoice(d *textDoc, m cueMatch) bool {
	for j := clauseStart(d, m); j < m.from; j++ {
		w := d.toks[j].norm
		if buyerSubjects[w] {
			return false
		}
		if vendorVerbs[w] {
			return true
		}
	}
	return false
}

// echoesVendor: "the discount you offered" acknowledges the vendor's
// terms rather than negotiating them (unless it is asked about).
func echoesVendor(d *textDoc, m cueMatch) bool {
	s := d.sents[m.sent]
	if s.question {
		return false
	}
	for j := m.to; j < s.to && j < m.to+3; j++ {
		if w := d.toks[j].norm; w == "you" || w == "u" || w == "sie" || w == "vous" || w == "usted" || w == "jullie" {
			if j+1 < s.to && vendorVerbs[d.toks[j+1].norm] || j+1 < s.to && d.toks[j+1].norm == "included" {
				return true
			}
		}
	}
	return false
}

// presentSign: French "je le signe" is the verb now, not "signé" (signed);
// both fold to "signe".
func presentSign(d *textDoc, m cueMatch) bool {
	for j := m.from; j < m.to; j++ {
		if w := d.toks[j].norm; (w == "signe" || w == "signes") && j > 0 {
			switch d.toks[j-1].norm {
			case "je", "le", "la", "les", "l", "on", "il", "elle", "te", "vous", "nous":
				return true
			}
		}
	}
	return false
}

// Words of wanting a document signed ("we want the contract signed before
// ..."): a deadline, not a signed document sent.
var wantWords = setOf("want", "wants", "wanted", "need", "needs", "like", "require", "requires", "expect", "expects",
	"wollen", "mochten", "mochte", "brauchen", "benotigen", "mussen", "soll", "sollte",
	"voulons", "voulez", "veut", "souhaitons", "souhaite", "faut", "besoin", "aimerions",
	"queremos", "quiere", "necesitamos", "necesita", "gustaria", "deseamos",
	"willen", "wil", "moet", "moeten", "graag", "wensen")

// Deadline words right after the signed document: "signé avant le 3
// juillet", "signed by Friday".
var deadlineWords = setOf("by", "before", "until", "bis", "vor", "spatestens", "avant", "ici", "antes", "hasta", "voor", "uiterlijk", "tot")

// wantedSigned: "we need the contract signed by ..." asks for a signature.
func wantedSigned(d *textDoc, m cueMatch) bool {
	s := d.sents[m.sent]
	for j := m.to; j < s.to && j < m.to+3; j++ {
		if deadlineWords[d.toks[j].norm] {
			return true
		}
	}
	for j := clauseStart(d, m); j < m.from; j++ {
		if wantWords[d.toks[j].norm] {
			return true
		}
	}
	return false
}
