package intent_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stagemover/stagemover/shared/core/evalcase"
	"github.com/stagemover/stagemover/shared/core/intent"
)

// devCases is the product owner's development set, copied into testdata
// (testdata/SOURCE.md says from where).
const devCases = "testdata/cases-dev.jsonl"

func runCases(t *testing.T, path string, opts ...intent.Option) evalcase.Summary {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	engine := intent.NewEngine(intent.DefaultRules(), opts...)
	sum, err := evalcase.Run(context.Background(), engine, f, func(r evalcase.Result) {
		if !r.Correct {
			t.Logf("%s %s: got %s want %s (rule %s)", r.Mark(), r.Case.ID, r.Got, r.Want, r.Decision.Rule)
		}
	}, func(le *evalcase.LineError) { t.Errorf("%s: %v", path, le) })
	if err != nil {
		t.Fatal(err)
	}
	t.Log(sum.Line())
	return sum
}

func assertTargets(t *testing.T, sum evalcase.Summary) {
	t.Helper()
	if sum.Cases == 0 {
		t.Fatal("no cases")
	}
	if sum.FPRate() > 0.05 {
		t.Errorf("fp_rate %.3f > 0.05 (%s)", sum.FPRate(), sum.Line())
	}
	if sum.FNRate() > 0.10 {
		t.Errorf("fn_rate %.3f > 0.10 (%s)", sum.FNRate(), sum.Line())
	}
}

func TestDevCases(t *testing.T) {
	assertTargets(t, runCases(t, devCases))
}

// The mail reader's second, conservative pass (quote and signature
// stripping, machine mail) must hold even when its first pass passes the text through.
func TestDevCasesWithPassThroughMailReader(t *testing.T) {
	path := devCases
	assertTargets(t, runCases(t, path, passThroughMail))
}

// Cases written for this package (other companies, phrasings and
// languages, including Dutch) check that the cues generalise.
func extraFiles(t *testing.T) []string {
	files, err := filepath.Glob(filepath.Join("testdata", "cases-extra*.jsonl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no extra cases in testdata: %v", err)
	}
	return files
}

func TestExtraCases(t *testing.T) {
	for _, f := range extraFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) { assertTargets(t, runCases(t, f)) })
	}
}

func TestExtraCasesWithPassThroughMailReader(t *testing.T) {
	for _, f := range extraFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) { assertTargets(t, runCases(t, f, passThroughMail)) })
	}
}
