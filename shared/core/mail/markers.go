package mail

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// The words that mark quoted history, signatures, disclaimers and machine
// mail are data, one file per language (markers/en.yaml, de.yaml, ...; en.yaml
// says what each list is for). Every language's lists are merged: adding a
// language is adding a file.

//go:embed markers/*.yaml
var markerFiles embed.FS

// Markers are the compiled marker lists a reader works with.
type Markers struct {
	// signatures and disclaimers
	signOffs                                             map[string]bool
	footerPrefixes                                       []string
	footerFirst                                          map[byte]bool // first bytes of footerPrefixes (nil: any)
	attachmentRe                                         *regexp.Regexp
	disclaimerStrong, disclaimerWeak, disclaimerHints    []string
	disclaimerRe                                         *regexp.Regexp
	nameParticles, greetingWords, titleWords, smallWords map[string]bool
	titleAcronyms                                        map[string]bool
	// quoted history
	attrLead, attrTail           *regexp.Regexp
	attrVerbList                 []string
	forwardIntro, separatorWords []string
	headerLabels                 map[string]uint8
	answerLabels                 []string
	// the second pass (folded text)
	quoteSeparators, forwardOpenings, wroteVerbs, headerStarts, headerNext []string
	attachmentPrefixes, disclaimerStarts, signatureWords                   []string
	closings                                                               map[string]bool
	machineSubjects, machineText                                           []kindPhrase
	// machine mail, the first pass
	feedbackSubjectRe, bounceSubjectRe, weakBounceSubjectRe    *regexp.Regexp
	deliveredSubjectRe, deliveryReportSubjectRe, autoSubjectRe *regexp.Regexp
	bounceText, autoStrong, absence                            phrases
	returnCues, pastTense, mailEvidence, daemonSenders         []string
	readReceipts                                               []string
	forwardSubjectPrefixes                                     map[string]bool
}

// kindPhrase is a phrase that marks machine mail of one kind.
type kindPhrase struct{ kind, phrase string }

// markerText says how a list's entries are written.
type markerText int

const (
	lowerText  markerText = iota // lower case
	foldedText                   // lower case, accents removed (see Fold)
	asWritten                    // matched as written
	regexText                    // a Go regular expression (on lower-case text)
)

// markerLists names every list of the language files, by how its entries
// are written.
var markerLists = map[markerText][]string{
	lowerText: {
		"sign_offs", "footer_prefixes", "attachment_labels", "disclaimer_cues", "disclaimer_words",
		"disclaimer_hints", "disclaimer_determiners", "disclaimer_nouns", "disclaimer_verbs",
		"disclaimer_adjectives", "name_particles", "greeting_words", "title_words", "small_words",
		"attribution_verbs", "attribution_leads", "attribution_verb_stems", "forward_intros", "separator_words",
		"header_from_labels", "header_labels", "answer_labels", "machine_mail_evidence", "machine_read_receipts",
		"machine_forward_subject_prefixes", "machine_daemon_senders", "machine_return_cues", "machine_past_tense",
	},
	foldedText: {
		"recheck_separators", "recheck_forward_openings", "recheck_wrote_verbs", "recheck_header_starts",
		"recheck_header_next", "recheck_attachment_prefixes", "recheck_closings", "recheck_disclaimer_starts",
		"recheck_signature_words", "recheck_subjects_auto_reply", "recheck_subjects_bounce",
		"recheck_subjects_feedback", "recheck_text_auto_reply", "recheck_text_bounce",
	},
	regexText: {
		"machine_feedback_subjects", "machine_bounce_subjects", "machine_weak_bounce_subjects",
		"machine_delivered_subjects", "machine_delivery_report_subjects", "machine_bounce_text",
		"machine_bounce_diagnostics", "machine_auto_subjects", "machine_absence_subject_words",
		"machine_auto_text", "machine_absence_text",
	},
	asWritten: {"title_acronyms"},
}

var (
	defaultMarkersOnce sync.Once
	defaultMarkers     *Markers
)

// DefaultMarkers returns the embedded markers. They are validated by the
// package tests; a broken embedded file panics.
func DefaultMarkers() *Markers {
	defaultMarkersOnce.Do(func() {
		sub, err := fs.Sub(markerFiles, "markers")
		if err == nil {
			defaultMarkers, err = loadMarkers(sub, "markers/")
		}
		if err != nil {
			panic(err)
		}
	})
	return defaultMarkers
}

// LoadMarkers reads and validates the language files of fsys: every *.yaml
// file at its root except languages.yaml, which may list the order they are
// read in (`order: [en, de, ...]`; files it does not list follow by name).
// Errors read "file:line: problem", one per line.
func LoadMarkers(fsys fs.FS) (*Markers, error) {
	return loadMarkers(fsys, "")
}

