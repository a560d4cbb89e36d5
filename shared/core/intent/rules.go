package intent

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// DefaultRulesName is how errors and explanations name the embedded rules.
const DefaultRulesName = "rules/default.yaml"

//go:embed rules/default.yaml
var defaultRulesYAML []byte

//go:embed lexicon/*.yaml
var lexiconFiles embed.FS

// StageRequested is the stage of a rule that moves to the stage an explicit
// stage_request names.
const StageRequested = "(requested)"

// Rule maps cues to an outcome.
type Rule struct {
	ID          string
	Description string
	When        []string // cue names
	Stage       string   // stage name, StageRequested, or ""
	Status      string   // "won" or ""
	Flag        string   // follow_up, review or ""
	// After gates the rule: it applies only when the deal is at or past this
	// stage (or other evidence shows it); otherwise Otherwise applies.
	After     string
	Otherwise string
	Line      int

	stageLine, afterLine, otherwiseLine int
}

// Pipeline is one pipeline's stage order and rules.
type Pipeline struct {
	Name       string
	Stages     []string
	Rules      []*Rule
	Thresholds Thresholds
	rank       map[string]int
	byCue      map[string]*Rule
}

// Rank returns the position of stage in the pipeline, or -1.
func (p *Pipeline) Rank(stage string) int {
	if r, ok := p.rank[strings.ToLower(strings.TrimSpace(stage))]; ok {
		return r
	}
	return -1
}

// RuleFor returns the rule mapping cue, or nil.
func (p *Pipeline) RuleFor(cue string) *Rule { return p.byCue[cue] }

// Rules is a validated, compiled rules file.
type Rules struct {
	Source          string
	Thresholds      Thresholds
	FreemailDomains map[string]bool
	Pipelines       []*Pipeline
	byName          map[string]*Pipeline
	lex             *Lexicon
}

// Pipeline returns the pipeline named name, else the "*" pipeline, else nil.
func (r *Rules) Pipeline(name string) *Pipeline {
	if p, ok := r.byName[strings.ToLower(strings.TrimSpace(name))]; ok {
		return p
	}
	return r.byName["*"]
}

var (
	baseLexOnce sync.Once
	baseLex     *Lexicon
	baseLexErr  error

	defaultOnce  sync.Once
	defaultRules *Rules
)

func baseLexicon() (*Lexicon, error) {
	baseLexOnce.Do(func() {
		sub, err := fs.Sub(lexiconFiles, "lexicon")
		if err != nil {
			baseLexErr = err
			return
		}
		baseLex, baseLexErr = loadLexicon(sub, "lexicon/")
	})
	return baseLex, baseLexErr
}

// DefaultRules returns the embedded default rules. They are validated by
// the package tests; a broken embedded file panics.
func DefaultRules() *Rules {
	defaultOnce.Do(func() {
		r, err := LoadRules(DefaultRulesName, defaultRulesYAML)
		if err != nil {
			panic(err)
		}
		defaultRules = r
	})
	return defaultRules
}

// DefaultRulesYAML returns the embedded default rules file, a starting
// point for a custom one.
func DefaultRulesYAML() []byte { return append([]byte(nil), defaultRulesYAML...) }

// LoadRulesFile reads and validates a rules file.
func LoadRulesFile(path string) (*Rules, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return LoadRules(path, data)
}

// NewDefaultEngine returns the engine with the rules file at path, or the
// embedded default rules when path is "". The CLI's eval command and the
// evaluator Lambda both build their engine here.
func NewDefaultEngine(path string) (Engine, error) {
	if path == "" {
		return NewEngine(DefaultRules()), nil
	}
	r, err := LoadRulesFile(path)
	if err != nil {
		return nil, err
	}
	return NewEngine(r), nil
}

// LoadRules parses and validates a rules file. name is used in errors,
// which read "name:line: problem", one per line.
func LoadRules(name string, data []byte) (*Rules, error) {
	base, err := baseLexicon()
	if err != nil {
		return nil, err
	}
	return LoadRulesWithLexicon(name, data, base)
}

