package intent

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/stagemover/stagemover/shared/core/mail"
)

// A text is split once into normalised tokens (lower case, accents folded,
// apostrophes and hyphens split) with their byte offsets in the source, and
// into sentences and clauses. Cue phrases are matched against tokens, so
// "marked-up", "Marked up" and "marked up" read the same, and an excerpt can
// always be cut from the original words.

const (
	tokSentStart   uint8 = 1 << iota // first token of a sentence
	tokClauseStart                   // first token of a clause (negation scope ends before it)
	tokCommaAfter                    // the token is followed by a comma
)

type token struct {
	norm       string
	start, end int32 // byte offsets in the source text
	flags      uint8
}

type sentence struct {
	from, to int  // token range [from, to)
	question bool // ends with '?'
}

type textDoc struct {
	w     *wordLists // the words it is read with (nil: tokens only)
	src   string
	toks  []token
	sents []sentence
}

func isSymbolToken(r rune) bool {
	switch r {
	case '%', '€', '£', '$', '§', '¥':
		return true
	}
	return false
}

func isBullet(r rune) bool {
	switch r {
	case '-', '*', '•', '·', '–', '—', '▪', '●':
		return true
	}
	return false
}

// tokenize builds the token and sentence view of src.
func tokenize(src string, w *wordLists) *textDoc {
	d := &textDoc{w: w, src: src}
	d.toks = make([]token, 0, len(src)/5+4)
	buf := make([]byte, 0, len(src)+16)
	type span struct{ a, b int }
	norms := make([]span, 0, cap(d.toks))

	pendingSent := true
	pendingClause := false
	lineStart := 0 // byte offset of the current line
	inTok := false
	tokSrc, tokNorm := 0, 0
	sentQuestion := false
	sentFrom := 0

	closeSentence := func(question bool) {
		if len(d.toks) > sentFrom {
			d.sents = append(d.sents, sentence{from: sentFrom, to: len(d.toks), question: question || sentQuestion})
		}
		sentFrom = len(d.toks)
		sentQuestion = false
		pendingSent = true
	}
	emit := func(a, b, na, nb int) {
		var f uint8
		if pendingSent {
			f |= tokSentStart | tokClauseStart
			pendingSent = false
			pendingClause = false
		} else if pendingClause {
			f |= tokClauseStart
			pendingClause = false
		}
		d.toks = append(d.toks, token{start: int32(a), end: int32(b), flags: f})
		norms = append(norms, span{na, nb})
	}
	endTok := func(i int) {
		if inTok {
			emit(tokSrc, i, tokNorm, len(buf))
			inTok = false
		}
	}

	for i := 0; i < len(src); {
		r, size := utf8.DecodeRuneInString(src[i:])
		if inTok && unicode.Is(unicode.Mn, r) { // combining accents: drop
			i += size
			continue
		}
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if !inTok {
				inTok = true
				tokSrc, tokNorm = i, len(buf)
			}
			buf = mail.AppendFold(buf, r)
			i += size
			continue
		}
		endTok(i)
		next := byte(0)
		if i+size < len(src) {
			next = src[i+size]
		}
		switch {
		case isSymbolToken(r):
			na := len(buf)
			buf = utf8.AppendRune(buf, r)
			emit(i, i+size, na, len(buf))
		case r == '.' && w != nil && ordinalDate(src, i, w.monthPrefixes):
			// "am 19. März": a German or Dutch ordinal date, not a sentence end
		case r == '.' || r == '!' || r == '?' || r == ';' || r == '…':
			if next == 0 || next == ' ' || next == '\n' || next == '\r' || next == '\t' || next == '"' || next == ')' || next == '\'' || next == '*' || r == '?' || r == '!' || r == ';' {
				if r == '?' {
					sentQuestion = true
				}
				closeSentence(r == '?')
			}
		case r == ':':
			if next == 0 || next == ' ' || next == '\n' || next == '\t' {
				pendingClause = true
			}
		case r == ',':
			if n := len(d.toks); n > 0 && !pendingSent {
				d.toks[n-1].flags |= tokCommaAfter
			}
		case r == '(' || r == ')' || r == '[' || r == ']':
			// parentheses do not end a clause
		case r == '\n':
			// blank line, bullet or short line: a new sentence
			lineLen := i - lineStart
			j := i + 1
			blank := false
			for j < len(src) {
				c := src[j]
				if c == '\n' {
					blank = true
				} else if c != ' ' && c != '\t' && c != '\r' {
					break
				}
				j++
			}
			nextRune, _ := utf8.DecodeRuneInString(src[min(j, len(src)):])
			if blank || lineLen < 45 || isBullet(nextRune) || (j < len(src) && src[j] >= '0' && src[j] <= '9' && j+1 < len(src) && (src[j+1] == ')' || src[j+1] == '.')) {
				closeSentence(false)
			}
			lineStart = i + 1
		case isBullet(r) && (i == lineStart || strings.TrimSpace(src[lineStart:i]) == ""):
			closeSentence(false)
		}
		i += size
	}
	endTok(len(src))
	closeSentence(false)

	all := string(buf)
	for k := range d.toks {
		d.toks[k].norm = all[norms[k].a:norms[k].b]
	}
	if w != nil {
		markClauses(d)
	}
	return d
}

