// Package mail reads an email the way a person does: only what this sender
// wrote now counts, and machine mail is recognised as such.
//
// [Read] is the first pass; a [Reader] adds a conservative second pass and
// is what the intent engine reads email with. The words that mark quoted
// history, signatures, disclaimers and machine mail are data, one file per
// language (markers/*.yaml, see [LoadMarkers]): adding a language is adding
// a file.
package mail

import "strings"

// Machine kinds: mail no person wrote, which must never advance a deal.
const (
	MachineAutoReply      = "auto_reply"      // out-of-office, vacation, "thanks for your message"
	MachineBounce         = "bounce"          // non-delivery report
	MachineDeliveryReport = "delivery_report" // delivery status / read receipts
	MachineFeedback       = "feedback_report" // ARF abuse / complaint reports
	MachineBulk           = "bulk"            // list or bulk mail (Precedence: bulk/list, List-Id)
)

// Message is an email reduced to what matters for intent.
type Message struct {
	// Text is what this sender wrote now, as plain text: no quoted history,
	// no forwarded parts, no signature, no legal disclaimer.
	Text string
	// Machine is one of the Machine* kinds, or "" for mail a person wrote.
	Machine string
	// MachineReason says what gave it away (a header or a phrase), for explanations.
	MachineReason string
}

// openingLen is how much of the sender's own text is searched for
// auto-reply and bounce phrases: they open such messages.
const openingLen = 500

// maxLines bounds the lines read, which keeps the few look-ahead scans
// linear in practice on hostile input.
const maxLines = 3000

// Read reduces an email as a mail client holds it. headers may be nil; body
// may be plain text, HTML or a whole MIME message.
//
// Header names are matched case-insensitively. When headers carry a
// Content-Type (and Content-Transfer-Encoding), body is decoded accordingly:
// multipart bodies yield their text/plain part (or the HTML part rendered as
// text), attachments are listed as "Attachment: name" lines. Read never fails:
// what cannot be decoded is read as text.
func Read(headers map[string]string, subject, body string) Message {
	return DefaultMarkers().read(headers, subject, body)
}

// read is Read with these markers.
func (mk *Markers) read(headers map[string]string, subject, body string) Message {
	h := scanHeaders(headers)
	if looksMIMEMessage(body) {
		if hh, s, b, err := ParseRaw([]byte(body)); err == nil {
			inner := scanHeaders(hh)
			h.fill(inner)
			if subject == "" {
				subject = s
			}
			body = b
		}
	}
	if subject == "" && h.subject != "" {
		subject = DecodeHeader(h.subject)
	}

	c := extract(&h, body)
	text := c.text
	if c.html {
		text = htmlToText(text)
	}
	if strings.IndexByte(text, '\r') >= 0 {
		text = strings.ReplaceAll(text, "\r\n", "\n")
		text = strings.ReplaceAll(text, "\r", "\n")
	}
	lines := strings.Split(text, "\n")
	if len(lines) > maxLines {
		lines = lines[:maxLines] // what a person writes now comes first
	}
	own := mk.ownLines(lines)
	cut := mk.quoteCut(lines)
	answers, taken := mk.inlineAnswers(lines, cut)
	if len(taken) > 0 {
		own = own[:0:0]
		for i, l := range lines[:cut] {
			if !taken[i] && !isQuotedLine(l) {
				own = append(own, l)
			}
		}
	}

	opening := openingText(own)
	kind, reason := mk.detectMachine(&h, subject, &c, opening)

	kept, attachments := mk.stripSignature(own)
	if len(answers) > 0 {
		kept = append(append(kept, ""), answers...)
	}
	for _, a := range c.attachments {
		attachments = append(attachments, "Attachment: "+a)
	}
	return Message{Text: joinText(kept, attachments), Machine: kind, MachineReason: reason}
}

// openingText is the lower-cased start of the sender's own text.
func openingText(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" && b.Len() == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(t)
		if b.Len() >= openingLen {
			break
		}
	}
	s := b.String()
	if len(s) > openingLen {
		s = s[:openingLen]
	}
	return strings.ToLower(s)
}

// joinText joins lines, collapsing runs of blank lines into one.
func joinText(lines, tail []string) string {
	var b strings.Builder
	blank := false
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			blank = b.Len() > 0
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
			if blank {
				b.WriteByte('\n')
			}
		}
		blank = false
		b.WriteString(l)
	}
	for i, l := range tail {
		if b.Len() > 0 {
			b.WriteByte('\n')
			if i == 0 {
				b.WriteByte('\n')
			}
		}
		b.WriteString(l)
	}
	return strings.TrimSpace(b.String())
}
