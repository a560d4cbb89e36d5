package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/stagemover/stagemover/shared/core/evalcase"
	"github.com/stagemover/stagemover/shared/core/intent"
)

func init() {
	commands["eval"] = command{"evaluate the intent engine on a case file (--cases FILE [--json] [--rules FILE])", runEval}
}

// evalJSON is one per-case line of `eval --json`.
type evalJSON struct {
	ID       string          `json:"id"`
	Line     int             `json:"line"`
	Decision evalPair        `json:"decision"`
	Expect   evalPair        `json:"expect"`
	Correct  bool            `json:"correct"`
	Move     bool            `json:"move"`
	Expected bool            `json:"expected_move"`
	Mark     string          `json:"mark"`
	Rule     string          `json:"rule,omitempty"`
	Reasons  []intent.Reason `json:"reasons"`
}

type evalPair struct {
	Stage  *string `json:"stage"`
	Status string  `json:"status"`
	Flag   *string `json:"flag"`
}

func strOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// runEval implements `stagemover eval --cases FILE [--json] [--rules FILE]`:
// it decides every case with the engine the evaluator uses (the embedded
// default rules unless --rules names a file), prints one line per case and
// the summary, whose last line is the contract's `eval: ...` line. Exit
// status: 0, 1 when a line was malformed, 2 on bad usage or rules.
func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cases := fs.String("cases", "", "case file (JSON Lines, see FORMAT.md); - reads stdin")
	asJSON := fs.Bool("json", false, "print one JSON object per case")
	rulesPath := fs.String("rules", "", "rules file (default: the embedded default rules)")
	reasons := fs.Int("reasons", 3, "counted reasons shown per case in the text output")
	setUsage(fs, "stagemover eval --cases FILE [--json] [--rules FILE] [--reasons N]")
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if *cases == "" || fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	engine, err := intent.NewDefaultEngine(*rulesPath)
	if err != nil {
		fmt.Fprintf(stderr, "stagemover eval: rules: %v\n", err)
		return 2
	}
	var in io.Reader
	if *cases == "-" {
		in = os.Stdin
	} else {
		f, err := os.Open(*cases)
		if err != nil {
			fmt.Fprintf(stderr, "stagemover eval: %v\n", err)
			return 2
		}
		defer f.Close()
		in = f
	}

	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	each := func(r evalcase.Result) {
		if *asJSON {
			out := evalJSON{
				ID:       r.Case.ID,
				Line:     r.Case.Line,
				Decision: evalPair{Stage: strOrNil(r.Got.Stage), Status: r.Got.Status, Flag: strOrNil(r.Decision.Flag)},
				Expect:   evalPair{Stage: strOrNil(r.Want.Stage), Status: r.Want.Status, Flag: strOrNil(r.Case.Expect.Flag)},
				Correct:  r.Correct,
				Move:     r.Move,
				Expected: r.ExpectedMove,
				Mark:     r.Mark(),
				Rule:     r.Decision.Rule,
				Reasons:  r.Decision.Reasons,
			}
			if out.Reasons == nil {
				out.Reasons = []intent.Reason{}
			}
			_ = enc.Encode(out)
			return
		}
		fmt.Fprintln(stdout, textLine(r, *reasons))
	}
	bad := 0
	onError := func(le *evalcase.LineError) {
		bad++
		fmt.Fprintf(stderr, "eval: %s: %v\n", *cases, le)
	}
	sum, err := evalcase.Run(ctx, engine, in, each, onError)
	if err != nil {
		fmt.Fprintf(stderr, "stagemover eval: %v\n", err)
		fmt.Fprintln(stdout, sum.Line())
		return 1
	}
	if bad > 0 {
		fmt.Fprintf(stdout, "eval: %d malformed line(s) skipped (see stderr)\n", bad)
	}
	fmt.Fprintln(stdout, sum.Line())
	if bad > 0 {
		return 1
	}
	return 0
}

// textLine is the human-readable per-case line.
func textLine(r evalcase.Result, maxReasons int) string {
	var b strings.Builder
	flag := r.Decision.Flag
	if flag == "" {
		flag = "-"
	}
	wantFlag := r.Case.Expect.Flag
	if wantFlag == "" {
		wantFlag = "-"
	}
	fmt.Fprintf(&b, "%-5s %s  got %s flag=%s  want %s flag=%s", r.Mark(), r.Case.ID, r.Got, flag, r.Want, wantFlag)
	if r.Decision.Rule != "" {
		fmt.Fprintf(&b, "  rule=%s", r.Decision.Rule)
	}
	// counted evidence first; without any, what was discounted and why
	shown := 0
	for pass := 0; pass < 2 && shown == 0; pass++ {
		for _, rs := range r.Decision.Reasons {
			if shown >= maxReasons {
				break
			}
			if (pass == 0) != (rs.Counted || rs.Kind == "policy") {
				continue
			}
			shown++
			ex := rs.Excerpt
			if len(ex) > 80 {
				ex = ex[:77] + "..."
			}
			fmt.Fprintf(&b, "\n        #%d %s %s: %q", rs.Signal, rs.Kind, rs.Cue, ex)
			if !rs.Counted && rs.Note != "" {
				fmt.Fprintf(&b, " (not counted: %s)", rs.Note)
			}
		}
	}
	return b.String()
}
