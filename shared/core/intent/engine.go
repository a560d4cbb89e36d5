package intent

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/stagemover/stagemover/shared/core/mail"
	"github.com/stagemover/stagemover/shared/core/signal"
)

// RuleEngine decides with a compiled rules file. It holds no mutable state
// and is safe for concurrent use.
type RuleEngine struct {
	rules *Rules
}

// NewEngine returns the engine for rules (the embedded defaults when nil).
func NewEngine(rules *Rules) Engine {
	if rules == nil {
		rules = DefaultRules()
	}
	return &RuleEngine{rules: rules}
}

// Rules returns the rules the engine decides with.
func (e *RuleEngine) Rules() *Rules { return e.rules }

// Policy rule ids: decisions made by a policy rather than by a rule.
const (
	PolicyClosedDeal   = "policy:never-reopen-closed"
	PolicyForwardOnly  = "policy:forward-only"
	PolicyRefusal      = "policy:refusal-never-moves"
	PolicyUnknownStage = "policy:unknown-current-stage"
	PolicyNoPipeline   = "policy:pipeline-not-configured"
	PolicyStageRequest = "policy:stage-request"
	PolicyThirdParty   = "policy:third-party-sender"
	PolicyOptOut       = "policy:opt-out-after-engagement"
	PolicyNoEvidence   = "no-evidence"
)

type evidence struct {
	Reason
	target   int  // stage_request: requested stage rank
	buyer    bool // positive engagement from the buyer side
	vetoable bool // moves the deal (stage or won)
	review   bool // asks for review by itself
}

type meetingState struct {
	ev     int
	title  string
	starts *time.Time
	held   bool
	active bool
	text   bool // booked in writing (accept + confirm, or "I've sent an invite")
}

type acceptState struct {
	sig     int
	at      time.Time
	excerpt string
}

type state struct {
	r        *Rules
	p        *Pipeline
	t        Thresholds
	in       *Input
	internal []string
	org      string
	personD  string
	person   string
	evs      []evidence
	sessions map[string]int
	meetings []*meetingState
	accept   *acceptState
	timeAsk  bool     // an outbound email to the buyer named a day, time or meeting
	flagWhy  []Reason // reasons that ask for review
	extra    []Reason // further explanations
}

// Decide implements Engine.
func (e *RuleEngine) Decide(ctx context.Context, in Input) (Decision, error) {
	if err := ctx.Err(); err != nil {
		return Decision{}, err
	}
	p := e.rules.Pipeline(in.Deal.Pipeline)
	if p == nil {
		return Decision{Status: in.Deal.Status, Rule: PolicyNoPipeline, Reasons: []Reason{{
			Signal: -1, Kind: "policy", Cue: CuePolicy, Rule: PolicyNoPipeline, Counted: false,
			Excerpt: fmt.Sprintf("pipeline %q is not in %s and there is no \"*\" pipeline", in.Deal.Pipeline, e.rules.Source),
		}}}, nil
	}
	st := &state{r: e.rules, p: p, t: p.Thresholds, in: &in, sessions: map[string]int{}}
	for _, d := range in.InternalDomains {
		if d = normDomain(d); d != "" {
			st.internal = append(st.internal, d)
		}
	}
	st.org = normDomain(in.Deal.OrgDomain)
	st.person = strings.ToLower(strings.TrimSpace(in.Deal.PersonEmail))
	if d := domainOf(st.person); d != "" && !e.rules.FreemailDomains[d] {
		st.personD = d
	}
	for i := range in.Signals {
		if i%16 == 15 {
			if err := ctx.Err(); err != nil {
				return Decision{}, err
			}
		}
		n := len(st.evs)
		st.signal(i)
		if len(st.evs) == n {
			s := &in.Signals[i]
			st.discount(i, CueNoEvidence, strings.TrimSpace(s.Subject+" "+s.Title+" "+s.Name), "nothing in this signal is evidence of progress")
		}
	}
	if len(in.Signals) == 0 {
		st.extra = append(st.extra, Reason{Signal: -1, Kind: "policy", Cue: CueNoEvidence, Rule: PolicyNoEvidence, Note: "no signals"})
	}
	return st.decide(), nil
}

func normDomain(d string) string {
	d = strings.ToLower(strings.TrimSpace(d))
	d = strings.TrimPrefix(d, "@")
	return strings.TrimSuffix(d, ".")
}

func addrOf(a string) string {
	a = strings.ToLower(strings.TrimSpace(a))
	if i := strings.IndexByte(a, '<'); i >= 0 {
		a = a[i+1:]
		if j := strings.IndexByte(a, '>'); j >= 0 {
			a = a[:j]
		}
	}
	return strings.TrimSpace(a)
}

func domainOf(a string) string {
	a = addrOf(a)
	if i := strings.LastIndexByte(a, '@'); i >= 0 {
		return normDomain(a[i+1:])
	}
	return ""
}

func domainIn(d, of string) bool {
	return d != "" && of != "" && (d == of || strings.HasSuffix(d, "."+of))
}

