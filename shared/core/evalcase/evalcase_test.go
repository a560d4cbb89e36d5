package evalcase_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/stagemover/stagemover/shared/core/evalcase"
	"github.com/stagemover/stagemover/shared/core/intent"
)

// fixed is an engine that answers from a table, to test scoring alone.
type fixed map[int64]intent.Decision

func (f fixed) Decide(_ context.Context, in intent.Input) (intent.Decision, error) {
	return f[in.Deal.ID], nil
}

func line(id string, dealID int, stage, status, expect string) string {
	return `{"id":"` + id + `","now":"2026-03-01T00:00:00Z","deal":{"id":` + itoa(dealID) + `,"pipeline":"Sales","stage":"` + stage +
		`","status":"` + status + `"},"internal_domains":["v.example"],"signals":[],"expect":` + expect + `}`
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestScoring(t *testing.T) {
	cases := []struct {
		name                           string
		stage                          string
		status                         string
		expect                         string
		decision                       intent.Decision
		move, expMove, correct, fp, fn bool
	}{
		{"correct move", "Proposal Made", "open", `{"stage":"Negotiations Started","status":"open"}`,
			intent.Decision{Stage: "Negotiations Started", Status: "open"}, true, true, true, false, false},
		{"correct no move, status absent", "Qualified", "open", `{"stage":null}`,
			intent.Decision{Status: "open"}, false, false, true, false, false},
		{"decision status empty means current", "Qualified", "open", `{"stage":null,"status":"open"}`,
			intent.Decision{}, false, false, true, false, false},
		{"false positive", "Qualified", "open", `{"stage":null}`,
			intent.Decision{Stage: "Contact Made", Status: "open"}, true, false, false, true, false},
		{"false negative", "Proposal Made", "open", `{"stage":"Negotiations Started"}`,
			intent.Decision{Status: "open"}, false, true, false, false, true},
		{"wrong move is both", "Contact Made", "open", `{"stage":"Demo Scheduled"}`,
			intent.Decision{Stage: "Proposal Made", Status: "open"}, true, true, false, true, true},
		{"won is a move by status", "Negotiations Started", "open", `{"stage":null,"status":"won"}`,
			intent.Decision{Status: "won"}, true, true, true, false, false},
		{"missed won", "Negotiations Started", "open", `{"stage":null,"status":"won"}`,
			intent.Decision{Status: "open"}, false, true, false, false, true},
		{"closed stays closed", "Negotiations Started", "won", `{"stage":null,"flag":"review"}`,
			intent.Decision{Status: "won", Flag: "review"}, false, false, true, false, false},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cs, err := evalcase.ParseLine([]byte(line("c", i, c.stage, c.status, c.expect)), 1)
			if err != nil {
				t.Fatal(err)
			}
			r := evalcase.Score(cs, c.decision)
			if r.Move != c.move || r.ExpectedMove != c.expMove || r.Correct != c.correct || r.FP != c.fp || r.FN != c.fn {
				t.Errorf("got move=%v expected=%v correct=%v fp=%v fn=%v", r.Move, r.ExpectedMove, r.Correct, r.FP, r.FN)
			}
		})
	}
}

func TestRunReportsMalformedLinesAndGoesOn(t *testing.T) {
	file := strings.Join([]string{
		line("a", 1, "Qualified", "open", `{"stage":"Contact Made"}`),
		`{"id": "broken", "deal": {`,
		``,
		line("b", 2, "Proposal Made", "open", `{"stage":null}`),
		`{"deal":{"id":3},"signals":[],"expect":{"stage":null}}`,
		line("c", 4, "Proposal Made", "open", `{"stage":null,"status":"maybe"}`),
		line("d", 5, "Proposal Made", "open", `{"stage":"Negotiations Started"}`),
	}, "\n")
	engine := fixed{1: {Stage: "Contact Made", Status: "open"}, 2: {Stage: "Negotiations Started", Status: "open"}, 5: {Status: "open"}}
	var bad []*evalcase.LineError
	var ids []string
	sum, err := evalcase.Run(context.Background(), engine, strings.NewReader(file),
		func(r evalcase.Result) { ids = append(ids, r.Case.ID) },
		func(le *evalcase.LineError) { bad = append(bad, le) })
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) != 3 || sum.Errors != 3 {
		t.Fatalf("want 3 malformed lines, got %d (%v)", len(bad), bad)
	}
	for i, want := range []int{2, 5, 6} {
		if bad[i].Line != want || !strings.Contains(bad[i].Error(), "line ") {
			t.Errorf("malformed line %d reported as %q", want, bad[i].Error())
		}
	}
	if strings.Join(ids, ",") != "a,b,d" {
		t.Errorf("the run must go on past malformed lines, got %v", ids)
	}
	// a: correct move; b: FP; d: FN
	if sum.Cases != 3 || sum.Moves != 2 || sum.ExpectedMoves != 2 || sum.FP != 1 || sum.FN != 1 || sum.Correct != 1 {
		t.Errorf("summary %+v", sum)
	}
	want := "eval: 3 cases, 2 moves, FP 1, FN 1, fp_rate 0.500, fn_rate 0.500, accuracy 0.333"
	if sum.Line() != want {
		t.Errorf("summary line %q, want %q", sum.Line(), want)
	}
}

func TestEmptyRates(t *testing.T) {
	var s evalcase.Summary
	if s.FPRate() != 0 || s.FNRate() != 0 || s.Accuracy() != 0 {
		t.Error("rates without moves are 0")
	}
	if s.Line() != "eval: 0 cases, 0 moves, FP 0, FN 0, fp_rate 0.000, fn_rate 0.000, accuracy 0.000" {
		t.Error(s.Line())
	}
}
