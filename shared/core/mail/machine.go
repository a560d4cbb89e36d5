package mail

import (
	"regexp"
	"strings"
)

// Machine mail detection. Headers decide first (they are what mail software
// writes on purpose); the subject and the opening of the text decide when
// headers are missing. Text cues are positional and need strong phrasing, so a
// person writing "I was out of office last week" is not an auto-reply.

// detectMachine returns the machine kind and what gave it away.
func (mk *Markers) detectMachine(h *hdrs, subject string, c *content, opening string) (kind, reason string) {
	// 1. Reports (RFC 3462/3464/3798/5965).
	if c.reportType != "" || c.dsn || c.feedback {
		switch {
		case c.feedback || c.reportType == "feedback-report":
			return MachineFeedback, "Content-Type: multipart/report; report-type=feedback-report"
		case c.reportType == "disposition-notification":
			return MachineDeliveryReport, "Content-Type: multipart/report; report-type=disposition-notification"
		default:
			rt := c.reportType
			if rt == "" {
				rt = "delivery-status"
			}
			if k := dsnKind(c.actions); k != "" {
				return k, "Content-Type: multipart/report; report-type=" + rt + " (Action:" + c.actions + ")"
			}
			if rt == "delivery-status" {
				if mk.deliveredSubject(subject) {
					return MachineDeliveryReport, "Content-Type: multipart/report; report-type=delivery-status"
				}
				return MachineBounce, "Content-Type: multipart/report; report-type=delivery-status"
			}
			return MachineBounce, "Content-Type: multipart/report; report-type=" + rt
		}
	}
	if mk.feedbackSubjectRe.MatchString(strings.ToLower(strings.TrimSpace(subject))) {
		return MachineFeedback, "Subject: " + shortHeader(subject)
	}
	// 2. Bounce headers.
	if h.hasFailedRecipients {
		return MachineBounce, "X-Failed-Recipients header"
	}
	if mk.isDaemonSender(h.from) {
		if mk.deliveredSubject(subject) {
			return MachineDeliveryReport, "From: " + shortHeader(h.from)
		}
		return MachineBounce, "From: " + shortHeader(h.from)
	}
	if k, ok := mk.bounceSubject(subject, opening); ok {
		return k, "Subject: " + shortHeader(subject)
	}
	// 3. Bounce text when headers are missing.
	if m := mk.bounceText.find(opening); m != "" {
		return MachineBounce, "text: \"" + m + "\""
	}
	// 4. RFC 3834 and vendor auto-reply headers.
	if as := strings.ToLower(strings.TrimSpace(h.autoSubmitted)); as != "" && !strings.HasPrefix(as, "no") {
		return MachineAutoReply, "Auto-Submitted: " + shortHeader(h.autoSubmitted)
	}
	if h.hasXAutoreply && !isNo(h.xAutoreply) {
		return MachineAutoReply, "X-Autoreply: " + shortHeader(h.xAutoreply)
	}
	if h.hasXAutorespond && !isNo(h.xAutorespond) {
		return MachineAutoReply, "X-Autorespond: " + shortHeader(h.xAutorespond)
	}
	if rs := strings.ToLower(h.responseSuppress); rs != "" && (strings.Contains(rs, "all") || strings.Contains(rs, "oof") || strings.Contains(rs, "autoreply")) {
		return MachineAutoReply, "X-Auto-Response-Suppress: " + shortHeader(h.responseSuppress)
	}
	if strings.Contains(strings.ToLower(h.appleAction), "vacation") {
		return MachineAutoReply, "X-Apple-Action: " + shortHeader(h.appleAction)
	}
	switch p := strings.ToLower(strings.TrimSpace(h.precedence)); p {
	case "auto_reply", "auto-reply", "junk":
		return MachineAutoReply, "Precedence: " + p
	case "bulk", "list":
		return MachineBulk, "Precedence: " + p
	}
	if h.hasListID {
		return MachineBulk, "List-Id header"
	}
	if h.hasListUnsubscribe {
		return MachineBulk, "List-Unsubscribe header"
	}
	if h.listHeader != "" {
		return MachineBulk, h.listHeader + " header"
	}
	// 5. Auto-reply by subject, then by the opening of the text.
	if m := mk.autoSubjectRe.FindString(strings.ToLower(strings.TrimSpace(subject))); m != "" {
		return MachineAutoReply, "Subject: " + shortHeader(subject)
	}
	if r := mk.autoReplyText(opening); r != "" {
		return MachineAutoReply, "text: \"" + r + "\""
	}
	// 6. A bounce forwarded with next to no words of one's own is still a bounce.
	if fw, ok := mk.forwardedSubject(subject); ok && len(opening) < 80 {
		if k, ok := mk.bounceSubject(fw, ""); ok {
			return k, "forwarded report, Subject: " + shortHeader(subject)
		}
	}
	// 7. A null envelope sender (Return-Path: <>) is used only by
	// delivery reports and auto-responders (RFC 5321 4.5.5, RFC 3834 3.3).
	if strings.TrimSpace(h.returnPath) == "<>" {
		return MachineBounce, "Return-Path: <> (null sender)"
	}
	return "", ""
}

