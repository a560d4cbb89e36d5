package intent

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The lexicon is read from one file per language (lexicon/en.yaml,
// lexicon/de.yaml, ...): each holds that language's word lists (words:),
// macro words (macros:) and cue phrases (cues:). An optional
// languages.yaml lists the order languages are read in.

// languagesFile names the optional file that orders the languages.
const languagesFile = "languages.yaml"

// LoadLexicon reads and validates the language files of fsys: every *.yaml
// file at its root except languages.yaml, which may list the order they are
// read in (`order: [en, de, ...]`; files it does not list follow by name).
// Errors read "file:line: problem", one per line. Use the result with
// [LoadRulesWithLexicon].
func LoadLexicon(fsys fs.FS) (*Lexicon, error) {
	return loadLexicon(fsys, "")
}

// langFile is one language file as read.
type langFile struct {
	e    *loadErrors
	lang string
	root map[string]*yaml.Node
}

// loadLexicon reads the language files of fsys; prefix goes before file
// names in errors.
func loadLexicon(fsys fs.FS, prefix string) (*Lexicon, error) {
	names, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, err
	}
	order, err := languageOrder(fsys, prefix, names)
	if err != nil {
		return nil, err
	}
	if len(order) == 0 {
		return nil, fmt.Errorf("%s: no language files (*.yaml)", strings.TrimSuffix(prefix, "/"))
	}
	var files []*langFile
	for _, n := range order {
		f, err := readLangFile(fsys, prefix, n)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	lx := newLexicon()
	for _, f := range files {
		f.addWords(lx.words)
	}
	for _, f := range files {
		f.addMacros(lx)
	}
	compilePhrases(lx, files)
	var msgs []string
	for _, f := range files {
		if err := f.e.err(); err != nil {
			msgs = append(msgs, err.Error())
		}
	}
	var missing []string
	for cue, info := range cueTable {
		if info.text && lx.cues[cue] == 0 {
			missing = append(missing, cue)
		}
	}
	sort.Strings(missing)
	for _, cue := range missing {
		msgs = append(msgs, fmt.Sprintf("%s: text cue %s has no phrases in any language", strings.TrimSuffix(prefix, "/"), cue))
	}
	if len(msgs) > 0 {
		return nil, errors.New(strings.Join(msgs, "\n"))
	}
	return lx, nil
}

// languageOrder lists the language files of names in reading order.
func languageOrder(fsys fs.FS, prefix string, names []string) ([]string, error) {
	var files []string
	for _, n := range names {
		if n != languagesFile {
			files = append(files, n)
		}
	}
	sort.Strings(files)
	data, err := fs.ReadFile(fsys, languagesFile)
	if errors.Is(err, fs.ErrNotExist) {
		return files, nil
	}
	if err != nil {
		return nil, err
	}
	e := &loadErrors{name: prefix + languagesFile}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %v", e.name, err)
	}
	var out []string
	seen := map[string]bool{}
	if len(doc.Content) > 0 {
		top := e.fields(doc.Content[0], "the language list", "order")
		if v, ok := top["order"]; ok {
			for i, lang := range e.strs(v, "order") {
				line := v.Line
				if i < len(v.Content) {
					line = v.Content[i].Line
				}
				file := lang + ".yaml"
				switch {
				case seen[file]:
					e.add(line, "language %q listed twice", lang)
				case !contains(files, file):
					e.add(line, "language %q has no file %s", lang, file)
				default:
					seen[file] = true
					out = append(out, file)
				}
			}
		}
	}
	if err := e.err(); err != nil {
		return nil, err
	}
	for _, f := range files {
		if !seen[f] {
			out = append(out, f)
		}
	}
	return out, nil
}

// readLangFile parses one language file and checks its shape.
func readLangFile(fsys fs.FS, prefix, name string) (*langFile, error) {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, err
	}
	f := &langFile{e: &loadErrors{name: prefix + name}}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %v", f.e.name, err)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s:1: empty language file", f.e.name)
	}
	root := doc.Content[0]
	f.root = f.e.fields(root, "a language file", "language", "words", "macros", "cues")
	want := strings.TrimSuffix(path.Base(name), ".yaml")
	if v, ok := f.root["language"]; !ok {
		f.e.add(root.Line, "language: %s is required (the language code, as in the file name)", want)
	} else if f.lang = f.e.str(v, "language"); f.lang != want {
		f.e.add(v.Line, "language %q does not match the file name %s", f.lang, name)
	}
	for _, k := range []string{"words", "macros", "cues"} {
		if v, ok := f.root[k]; ok && v.Kind != yaml.MappingNode {
			f.e.add(v.Line, "%s must be a mapping", k)
			delete(f.root, k)
		}
	}
	return f, nil
}