// LoadRulesWithLexicon is [LoadRules] with another lexicon than the embedded
// one (see [LoadLexicon]).
func LoadRulesWithLexicon(name string, data []byte, base *Lexicon) (*Rules, error) {
	e := &loadErrors{name: name}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s:1: empty rules file", name)
	}
	root := doc.Content[0]
	top := e.fields(root, "the rules file", "version", "description", "thresholds", "freemail_domains", "phrases", "pipelines")
	r := &Rules{Source: name, Thresholds: builtinThresholds, FreemailDomains: map[string]bool{}, byName: map[string]*Pipeline{}}

	if v, ok := top["version"]; ok {
		if x, ok := e.integer(v, "version", 1, 1); ok {
			_ = x
		}
	}
	if v, ok := top["thresholds"]; ok {
		e.thresholds(v, &r.Thresholds, "thresholds")
	}
	if v, ok := top["freemail_domains"]; ok {
		for _, d := range e.strs(v, "freemail_domains") {
			r.FreemailDomains[strings.ToLower(strings.TrimSpace(d))] = true
		}
	}
	r.lex = base
	if v, ok := top["phrases"]; ok {
		r.lex = base.clone()
		if v.Kind != yaml.MappingNode {
			e.add(v.Line, "phrases must map cue names to lists of phrases")
		} else {
			for i := 0; i+1 < len(v.Content); i += 2 {
				k, list := v.Content[i], v.Content[i+1]
				info, known := cueTable[k.Value]
				if !known || !info.text {
					e.add(k.Line, "phrases: unknown text cue %q (text cues: %s)", k.Value, strings.Join(textCueNames(), ", "))
					continue
				}
				if list.Kind != yaml.SequenceNode {
					e.add(list.Line, "phrases.%s must be a list of phrases", k.Value)
					continue
				}
				for _, pn := range list.Content {
					if err := r.lex.add(k.Value, pn.Value, fmt.Sprintf("%s:%d", name, pn.Line)); err != nil {
						e.add(pn.Line, "phrase %q for %s: %v", pn.Value, k.Value, err)
					}
				}
			}
		}
	}

	pv, ok := top["pipelines"]
	if !ok {
		e.add(root.Line, "pipelines is required")
		return nil, e.err()
	}
	if pv.Kind != yaml.SequenceNode || len(pv.Content) == 0 {
		e.add(pv.Line, "pipelines must be a non-empty list")
		return nil, e.err()
	}
	type pending struct {
		p    *Pipeline
		from string
		line int
		n    *yaml.Node
	}
	var all []pending
	for _, pn := range pv.Content {
		f := e.fields(pn, "a pipeline", "name", "stages", "rules", "rules_from", "thresholds")
		p := &Pipeline{Thresholds: r.Thresholds, rank: map[string]int{}, byCue: map[string]*Rule{}}
		if v, ok := f["name"]; ok {
			p.Name = strings.TrimSpace(e.str(v, "pipeline name"))
		}
		if p.Name == "" {
			e.add(pn.Line, "a pipeline needs a name (\"*\" for the default)")
			continue
		}
		key := strings.ToLower(p.Name)
		if _, dup := r.byName[key]; dup {
			e.add(pn.Line, "pipeline %q is defined twice", p.Name)
			continue
		}
		if v, ok := f["thresholds"]; ok {
			e.thresholds(v, &p.Thresholds, "pipeline "+p.Name+" thresholds")
		}
		sv, ok := f["stages"]
		if !ok {
			e.add(pn.Line, "pipeline %q needs its stages in order", p.Name)
			continue
		}
		for i, s := range e.strs(sv, "stages") {
			s = strings.TrimSpace(s)
			line := sv.Line
			if i < len(sv.Content) {
				line = sv.Content[i].Line
			}
			if s == "" {
				e.add(line, "pipeline %q: empty stage name", p.Name)
				continue
			}
			if _, dup := p.rank[strings.ToLower(s)]; dup {
				e.add(line, "pipeline %q: stage %q listed twice", p.Name, s)
				continue
			}
			p.rank[strings.ToLower(s)] = len(p.Stages)
			p.Stages = append(p.Stages, s)
		}
		r.byName[key] = p
		r.Pipelines = append(r.Pipelines, p)
		pd := pending{p: p, line: pn.Line}
		rv, hasRules := f["rules"]
		fv, hasFrom := f["rules_from"]
		switch {
		case hasRules && hasFrom:
			e.add(fv.Line, "pipeline %q: use rules or rules_from, not both", p.Name)
		case hasFrom:
			pd.from = e.str(fv, "rules_from")
			pd.line = fv.Line
		case hasRules:
			pd.n = rv
		default:
			e.add(pn.Line, "pipeline %q needs rules (or rules_from: another pipeline)", p.Name)
		}
		all = append(all, pd)
	}
	// own rules first, then inherited ones
	for _, pd := range all {
		if pd.n != nil {
			e.rules(pd.n, pd.p, nil)
		}
	}
	for _, pd := range all {
		if pd.from == "" {
			continue
		}
		src, ok := r.byName[strings.ToLower(pd.from)]
		if !ok {
			e.add(pd.line, "pipeline %q: rules_from names unknown pipeline %q", pd.p.Name, pd.from)
			continue
		}
		if src == pd.p {
			e.add(pd.line, "pipeline %q: rules_from names itself", pd.p.Name)
			continue
		}
		e.rules(nil, pd.p, src.Rules)
	}
	if err := e.err(); err != nil {
		return nil, err
	}
	return r, nil
}

var ruleKeys = []string{"id", "description", "when", "stage", "status", "flag", "after", "otherwise"}

