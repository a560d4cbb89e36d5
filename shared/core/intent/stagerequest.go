package intent

import (
	"fmt"
	"strings"

	"github.com/stagemover/stagemover/shared/core/signal"
)

// Stage requests: an explicit "move deal N to stage S".

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