// forwardedSubject strips one "Fwd:"-style prefix.
func (mk *Markers) forwardedSubject(s string) (string, bool) {
	t := strings.TrimSpace(s)
	if c := strings.IndexByte(t, ':'); c > 0 && c <= 12 {
		if mk.forwardSubjectPrefixes[strings.ToLower(strings.TrimSpace(t[:c]))] {
			return strings.TrimSpace(t[c+1:]), true
		}
	}
	return "", false
}

func isNo(v string) bool {
	v = strings.ToLower(strings.TrimSpace(v))
	return v == "no" || v == "false" || v == "0"
}

func shortHeader(v string) string {
	v = strings.TrimSpace(DecodeHeader(v))
	if len(v) > 80 {
		v = v[:80]
		for len(v) > 0 && v[len(v)-1]&0xC0 == 0x80 {
			v = v[:len(v)-1]
		}
		if len(v) > 0 && v[len(v)-1] >= 0xC0 {
			v = v[:len(v)-1]
		}
		v += "..."
	}
	return v
}

// dsnKind maps DSN Action values to a kind: any failure is a bounce; delays
// and successes are delivery reports.
func dsnKind(actions string) string {
	switch {
	case actions == "":
		return ""
	case strings.Contains(actions, "failed"):
		return MachineBounce
	case strings.Contains(actions, "delayed"), strings.Contains(actions, "delivered"),
		strings.Contains(actions, "relayed"), strings.Contains(actions, "expanded"):
		return MachineDeliveryReport
	}
	return ""
}

func (mk *Markers) isDaemonSender(from string) bool {
	if from == "" {
		return false
	}
	f := strings.ToLower(from)
	return containsAny(f, mk.daemonSenders)
}

func (mk *Markers) deliveredSubject(s string) bool {
	return mk.deliveredSubjectRe.MatchString(strings.ToLower(s))
}

func (mk *Markers) bounceSubject(subject, opening string) (string, bool) {
	s := strings.ToLower(strings.TrimSpace(subject))
	if s == "" {
		return "", false
	}
	for _, p := range mk.readReceipts {
		if strings.HasPrefix(s, p) {
			return MachineDeliveryReport, true
		}
	}
	if !mk.bounceSubjectRe.MatchString(s) && !(mk.weakBounceSubjectRe.MatchString(s) && (hasAnyWord(opening, mk.mailEvidence) || strings.Contains(opening, "@"))) {
		return "", false
	}
	if mk.deliveryReportSubjectRe.MatchString(s) {
		return MachineDeliveryReport, true
	}
	return MachineBounce, true
}

