package mail

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// The second pass of [Reader]: a conservative safety net on top of the first
// (Read by default), so quoted history, signatures and auto-replies never
// count even when the first pass lets one through. The checks below are
// idempotent on text that is already clean.

func (mk *Markers) isAttachmentLine(fl string) bool {
	for _, p := range mk.attachmentPrefixes {
		if strings.HasPrefix(fl, p) {
			rest := strings.TrimSpace(fl[len(p):])
			if strings.HasPrefix(rest, ":") {
				return true
			}
		}
	}
	return false
}

// isQuoteStart reports whether line i starts quoted or forwarded history.
func (mk *Markers) isQuoteStart(lines, folded []string, i int) bool {
	fl := strings.TrimSpace(folded[i])
	if fl == "" {
		return false
	}
	trimmed := strings.Trim(fl, "-_=* ")
	if strings.HasPrefix(fl, "--") || strings.HasPrefix(fl, "__") || strings.HasPrefix(fl, "==") {
		for _, s := range mk.quoteSeparators {
			if strings.Contains(trimmed, s) {
				return true
			}
		}
		if strings.HasPrefix(fl, "________") {
			return true
		}
	}
	for _, s := range mk.forwardOpenings {
		if strings.HasPrefix(trimmed, s) {
			return true
		}
	}
	// "On <date>, <name> wrote:" possibly over two lines
	joined := fl
	if i+1 < len(folded) {
		joined = fl + " " + strings.TrimSpace(folded[i+1])
	}
	if strings.HasSuffix(fl, ":") || strings.HasSuffix(joined, ":") {
		for _, v := range mk.wroteVerbs {
			if strings.Contains(fl, v) || (len(fl) < 120 && strings.Contains(joined, v) && strings.HasSuffix(joined, ":")) {
				// must look like a header line, not a sentence
				if len(fl) < 200 && (strings.ContainsAny(fl, "0123456789@<") || strings.HasPrefix(fl, "on ") || strings.HasPrefix(fl, "le ") || strings.HasPrefix(fl, "el ") || strings.HasPrefix(fl, "am ") || strings.HasPrefix(fl, "op ")) {
					return true
				}
			}
		}
	}
	for _, h := range mk.headerStarts {
		if strings.HasPrefix(fl, h) {
			for j := i + 1; j < len(folded) && j <= i+4; j++ {
				n := strings.TrimSpace(folded[j])
				for _, x := range mk.headerNext {
					if strings.HasPrefix(n, x) {
						return true
					}
				}
			}
		}
	}
	return false
}

func normLine(fl string) string {
	// letters, digits and single spaces only
	var b strings.Builder
	space := false
	for _, r := range fl {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '&' {
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(r)
		} else {
			space = true
		}
	}
	return b.String()
}

// isClosing: "Kind regards," or "Thanks, Tom" or "Best - Irene".
func (mk *Markers) isClosing(fl string) bool {
	n := normLine(fl)
	if mk.closings[n] {
		return true
	}
	if i := strings.IndexAny(fl, ",-–"); i > 0 {
		head := normLine(fl[:i])
		tail := strings.Fields(normLine(fl[i+1:]))
		if mk.closings[head] && len(tail) <= 3 {
			return true
		}
	}
	return false
}

func senderNames(from string) map[string]bool {
	from = strings.ToLower(from)
	if i := strings.IndexByte(from, '<'); i >= 0 {
		from = from[i+1:]
	}
	if i := strings.IndexByte(from, '@'); i >= 0 {
		from = from[:i]
	}
	out := map[string]bool{}
	for _, p := range strings.FieldsFunc(from, func(r rune) bool { return r == '.' || r == '_' || r == '-' || r == '+' }) {
		if len(p) >= 2 {
			out[Fold(p)] = true
		}
	}
	return out
}

// isNameLine: a short line of capitalised words naming the sender.
func isNameLine(line string, names map[string]bool) bool {
	words := strings.Fields(strings.TrimSpace(line))
	if len(words) == 0 || len(words) > 4 {
		return false
	}
	hit := false
	for _, w := range words {
		w = strings.Trim(w, ",.;:!")
		r, _ := utf8.DecodeRuneInString(w)
		if r == utf8.RuneError || !unicode.IsUpper(r) {
			return false
		}
		if names[Fold(strings.ToLower(w))] {
			hit = true
		}
	}
	return hit
}