// rules parses the rules of p from n, or validates inherited rules against
// p's stages.
func (e *loadErrors) rules(n *yaml.Node, p *Pipeline, inherited []*Rule) {
	var list []*Rule
	if n != nil {
		if n.Kind != yaml.SequenceNode {
			e.add(n.Line, "pipeline %q: rules must be a list", p.Name)
			return
		}
		for _, rn := range n.Content {
			f := e.fields(rn, "a rule", ruleKeys...)
			ru := &Rule{Line: rn.Line}
			if v, ok := f["id"]; ok {
				ru.ID = strings.TrimSpace(e.str(v, "rule id"))
			}
			if v, ok := f["description"]; ok {
				ru.Description = e.str(v, "rule description")
			}
			if v, ok := f["when"]; ok {
				for i, c := range e.strs(v, "rule when") {
					line := v.Line
					if i < len(v.Content) {
						line = v.Content[i].Line
					}
					info, known := cueTable[c]
					if !known || !info.mappable {
						e.add(line, "rule %q: unknown cue %q (cues: %s)", ru.ID, c, strings.Join(mappableCues(), ", "))
						continue
					}
					ru.When = append(ru.When, c)
				}
			}
			if v, ok := f["stage"]; ok {
				ru.Stage = strings.TrimSpace(e.str(v, "rule stage"))
				ru.stageLine = v.Line
			}
			if v, ok := f["status"]; ok {
				if x, ok := e.oneOf(v, "rule status", "won"); ok {
					ru.Status = x
				}
			}
			if v, ok := f["flag"]; ok {
				if x, ok := e.oneOf(v, "rule flag", FlagFollowUp, FlagReview); ok {
					ru.Flag = x
				}
			}
			if v, ok := f["after"]; ok {
				ru.After = strings.TrimSpace(e.str(v, "rule after"))
				ru.afterLine = v.Line
			}
			if v, ok := f["otherwise"]; ok {
				ru.Otherwise = strings.TrimSpace(e.str(v, "rule otherwise"))
				ru.otherwiseLine = v.Line
			}
			if ru.ID == "" {
				e.add(rn.Line, "a rule needs an id")
				continue
			}
			if _, ok := f["when"]; !ok {
				e.add(rn.Line, "rule %q needs when: a list of cues", ru.ID)
			}
			if ru.Stage == "" && ru.Status == "" && ru.Flag == "" {
				e.add(rn.Line, "rule %q needs a stage, a status (won) or a flag", ru.ID)
			}
			if ru.Stage != "" && ru.Status != "" {
				e.add(rn.Line, "rule %q: a rule sets a stage or the won status, not both", ru.ID)
			}
			if ru.Otherwise != "" && ru.After == "" {
				e.add(rn.Line, "rule %q: otherwise needs after", ru.ID)
			}
			list = append(list, ru)
		}
	} else {
		list = inherited
	}
	ids := map[string]int{}
	for _, ru := range list {
		if prev, dup := ids[ru.ID]; dup {
			e.add(ru.Line, "pipeline %q: duplicate rule id %q (first at line %d)", p.Name, ru.ID, prev)
			continue
		}
		ids[ru.ID] = ru.Line
		from := ""
		if n == nil {
			from = " (inherited through rules_from)"
		}
		checkStage := func(s, what string, line int) {
			if line == 0 {
				line = ru.Line
			}
			if s != "" && p.Rank(s) < 0 {
				e.add(line, "rule %q%s: %s %q is not a stage of pipeline %q (stages: %s)", ru.ID, from, what, s, p.Name, strings.Join(p.Stages, ", "))
			}
		}
		if ru.Stage == StageRequested {
			if len(ru.When) != 1 || ru.When[0] != CueStageRequest {
				e.add(ru.Line, "rule %q: stage %s only goes with when: [stage_request]", ru.ID, StageRequested)
			}
		} else {
			checkStage(ru.Stage, "stage", ru.stageLine)
			if len(ru.When) == 1 && ru.When[0] == CueStageRequest && ru.Stage != "" {
				e.add(ru.Line, "rule %q: stage_request moves to the requested stage: use stage: %s", ru.ID, StageRequested)
			}
		}
		checkStage(ru.After, "after", ru.afterLine)
		checkStage(ru.Otherwise, "otherwise", ru.otherwiseLine)
		for _, c := range ru.When {
			if prev, dup := p.byCue[c]; dup {
				e.add(ru.Line, "rule %q: cue %q is already mapped by rule %q (line %d)", ru.ID, c, prev.ID, prev.Line)
				continue
			}
			p.byCue[c] = ru
		}
		p.Rules = append(p.Rules, ru)
	}
}

// cueNames lists, sorted, the cues whose info passes keep.
func cueNames(keep func(cueInfo) bool) []string {
	var out []string
	for k, v := range cueTable {
		if keep(v) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func textCueNames() []string { return cueNames(func(c cueInfo) bool { return c.text }) }

func mappableCues() []string { return cueNames(func(c cueInfo) bool { return c.mappable }) }
