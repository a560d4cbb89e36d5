// Package evalcase reads intent evaluation cases (JSON Lines, one case per
// line, as FORMAT.md beside this file defines), runs an engine on them and
// scores the decisions exactly as the contract says.
package evalcase

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/stagemover/stagemover/shared/core/intent"
	"github.com/stagemover/stagemover/shared/core/signal"
)

// Expect is the labelled outcome. Stage nil: leave the stage alone. Status
// "": the deal's current status.
type Expect struct {
	Stage  *string `json:"stage"`
	Status string  `json:"status,omitempty"`
	Flag   string  `json:"flag,omitempty"`
}

// Case is one evaluation case.
type Case struct {
	ID              string          `json:"id"`
	Now             time.Time       `json:"now"`
	Deal            intent.Deal     `json:"deal"`
	InternalDomains []string        `json:"internal_domains"`
	Signals         []signal.Signal `json:"signals"`
	Expect          Expect          `json:"expect"`

	Line int `json:"-"` // line number in the case file
}

// Input is what the engine decides from.
func (c *Case) Input() intent.Input {
	return intent.Input{Now: c.Now, Deal: c.Deal, InternalDomains: c.InternalDomains, Signals: c.Signals}
}

// LineError is a malformed line.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

// rawCase keeps presence information the typed case loses.
type rawCase struct {
	ID      *string          `json:"id"`
	Deal    *json.RawMessage `json:"deal"`
	Signals *json.RawMessage `json:"signals"`
	Expect  *struct {
		Stage  *string `json:"stage"`
		Status *string `json:"status"`
	} `json:"expect"`
}

var statuses = map[string]bool{"open": true, "won": true, "lost": true}

// ParseLine parses one line (trimmed of spaces). An empty line is (nil, nil).
func ParseLine(line []byte, n int) (*Case, error) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return nil, nil
	}
	var raw rawCase
	if err := json.Unmarshal(line, &raw); err != nil {
		return nil, &LineError{n, fmt.Errorf("not a JSON case: %v", err)}
	}
	switch {
	case raw.ID == nil || strings.TrimSpace(*raw.ID) == "":
		return nil, &LineError{n, errors.New("id is missing")}
	case raw.Deal == nil:
		return nil, &LineError{n, fmt.Errorf("case %s: deal is missing", *raw.ID)}
	case raw.Signals == nil:
		return nil, &LineError{n, fmt.Errorf("case %s: signals is missing", *raw.ID)}
	case raw.Expect == nil:
		return nil, &LineError{n, fmt.Errorf("case %s: expect is missing", *raw.ID)}
	}
	if raw.Expect.Status != nil && !statuses[*raw.Expect.Status] {
		return nil, &LineError{n, fmt.Errorf("case %s: expect.status %q is not open, won or lost", *raw.ID, *raw.Expect.Status)}
	}
	var c Case
	if err := json.Unmarshal(line, &c); err != nil {
		return nil, &LineError{n, fmt.Errorf("case %s: %v", *raw.ID, err)}
	}
	if c.Deal.Status != "" && !statuses[c.Deal.Status] {
		return nil, &LineError{n, fmt.Errorf("case %s: deal.status %q is not open, won or lost", c.ID, c.Deal.Status)}
	}
	c.Line = n
	return &c, nil
}

// Pair is a (stage, status) decision or expectation; Stage "" is null.
type Pair struct {
	Stage  string
	Status string
}

func (p Pair) String() string {
	s := p.Stage
	if s == "" {
		s = "-"
	}
	return fmt.Sprintf("(%s, %s)", s, p.Status)
}

// Result is one scored case.
type Result struct {
	Case         *Case
	Decision     intent.Decision
	Got, Want    Pair
	Move         bool // the decision changes something
	ExpectedMove bool // the expectation changes something
	Correct      bool
	FP, FN       bool
}