func (mk *Markers) isDisclaimerStart(fl string) bool {
	for _, p := range mk.disclaimerStarts {
		if strings.HasPrefix(fl, p) {
			return true
		}
	}
	return false
}

// isSignatureish: a line that may sit under a sign-off.
func (mk *Markers) isSignatureish(line, fl string) bool {
	if strings.ContainsAny(line, "@|") || strings.Contains(fl, "http") || strings.Contains(fl, "www.") {
		return true
	}
	if mk.isDisclaimerStart(fl) || containsAny(fl, mk.signatureWords) {
		return true
	}
	if mk.isAttachmentLine(fl) {
		return true
	}
	return len(strings.Fields(line)) <= 12
}

// ownText returns what the sender wrote now (no quoted history, no
// signature) and the attachment lines of the message.
func (mk *Markers) ownText(text, from string) (string, []string) {
	if strings.IndexByte(text, '\r') >= 0 {
		text = strings.ReplaceAll(text, "\r\n", "\n")
	}
	lines := strings.Split(text, "\n")
	folded := make([]string, len(lines))
	for i, l := range lines {
		if len(l) > 300 {
			l = l[:300]
		}
		folded[i] = Fold(strings.ToLower(l))
	}
	var kept []int
	var atts []string
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, ">") {
			continue
		}
		if mk.isQuoteStart(lines, folded, i) {
			break
		}
		if mk.isAttachmentLine(strings.TrimSpace(folded[i])) {
			atts = append(atts, t)
			continue
		}
		kept = append(kept, i)
	}
	// signature: the first sign-off, name line, "--" or disclaimer after
	// some content, when everything below it looks like a signature
	names := senderNames(from)
	firstContent := -1
	cut := len(kept)
	for k, i := range kept {
		t := strings.TrimSpace(lines[i])
		if t == "" {
			continue
		}
		fl := strings.TrimSpace(folded[i])
		if firstContent < 0 {
			firstContent = k
			if !(t == "--" || t == "-- ") {
				continue
			}
		}
		candidate := t == "--" || t == "—" || strings.HasPrefix(t, "-- ") || mk.isDisclaimerStart(fl)
		if !candidate && (mk.isClosing(fl) || isNameLine(t, names)) {
			candidate = true
			for _, j := range kept[k+1:] {
				lt := strings.TrimSpace(lines[j])
				if lt != "" && !mk.isSignatureish(lt, strings.TrimSpace(folded[j])) {
					candidate = false
					break
				}
			}
		}
		if candidate {
			cut = k
			break
		}
	}
	var b strings.Builder
	for _, i := range kept[:cut] {
		b.WriteString(lines[i])
		b.WriteByte('\n')
	}
	return strings.TrimSpace(b.String()), atts
}

