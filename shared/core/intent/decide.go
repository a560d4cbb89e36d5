package intent

import (
	"fmt"
	"strings"
)

// decide turns the evidence into a decision under the policies: forward
// only, never reopen a closed deal, won only on a buyer-side signature,
// never lost, an unanswered refusal vetoes every move.
func (st *state) decide() Decision {
	p := st.p
	deal := st.in.Deal
	cur := -1
	unknownStage := false
	if s := strings.TrimSpace(deal.Stage); s != "" {
		cur = p.Rank(s)
		unknownStage = cur < 0
	}
	status := strings.ToLower(strings.TrimSpace(deal.Status))
	closed := status == "won" || status == "lost"

	rules := make([]*Rule, len(st.evs))
	for k := range st.evs {
		ev := &st.evs[k]
		if !ev.Counted {
			continue
		}
		if r := p.RuleFor(ev.Cue); r != nil {
			rules[k] = r
			ev.Rule = r.ID
			ev.vetoable = r.Stage != "" || r.Status == "won"
		}
	}
	laterBuyer := func(sig int) bool {
		for _, ev := range st.evs {
			if ev.Counted && ev.buyer && ev.Signal > sig {
				return true
			}
		}
		return false
	}

	// an explicit refusal vetoes every move unless the buyer re-engaged later
	refusal := -1
	for k, ev := range st.evs {
		if ev.Counted && ev.Cue == CueRefusal {
			refusal = k
		}
	}
	vetoed := refusal >= 0 && !laterBuyer(st.evs[refusal].Signal)
	if refusal >= 0 && !vetoed {
		st.evs[refusal].Note += " (superseded: the buyer engaged again later)"
	}
	if vetoed {
		for k := range st.evs {
			ev := &st.evs[k]
			if ev.Counted && ev.vetoable {
				ev.Counted = false
				ev.Note = fmt.Sprintf("not used: the buyer refused at signal %d", st.evs[refusal].Signal)
				rules[k] = nil
			}
		}
	}

	// the stage the deal (or ungated evidence) has reached gates the rest;
	// only evidence up to the gated signal counts: a buyer asking for
	// pricing before any proposal was sent is contact, not negotiation,
	// even when the proposal follows
	baseAt := func(sig int) int {
		base := cur
		for k, ev := range st.evs {
			r := rules[k]
			if !ev.Counted || r == nil || r.After != "" || r.Stage == "" || r.Stage == StageRequested || ev.Signal > sig {
				continue
			}
			if x := p.Rank(r.Stage); x > base {
				base = x
			}
		}
		return base
	}

	flag := ""
	flagRule := ""
	setFlag := func(f, rule string) {
		if f == "" {
			return
		}
		if flag == "" || (f == FlagReview && flag != FlagReview) {
			flag, flagRule = f, rule
		}
	}
	var policy []Reason

	best, bestK, wonK := -1, -1, -1
	for k := range st.evs {
		ev := &st.evs[k]
		r := rules[k]
		if !ev.Counted || r == nil {
			continue
		}
		if r.Status == "won" && wonK < 0 {
			wonK = k
		}
		rank := -1
		switch {
		case r.Stage == StageRequested:
			rank = ev.target
			switch {
			case cur >= 0 && rank < cur:
				ev.Note = fmt.Sprintf("requested %s is before the current stage %s: never backwards", p.Stages[rank], p.Stages[cur])
				setFlag(FlagReview, PolicyStageRequest)
				rank = -1
			case cur >= 0 && rank > cur+1 && !st.t.StageRequestMaySkip:
				ev.Note = fmt.Sprintf("requested %s skips stages after %s; rules do not let stage requests skip", p.Stages[rank], p.Stages[cur])
				setFlag(FlagReview, PolicyStageRequest)
				rank = -1
			}
		case r.After != "":
			if p.Rank(r.After) <= baseAt(ev.Signal) {
				rank = p.Rank(r.Stage)
			} else if r.Otherwise != "" {
				rank = p.Rank(r.Otherwise)
				ev.Note = fmt.Sprintf("before %s this counts as %s", r.After, r.Otherwise)
			}
		case r.Stage != "":
			rank = p.Rank(r.Stage)
		}
		if rank > best {
			best, bestK = rank, k
		}
		if r.Flag != "" {
			switch {
			case ev.Cue == CueRefusal && !vetoed:
			case ev.Cue == CueDeferral && laterBuyerAfter(st.evs, ev.Signal):
				ev.Note += " (superseded: the buyer engaged again later)"
			default:
				setFlag(r.Flag, r.ID)
			}
		}
	}
	for _, why := range st.flagWhy {
		setFlag(FlagReview, why.Rule)
	}

	d := Decision{Status: deal.Status, Reasons: []Reason{}}
	if best >= 0 {
		d.Evidence = p.Stages[best]
	}
	wouldMove := wonK >= 0 || (best >= 0 && (cur < 0 || best >= cur))
	switch {
	case closed:
		if wouldMove {
			setFlag(FlagReview, PolicyClosedDeal)
			flagRule = PolicyClosedDeal
			policy = append(policy, Reason{Signal: lastSignal(st, bestK, wonK), Kind: "policy", Cue: CuePolicy, Rule: PolicyClosedDeal,
				Excerpt: fmt.Sprintf("the deal is %s: never reopened; evidence flagged for review", status)})
		}
	case wonK >= 0:
		d.Status = "won"
		d.Rule = st.evs[wonK].Rule
	case unknownStage:
		if best >= 0 {
			setFlag(FlagReview, PolicyUnknownStage)
			policy = append(policy, Reason{Signal: st.evs[bestK].Signal, Kind: "policy", Cue: CuePolicy, Rule: PolicyUnknownStage,
				Excerpt: fmt.Sprintf("current stage %q is not in pipeline %q; evidence supports %s", deal.Stage, p.Name, p.Stages[best])})
		}
	case best > cur:
		d.Stage = p.Stages[best]
		d.Rule = st.evs[bestK].Rule
	case best >= 0:
		what := "already at"
		if best < cur {
			what = "is after"
		}
		policy = append(policy, Reason{Signal: st.evs[bestK].Signal, Kind: "policy", Cue: CuePolicy, Rule: PolicyForwardOnly,
			Excerpt: fmt.Sprintf("evidence supports %s; the deal %s %s: no move", p.Stages[best], what, p.Stages[cur])})
	}
	if vetoed {
		setFlag(FlagReview, st.evs[refusal].Rule)
		if flagRule == "" {
			flagRule = PolicyRefusal
		}
	}
	d.Flag = flag
	if d.Rule == "" {
		d.Rule = flagRule
	}
	for _, ev := range st.evs {
		d.Reasons = append(d.Reasons, ev.Reason)
	}
	d.Reasons = append(d.Reasons, st.flagWhy...)
	d.Reasons = append(d.Reasons, policy...)
	d.Reasons = append(d.Reasons, st.extra...)
	return d
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
