package intent

// Cue names. Text cues are defined by phrases in lexicon/*.yaml (and
// may be extended by a rules file); evidence cues are produced by the
// engine from meetings, documents, calls and the shape of an email. Rules
// map cues to stages, a won status or a flag.
const (
	// text cues written by the buyer side (email text, call notes)
	CueUnsubscribe        = "unsubscribe"
	CueRefusal            = "refusal"
	CueDeferral           = "deferral"
	CueSignedDocumentSent = "signed_document_sent"
	CueMeetingAccept      = "meeting_accept"
	CueMeetingBookedText  = "meeting_booked_text"
	CueDemoHeldText       = "demo_held_text"
	CueMeetingCancel      = "meeting_cancel"
	CuePricingNegotiation = "pricing_negotiation"
	CuePaymentTerms       = "payment_terms"
	CueContractTerms      = "contract_terms"
	CueRedlines           = "redlines"
	CueSignatureDate      = "signature_date"
	CueProcurement        = "procurement"
	CueLegalReview        = "legal_review"
	CueSecurityReview     = "security_review"
	CueGoAhead            = "go_ahead"
	CuePricingQuestion    = "pricing_question"
	CueCallGatekeeper     = "call_gatekeeper"
	// a day, date, time or meeting is named: what a written acceptance
	// ("passt gut", "works for me") must be about
	CueMeetingTopic = "meeting_topic"
	// positive engagement words ("we'd like to talk about", "interested
	// in"): after "but" they make a refusal partial
	CueEngage = "engage"
	// a purchase that may or may not happen ("if we go ahead", "falls wir
	// weitermachen"): terms named for it are not negotiation
	CueHypothetical = "hypothetical"
	// text cues written by the vendor side
	CueMeetingConfirm    = "meeting_confirm"
	CueProposalDelivered = "proposal_delivered"
	// generic list prices ("pricing starts at", "ab 14 €", "à partir de",
	// "desde", "vanaf"): a teaser, not a proposal for this deal
	CuePriceTeaser = "price_teaser"
	// a time still to come ("next week", "nächste Woche", "la semaine
	// prochaine", "la semana que viene", "volgende week"): a proposal named
	// with it is promised, not sent
	CueFutureTime = "future_time"
	// the real proposal is still to come ("a tailored quote will follow"):
	// prices sent with it are a generic list
	CueProposalPending = "proposal_pending"
	// marks an outbound email as written for this deal ("as discussed",
	// "for your 12 users", "in total", "valid until")
	CueDealSpecific = "deal_specific"

	// evidence cues
	CueBuyerReply           = "buyer_reply"
	CueCallConnected        = "call_connected"
	CueMeetingBooked        = "meeting_booked"
	CueMeetingHeld          = "meeting_held"
	CueMeetingAcceptConfirm = "meeting_accepted_confirmed"
	CueProposalSent         = "proposal_sent"
	CueProposalViewed       = "proposal_viewed"
	CueContractSent         = "contract_sent"
	CueContractViewed       = "contract_viewed"
	CueBuyerSigned          = "buyer_signed_document"
	CueDocumentDeclined     = "document_declined"
	CueStageRequest         = "stage_request"
)

// Cues that only explain why evidence was discounted (never mapped by rules).
const (
	CueMachine          = "machine_mail"
	CueInternalEmail    = "internal_email"
	CueInternalViewer   = "internal_viewer"
	CueDuplicateSession = "duplicate_session"
	CueMeetingCanceled  = "meeting_canceled"
	CueMeetingNoShow    = "meeting_no_show"
	CueInternalMeeting  = "internal_meeting"
	CueMeetingPast      = "meeting_not_in_future"
	CueVendorSigned     = "vendor_signed"
	CueThirdParty       = "third_party"
	CueQuoted           = "quoted_text"
	CueNegated          = "negated"
	CueCallNotConnected = "call_not_connected"
	CueCallShort        = "call_too_short"
	CueNoNewText        = "no_new_text"
	CueInvalidSignal    = "invalid_signal"
	CuePolicy           = "policy"
	CueNoEvidence       = "no_evidence"
)

