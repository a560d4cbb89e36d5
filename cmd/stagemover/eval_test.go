package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var summaryRe = regexp.MustCompile(`^eval: \d+ cases, \d+ moves, FP \d+, FN \d+, fp_rate \d\.\d{3}, fn_rate \d\.\d{3}, accuracy \d\.\d{3}$`)

const evalCases = `{"id":"t-1","now":"2026-03-10T12:00:00Z","deal":{"id":1,"pipeline":"Sales","stage":"Qualified","status":"open","person_email":"jane@acme.example","org_domain":"acme.example"},"internal_domains":["vendor.example"],"signals":[{"kind":"email","at":"2026-03-09T10:00:00Z","from":"jane@acme.example","to":["rep@vendor.example"],"subject":"Re: hello","body":"Hi, yes this is relevant for us. How does onboarding work?","headers":{}}],"expect":{"stage":"Contact Made","status":"open"}}
this is not json
{"id":"t-2","now":"2026-03-10T12:00:00Z","deal":{"id":2,"pipeline":"Sales","stage":"Proposal Made","status":"open","person_email":"jane@acme.example","org_domain":"acme.example"},"internal_domains":["vendor.example"],"signals":[{"kind":"email","at":"2026-03-09T10:00:00Z","from":"jane@acme.example","to":["rep@vendor.example"],"subject":"Re: proposal","body":"Thanks, we'll review it internally and get back to you.","headers":{}}],"expect":{"stage":null,"flag":"follow_up"}}
`

func writeCases(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "cases.jsonl")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func TestEvalText(t *testing.T) {
	var out, errb bytes.Buffer
	code := runEval(context.Background(), []string{"--cases", writeCases(t, evalCases)}, &out, &errb)
	if code != 1 {
		t.Errorf("a malformed line must make the exit status non-zero, got %d", code)
	}
	if !strings.Contains(errb.String(), "line 2") {
		t.Errorf("the malformed line must be reported with its number: %q", errb.String())
	}
	last := lastLine(out.String())
	if !summaryRe.MatchString(last) {
		t.Errorf("last line %q does not match the contract", last)
	}
	if last != "eval: 2 cases, 1 moves, FP 0, FN 0, fp_rate 0.000, fn_rate 0.000, accuracy 1.000" {
		t.Errorf("unexpected summary %q", last)
	}
	if !strings.Contains(out.String(), "t-1") || !strings.Contains(out.String(), "t-2") {
		t.Errorf("one line per case expected:\n%s", out.String())
	}
}

func TestEvalJSON(t *testing.T) {
	good := strings.Replace(evalCases, "this is not json\n", "", 1)
	var out, errb bytes.Buffer
	code := runEval(context.Background(), []string{"--cases", writeCases(t, good), "--json"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	if len(lines) != 3 || !summaryRe.MatchString(lines[2]) {
		t.Fatalf("want 2 JSON lines and the summary, got:\n%s", out.String())
	}
	for _, l := range lines[:2] {
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		for _, k := range []string{"id", "decision", "reasons", "expect", "correct"} {
			if _, ok := m[k]; !ok {
				t.Errorf("missing %q in %s", k, l)
			}
		}
		var d struct {
			Stage  *string `json:"stage"`
			Status string  `json:"status"`
			Flag   *string `json:"flag"`
		}
		if err := json.Unmarshal(m["decision"], &d); err != nil || d.Status == "" {
			t.Errorf("decision must carry stage (name or null), status and flag (string or null): %s", m["decision"])
		}
		if !strings.Contains(string(m["decision"]), `"stage":`) || !strings.Contains(string(m["decision"]), `"flag":`) {
			t.Errorf("stage and flag must be present even when null: %s", m["decision"])
		}
	}
	var first struct {
		Decision struct{ Stage *string } `json:"decision"`
		Reasons  []map[string]any        `json:"reasons"`
	}
	_ = json.Unmarshal([]byte(lines[0]), &first)
	if first.Decision.Stage == nil || *first.Decision.Stage != "Contact Made" || len(first.Reasons) == 0 {
		t.Errorf("first case: %s", lines[0])
	}
}

func TestEvalUsageAndRules(t *testing.T) {
	var out, errb bytes.Buffer
	if code := runEval(context.Background(), nil, &out, &errb); code != 2 {
		t.Errorf("missing --cases: exit %d", code)
	}
	bad := filepath.Join(t.TempDir(), "rules.yaml")
	_ = os.WriteFile(bad, []byte("pipelines:\n  - name: x\n    stagez: []\n"), 0o644)
	errb.Reset()
	if code := runEval(context.Background(), []string{"--cases", writeCases(t, evalCases), "--rules", bad}, &out, &errb); code != 2 {
		t.Errorf("bad rules: exit %d", code)
	}
	if !strings.Contains(errb.String(), "rules.yaml:3:") {
		t.Errorf("rules errors must name file and line: %q", errb.String())
	}
}

// The development set (copied into the intent package's testdata) meets
// the targets through the command.
func TestEvalDevCases(t *testing.T) {
	p := filepath.Join("..", "..", "shared", "core", "intent", "testdata", "cases-dev.jsonl")
	var out, errb bytes.Buffer
	if code := runEval(context.Background(), []string{"--cases", p}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	last := lastLine(out.String())
	var fp, fn float64
	m := regexp.MustCompile(`fp_rate (\d\.\d+), fn_rate (\d\.\d+)`).FindStringSubmatch(last)
	if m == nil {
		t.Fatalf("summary %q", last)
	}
	_, _ = json.Unmarshal([]byte(m[1]), &fp), json.Unmarshal([]byte(m[2]), &fn)
	if fp > 0.05 || fn > 0.10 {
		t.Errorf("dev set misses the targets: %s", last)
	}
}
