package intent_test

import (
	"context"
	"io/fs"
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stagemover/stagemover/shared/core/intent"
	"github.com/stagemover/stagemover/shared/core/signal"
)

// languageFiles is the embedded lexicon (lexicon/*.yaml) plus extra files.
func languageFiles(t *testing.T, extra map[string]string) fstest.MapFS {
	t.Helper()
	dir := os.DirFS("lexicon")
	names, err := fs.Glob(dir, "*.yaml")
	if err != nil || len(names) < 5 {
		t.Fatalf("lexicon files: %v %v", names, err)
	}
	out := fstest.MapFS{}
	for _, n := range names {
		data, err := fs.ReadFile(dir, n)
		if err != nil {
			t.Fatal(err)
		}
		out[n] = &fstest.MapFile{Data: data}
	}
	for n, s := range extra {
		out[n] = &fstest.MapFile{Data: []byte(s)}
	}
	return out
}

func engineWithLanguages(t *testing.T, extra map[string]string) intent.Engine {
	t.Helper()
	lex, err := intent.LoadLexicon(languageFiles(t, extra))
	if err != nil {
		t.Fatal(err)
	}
	rules, err := intent.LoadRulesWithLexicon(intent.DefaultRulesName, intent.DefaultRulesYAML(), lex)
	if err != nil {
		t.Fatal(err)
	}
	return intent.NewEngine(rules)
}

func italianEmail(body string) intent.Input {
	at := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	return intent.Input{Now: at.Add(time.Hour), InternalDomains: []string{"vendor.example"},
		Deal: intent.Deal{ID: 1, Pipeline: "Sales", Stage: "Proposal Made", Status: "open", PersonEmail: "giulia@acquirente.example", OrgDomain: "acquirente.example"},
		Signals: []signal.Signal{{Kind: signal.KindEmail, At: at, From: "giulia@acquirente.example", To: []string{"rep@vendor.example"},
			Subject: "Re: Proposta", Body: "Buongiorno Sam,\n\n" + body}}}
}

// Adding a language is adding a file: an Italian file with one go-ahead
// phrase makes "procediamo" a go-ahead, and its negators make "non
// procediamo" none. No code changes.
func TestAddingALanguageIsAddingAFile(t *testing.T) {
	const italian = `language: it
cues:
  go_ahead:
    - "procediamo|procedere"
`
	yes := italianEmail("procediamo con l'ordine.")
	no := italianEmail("non procediamo con l'ordine.")
	decide := func(e intent.Engine, in intent.Input) intent.Decision {
		d, err := e.Decide(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	five := engineWithLanguages(t, nil)
	if d := decide(five, yes); d.Stage != "" {
		t.Fatalf("without Italian: want no move (a reply at Proposal Made), got %q (%s)", d.Stage, d.Rule)
	}
	six := engineWithLanguages(t, map[string]string{"it.yaml": italian})
	if d := decide(six, yes); d.Stage != "Negotiations Started" || d.Rule != "negotiation-after-proposal" {
		t.Fatalf("with it.yaml: want Negotiations Started by negotiation-after-proposal, got %q (%s) %+v", d.Stage, d.Rule, d.Reasons)
	}
	if d := decide(six, no); d.Stage != "Negotiations Started" {
		t.Fatalf("with it.yaml but no Italian negators: %q reads as a go-ahead, got %q", no.Signals[0].Body, d.Stage)
	}
	seven := engineWithLanguages(t, map[string]string{"it.yaml": italian + "words:\n  negators: [non]\n"})
	if d := decide(seven, no); d.Stage != "" {
		t.Fatalf("with Italian negators: want no move, got %q (%s)", d.Stage, d.Rule)
	}
	if d := decide(seven, yes); d.Stage != "Negotiations Started" {
		t.Fatalf("with Italian negators: the plain go-ahead still counts, got %q", d.Stage)
	}
}

// A broken language file fails to load with file, line and problem.
func TestLanguageFileErrors(t *testing.T) {
	cases := map[string]struct{ file, want string }{
		"unknown list": {"language: xx\nwords:\n  negatorz: [non]\n", "xx.yaml:3: unknown word list \"negatorz\""},
		"two words":    {"language: xx\nwords:\n  negators:\n    - non pas\n", "xx.yaml:4: words.negators: \"non pas\" must be one word"},
		"upper case":   {"language: xx\nwords:\n  reply_prefixes: [\"RE:\"]\n", "xx.yaml:3: words.reply_prefixes: \"RE:\" must be non-empty lower-case text"},
		"unknown cue":  {"language: xx\ncues:\n  refusall: [\"no\"]\n", "xx.yaml:3: unknown text cue \"refusall\""},
		"bad phrase":   {"language: xx\ncues:\n  refusal:\n    - \"..2 nope\"\n", "xx.yaml:4: phrase \"..2 nope\" for refusal: a phrase must start with a word"},
		"bad macro":    {"language: xx\nmacros:\n  day: [\"lundi matin\"]\n", "xx.yaml:3: macro day: macro word \"lundi matin\" must be one word"},
		"wrong name":   {"language: yy\n", "xx.yaml:1: language \"yy\" does not match the file name xx.yaml"},
		"no language":  {"words: {}\n", "xx.yaml:1: language: xx is required"},
		"unknown key":  {"language: xx\nphrases: {}\n", "xx.yaml:2: unknown key \"phrases\" in a language file"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := intent.LoadLexicon(languageFiles(t, map[string]string{"xx.yaml": c.file}))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("want an error containing %q, got %v", c.want, err)
			}
		})
	}
	_, err := intent.LoadLexicon(languageFiles(t, map[string]string{"languages.yaml": "order: [en, zz]\n"}))
	if err == nil || !strings.Contains(err.Error(), "languages.yaml:1: language \"zz\" has no file zz.yaml") {
		t.Errorf("languages.yaml naming a missing file: got %v", err)
	}
}