// pairs walks the key/value pairs of an optional mapping section.
func (f *langFile) pairs(section string, each func(k, v *yaml.Node)) {
	m, ok := f.root[section]
	if !ok {
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i]
		if seen[k.Value] {
			f.e.add(k.Line, "%s: %q is listed twice", section, k.Value)
			continue
		}
		seen[k.Value] = true
		each(k, m.Content[i+1])
	}
}

// addWords merges the file's word lists into w.
func (f *langFile) addWords(w *wordLists) {
	lists := w.lists()
	byName := map[string]wordList{}
	var known []string
	for _, l := range lists {
		byName[l.name] = l
		known = append(known, l.name)
	}
	f.pairs("words", func(k, v *yaml.Node) {
		l, ok := byName[k.Value]
		if !ok {
			f.e.add(k.Line, "unknown word list %q (known: %s)", k.Value, strings.Join(known, ", "))
			return
		}
		for i, s := range f.e.strs(v, "words."+k.Value) {
			line := v.Line
			if i < len(v.Content) {
				line = v.Content[i].Line
			}
			toks := normWords(s)
			switch {
			case l.set != nil:
				if len(toks) != 1 {
					f.e.add(line, "words.%s: %q must be one word as text is read (it reads %q)", k.Value, s, strings.Join(toks, " "))
					continue
				}
				if *l.set == nil {
					*l.set = wordSet{}
				}
				(*l.set)[toks[0]] = true
			case l.seqs != nil:
				if len(toks) == 0 {
					f.e.add(line, "words.%s: %q has no word", k.Value, s)
					continue
				}
				*l.seqs = append(*l.seqs, toks)
			default:
				if s == "" || s != strings.ToLower(s) {
					f.e.add(line, "words.%s: %q must be non-empty lower-case text", k.Value, s)
					continue
				}
				*l.strs = append(*l.strs, s)
			}
		}
	})
}

// addMacros adds the file's macro words to the macros of every language.
func (f *langFile) addMacros(lx *Lexicon) {
	f.pairs("macros", func(k, v *yaml.Node) {
		for i, w := range f.e.strs(v, "macro "+k.Value) {
			line := v.Line
			if i < len(v.Content) {
				line = v.Content[i].Line
			}
			if err := lx.addMacroWord(k.Value, w); err != nil {
				f.e.add(line, "macro %s: %v", k.Value, err)
			}
		}
	})
}

// compilePhrases adds the phrases of every file, cue by cue (in the order
// the cues first appear), each cue's languages in reading order.
func compilePhrases(lx *Lexicon, files []*langFile) {
	type phrases struct {
		f    *langFile
		list *yaml.Node
	}
	byCue := map[string][]phrases{}
	var cues []string
	for _, f := range files {
		f.pairs("cues", func(k, v *yaml.Node) {
			info, known := cueTable[k.Value]
			if !known || !info.text {
				f.e.add(k.Line, "unknown text cue %q (text cues: %s)", k.Value, strings.Join(textCueNames(), ", "))
				return
			}
			if v.Kind != yaml.SequenceNode {
				f.e.add(v.Line, "cue %s: phrases must be a list", k.Value)
				return
			}
			if _, seen := byCue[k.Value]; !seen {
				cues = append(cues, k.Value)
			}
			byCue[k.Value] = append(byCue[k.Value], phrases{f, v})
		})
	}
	for _, cue := range cues {
		for _, ps := range byCue[cue] {
			for _, pn := range ps.list.Content {
				if err := lx.add(cue, pn.Value, fmt.Sprintf("%s:%d", ps.f.e.name, pn.Line)); err != nil {
					ps.f.e.add(pn.Line, "phrase %q for %s: %v", pn.Value, cue, err)
				}
			}
		}
	}
}