type cueInfo struct {
	text         bool // defined by phrases
	vendor       bool // read in vendor-side text (else buyer-side text)
	mappable     bool // rules may map it
	negatable    bool // a negation in the clause before it cancels it
	objection    bool // "we can't accept the liability cap" still counts
	pastOnly     bool // future, conditional or question cancels it
	noQuestion   bool
	question     bool // only counts in a question or a request to clarify
	untilExc     bool // "not proceed until ..." is not a refusal
	hedge        bool // "deciding whether to go ahead" does not count
	conditionNeg bool // "without X" states a condition, not an absence
	pastExc      bool // "we went with another vendor two years ago" is history
	notes        bool // read in call notes too
	history      bool // "we negotiated SLAs with our previous supplier years ago" is history, not this offer
}

var cueTable = map[string]cueInfo{
	CueUnsubscribe:        {text: true},
	CueRefusal:            {text: true, mappable: true, negatable: true, untilExc: true, hedge: true, pastExc: true, notes: true},
	CueDeferral:           {text: true, mappable: true, notes: true},
	CueSignedDocumentSent: {text: true, mappable: true, negatable: true, pastOnly: true, hedge: true},
	CueMeetingAccept:      {text: true, negatable: true, noQuestion: false},
	CueMeetingBookedText:  {text: true, mappable: true, negatable: true, pastOnly: true, notes: true},
	CueDemoHeldText:       {text: true, mappable: true, negatable: true},
	CueMeetingCancel:      {text: true, negatable: true, notes: true},
	CuePricingNegotiation: {text: true, mappable: true, negatable: true, objection: true, conditionNeg: true, notes: true, history: true},
	CuePaymentTerms:       {text: true, mappable: true, negatable: true, objection: true, conditionNeg: true, notes: true, history: true},
	CueContractTerms:      {text: true, mappable: true, negatable: true, objection: true, conditionNeg: true, notes: true, history: true},
	CueRedlines:           {text: true, mappable: true, negatable: true, notes: true, history: true},
	CueSignatureDate:      {text: true, mappable: true, negatable: true, notes: true},
	CueProcurement:        {text: true, mappable: true, negatable: true, notes: true, history: true},
	CueLegalReview:        {text: true, mappable: true, negatable: true, objection: true, notes: true, history: true},
	CueSecurityReview:     {text: true, mappable: true, negatable: true, notes: true, history: true},
	CueGoAhead:            {text: true, mappable: true, negatable: true, hedge: true, notes: true},
	CuePricingQuestion:    {text: true, mappable: true, negatable: true, question: true, notes: true, history: true},
	CueCallGatekeeper:     {text: true, notes: true},
	CueMeetingTopic:       {text: true},
	CueEngage:             {text: true, negatable: true},
	CueHypothetical:       {text: true, notes: true},
	CueFutureTime:         {text: true, vendor: true},
	CueMeetingConfirm:     {text: true, vendor: true, negatable: true, noQuestion: true},
	CueProposalDelivered:  {text: true, vendor: true, mappable: true, negatable: true, pastOnly: true},
	CuePriceTeaser:        {text: true, vendor: true},
	CueProposalPending:    {text: true, vendor: true},
	CueDealSpecific:       {text: true, vendor: true, negatable: true},

	CueBuyerReply:           {mappable: true},
	CueCallConnected:        {mappable: true},
	CueMeetingBooked:        {mappable: true},
	CueMeetingHeld:          {mappable: true},
	CueMeetingAcceptConfirm: {mappable: true},
	CueProposalSent:         {mappable: true},
	CueProposalViewed:       {mappable: true},
	CueContractSent:         {mappable: true},
	CueContractViewed:       {mappable: true},
	CueBuyerSigned:          {mappable: true},
	CueDocumentDeclined:     {mappable: true},
	CueStageRequest:         {mappable: true},
}