const (
	sideVendor = "vendor"
	sideBuyer  = "buyer"
	sideThird  = "third_party"
	sideNone   = ""
)

// side tells whose address a is.
func (st *state) side(a string) string {
	addr := addrOf(a)
	if addr == "" {
		return sideNone
	}
	d := domainOf(addr)
	for _, in := range st.internal {
		if domainIn(d, in) {
			return sideVendor
		}
	}
	if addr == st.person || domainIn(d, st.org) || domainIn(d, st.personD) {
		return sideBuyer
	}
	if d == "" {
		return sideNone
	}
	// Without the deal's organisation or contact (a signal posted by deal
	// id, no mirror), nobody can be told apart as a third party: every
	// outside address is the buyer's side.
	if st.org == "" && st.personD == "" && st.person == "" {
		return sideBuyer
	}
	return sideThird
}

func (st *state) add(i int, cue, excerpt string, counted bool) *evidence {
	s := &st.in.Signals[i]
	at := ""
	if !s.At.IsZero() {
		at = s.At.UTC().Format(time.RFC3339)
	}
	st.evs = append(st.evs, evidence{Reason: Reason{Signal: i, Kind: string(s.Kind), At: at, Cue: cue,
		Excerpt: clip(excerpt, st.t.ExcerptChars), Counted: counted}, target: -1})
	return &st.evs[len(st.evs)-1]
}

func (st *state) discount(i int, cue, excerpt, note string) *evidence {
	ev := st.add(i, cue, excerpt, false)
	ev.Note = note
	return ev
}

func clip(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if max <= 0 || len(s) <= max {
		return s
	}
	cut := max - 3
	for cut > 0 && (s[cut]&0xC0) == 0x80 {
		cut--
	}
	if sp := strings.LastIndexByte(s[:cut], ' '); sp > max/2 {
		cut = sp
	}
	return s[:cut] + "..."
}

func (st *state) signal(i int) {
	s := &st.in.Signals[i]
	if err := s.Validate(); err != nil {
		st.discount(i, CueInvalidSignal, "", err.Error())
		return
	}
	switch s.Kind {
	case signal.KindEmail:
		st.email(i, s)
	case signal.KindMeeting:
		st.meeting(i, s)
	case signal.KindDocument:
		st.document(i, s)
	case signal.KindCall:
		st.call(i, s)
	case signal.KindStageRequest:
		st.stageRequest(i, s)
	}
}

// ---- email ----

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

// buyerTextCues are the cues read in buyer-side text that become evidence.
var buyerEvidenceCues = []string{
	CueSignedDocumentSent, CuePricingNegotiation, CuePaymentTerms, CueContractTerms, CueRedlines, CueSignatureDate,
	CueProcurement, CueLegalReview, CueSecurityReview, CueGoAhead, CuePricingQuestion, CueMeetingBookedText, CueDemoHeldText,
}