// fallbackMachine recognises machine mail the first pass did not flag.
func (mk *Markers) fallbackMachine(headers map[string]string, from, subject, text string) (string, string) {
	for k, v := range headers {
		lk := strings.ToLower(strings.TrimSpace(k))
		lv := strings.ToLower(strings.TrimSpace(v))
		switch lk {
		case "auto-submitted":
			if lv != "" && lv != "no" {
				return "auto_reply", k + ": " + v
			}
		case "x-autoreply", "x-autorespond", "x-auto-reply", "x-autogenerated":
			if lv != "" && lv != "no" && lv != "false" {
				return "auto_reply", k + ": " + v
			}
		case "precedence":
			switch lv {
			case "auto_reply", "auto-reply":
				return "auto_reply", k + ": " + v
			case "bulk", "list", "junk":
				return "bulk", k + ": " + v
			}
		case "x-failed-recipients":
			return "bounce", k + ": " + v
		case "content-type":
			if strings.Contains(lv, "multipart/report") {
				switch {
				case strings.Contains(lv, "feedback-report"):
					return "feedback_report", k + ": " + v
				case strings.Contains(lv, "disposition-notification"):
					return "delivery_report", k + ": " + v
				default:
					return "bounce", k + ": " + v
				}
			}
		case "list-id", "list-unsubscribe":
			return "bulk", k + ": " + v
		}
	}
	local := strings.ToLower(from)
	if i := strings.IndexByte(local, '<'); i >= 0 {
		local = local[i+1:]
		if j := strings.IndexByte(local, '>'); j >= 0 {
			local = local[:j]
		}
	}
	if i := strings.IndexByte(local, '@'); i >= 0 {
		local = local[:i]
	}
	if strings.TrimSpace(local) == "" && strings.Contains(from, "<>") {
		return "bounce", "empty sender <>"
	}
	switch local {
	case "mailer-daemon", "postmaster", "post_master", "mail-daemon", "mailerdaemon":
		return "bounce", "sender " + from
	case "noreply", "no-reply", "donotreply", "do-not-reply", "do_not_reply", "no_reply", "notifications", "notification":
		return "auto_reply", "sender " + from
	}
	fs := Fold(strings.ToLower(strings.TrimSpace(subject)))
	for _, k := range mk.machineSubjects {
		if strings.HasPrefix(fs, k.phrase) || strings.Contains(fs, ": "+k.phrase) {
			return k.kind, "subject " + subject
		}
	}
	open := text
	if len(open) > 800 {
		open = open[:800]
	}
	fo := strings.Join(strings.Fields(Fold(strings.ToLower(strings.ReplaceAll(open, "’", "'")))), " ")
	for _, k := range mk.machineText {
		if strings.Contains(fo, k.phrase) {
			return k.kind, "text: " + k.phrase
		}
	}
	return "", ""
}

// embeddedHeaders reads a header block at the top of text (a raw message
// the mail reader could not take apart): "Key: value" lines, with folded
// continuation lines, up to the first blank line. ok is false unless the
// block has at least three header lines.
func embeddedHeaders(text string) (h map[string]string, rest string, ok bool) {
	s := strings.TrimLeft(text, "\r\n")
	if strings.HasPrefix(s, "From ") { // mbox separator line
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		}
	}
	h = map[string]string{}
	last := ""
	n := 0
	for len(s) > 0 {
		i := strings.IndexByte(s, '\n')
		line := s
		if i >= 0 {
			line, s = s[:i], s[i+1:]
		} else {
			s = ""
		}
		line = strings.TrimRight(line, "\r")
		if line == "" {
			break
		}
		if (line[0] == ' ' || line[0] == '\t') && last != "" {
			h[last] += " " + strings.TrimSpace(line)
			continue
		}
		c := strings.IndexByte(line, ':')
		if c <= 0 || strings.ContainsAny(line[:c], " \t") {
			return nil, text, false
		}
		last = line[:c]
		if _, dup := h[last]; !dup {
			h[last] = strings.TrimSpace(line[c+1:])
		}
		n++
	}
	if n < 3 {
		return nil, text, false
	}
	return h, s, true
}

// rawReportMarkers recognise delivery and feedback reports inside a raw
// MIME message (the report is a part of its own).
var rawReportMarkers = []string{"message/delivery-status", "message/feedback-report", "report-type=delivery-status", "report-type=feedback-report",
	"report-type=disposition-notification", "feedback-type:", "x-failed-recipients:", "diagnostic-code:", "action: failed", "action: delayed",
	"final-recipient:", "original-recipient: rfc822", "mailing-list:", "list-id:", "list-unsubscribe:", "auto-submitted: auto-"}

// rawMachine checks a raw message (header block found) for report parts.
func rawMachine(h map[string]string, rest string) (string, string) {
	for k := range h {
		switch strings.ToLower(k) {
		case "mailing-list", "list-id", "list-post":
			return "bulk", k + " header"
		}
	}
	if len(rest) > 20000 {
		rest = rest[:20000]
	}
	l := strings.ToLower(rest)
	for _, m := range rawReportMarkers {
		if strings.Contains(l, m) {
			kind := "bounce"
			switch {
			case strings.Contains(m, "feedback"):
				kind = "feedback_report"
			case strings.Contains(m, "disposition"):
				kind = "delivery_report"
			case strings.Contains(m, "list"):
				kind = "bulk"
			case strings.Contains(m, "auto-submitted"):
				kind = "auto_reply"
			}
			return kind, "raw message part: " + m
		}
	}
	return "", ""
}

func setOf(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}
