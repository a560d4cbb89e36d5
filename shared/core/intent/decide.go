package intent

import (
	"fmt"
	"strings"
)

// The decision turns the evidence into an outcome under fixed policies. Each
// policy is one named step; they run in the order of [policies] over a
// verdict, which carries what the steps before found. Steps named after a
// Policy* rule id are the ones whose name a decision can show as its rule.

// policy is one step of the decision.
type policy struct {
	name string
	run  func(st *state, v *verdict)
}

// policies run in this order.
var policies = []policy{
	{"map-cues-to-rules", mapCuesToRules},
	{PolicyRefusal, refusalVetoesMoves},
	{"furthest-stage", furthestStage},
	{"review-reasons", reviewReasons},
	{PolicyClosedDeal, neverReopenClosed},
	{"won-on-buyer-signature", wonOnBuyerSignature},
	{PolicyUnknownStage, unknownCurrentStage},
	{"move-forward", moveForward},
	{PolicyForwardOnly, forwardOnly},
	{"refusal-flags-review", refusalFlagsReview},
	{"explain", explain},
}

// verdict is the decision in the making.
type verdict struct {
	cur          int  // rank of the deal's current stage, -1 if none or unknown
	unknownStage bool // the deal names a stage the pipeline does not have
	status       string
	closed       bool // won or lost: never reopened

	rules   []*Rule // per evidence: the rule mapping its cue (nil: none, or not counted)
	refusal int     // the last counted refusal, -1 if none
	vetoed  bool    // that refusal vetoes every move

	best, bestK int // furthest stage rank the evidence supports, and its evidence
	wonK        int // the first evidence of a won rule, -1 if none

	flag, flagRule string
	policy         []Reason // reasons the policies add
	decided        bool     // an outcome step has decided
	d              Decision
}

// decide turns the evidence into a decision under the policies: forward
// only, never reopen a closed deal, won only on a buyer-side signature,
// never lost, an unanswered refusal vetoes every move.
func (st *state) decide() Decision {
	v := &verdict{cur: -1, refusal: -1, best: -1, bestK: -1, wonK: -1,
		d: Decision{Status: st.in.Deal.Status, Reasons: []Reason{}}}
	if s := strings.TrimSpace(st.in.Deal.Stage); s != "" {
		v.cur = st.p.Rank(s)
		v.unknownStage = v.cur < 0
	}
	v.status = strings.ToLower(strings.TrimSpace(st.in.Deal.Status))
	v.closed = v.status == "won" || v.status == "lost"
	for _, p := range policies {
		p.run(st, v)
	}
	return v.d
}

// setFlag raises a flag: review outranks follow_up, otherwise the first
// flag raised stays.
func (v *verdict) setFlag(f, rule string) {
	if f == "" {
		return
	}
	if v.flag == "" || (f == FlagReview && v.flag != FlagReview) {
		v.flag, v.flagRule = f, rule
	}
}

// mapCuesToRules finds the rule of every counted cue.
func mapCuesToRules(st *state, v *verdict) {
	v.rules = make([]*Rule, len(st.evs))
	for k := range st.evs {
		ev := &st.evs[k]
		if !ev.Counted {
			continue
		}
		if r := st.p.RuleFor(ev.Cue); r != nil {
			v.rules[k] = r
			ev.Rule = r.ID
			ev.vetoable = r.Stage != "" || r.Status == "won"
		}
	}
}

// refusalVetoesMoves: an explicit refusal vetoes every move unless the
// buyer engaged again later.
func refusalVetoesMoves(st *state, v *verdict) {
	for k, ev := range st.evs {
		if ev.Counted && ev.Cue == CueRefusal {
			v.refusal = k
		}
	}
	v.vetoed = v.refusal >= 0 && !laterBuyerAfter(st.evs, st.evs[v.refusal].Signal)
	if v.refusal >= 0 && !v.vetoed {
		st.evs[v.refusal].Note += " (superseded: the buyer engaged again later)"
	}
	if !v.vetoed {
		return
	}
	for k := range st.evs {
		ev := &st.evs[k]
		if ev.Counted && ev.vetoable {
			ev.Counted = false
			ev.Note = fmt.Sprintf("not used: the buyer refused at signal %d", st.evs[v.refusal].Signal)
			v.rules[k] = nil
		}
	}
}

// baseAt is the stage the deal (or ungated evidence up to signal sig) has
// reached. It gates the rest: a buyer asking for pricing before any
// proposal was sent is contact, not negotiation, even when the proposal
// follows.
func baseAt(st *state, v *verdict, sig int) int {
	base := v.cur
	for k, ev := range st.evs {
		r := v.rules[k]
		if !ev.Counted || r == nil || r.After != "" || r.Stage == "" || r.Stage == StageRequested || ev.Signal > sig {
			continue
		}
		if x := st.p.Rank(r.Stage); x > base {
			base = x
		}
	}
	return base
}

