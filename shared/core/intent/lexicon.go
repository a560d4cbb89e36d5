package intent

import (
	"fmt"
	"strconv"
	"strings"
)

// Cue phrases are written in a small token pattern language (see the header
// of lexicon/en.yaml):
//
//	word      the word (case and accents ignored)
//	word*     any word starting with "word" (at least 3 letters)
//	a|b|c     one of these words
//	spec?     optional
//	@name     a macro: a named list of words
//	#         a number (a word starting with a digit)
//	_         any one word
//	..N       up to N words of anything (N from 1 to 8)
//
// A phrase matches inside one sentence. Phrases are indexed by their first
// word, so scanning a text costs one map lookup per word plus the few
// candidate phrases that start there.

type specItem struct {
	exact    map[string]struct{}
	words    []string // exact words when few
	prefixes []string
	number   bool
	any      bool
}

type spec struct {
	specItem
	optional bool
	gap      int // >0: this spec is a gap of 0..gap words
}

func (s *spec) matches(w string) bool {
	if s.any {
		return true
	}
	if s.number && w != "" && w[0] >= '0' && w[0] <= '9' {
		return true
	}
	if s.exact != nil {
		if _, ok := s.exact[w]; ok {
			return true
		}
	} else {
		for _, x := range s.words {
			if x == w {
				return true
			}
		}
	}
	for _, p := range s.prefixes {
		if strings.HasPrefix(w, p) {
			return true
		}
	}
	return false
}

type pattern struct {
	cue   string
	src   string
	where string // file:line for errors and explanations
	specs []spec
}

// Lexicon is the compiled per-language data the engine reads text with:
// the cue phrases, their macros and the word lists of every language file
// (lexicon/*.yaml for the embedded one, see [LoadLexicon]).
type Lexicon struct {
	words    *wordLists
	macros   map[string]specItem
	patterns []*pattern
	exact    map[string][]*pattern
	prefix   map[string][]prefixEntry
	number   []*pattern
	cues     map[string]int // phrases per cue
}

type prefixEntry struct {
	pre string
	p   *pattern
}

func newLexicon() *Lexicon {
	return &Lexicon{
		words:  &wordLists{},
		macros: map[string]specItem{},
		exact:  map[string][]*pattern{},
		prefix: map[string][]prefixEntry{},
		cues:   map[string]int{},
	}
}

// clone returns a lexicon sharing the patterns of lx that can be extended
// without changing lx.
func (lx *Lexicon) clone() *Lexicon {
	c := newLexicon()
	c.words = lx.words
	for k, v := range lx.macros {
		c.macros[k] = v
	}
	for _, p := range lx.patterns {
		c.index(p)
	}
	return c
}

// normWords tokenises a literal the way texts are tokenised.
func normWords(s string) []string {
	d := tokenize(s, nil)
	out := make([]string, len(d.toks))
	for i, t := range d.toks {
		out[i] = t.norm
	}
	return out
}

// parseItem parses one word alternative list (without optional marker).
func (lx *Lexicon) parseItem(field string, allowMacro bool) (specItem, []string, error) {
	var it specItem
	var seq []string // a single multi-word literal
	alts := strings.Split(field, "|")
	for _, a := range alts {
		switch {
		case a == "":
			return it, nil, fmt.Errorf("empty alternative in %q", field)
		case a == "#":
			it.number = true
		case a == "_":
			it.any = true
		case strings.HasPrefix(a, "@"):
			if !allowMacro {
				return it, nil, fmt.Errorf("macro %s inside a macro", a)
			}
			m, ok := lx.macros[a[1:]]
			if !ok {
				return it, nil, fmt.Errorf("unknown macro %s", a)
			}
			it.words = append(it.words, m.words...)
			it.prefixes = append(it.prefixes, m.prefixes...)
			it.number = it.number || m.number
		case strings.HasSuffix(a, "*"):
			w := normWords(strings.TrimSuffix(a, "*"))
			if len(w) != 1 {
				return it, nil, fmt.Errorf("prefix %q must be one word", a)
			}
			if len(w[0]) < 3 {
				return it, nil, fmt.Errorf("prefix %q is shorter than 3 letters", a)
			}
			it.prefixes = append(it.prefixes, w[0])
		default:
			w := normWords(a)
			switch {
			case len(w) == 0:
				return it, nil, fmt.Errorf("alternative %q has no word", a)
			case len(w) == 1:
				it.words = append(it.words, w[0])
			case len(alts) == 1:
				seq = w
			default:
				return it, nil, fmt.Errorf("alternative %q must be one word (write a separate phrase)", a)
			}
		}
	}
	if len(it.words) > 6 {
		it.exact = make(map[string]struct{}, len(it.words))
		for _, w := range it.words {
			it.exact[w] = struct{}{}
		}
	}
	return it, seq, nil
}

