package mail

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Signatures, sign-offs, mobile footers and legal disclaimers: words there
// ("Head of Procurement", "contract terms", "legal privilege") are not what
// the sender says now.

func (mk *Markers) disclaimerScore(lc string) int {
	hint := false
	for _, h := range mk.disclaimerHints {
		if strings.Contains(lc, h) {
			hint = true
			break
		}
	}
	if !hint {
		return 0
	}
	for _, s := range mk.disclaimerStrong {
		if strings.Contains(lc, s) {
			return 3
		}
	}
	n := 0
	for _, s := range mk.disclaimerWeak {
		if strings.Contains(lc, s) {
			n++
		}
	}
	if n > 0 && mk.disclaimerRe.MatchString(lc) {
		return 3
	}
	if n >= 4 {
		return 3
	}
	return min(n, 2)
}

// stripSignature removes from the sender's own lines the signature, footers
// and disclaimers. Attachment lines are returned separately.
func (mk *Markers) stripSignature(lines []string) (kept, attachments []string) {
	kept = lines[:0]
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if len(t) > 9 && len(t) < 300 && mk.attachmentRe.MatchString(t) {
			attachments = append(attachments, t)
			continue
		}
		kept = append(kept, strings.TrimRightFunc(l, unicode.IsSpace))
	}
	lines = kept

	// "-- " delimiter and client footers.
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if t == "--" || t == "—" || t == "-- --" {
			lines = lines[:i]
			break
		}
		if len(t) >= 8 && len(t) < 80 && mk.isFooter(t) {
			lines = lines[:i]
			break
		}
	}

	lines = mk.cutDisclaimer(lines)
	lines = trimBlank(lines)
	lines = mk.cutSignOff(lines)
	lines = mk.cutSignatureBlock(lines)
	return trimBlank(lines), attachments
}

func (mk *Markers) isFooter(t string) bool {
	if c := t[0] | 0x20; mk.footerFirst != nil && !mk.footerFirst[c] {
		return false
	}
	lc := strings.ToLower(t)
	for _, p := range mk.footerPrefixes {
		if strings.HasPrefix(lc, p) {
			return true
		}
	}
	return false
}

// cutDisclaimer cuts at the first line of a disclaimer paragraph. In the
// first paragraph only a line with a strong cue of its own counts.
func (mk *Markers) cutDisclaimer(lines []string) []string {
	para, start := 0, 0
	for i := 0; i <= len(lines); i++ {
		if i < len(lines) && strings.TrimSpace(lines[i]) != "" {
			continue
		}
		if i > start {
			if mk.disclaimerScore(strings.ToLower(strings.Join(lines[start:i], " "))) >= 3 {
				for k := start; k < i; k++ {
					sc := mk.disclaimerScore(strings.ToLower(lines[k]))
					if para == 0 {
						if sc >= 3 {
							return lines[:k]
						}
						continue
					}
					if sc > 0 || isHeading(lines[k]) {
						return lines[:k]
					}
				}
			}
			para++
		}
		start = i + 1
	}
	return lines
}

// isHeading: a short all-caps or punctuation line ("DISCLAIMER", "*****").
func isHeading(l string) bool {
	t := strings.TrimSpace(l)
	if t == "" || len(t) > 40 {
		return false
	}
	for _, r := range t {
		if unicode.IsLower(r) {
			return false
		}
	}
	return true
}

func trimBlank(lines []string) []string {
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// isSignOff: "Best,", "Kind regards", "Mit freundlichen Grüßen", "Thanks, Nina".
func (mk *Markers) isSignOff(t string) bool {
	if len(t) > 48 || len(t) < 2 {
		return false
	}
	lc := strings.ToLower(strings.TrimRight(t, ",.!;:-– "))
	if mk.signOffs[lc] {
		return true
	}
	// phrase, name
	if c := strings.IndexByte(lc, ','); c > 0 && mk.signOffs[strings.TrimSpace(lc[:c])] {
		return mk.isNameLike(strings.TrimSpace(strings.TrimRight(t, ",.! "))[c+1:])
	}
	return false
}

// cutSignOff: after a sign-off line, a block of short non-prose lines
// (name, title, company, phone, address) is the signature: cut after the
// sign-off. The first sign-off that is followed only by such lines wins.
func (mk *Markers) cutSignOff(lines []string) []string {
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if !mk.isSignOff(t) {
			continue
		}
		if i == 0 {
			continue // an opening "Thanks," or "Merci !" is not a closing
		}
		if mk.signatureTail(lines[i+1:], true, true) {
			return lines[:i+1]
		}
	}
	return lines
}

// cutSignatureBlock handles a signature with no sign-off: a name line after
// a paragraph break followed by title/company/contact lines.
func (mk *Markers) cutSignatureBlock(lines []string) []string {
	for i := 1; i < len(lines); i++ {
		t := strings.TrimSpace(lines[i])
		if t == "" {
			continue
		}
		prev := strings.TrimSpace(lines[i-1])
		if !(prev == "" || endsSentence(prev)) {
			continue
		}
		if mk.isNameLike(t) {
			if hasContent(lines[i+1:]) && mk.signatureTail(lines[i+1:], false, true) && mk.hasSignatureLine(lines[i+1:]) {
				return lines[:i+1]
			}
			continue
		}
		if prev == "" && (isContactLine(t) || mk.isJobTitleLine(t)) && mk.signatureTail(lines[i:], false, false) {
			return lines[:i]
		}
	}
	return lines
}

func hasContent(lines []string) bool {
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			return true
		}
	}
	return false
}