func (st *state) email(i int, s *signal.Signal) {
	m := readMail(s.Headers, s.Subject, s.Body)
	kind, why := m.Machine, m.MachineReason
	if kind == "" {
		kind, why = fallbackMachine(s.Headers, s.From, s.Subject, m.Text)
	}
	if kind == "" && s.Body != m.Text {
		if h, rest, ok := embeddedHeaders(s.Body); ok {
			if kind, why = fallbackMachine(h, h["From"], h["Subject"], rest); kind == "" {
				kind, why = rawMachine(h, rest)
			}
		}
	}
	if kind == "" {
		if h, rest, ok := embeddedHeaders(m.Text); ok {
			// a raw message the reader did not take apart
			if kind, why = fallbackMachine(h, h["From"], h["Subject"], rest); kind == "" {
				kind, why = rawMachine(h, rest)
			}
			if kind == "" {
				m.Text = rest
			}
		}
	}
	if kind != "" {
		st.discount(i, CueMachine, why, "machine mail ("+kind+") never advances a deal")
		return
	}
	own, atts := ownText(m.Text, s.From)
	text := own
	if len(atts) > 0 {
		text += "\n\n" + strings.Join(atts, "\n\n")
	}
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
	if subj := strings.TrimSpace(s.Subject); subj != "" && !isReplySubject(subj) {
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

func isReplySubject(s string) bool {
	l := strings.ToLower(s)
	for _, p := range []string{"re:", "re :", "aw:", "wg:", "fw:", "fwd:", "tr:", "rv:", "r:", "antw:", "sv:", "vs:", "réf", "ref:", "automatic reply", "out of office"} {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return false
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
	d := tokenize(text)
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

// ---- meetings ----

func normTitle(t string) string {
	t = strings.ToLower(t)
	for _, p := range []string{"(new time)", "(rescheduled)", "(updated)", "rescheduled:", "updated invitation:", "updated:", "canceled:", "cancelled:",
		"invitation:", "abgesagt:", "annulé:", "cancelado:", "geannuleerd:", "verschoben:"} {
		t = strings.ReplaceAll(t, p, "")
	}
	return strings.Join(strings.Fields(t), " ")
}

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
		st.meetings = append(st.meetings, &meetingState{ev: len(st.evs) - 1, title: normTitle(s.Title), starts: s.StartsAt, held: true, active: true})
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
		st.meetings = append(st.meetings, &meetingState{ev: len(st.evs) - 1, title: normTitle(s.Title), starts: s.StartsAt, active: true})
	}
}

func sameMeeting(m *meetingState, s *signal.Signal) bool {
	if m.text {
		return false
	}
	if m.starts != nil && s.StartsAt != nil && m.starts.Equal(*s.StartsAt) {
		return true
	}
	return m.title != "" && m.title == normTitle(s.Title)
}

// replaceMeeting retires earlier records of the same meeting (a new time
// or a held record supersedes them) without discounting the booking.
func (st *state) replaceMeeting(s *signal.Signal, why string) {
	for _, m := range st.meetings {
		if m.active && !m.held && sameMeeting(m, s) {
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
		if s == nil || sameMeeting(m, s) {
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

// ---- documents ----

var ndaWords = []string{"nda", "non-disclosure", "non disclosure", "nondisclosure", "confidentiality agreement", "geheimhaltung", "vertraulichkeit",
	"confidentialite", "confidentialité", "confidencialidad", "geheimhouding"}

func isNDA(name string) bool {
	l := " " + strings.ToLower(name) + " "
	for _, w := range ndaWords {
		if w == "nda" {
			if i := strings.Index(l, "nda"); i > 0 {
				b, a := l[i-1], l[i+3]
				if !isAlnum(b) && !isAlnum(a) {
					return true
				}
			}
			continue
		}
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}

// looksLikeOrder: a document of type "other" whose name says it is the
// order itself (order form, agreement, contract, statement of work).
func looksLikeOrder(name string) bool {
	l := foldString(strings.ToLower(name))
	for _, w := range []string{"order form", "orderform", "agreement", "contract", "statement of work", "sow", "purchase order",
		"bestellformular", "bestellung", "vertrag", "auftrag", "bon de commande", "contrat", "pedido", "contrato", "orden de compra",
		"overeenkomst", "orderformulier", "opdrachtbevestiging"} {
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}

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
		switch actor {
		case sideVendor:
			st.discount(i, CueInternalViewer, excerpt, "viewed by the vendor's own staff ("+s.Actor+")")
			return
		case sideThird, sideNone:
			st.discount(i, CueThirdParty, excerpt, "viewed by someone outside the buyer's organisation ("+s.Actor+")")
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
		switch actor {
		case sideVendor:
			st.discount(i, CueVendorSigned, excerpt, "completed by the vendor side ("+s.Actor+"): not the buyer's signature")
			return
		case sideThird, sideNone:
			st.discount(i, CueThirdParty, excerpt, "completed by someone outside the buyer's organisation ("+s.Actor+")")
			st.flagWhy = append(st.flagWhy, Reason{Signal: i, Kind: string(s.Kind), Cue: CueThirdParty, Rule: PolicyThirdParty, Excerpt: excerpt,
				Note: "a signature from outside the buyer's organisation needs review"})
			return
		}
		wonType := contains(st.t.WonDocTypes, s.DocType) || (s.DocType == "other" && contains(st.t.WonDocTypes, "contract") && looksLikeOrder(s.Name))
		if !wonType || isNDA(s.Name) {
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

// ---- calls ----

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

// reachedBuyer: call notes saying the gatekeeper put the rep through.
func reachedBuyer(d *textDoc) bool {
	for i, t := range d.toks {
		switch t.norm {
		case "transferred", "weitergeleitet", "verbunden", "transfere", "transferido", "transfirio", "doorverbonden":
			return true
		case "through":
			if i > 0 && (d.toks[i-1].norm == "put" || d.toks[i-1].norm == "me") {
				return true
			}
		}
	}
	return false
}

// ---- stage requests ----

func (st *state) stageRequest(i int, s *signal.Signal) {
	want := strings.TrimSpace(s.Stage)
	if s.Pipeline != "" && st.in.Deal.Pipeline != "" && !strings.EqualFold(strings.TrimSpace(s.Pipeline), strings.TrimSpace(st.in.Deal.Pipeline)) {
		st.discount(i, CueStageRequest, want, fmt.Sprintf("requested for pipeline %q; the deal is in %q", s.Pipeline, st.in.Deal.Pipeline))
		return
	}
	r := st.p.Rank(want)
	if r < 0 {
		st.discount(i, CueStageRequest, want, fmt.Sprintf("%q is not a stage of pipeline %q", want, st.p.Name))
		st.flagWhy = append(st.flagWhy, Reason{Signal: i, Kind: string(s.Kind), Cue: CueStageRequest, Rule: PolicyStageRequest, Excerpt: want,
			Note: "a stage request names an unknown stage"})
		return
	}
	ev := st.add(i, CueStageRequest, st.p.Stages[r], true)
	ev.target = r
}

// readMail is mail.Read; tests swap it to check the engine's own safety
// net against a reader that passes text through unchanged.
var readMail = mail.Read

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