// pastContext reports a time-in-the-past marker in m's sentence: a span of
// years ago ("two years ago", "vor drei Jahren", "il y a deux ans", "hace
// años", "jaren geleden"), "previously", or a year before nowYear (0: any
// year). Recent spans (weeks, months) are not history.
func pastContext(d *textDoc, m cueMatch, nowYear int) bool {
	s := d.sents[m.sent]
	unitNear := func(from, to int) string {
		if from < s.from {
			from = s.from
		}
		if to > s.to {
			to = s.to
		}
		for k := from; k < to; k++ {
			w := d.toks[k].norm
			if d.w.yearUnits[w] {
				return "year"
			}
			if d.w.recentUnits[w] {
				return "recent"
			}
		}
		return ""
	}
	for j := s.from; j < s.to; j++ {
		w := d.toks[j].norm
		switch {
		case d.w.pastWords[w]:
			return true
		case d.w.agoAfter[w]:
			if unitNear(j-3, j) != "recent" {
				return true
			}
		case seqAt(d, d.w.agoBefore, j, s.to) > 0:
			n := seqAt(d, d.w.agoBefore, j, s.to)
			if unitNear(j+n, j+n+3) == "year" {
				return true
			}
		case len(w) == 4 && (w[:2] == "19" || w[:2] == "20") && w[2] >= '0' && w[2] <= '9' && w[3] >= '0' && w[3] <= '9':
			y := int(w[0]-'0')*1000 + int(w[1]-'0')*100 + int(w[2]-'0')*10 + int(w[3]-'0')
			if nowYear == 0 || y < nowYear {
				return true
			}
		}
	}
	return false
}

// historyContext reports a statement about the past or another vendor in
// m's sentence: "three years ago", "vor zwei Jahren", "il y a deux ans",
// "hace dos años", "twee jaar geleden", "with our previous supplier",
// "bei unserem früheren Anbieter", "notre ancien prestataire", "el
// proveedor anterior", "onze vorige leverancier". A question asks about
// this offer ("our previous vendor gave us 20% off, can you match it?").
func historyContext(d *textDoc, m cueMatch) bool {
	s := d.sents[m.sent]
	if s.question {
		return false
	}
	// "vor zwei Jahren", "hace tres años", "il y a deux ans": a time unit
	// follows closely ("vor dem 1. Mai" is a deadline)
	unit := func(from int) bool {
		for k := from; k < s.to && k <= from+2; k++ {
			if d.w.historyUnits[d.toks[k].norm] {
				return true
			}
			if !d.w.historyCounts[d.toks[k].norm] && !(d.toks[k].norm[0] >= '0' && d.toks[k].norm[0] <= '9') {
				return false
			}
		}
		return false
	}
	for j := s.from; j < s.to; j++ {
		w := d.toks[j].norm
		switch {
		case d.w.historyTime[w]:
			return true
		case seqAt(d, d.w.agoBefore, j, s.to) > 0:
			if unit(j + seqAt(d, d.w.agoBefore, j, s.to)) {
				return true
			}
		case d.w.historyAdj[w]:
			for k := j + 1; k < s.to && k <= j+2; k++ {
				if d.w.historyNoun[d.toks[k].norm] {
					return true
				}
			}
		case d.w.historyNoun[w]:
			if j+1 < s.to && d.w.historyAdjAfter[d.toks[j+1].norm] {
				return true
			}
		}
	}
	return false
}

// noQuestionsClause reports "no questions"/"keine Fragen" anywhere in m's
// clause, before or after it: "zu Preisen haben wir keine Fragen", "no
// questions on pricing", "sur le prix, pas de questions".
func noQuestionsClause(d *textDoc, m cueMatch) bool {
	s := d.sents[m.sent]
	from := clauseStart(d, m)
	to := m.to
	for to < s.to && d.toks[to].flags&tokClauseStart == 0 {
		to++
	}
	for j := from; j < to; j++ {
		if j >= m.from && j < m.to {
			continue
		}
		if !isNegator(d, j) || d.w.withoutWords[d.toks[j].norm] {
			continue
		}
		for k := j + 1; k < to && k <= j+3; k++ {
			if d.w.raiseNouns[d.toks[k].norm] {
				return true
			}
		}
	}
	return false
}