func loadMarkers(fsys fs.FS, prefix string) (*Markers, error) {
	files, err := markerFileOrder(fsys, prefix)
	if err != nil {
		return nil, err
	}
	text := map[string]markerText{}
	for tx, names := range markerLists {
		for _, n := range names {
			text[n] = tx
		}
	}
	lists := map[string][]string{}
	where := map[string]string{} // entry -> file:line, for the checks below
	var problems []string
	bad := func(at string, format string, args ...any) {
		problems = append(problems, at+": "+fmt.Sprintf(format, args...))
	}
	for _, name := range files {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		file := prefix + name
		var doc struct {
			Language string               `yaml:"language"`
			Markers  map[string]yaml.Node `yaml:"markers"`
		}
		var root yaml.Node
		if err := yaml.Unmarshal(data, &root); err != nil {
			return nil, fmt.Errorf("%s: %v", file, err)
		}
		if len(root.Content) == 0 {
			bad(file+":1", "empty language file")
			continue
		}
		top := root.Content[0]
		for i := 0; top.Kind == yaml.MappingNode && i+1 < len(top.Content); i += 2 {
			if k := top.Content[i].Value; k != "language" && k != "markers" {
				bad(fmt.Sprintf("%s:%d", file, top.Content[i].Line), "unknown key %q (known: language, markers)", k)
			}
		}
		if err := top.Decode(&doc); err != nil {
			bad(file+":1", "%v", err)
			continue
		}
		if want := strings.TrimSuffix(name, ".yaml"); doc.Language != want {
			bad(file+":1", "language %q does not match the file name %s", doc.Language, name)
		}
		names := make([]string, 0, len(doc.Markers))
		for k := range doc.Markers {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			n := doc.Markers[k]
			at := fmt.Sprintf("%s:%d", file, n.Line)
			tx, known := text[k]
			if !known {
				bad(at, "unknown marker list %q", k)
				continue
			}
			if n.Kind != yaml.SequenceNode {
				bad(at, "%s must be a list of text", k)
				continue
			}
			for _, e := range n.Content {
				s, at := e.Value, fmt.Sprintf("%s:%d", file, e.Line)
				switch {
				case e.Kind != yaml.ScalarNode:
					bad(at, "%s: entries must be text", k)
				case strings.TrimSpace(s) == "":
					bad(at, "%s: an empty entry", k)
				case tx == lowerText && s != strings.ToLower(s):
					bad(at, "%s: %q must be lower case", k, s)
				case tx == foldedText && s != Fold(s):
					bad(at, "%s: %q must be folded (lower case, no accents: %q)", k, s, Fold(s))
				case tx == regexText && !compiles(s):
					bad(at, "%s: %q is not a regular expression", k, s)
				default:
					lists[k] = append(lists[k], s)
					where[k+"\x00"+s] = at
				}
			}
		}
	}
	mk, more := compileMarkers(lists, where)
	problems = append(problems, more...)
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "\n"))
	}
	return mk, nil
}

// markerFileOrder lists the language files in reading order.
func markerFileOrder(fsys fs.FS, prefix string) ([]string, error) {
	names, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, err
	}
	var files []string
	for _, n := range names {
		if n != "languages.yaml" {
			files = append(files, n)
		}
	}
	sort.Strings(files)
	data, err := fs.ReadFile(fsys, "languages.yaml")
	if errors.Is(err, fs.ErrNotExist) {
		return files, nil
	} else if err != nil {
		return nil, err
	}
	var idx struct {
		Order []string `yaml:"order"`
	}
	if err := yaml.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("%slanguages.yaml: %v", prefix, err)
	}
	out := make([]string, 0, len(files))
	listed := map[string]bool{}
	for _, lang := range idx.Order {
		f := lang + ".yaml"
		if listed[f] || sort.SearchStrings(files, f) == len(files) || files[sort.SearchStrings(files, f)] != f {
			return nil, fmt.Errorf("%slanguages.yaml: language %q is listed twice or has no file %s", prefix, lang, f)
		}
		listed[f] = true
		out = append(out, f)
	}
	for _, f := range files {
		if !listed[f] {
			out = append(out, f)
		}
	}
	return out, nil
}

