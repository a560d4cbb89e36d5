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

// lexiconError is the error loading the lexicon with extra files ("": none).
func lexiconError(t *testing.T, extra map[string]string) string {
	t.Helper()
	if _, err := intent.LoadLexicon(languageFiles(t, extra)); err != nil {
		return err.Error()
	}
	return ""
}

// A broken language file fails to load, every problem named with its file
// and line.
func TestLanguageFileErrors(t *testing.T) {
	got := lexiconError(t, map[string]string{
		"xx.yaml": `language: xx
phrases: {}
words:
  negatorz: [non]
  negators:
    - non pas
  reply_prefixes: ["RE:"]
macros:
  day: ["lundi matin"]
cues:
  refusall: ["no"]
  refusal:
    - "..2 nope"
`,
		"yy.yaml": "language: zz\n",
		"ww.yaml": "words: {}\n",
	})
	mustMention := func(want string) {
		t.Helper()
		if !strings.Contains(got, want) {
			t.Errorf("error lacks %q:\n%s", want, got)
		}
	}
	mustMention(`xx.yaml:2: unknown key "phrases" in a language file`)
	mustMention(`xx.yaml:4: unknown word list "negatorz"`)
	mustMention(`xx.yaml:6: words.negators: "non pas" must be one word`)
	mustMention(`xx.yaml:7: words.reply_prefixes: "RE:" must be non-empty lower-case text`)
	mustMention(`xx.yaml:9: macro day: macro word "lundi matin" must be one word`)
	mustMention(`xx.yaml:11: unknown text cue "refusall"`)
	mustMention(`xx.yaml:13: phrase "..2 nope" for refusal: a phrase must start with a word`)
	mustMention(`yy.yaml:1: language "zz" does not match the file name yy.yaml`)
	mustMention(`ww.yaml:1: language: ww is required`)
	if got := lexiconError(t, map[string]string{"languages.yaml": "order: [en, zz]\n"}); !strings.Contains(got, `languages.yaml:1: language "zz" has no file zz.yaml`) {
		t.Errorf("languages.yaml naming a missing file: got %q", got)
	}
}