// signatureTail: every remaining line is short and not prose; at most 14.
// With first set, the first non-empty line must look like a name or a
// signature line.
func (mk *Markers) signatureTail(lines []string, first, taglines bool) bool {
	n := 0
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" {
			continue
		}
		n++
		if n > 14 {
			return false
		}
		if isProse(t) {
			// Taglines and notices under a contact line belong to the
			// signature ("Questions about your invoice? Contact ...").
			return taglines && n > 1 && strongSignatureAbove(lines, l)
		}
		if first && n == 1 && !mk.isNameLike(t) && !mk.isSignatureLine(t) {
			return false
		}
	}
	return true
}

// strongSignatureAbove: a contact line ("a | b", e-mail, phone, web) occurs
// before the line stop.
func strongSignatureAbove(lines []string, stop string) bool {
	for _, l := range lines {
		if l == stop {
			return false
		}
		if t := strings.TrimSpace(l); t != "" && isContactLine(t) {
			return true
		}
	}
	return false
}

func (mk *Markers) hasSignatureLine(lines []string) bool {
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t != "" && mk.isSignatureLine(t) {
			return true
		}
	}
	return false
}

func endsSentence(t string) bool {
	switch t[len(t)-1] {
	case '.', '!', '?', ')':
		return true
	}
	return false
}

// isProse: a line a person writes in a message, not a signature line.
func isProse(t string) bool {
	if len(t) > 160 {
		return true
	}
	if strings.IndexByte(t, '?') >= 0 && !strings.Contains(t, "://") {
		return true
	}
	words := strings.Fields(t)
	if len(words) > 14 {
		return true
	}
	last := t[len(t)-1]
	if (last == '.' || last == '!') && len(words) >= 6 {
		return true
	}
	if (last == '.' || last == '!') && len(words) >= 4 {
		w := strings.Trim(words[len(words)-1], ".!")
		if last == '!' || utf8.RuneCountInString(w) > 4 {
			return true
		}
	}
	return false
}

// isNameLike: "Dana", "Dana Mills", "J. R. de la Cruz", "JD" (1 to 5 words,
// each capitalised or a name particle, letters only).
func (mk *Markers) isNameLike(t string) bool {
	t = strings.TrimSpace(strings.TrimRight(t, ", "))
	if t == "" || len(t) > 50 {
		return false
	}
	words := strings.Fields(t)
	if len(words) > 5 {
		return false
	}
	if mk.greetingWords[strings.ToLower(strings.Trim(words[0], ",.!"))] {
		return false
	}
	caps := 0
	for _, w := range words {
		if mk.nameParticles[strings.ToLower(w)] {
			continue
		}
		r, _ := utf8.DecodeRuneInString(w)
		if !unicode.IsUpper(r) {
			return false
		}
		for _, c := range w {
			if !(unicode.IsLetter(c) || c == '.' || c == '-' || c == '\'' || c == '’') {
				return false
			}
		}
		caps++
	}
	return caps > 0
}

// isTitleCaseLine: "Director of Operations, Oakridge School District",
// "Acme Legal": every word capitalised (or a small joining word).
func (mk *Markers) isTitleCaseLine(t string) bool {
	if len(t) > 90 || endsSentence(t) && !strings.HasSuffix(t, ".") {
		return false
	}
	words := strings.Fields(t)
	if len(words) < 1 || len(words) > 9 {
		return false
	}
	caps := 0
	for _, w := range words {
		w = strings.Trim(w, ",;:()")
		if w == "" || mk.smallWords[strings.ToLower(w)] {
			continue
		}
		r, _ := utf8.DecodeRuneInString(w)
		if !unicode.IsUpper(r) && !unicode.IsDigit(r) {
			return false
		}
		caps++
	}
	return caps > 0
}

// isJobTitleLine: a short line naming a job title ("Head of Procurement",
// "Legal Counsel, Acme"), which can open a signature that has no name line.
func (mk *Markers) isJobTitleLine(t string) bool {
	if len(strings.Fields(t)) > 8 || isProse(t) || endsSentence(t) {
		return false
	}
	return mk.hasTitleWord(t)
}

// isSignatureLine: title, company, contact or "a | b | c" line.
func (mk *Markers) isSignatureLine(t string) bool {
	if isContactLine(t) || mk.isTitleCaseLine(t) {
		return true
	}
	return mk.hasTitleWord(t)
}

func (mk *Markers) hasTitleWord(t string) bool {
	for _, w := range strings.FieldsFunc(t, func(r rune) bool {
		return unicode.IsSpace(r) || r == ',' || r == '|' || r == '/' || r == '(' || r == ')' || r == '&' || r == '·' || r == '•'
	}) {
		w = strings.Trim(w, ".:;-")
		if w == "" {
			continue
		}
		if mk.titleAcronyms[w] {
			return true
		}
		if r, _ := utf8.DecodeRuneInString(w); unicode.IsUpper(r) && mk.titleWords[strings.ToLower(w)] {
			return true
		}
	}
	return false
}

var phoneRe = regexp.MustCompile(`\+?\(?\d[\d\s().\-/]{6,}\d`)

// isContactLine: phone, e-mail, web address or a pipe-separated line.
func isContactLine(t string) bool {
	if strings.Contains(t, " | ") || strings.Contains(t, "@") || strings.Contains(t, "www.") || strings.Contains(t, "://") {
		return true
	}
	digits := 0
	for i := 0; i < len(t); i++ {
		if t[i] >= '0' && t[i] <= '9' {
			digits++
		}
	}
	return digits >= 7 && phoneRe.MatchString(t)
}