// compileMarkers builds the markers from the merged lists.
func compileMarkers(l map[string][]string, where map[string]string) (*Markers, []string) {
	var problems []string
	set := func(name string) map[string]bool {
		m := make(map[string]bool, len(l[name]))
		for _, s := range l[name] {
			m[s] = true
		}
		return m
	}
	alt := func(name string) string {
		q := make([]string, len(l[name]))
		for i, s := range l[name] {
			q[i] = regexp.QuoteMeta(s)
		}
		return "(?:" + strings.Join(q, "|") + ")"
	}
	re := func(name string) string { return "(?:" + strings.Join(l[name], "|") + ")" }
	mk := &Markers{
		signOffs:         set("sign_offs"),
		footerPrefixes:   l["footer_prefixes"],
		disclaimerStrong: l["disclaimer_cues"],
		disclaimerWeak:   l["disclaimer_words"],
		disclaimerHints:  l["disclaimer_hints"],
		nameParticles:    set("name_particles"),
		greetingWords:    set("greeting_words"),
		titleWords:       set("title_words"),
		titleAcronyms:    set("title_acronyms"),
		smallWords:       set("small_words"),
		attrVerbList:     l["attribution_verb_stems"],
		forwardIntro:     l["forward_intros"],
		separatorWords:   l["separator_words"],
		headerLabels:     map[string]uint8{},
		answerLabels:     l["answer_labels"],

		quoteSeparators:    append(append([]string(nil), l["recheck_separators"]...), l["recheck_forward_openings"]...),
		forwardOpenings:    l["recheck_forward_openings"],
		wroteVerbs:         l["recheck_wrote_verbs"],
		headerStarts:       l["recheck_header_starts"],
		headerNext:         l["recheck_header_next"],
		attachmentPrefixes: l["recheck_attachment_prefixes"],
		disclaimerStarts:   l["recheck_disclaimer_starts"],
		signatureWords:     l["recheck_signature_words"],
		closings:           set("recheck_closings"),
	}
	mk.footerFirst = map[byte]bool{}
	for _, p := range mk.footerPrefixes {
		if p[0] >= 0x80 {
			mk.footerFirst = nil // a non-ASCII opening: no cheap filter
			break
		}
		mk.footerFirst[p[0]] = true
	}
	for _, s := range l["header_from_labels"] {
		mk.headerLabels[s] = 1
	}
	for _, s := range l["header_labels"] {
		if mk.headerLabels[s] == 1 {
			problems = append(problems, fmt.Sprintf("%s: header label %q is listed as a first label too", where["header_labels\x00"+s], s))
		}
		mk.headerLabels[s] = 2
	}
	// every disclaimer cue holds a hint: paragraphs without one are skipped
	for _, list := range []string{"disclaimer_cues", "disclaimer_words"} {
		for _, s := range l[list] {
			if !containsAny(s, mk.disclaimerHints) {
				problems = append(problems, fmt.Sprintf("%s: %s: %q holds none of the disclaimer_hints", where[list+"\x00"+s], list, s))
			}
		}
	}
	for _, k := range []struct{ kind, list string }{{MachineAutoReply, "recheck_subjects_auto_reply"}, {MachineBounce, "recheck_subjects_bounce"},
		{MachineFeedback, "recheck_subjects_feedback"}} {
		for _, p := range l[k.list] {
			mk.machineSubjects = append(mk.machineSubjects, kindPhrase{k.kind, p})
		}
	}
	for _, k := range []struct{ kind, list string }{{MachineAutoReply, "recheck_text_auto_reply"}, {MachineBounce, "recheck_text_bounce"}} {
		for _, p := range l[k.list] {
			mk.machineText = append(mk.machineText, kindPhrase{k.kind, p})
		}
	}
	verbs := alt("attribution_verbs")
	mk.attrLead = regexp.MustCompile(`^` + alt("attribution_leads") + `\s.+?\s` + verbs + `(?:\s.*)?\s?:$`)
	mk.attrTail = regexp.MustCompile(`^.+\s` + verbs + `\s?:$`)
	mk.attachmentRe = regexp.MustCompile(`(?i)^\[?` + alt("attachment_labels") + `\s*:\s*\S`)
	mk.disclaimerRe = regexp.MustCompile(alt("disclaimer_determiners") + `\s+` + alt("disclaimer_nouns") + `[^.]*?\s` +
		alt("disclaimer_verbs") + `\s[^.]*?` + alt("disclaimer_adjectives"))
	mk.feedbackSubjectRe = regexp.MustCompile(`^` + re("machine_feedback_subjects"))
	mk.bounceSubjectRe = regexp.MustCompile(`^(?:\[[^\]]*\]\s*)?` + re("machine_bounce_subjects"))
	mk.weakBounceSubjectRe = regexp.MustCompile(`^(?:\[[^\]]*\]\s*)?` + re("machine_weak_bounce_subjects"))
	mk.deliveredSubjectRe = regexp.MustCompile(re("machine_delivered_subjects"))
	mk.deliveryReportSubjectRe = regexp.MustCompile(re("machine_delivery_report_subjects"))
	mk.autoSubjectRe = regexp.MustCompile(`^(?:` + strings.Join(l["machine_auto_subjects"], "|") + `|` +
		re("machine_absence_subject_words") + `\s*(?::|$|\())`)
	mk.bounceText = newPhrases(append(append([]string(nil), l["machine_bounce_text"]...), l["machine_bounce_diagnostics"]...)...)
	mk.autoStrong = newPhrases(l["machine_auto_text"]...)
	mk.absence = newPhrases(l["machine_absence_text"]...)
	mk.returnCues, mk.pastTense, mk.mailEvidence = l["machine_return_cues"], l["machine_past_tense"], l["machine_mail_evidence"]
	mk.daemonSenders, mk.readReceipts = l["machine_daemon_senders"], l["machine_read_receipts"]
	mk.forwardSubjectPrefixes = set("machine_forward_subject_prefixes")
	return mk, problems
}

func compiles(expr string) bool {
	_, err := regexp.Compile(expr)
	return err == nil
}

func containsAny(s string, subs []string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}