// autoReplyText looks at the opening of the text (already lower-cased by the
// caller) and returns the phrase that marks an auto-reply, or "".
func (mk *Markers) autoReplyText(opening string) string {
	if opening == "" {
		return ""
	}
	if m := mk.autoStrong.find(opening); m != "" {
		return strings.TrimSpace(m)
	}
	// A first line that reads like an auto-reply subject ("Automatische
	// Antwort", "Out of office", "Réponse automatique :").
	first := strings.TrimLeft(opening, " \t\n")
	if i := strings.IndexByte(first, '\n'); i >= 0 {
		first = first[:i]
	}
	if len(first) <= 50 && len(strings.Fields(first)) <= 6 {
		if m := mk.autoSubjectRe.FindString(strings.TrimSpace(first)); m != "" {
			return strings.TrimSpace(m)
		}
	}
	// Absence statements must open the message (first ~2 sentences) ...
	head := opening
	if len(head) > 240 {
		head = head[:240]
	}
	loc := mk.absence.findIndex(head)
	if loc == nil {
		return ""
	}
	// ... within the first two sentences after an optional greeting,
	if sentencesBefore(head[:loc[0]]) > 1 {
		return ""
	}
	// ... in the present tense ("I was out of office last week" is a person),
	if hasAnyWord(sentenceAt(head, loc[0]), mk.pastTense) {
		return ""
	}
	// ... with a return or redirect cue, and no question to the reader.
	if strings.IndexByte(opening, '?') >= 0 || !hasAnyWord(opening[loc[0]:], mk.returnCues) {
		return ""
	}
	return strings.TrimSpace(head[loc[0]:loc[1]])
}

// sentenceAt returns the sentence of s around byte offset i.
func sentenceAt(s string, i int) string {
	start := strings.LastIndexAny(s[:i], ".!?\n") + 1
	end := strings.IndexAny(s[i:], ".!?\n")
	if end < 0 {
		return s[start:]
	}
	return s[start : i+end]
}

// sentencesBefore counts sentence ends in s, not counting a greeting line.
func sentencesBefore(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '.', '!':
			if i+1 == len(s) || s[i+1] == ' ' || s[i+1] == '\n' {
				n++
			}
		}
	}
	return n
}

// phrases is a list of small regexps searched one by one. Go's regexp scans
// a large unanchored alternation byte by byte through every branch; a small
// regexp that opens with a literal is instead found with a fast substring
// search, which keeps Read at tens of microseconds.
type phrases []phrase

type phrase struct {
	lit string // literal every match starts with
	re  *regexp.Regexp
}

func newPhrases(patterns ...string) phrases {
	ps := make(phrases, len(patterns))
	for i, p := range patterns {
		re := regexp.MustCompile(p)
		lit, _ := re.LiteralPrefix()
		ps[i] = phrase{lit: lit, re: re}
	}
	return ps
}

// find returns the first pattern's match (in list order), or "".
func (ps phrases) find(s string) string {
	for _, p := range ps {
		if p.lit != "" && !strings.Contains(s, p.lit) {
			continue
		}
		if m := p.re.FindString(s); m != "" {
			return m
		}
	}
	return ""
}

// findIndex returns the leftmost match of any pattern, or nil.
func (ps phrases) findIndex(s string) []int {
	var best []int
	for _, p := range ps {
		if p.lit != "" && !strings.Contains(s, p.lit) {
			continue
		}
		if loc := p.re.FindStringIndex(s); loc != nil && (best == nil || loc[0] < best[0]) {
			best = loc
		}
	}
	return best
}

// hasAnyWord reports whether s contains one of words as a whole word
// (letters on either side do not count; non-ASCII bytes count as letters).
func hasAnyWord(s string, words []string) bool {
	for _, w := range words {
		for off := 0; ; {
			i := strings.Index(s[off:], w)
			if i < 0 {
				break
			}
			i += off
			j := i + len(w)
			if (i == 0 || !isWordByte(s[i-1])) && (j == len(s) || !isWordByte(s[j])) {
				return true
			}
			off = i + 1
		}
	}
	return false
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}