// compile parses one phrase.
func (lx *Lexicon) compile(cue, src, where string) (*pattern, error) {
	p := &pattern{cue: cue, src: src, where: where}
	fields := strings.Fields(src)
	if len(fields) == 0 {
		return nil, fmt.Errorf("empty phrase")
	}
	for _, f := range fields {
		if strings.HasPrefix(f, "..") {
			n, err := strconv.Atoi(f[2:])
			if err != nil || n < 1 || n > 8 {
				return nil, fmt.Errorf("gap %q must be ..1 to ..8", f)
			}
			p.specs = append(p.specs, spec{gap: n})
			continue
		}
		optional := false
		if len(f) > 1 && strings.HasSuffix(f, "?") {
			optional = true
			f = strings.TrimSuffix(f, "?")
		}
		it, seq, err := lx.parseItem(f, true)
		if err != nil {
			return nil, err
		}
		if seq != nil {
			if optional {
				return nil, fmt.Errorf("optional %q must be one word", f)
			}
			for _, w := range seq {
				p.specs = append(p.specs, spec{specItem: specItem{words: []string{w}}})
			}
			continue
		}
		p.specs = append(p.specs, spec{specItem: it, optional: optional})
	}
	first, last := p.specs[0], p.specs[len(p.specs)-1]
	if first.gap > 0 || first.optional || first.any {
		return nil, fmt.Errorf("a phrase must start with a word, not a gap, optional or _")
	}
	if last.gap > 0 {
		return nil, fmt.Errorf("a phrase must not end with a gap")
	}
	return p, nil
}

func (lx *Lexicon) add(cue, src, where string) error {
	p, err := lx.compile(cue, src, where)
	if err != nil {
		return err
	}
	lx.index(p)
	return nil
}

func (lx *Lexicon) index(p *pattern) {
	lx.patterns = append(lx.patterns, p)
	lx.cues[p.cue]++
	first := &p.specs[0]
	for _, w := range first.words {
		lx.exact[w] = append(lx.exact[w], p)
	}
	for _, pre := range first.prefixes {
		k := pre[:3]
		lx.prefix[k] = append(lx.prefix[k], prefixEntry{pre, p})
	}
	if first.number {
		lx.number = append(lx.number, p)
	}
}

// addMacroWord adds one word (or word* prefix, or #) to a macro.
func (lx *Lexicon) addMacroWord(name, w string) error {
	one, seq, err := lx.parseItem(w, false)
	if err != nil {
		return err
	}
	if seq != nil {
		return fmt.Errorf("macro word %q must be one word", w)
	}
	it := lx.macros[name]
	it.words = append(it.words, one.words...)
	it.prefixes = append(it.prefixes, one.prefixes...)
	it.number = it.number || one.number
	lx.macros[name] = it
	return nil
}

type cueMatch struct {
	cue      string
	from, to int    // token range
	lit      uint64 // bit k set: token from+k matched a phrase word (not a gap)
	sent     int
	phrase   *pattern
}

// scan finds every phrase occurrence in d.
func (lx *Lexicon) scan(d *textDoc) []cueMatch {
	var out []cueMatch
	for si, s := range d.sents {
		for i := s.from; i < s.to; i++ {
			w := d.toks[i].norm
			for _, p := range lx.exact[w] {
				out = lx.try(out, p, d, i, s.to, si)
			}
			if len(w) >= 3 {
				for _, e := range lx.prefix[w[:3]] {
					if strings.HasPrefix(w, e.pre) {
						out = lx.try(out, e.p, d, i, s.to, si)
					}
				}
			}
			if len(lx.number) > 0 && w[0] >= '0' && w[0] <= '9' {
				for _, p := range lx.number {
					out = lx.try(out, p, d, i, s.to, si)
				}
			}
		}
	}
	return out
}

func (lx *Lexicon) try(out []cueMatch, p *pattern, d *textDoc, i, end, si int) []cueMatch {
	e, lit, ok := matchSpecs(p.specs[1:], d.toks, i, i+1, end, 1)
	if !ok {
		return out
	}
	for _, m := range out {
		if m.cue == p.cue && m.from == i {
			return out
		}
	}
	return append(out, cueMatch{cue: p.cue, from: i, to: e, lit: lit, sent: si, phrase: p})
}

func matchSpecs(specs []spec, toks []token, start, pos, end int, lit uint64) (int, uint64, bool) {
	if len(specs) == 0 {
		return pos, lit, true
	}
	sp := &specs[0]
	if sp.gap > 0 {
		for k := 0; k <= sp.gap && pos+k <= end; k++ {
			if e, l, ok := matchSpecs(specs[1:], toks, start, pos+k, end, lit); ok {
				return e, l, true
			}
		}
		return 0, 0, false
	}
	if pos < end && sp.matches(toks[pos].norm) {
		l := lit
		if b := pos - start; b < 64 {
			l |= 1 << uint(b)
		}
		if e, l2, ok := matchSpecs(specs[1:], toks, start, pos+1, end, l); ok {
			return e, l2, true
		}
	}
	if sp.optional {
		return matchSpecs(specs[1:], toks, start, pos, end, lit)
	}
	return 0, 0, false
}
