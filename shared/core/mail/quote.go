package mail

import (
	"strings"
)

// Quoted history: where the part this sender wrote now ends.

// headerLabel returns the label kind of a "Label: value" line (0 if none).
func (mk *Markers) headerLabel(t string) uint8 {
	c := strings.IndexByte(t, ':')
	if c <= 0 || c > 24 {
		return 0
	}
	return mk.headerLabels[strings.ToLower(strings.Trim(t[:c], "* \t"))]
}

// quoteCut returns the index of the first line of quoted or forwarded
// history, or len(lines).
func (mk *Markers) quoteCut(lines []string) int {
	for i := 0; i < len(lines); i++ {
		t := strings.TrimSpace(lines[i])
		if t == "" || t[0] == '>' {
			continue
		}
		switch t[0] {
		case '-', '_', '=', '*', '~':
			if mk.isHistorySeparator(lines, i, t) {
				return i
			}
		}
		if t[len(t)-1] == ':' {
			if j, ok := mk.attributionStart(lines, i); ok {
				return j
			}
			if mk.isForwardIntro(t) {
				return i
			}
		}
		if mk.headerLabel(t) == 1 && mk.isHeaderBlock(lines, i) {
			return i
		}
	}
	return len(lines)
}

func (mk *Markers) isHistorySeparator(lines []string, i int, t string) bool {
	core := strings.Trim(t, "-_=*~— \t")
	if core == "" {
		if len(t) < 5 {
			return false // "--" is a signature delimiter, handled elsewhere
		}
		// A rule followed by a header block (Outlook's "____" then "From:").
		for k, seen := i+1, 0; k < len(lines) && k < i+12 && seen < 3; k++ {
			n := strings.TrimSpace(lines[k])
			if n == "" {
				continue
			}
			seen++
			if mk.headerLabel(n) == 1 {
				return mk.isHeaderBlock(lines, k)
			}
			return false
		}
		return false
	}
	if len(t)-len(core) < 4 || len(core) > 60 {
		return false
	}
	lc := strings.ToLower(core)
	for _, w := range mk.separatorWords {
		if strings.Contains(lc, w) {
			return true
		}
	}
	return false
}

// isHeaderBlock: a "From:" line at i followed closely by at least two other
// header lines (Sent:, To:, Subject: and translations).
func (mk *Markers) isHeaderBlock(lines []string, i int) bool {
	n := 0
	for k, seen := i+1, 0; k < len(lines) && k < i+20 && seen < 7; k++ {
		t := strings.TrimSpace(lines[k])
		if t == "" {
			continue
		}
		seen++
		if mk.headerLabel(t) == 2 {
			n++
			if n >= 2 {
				return true
			}
		}
	}
	return false
}

func (mk *Markers) isForwardIntro(t string) bool {
	if len(t) > 60 {
		return false
	}
	lc := strings.ToLower(strings.TrimRight(t, ": \t"))
	lc = strings.Trim(lc, "-_=* ")
	for _, f := range mk.forwardIntro {
		if lc == f {
			return true
		}
	}
	return false
}

// attributionStart checks whether line i (ending in ':') ends an attribution
// that may have wrapped over up to three lines; it returns the first line.
func (mk *Markers) attributionStart(lines []string, i int) (int, bool) {
	last := strings.ToLower(strings.TrimSpace(lines[i]))
	verb := false
	for _, v := range mk.attrVerbList {
		if strings.Contains(last, v) {
			verb = true
			break
		}
	}
	if !verb {
		return 0, false
	}
	for j := max(0, i-2); j <= i; j++ {
		ok := true
		for k := j; k < i; k++ {
			t := strings.TrimSpace(lines[k])
			if t == "" || t[0] == '>' {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		s := last
		if j < i {
			parts := make([]string, 0, i-j+1)
			for k := j; k <= i; k++ {
				parts = append(parts, strings.TrimSpace(lines[k]))
			}
			s = strings.ToLower(strings.Join(parts, " "))
		}
		if len(s) > 500 {
			continue
		}
		if mk.attrLead.MatchString(s) {
			return j, true
		}
		if j == i && mk.attrTail.MatchString(s) && (strings.ContainsAny(s, "@0123456789") || nextIsQuoteOrEnd(lines, i)) {
			return j, true
		}
	}
	return 0, false
}

func nextIsQuoteOrEnd(lines []string, i int) bool {
	for k := i + 1; k < len(lines) && k < i+20; k++ {
		t := strings.TrimSpace(lines[k])
		if t == "" {
			continue
		}
		return t[0] == '>'
	}
	return true
}

// ownLines returns the lines this sender wrote: everything before the quoted
// history, without '>'-quoted lines (inline replies keep their answers). A
// reply written below a '>'-quoted message (bottom-posting) is found too.
func (mk *Markers) ownLines(lines []string) []string {
	for {
		cut := mk.quoteCut(lines)
		out := make([]string, 0, cut)
		for _, l := range lines[:cut] {
			t := strings.TrimLeft(l, " \t")
			if t != "" && t[0] == '>' {
				continue
			}
			out = append(out, l)
		}
		if hasContent(out) || cut >= len(lines) {
			return out
		}
		// Nothing above the history: if it is an attribution followed by
		// '>'-quoted lines, read on below them.
		end := cut
		for end < len(lines) && end < cut+3 && !strings.HasSuffix(strings.TrimSpace(lines[end]), ":") {
			end++
		}
		if end >= len(lines) || end >= cut+3 {
			return out
		}
		k := end + 1
		for k < len(lines) && strings.TrimSpace(lines[k]) == "" {
			k++
		}
		if k >= len(lines) || strings.TrimSpace(lines[k])[0] != '>' {
			return out
		}
		lines = lines[k:]
	}
}