// Mark is OK, FP, FN, "FP FN" or "miss" (wrong but neither a move nor an
// expected move, which cannot happen with (stage, status) pairs).
func (r *Result) Mark() string {
	switch {
	case r.Correct:
		return "OK"
	case r.FP && r.FN:
		return "FP+FN"
	case r.FP:
		return "FP"
	case r.FN:
		return "FN"
	}
	return "MISS"
}

func currentStatus(c *Case) string {
	if c.Deal.Status != "" {
		return c.Deal.Status
	}
	return "open"
}

// Score compares a decision with the case's expectation.
func Score(c *Case, d intent.Decision) Result {
	cur := currentStatus(c)
	got := Pair{Stage: d.Stage, Status: d.Status}
	if got.Status == "" {
		got.Status = cur
	}
	want := Pair{Status: c.Expect.Status}
	if c.Expect.Stage != nil {
		want.Stage = *c.Expect.Stage
	}
	if want.Status == "" {
		want.Status = cur
	}
	r := Result{Case: c, Decision: d, Got: got, Want: want}
	r.Move = got.Stage != "" || got.Status != cur
	r.ExpectedMove = want.Stage != "" || want.Status != cur
	r.Correct = strings.EqualFold(strings.TrimSpace(got.Stage), strings.TrimSpace(want.Stage)) && got.Status == want.Status
	r.FP = r.Move && !r.Correct
	r.FN = r.ExpectedMove && !r.Correct
	return r
}

// Summary is the score of a run.
type Summary struct {
	Cases, Moves, ExpectedMoves, FP, FN, Correct, Errors int
}

// Add counts one result.
func (s *Summary) Add(r Result) {
	s.Cases++
	if r.Move {
		s.Moves++
	}
	if r.ExpectedMove {
		s.ExpectedMoves++
	}
	if r.FP {
		s.FP++
	}
	if r.FN {
		s.FN++
	}
	if r.Correct {
		s.Correct++
	}
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// FPRate is FP / moves (0 without moves).
func (s Summary) FPRate() float64 { return ratio(s.FP, s.Moves) }

// FNRate is FN / expected moves (0 without expected moves).
func (s Summary) FNRate() float64 { return ratio(s.FN, s.ExpectedMoves) }

// Accuracy is correct cases / cases.
func (s Summary) Accuracy() float64 { return ratio(s.Correct, s.Cases) }

// Line is the contract's summary line.
func (s Summary) Line() string {
	return fmt.Sprintf("eval: %d cases, %d moves, FP %d, FN %d, fp_rate %.3f, fn_rate %.3f, accuracy %.3f",
		s.Cases, s.Moves, s.FP, s.FN, s.FPRate(), s.FNRate(), s.Accuracy())
}

// Run reads cases from r, decides each with engine and calls each for
// every result and onError for every malformed line, in file order. It
// returns the summary (Errors counts malformed lines); a read error or a
// context cancellation stops it.
func Run(ctx context.Context, engine intent.Engine, r io.Reader, each func(Result), onError func(*LineError)) (Summary, error) {
	var sum Summary
	sc := bufio.NewReader(r)
	n := 0
	for {
		line, err := sc.ReadBytes('\n')
		if len(line) > 0 {
			n++
			c, perr := ParseLine(line, n)
			if perr != nil {
				sum.Errors++
				var le *LineError
				if !errors.As(perr, &le) {
					le = &LineError{n, perr}
				}
				if onError != nil {
					onError(le)
				}
			} else if c != nil {
				d, derr := engine.Decide(ctx, c.Input())
				if derr != nil {
					if ctx.Err() != nil {
						return sum, ctx.Err()
					}
					sum.Errors++
					if onError != nil {
						onError(&LineError{n, fmt.Errorf("case %s: engine: %v", c.ID, derr)})
					}
				} else {
					res := Score(c, d)
					sum.Add(res)
					if each != nil {
						each(res)
					}
				}
			}
		}
		if err == io.EOF {
			return sum, nil
		}
		if err != nil {
			return sum, err
		}
	}
}
