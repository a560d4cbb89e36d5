package mail

import (
	"strings"
	"unicode"
)

// Inline replies: a buyer may answer between the quoted lines of the
// message they reply to ("see my comments inline", "answers below in
// caps"), either right under their own text or below an "-----Original
// Message-----" / "On ... wrote:" separator. Those answers are what the
// sender wrote now; the '>'-quoted lines around them are not.
//
// Only lines that are clearly the sender's own count: a block of unquoted
// lines with '>'-quoted lines both above and below it (interleaved), or a
// marked answer line ("[BP] ...", "--> ...", "Antwort: ...", a line in
// capitals) right under a quoted line. A single unquoted line that
// continues a long quoted line (a client that wrapped the quote) is not an
// answer; nor is anything under a forwarded-message separator.

// inlineAnswers returns the answers interleaved with '>'-quoted lines in
// lines (the whole message, quoted history included) and the indices of
// the lines it took, so the caller can leave them out of the top text.
func (mk *Markers) inlineAnswers(lines []string, cut int) (answers []string, taken map[int]bool) {
	if !hasContent(unquoted(lines[:cut])) {
		return nil, nil // a bottom-posted reply: read in order
	}
	first := -1
	for i := 0; i < cut; i++ {
		if isQuotedLine(lines[i]) {
			first = i
			break
		}
	}
	if first >= 0 {
		// '>'-quoted lines inside the sender's part: only when the sender
		// wrote something above them (otherwise the whole part is read in
		// order, as a bottom-posted reply)
		if !hasContent(unquoted(lines[:first])) {
			return nil, nil
		}
		answers, taken = mk.interleaved(lines, first, cut, false, answers, taken)
	}
	if cut < len(lines) && !mk.isForwardCut(lines, cut) {
		k := mk.firstQuotedAfter(lines, cut)
		if k > 0 {
			end := k + mk.quoteCut(lines[k:])
			answers, taken = mk.interleaved(lines, k, end, true, answers, taken)
		}
	}
	return answers, taken
}

func unquoted(lines []string) []string {
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		if !isQuotedLine(l) {
			out = append(out, l)
		}
	}
	return out
}

func isQuotedLine(l string) bool {
	t := strings.TrimLeft(l, " \t")
	return t != "" && t[0] == '>'
}

// isForwardCut: the history at cut is a forwarded message, not a reply.
func (mk *Markers) isForwardCut(lines []string, cut int) bool {
	t := strings.ToLower(strings.TrimSpace(lines[cut]))
	if mk.isForwardIntro(strings.TrimSpace(lines[cut])) {
		return true
	}
	for _, w := range []string{"forward", "weitergeleitet", "transféré", "réexpédié", "reenviado", "doorgestuurd", "inoltrato", "encaminhada"} {
		if strings.Contains(t, w) {
			return true
		}
	}
	return false
}

// firstQuotedAfter skips the separator at cut and the header block or
// attribution under it; it returns the first '>'-quoted line, or -1 when
// other text comes first (history quoted without '>').
func (mk *Markers) firstQuotedAfter(lines []string, cut int) int {
	for k := cut + 1; k < len(lines) && k <= cut+12; k++ {
		t := strings.TrimSpace(lines[k])
		switch {
		case t == "":
		case t[0] == '>':
			return k
		case mk.headerLabel(t) != 0:
		case strings.HasSuffix(t, ":") && len(t) < 200:
			// an attribution line ("On ..., X wrote:")
		default:
			return -1
		}
	}
	return -1
}

// interleaved collects the answers between '>'-quoted lines in [from, to).
// Under a separator (history) a trailing block after the last quoted line
// counts only as far as its lines are marked answers.
func (mk *Markers) interleaved(lines []string, from, to int, history bool, answers []string, taken map[int]bool) ([]string, map[int]bool) {
	i := from
	for i < to {
		if !isQuotedLine(lines[i]) {
			i++
			continue
		}
		// a quoted line: the unquoted block under it
		j := i + 1
		for j < to && strings.TrimSpace(lines[j]) == "" {
			j++
		}
		if j >= to || isQuotedLine(lines[j]) {
			i = j
			continue
		}
		k := j
		for k < to && !isQuotedLine(lines[k]) {
			k++
		}
		block := k < to // a quoted line follows: interleaved
		var got []int
		if block {
			if !mk.wrapContinuation(lines, i, j, k) {
				for x := j; x < k; x++ {
					got = append(got, x)
				}
			}
		} else {
			// the block runs to the end of the region: marked answers only,
			// with the lines that continue them (no blank line between)
			on := false
			for x := j; x < k; x++ {
				t := strings.TrimSpace(lines[x])
				switch {
				case t == "":
					on = false
				case mk.isMarkedAnswer(t):
					on = true
					got = append(got, x)
				case on:
					got = append(got, x)
				}
			}
			if !history && len(got) == 0 {
				got = nil
			}
		}
		if len(got) > 0 {
			if taken == nil {
				taken = map[int]bool{}
			}
			if len(answers) > 0 {
				answers = append(answers, "")
			}
			for _, x := range got {
				taken[x] = true
				answers = append(answers, lines[x])
			}
		}
		i = k
	}
	return answers, taken
}

// wrapContinuation: one unquoted line right under a long quoted line that
// does not end a sentence, with a quoted line right under it, continues the
// quote (a client wrapped it without the '>').
func (mk *Markers) wrapContinuation(lines []string, q, j, k int) bool {
	if j != q+1 {
		return false
	}
	n := 0
	for x := j; x < k; x++ {
		if strings.TrimSpace(lines[x]) != "" {
			n++
		}
	}
	t := strings.TrimSpace(lines[j])
	if n != 1 || mk.isMarkedAnswer(t) {
		return false
	}
	prev := strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(lines[q]), "> "))
	if prev == "" {
		return false
	}
	r := []rune(t)
	if unicode.IsLower(r[0]) {
		return true
	}
	return len(prev) >= 50 && !strings.ContainsAny(prev[len(prev)-1:], ".?!:;)")
}

// isMarkedAnswer: "[BP] ...", "--> ...", "Antwort: ...", "JD: ...", or a
// line in capitals.
func (mk *Markers) isMarkedAnswer(t string) bool {
	if strings.HasPrefix(t, "[") {
		if e := strings.IndexByte(t, ']'); e > 1 && e <= 24 {
			return true
		}
	}
	for _, p := range []string{"-->", "->", "=>", "==>", "»", "→"} {
		if strings.HasPrefix(t, p) {
			return true
		}
	}
	if c := strings.IndexByte(t, ':'); c > 0 && c <= 12 {
		head := strings.TrimSpace(t[:c])
		lh := strings.ToLower(head)
		for _, l := range mk.answerLabels {
			if lh == l {
				return true
			}
		}
		if len(head) >= 2 && len(head) <= 4 && strings.ToUpper(head) == head && strings.IndexFunc(head, func(r rune) bool { return !unicode.IsLetter(r) }) < 0 {
			return true // initials: "JD: ..."
		}
	}
	upper, letters := 0, 0
	for _, r := range t {
		if unicode.IsLetter(r) {
			letters++
			if unicode.IsUpper(r) {
				upper++
			}
		}
	}
	return letters >= 4 && upper*100 >= letters*85
}