// furthestStage finds the furthest stage the counted evidence supports and
// the first won evidence, checks stage requests (never backwards, skips
// only when the rules allow) and raises the flags of the rules.
func furthestStage(st *state, v *verdict) {
	p := st.p
	for k := range st.evs {
		ev := &st.evs[k]
		r := v.rules[k]
		if !ev.Counted || r == nil {
			continue
		}
		if r.Status == "won" && v.wonK < 0 {
			v.wonK = k
		}
		rank := -1
		switch {
		case r.Stage == StageRequested:
			rank = ev.target
			switch {
			case v.cur >= 0 && rank < v.cur:
				ev.Note = fmt.Sprintf("requested %s is before the current stage %s: never backwards", p.Stages[rank], p.Stages[v.cur])
				v.setFlag(FlagReview, PolicyStageRequest)
				rank = -1
			case v.cur >= 0 && rank > v.cur+1 && !st.t.StageRequestMaySkip:
				ev.Note = fmt.Sprintf("requested %s skips stages after %s; rules do not let stage requests skip", p.Stages[rank], p.Stages[v.cur])
				v.setFlag(FlagReview, PolicyStageRequest)
				rank = -1
			}
		case r.After != "":
			if p.Rank(r.After) <= baseAt(st, v, ev.Signal) {
				rank = p.Rank(r.Stage)
			} else if r.Otherwise != "" {
				rank = p.Rank(r.Otherwise)
				ev.Note = fmt.Sprintf("before %s this counts as %s", r.After, r.Otherwise)
			}
		case r.Stage != "":
			rank = p.Rank(r.Stage)
		}
		if rank > v.best {
			v.best, v.bestK = rank, k
		}
		if r.Flag != "" {
			switch {
			case ev.Cue == CueRefusal && !v.vetoed:
			case ev.Cue == CueDeferral && laterBuyerAfter(st.evs, ev.Signal):
				ev.Note += " (superseded: the buyer engaged again later)"
			default:
				v.setFlag(r.Flag, r.ID)
			}
		}
	}
	if v.best >= 0 {
		v.d.Evidence = p.Stages[v.best]
	}
}

// reviewReasons: evidence that asks for review by itself (a third-party
// signature, an engaged buyer opting out, an unknown requested stage).
func reviewReasons(st *state, v *verdict) {
	for _, why := range st.flagWhy {
		v.setFlag(FlagReview, why.Rule)
	}
}

// neverReopenClosed: a won or lost deal is never moved; evidence that would
// move it is flagged for review.
func neverReopenClosed(st *state, v *verdict) {
	if !v.closed {
		return
	}
	v.decided = true
	wouldMove := v.wonK >= 0 || (v.best >= 0 && (v.cur < 0 || v.best >= v.cur))
	if !wouldMove {
		return
	}
	v.setFlag(FlagReview, PolicyClosedDeal)
	v.flagRule = PolicyClosedDeal
	v.policy = append(v.policy, Reason{Signal: lastSignal(st, v.bestK, v.wonK), Kind: "policy", Cue: CuePolicy, Rule: PolicyClosedDeal,
		Excerpt: fmt.Sprintf("the deal is %s: never reopened; evidence flagged for review", v.status)})
}

// wonOnBuyerSignature: only a won rule (a buyer-side signature) wins a deal.
func wonOnBuyerSignature(st *state, v *verdict) {
	if v.decided || v.wonK < 0 {
		return
	}
	v.decided = true
	v.d.Status = "won"
	v.d.Rule = st.evs[v.wonK].Rule
}

// unknownCurrentStage: a deal at a stage the pipeline does not know is not
// moved; evidence of a stage is flagged for review.
func unknownCurrentStage(st *state, v *verdict) {
	if v.decided || !v.unknownStage {
		return
	}
	v.decided = true
	if v.best < 0 {
		return
	}
	v.setFlag(FlagReview, PolicyUnknownStage)
	v.policy = append(v.policy, Reason{Signal: st.evs[v.bestK].Signal, Kind: "policy", Cue: CuePolicy, Rule: PolicyUnknownStage,
		Excerpt: fmt.Sprintf("current stage %q is not in pipeline %q; evidence supports %s", st.in.Deal.Stage, st.p.Name, st.p.Stages[v.best])})
}

// moveForward moves the deal to the furthest stage the evidence supports
// when that is past the current one (stages may be skipped).
func moveForward(st *state, v *verdict) {
	if v.decided || v.best <= v.cur {
		return
	}
	v.decided = true
	v.d.Stage = st.p.Stages[v.best]
	v.d.Rule = st.evs[v.bestK].Rule
}

// forwardOnly: evidence of the current or an earlier stage never moves the
// deal backwards; the decision says so.
func forwardOnly(st *state, v *verdict) {
	if v.decided || v.best < 0 {
		return
	}
	v.decided = true
	what := "already at"
	if v.best < v.cur {
		what = "is after"
	}
	v.policy = append(v.policy, Reason{Signal: st.evs[v.bestK].Signal, Kind: "policy", Cue: CuePolicy, Rule: PolicyForwardOnly,
		Excerpt: fmt.Sprintf("evidence supports %s; the deal %s %s: no move", st.p.Stages[v.best], what, st.p.Stages[v.cur])})
}

// refusalFlagsReview: a refusal that vetoed the moves asks for review (a
// deal is never marked lost automatically).
func refusalFlagsReview(st *state, v *verdict) {
	if !v.vetoed {
		return
	}
	v.setFlag(FlagReview, st.evs[v.refusal].Rule)
	if v.flagRule == "" {
		v.flagRule = PolicyRefusal
	}
}

// explain sets the flag and lists every reason: the evidence in signal
// order, then what asks for review, the policies and further notes.
func explain(st *state, v *verdict) {
	d := &v.d
	d.Flag = v.flag
	if d.Rule == "" {
		d.Rule = v.flagRule
	}
	for _, ev := range st.evs {
		d.Reasons = append(d.Reasons, ev.Reason)
	}
	d.Reasons = append(d.Reasons, st.flagWhy...)
	d.Reasons = append(d.Reasons, v.policy...)
	d.Reasons = append(d.Reasons, st.extra...)
}

func laterBuyerAfter(evs []evidence, sig int) bool {
	for _, ev := range evs {
		if ev.Counted && ev.buyer && ev.Signal > sig {
			return true
		}
	}
	return false
}

func lastSignal(st *state, ks ...int) int {
	out := -1
	for _, k := range ks {
		if k >= 0 && st.evs[k].Signal > out {
			out = st.evs[k].Signal
		}
	}
	return out
}
