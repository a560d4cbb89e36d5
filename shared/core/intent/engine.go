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
	mail  MailReader
}

// MailReader reads an email for the engine: what its sender wrote now, or
// that a machine wrote it. The engine uses a [mail.Reader] unless told
// otherwise.
type MailReader interface {
	ReadEmail(mail.Email) mail.Reading
}

// Option configures an engine.
type Option func(*RuleEngine)

// WithMailReader makes the engine read emails with r.
func WithMailReader(r MailReader) Option {
	return func(e *RuleEngine) { e.mail = r }
}

// NewEngine returns the engine for rules (the embedded defaults when nil).
func NewEngine(rules *Rules, opts ...Option) Engine {
	if rules == nil {
		rules = DefaultRules()
	}
	e := &RuleEngine{rules: rules, mail: mail.Reader{}}
	for _, o := range opts {
		o(e)
	}
	return e
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
	w        *wordLists // the words text is read with
	mail     MailReader
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
	st := &state{r: e.rules, w: e.rules.lex.words, mail: e.mail, p: p, t: p.Thresholds, in: &in, sessions: map[string]int{}}
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