// markClauses starts a new clause at adversative conjunctions and at
// "and"/"or" followed by a new subject.
func markClauses(d *textDoc) {
	for i := range d.toks {
		t := &d.toks[i]
		if d.w.clauseConj[t.norm] {
			t.flags |= tokClauseStart
			continue
		}
		if d.w.andConj[t.norm] && i+1 < len(d.toks) && d.w.subjects[d.toks[i+1].norm] && d.toks[i+1].flags&tokSentStart == 0 {
			t.flags |= tokClauseStart
		}
		if i > 0 && d.toks[i-1].flags&tokCommaAfter != 0 && d.w.subjects[t.norm] && i+1 < len(d.toks) && d.w.finiteVerbs[d.toks[i+1].norm] {
			t.flags |= tokClauseStart
		}
	}
}

// sentenceOf returns the index of the sentence holding token i.
func (d *textDoc) sentenceOf(i int) int {
	lo, hi := 0, len(d.sents)
	for lo < hi {
		m := (lo + hi) / 2
		if d.sents[m].to <= i {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// excerpt returns the words of tokens [a,b) with some context from their
// sentence, at most max bytes, cut at word boundaries.
func (d *textDoc) excerpt(a, b, max int) string {
	if a >= len(d.toks) || b <= a {
		return ""
	}
	s := d.sents[d.sentenceOf(a)]
	start := int(d.toks[s.from].start)
	end := int(d.toks[s.to-1].end)
	// include trailing punctuation of the sentence
	for end < len(d.src) && strings.IndexByte(".!?%)", d.src[end]) >= 0 {
		end++
	}
	ms, me := int(d.toks[a].start), int(d.toks[b-1].end)
	if end-start > max {
		// centre the window on the match
		room := max - (me - ms)
		if room < 0 {
			start, end = ms, ms+max
		} else {
			left := room / 3
			start = maxInt(start, ms-left)
			end = minInt(end, start+max)
			if end < me {
				end = me
			}
		}
	}
	return cleanExcerpt(d.src, start, end)
}

func cleanExcerpt(src string, start, end int) string {
	if end > len(src) {
		end = len(src)
	}
	for start > 0 && start < end && !utf8.RuneStart(src[start]) {
		start++
	}
	for end < len(src) && end > start && !utf8.RuneStart(src[end]) {
		end--
	}
	s := strings.Join(strings.Fields(src[start:end]), " ")
	return s
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

func minInt(a, b int) int {
	if a < b {
		return a
	}
	return b
}

// ordinalDate reports a '.' at src[i] that follows a one- or two-digit
// day number and precedes a month name ("19. März", "3. Juni").
func ordinalDate(src string, i int, monthPrefixes []string) bool {
	k := i
	for k > 0 && src[k-1] >= '0' && src[k-1] <= '9' {
		k--
	}
	if n := i - k; n == 0 || n > 2 || (k > 0 && (isAlnum(src[k-1]) || src[k-1] == '.')) {
		return false
	}
	j := i + 1
	for j < len(src) && src[j] == ' ' {
		j++
	}
	if j == i+1 || j >= len(src) {
		return false
	}
	w := strings.ToLower(src[j:min(j+4, len(src))])
	for _, p := range monthPrefixes {
		if strings.HasPrefix(w, p) {
			return true
		}
	}
	return false
}