// negatedMatch reports whether m is negated in its clause.
func negatedMatch(d *textDoc, m cueMatch, info cueInfo) bool {
	s := d.sents[m.sent]
	lo := clauseStart(d, m)
	if m.from-12 > lo {
		lo = m.from - 12
	}
	check := func(j int) bool {
		if !isNegator(d, j) {
			return false
		}
		if info.conditionNeg && d.w.withoutWords[d.toks[j].norm] {
			return false // "without a discount we can't sign" still negotiates
		}
		if j+1 < len(d.toks) && d.w.negatorUndo[d.toks[j+1].norm] {
			return false
		}
		if info.objection {
			for k := j + 1; k < m.from; k++ {
				if d.w.objectionWords[d.toks[k].norm] {
					return false
				}
			}
		}
		return true
	}
	for j := lo; j < m.from; j++ {
		if check(j) {
			return true
		}
	}
	if (m.cue == CuePricingQuestion || m.cue == CuePricingNegotiation || m.cue == CuePaymentTerms || m.cue == CueContractTerms) && noQuestionsClause(d, m) {
		return true
	}
	// negators inside the phrase's gaps: "legal hasn't been involved"
	for j := m.from + 1; j < m.to; j++ {
		if b := j - m.from; b < 64 && m.lit&(1<<uint(b)) != 0 {
			continue
		}
		if check(j) {
			return true
		}
	}
	// a negated predicate right after it: "our legal team hasn't been
	// involved", unless it objects: "the cap doesn't work for us"
	for j := m.to; j < s.to && j < m.to+4; j++ {
		if d.toks[j].flags&tokClauseStart != 0 {
			break
		}
		if isNegator(d, j) {
			if j+1 < len(d.toks) && d.w.negatorUndo[d.toks[j+1].norm] {
				return false
			}
			for k := j + 1; k < s.to && k < j+5; k++ {
				if d.w.objectionWords[d.toks[k].norm] {
					return false
				}
			}
			return true
		}
	}
	return false
}

// clauseStart is the first token of the clause holding m.
func clauseStart(d *textDoc, m cueMatch) int {
	from := d.sents[m.sent].from
	c := m.from
	for c > from && d.toks[c].flags&tokClauseStart == 0 {
		c--
	}
	return c
}

// hedgedMatch reports one of words before m in its clause.
func hedgedMatch(d *textDoc, m cueMatch, words map[string]bool) bool {
	return anyIn(d, clauseStart(d, m), m.from, words)
}

func isNegator(d *textDoc, j int) bool {
	w := d.toks[j].norm
	if d.w.negationClitics[w] && j > 0 { // n't
		p := d.toks[j-1].norm
		return len(p) > 1 && p[len(p)-1] == 'n'
	}
	if d.w.answerWords[w] && d.toks[j].flags&tokSentStart != 0 && d.toks[j].flags&tokCommaAfter != 0 {
		return false // "No, ..." answers, it does not negate what follows
	}
	return d.w.negators[w]
}

// futureMatch reports a question, or a future, conditional or pending
// context before m.
func futureMatch(d *textDoc, m cueMatch) bool {
	return d.sents[m.sent].question || hedgedMatch(d, m, d.w.futureWords)
}

// untilAfter reports "... until/unless ..." after m in its sentence.
func untilAfter(d *textDoc, m cueMatch) bool {
	s := d.sents[m.sent]
	for j := m.to; j < s.to; j++ {
		if d.w.untilWords[d.toks[j].norm] {
			// "renewed with our current provider until 2029" is a term,
			// not a condition
			if j+1 < s.to && isYear(d.toks[j+1].norm) {
				continue
			}
			return true
		}
	}
	return false
}

func isYear(w string) bool {
	return len(w) == 4 && (w[:2] == "19" || w[:2] == "20") && w[2] >= '0' && w[2] <= '9' && w[3] >= '0' && w[3] <= '9'
}

// isQuestionContext reports a question or a request to clarify.
func isQuestionContext(d *textDoc, m cueMatch) bool {
	s := d.sents[m.sent]
	if s.question {
		return true
	}
	for j := s.from; j < s.to; j++ {
		w := d.toks[j].norm
		if d.w.questionWords[w] {
			return true
		}
		if j == s.from && d.w.questionStarts[w] {
			return true
		}
	}
	return false
}
