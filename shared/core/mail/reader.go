package mail

import "strings"

// Email is one email as a signal carries it.
type Email struct {
	Headers map[string]string // may be nil
	From    string
	Subject string
	Body    string // plain text, HTML or a whole MIME message
}

// Reading is what a person reads of an email: the words its sender wrote
// now, or that a machine wrote it.
type Reading struct {
	// Text is what the sender wrote now: no quoted or forwarded history, no
	// signature, no disclaimer, no attachment lines.
	Text string
	// Attachments are the "Attachment: name" lines of the message.
	Attachments []string
	// Machine is one of the Machine* kinds, or "" for mail a person wrote.
	Machine string
	// MachineReason says what gave it away, for explanations.
	MachineReason string
}

// ParseFunc is a reader's first pass (Read by default).
type ParseFunc func(headers map[string]string, subject, body string) Message

// Reader reads emails in two passes: the first (Parse, [Read] when nil)
// reduces the message to its sender's text and flags machine mail; the
// second, conservative pass strips quoted history and signatures again and
// recognises machine mail the first let through (a raw message it could not
// take apart, an auto-reply without headers). The zero Reader is the one
// the engine uses; a test may swap the first pass.
type Reader struct {
	Parse   ParseFunc
	Markers *Markers // DefaultMarkers when nil
}

// ReadEmail reads one email.
func (r Reader) ReadEmail(e Email) Reading {
	mk := r.Markers
	if mk == nil {
		mk = DefaultMarkers()
	}
	parse := r.Parse
	if parse == nil {
		parse = mk.read
	}
	m := parse(e.Headers, e.Subject, e.Body)
	kind, why := m.Machine, m.MachineReason
	if kind == "" {
		kind, why = mk.fallbackMachine(e.Headers, e.From, e.Subject, m.Text)
	}
	if kind == "" && e.Body != m.Text {
		if h, rest, ok := embeddedHeaders(e.Body); ok {
			if kind, why = mk.fallbackMachine(h, h["From"], h["Subject"], rest); kind == "" {
				kind, why = rawMachine(h, rest)
			}
		}
	}
	if kind == "" {
		if h, rest, ok := embeddedHeaders(m.Text); ok {
			// a raw message the first pass did not take apart
			if kind, why = mk.fallbackMachine(h, h["From"], h["Subject"], rest); kind == "" {
				kind, why = rawMachine(h, rest)
			}
			if kind == "" {
				m.Text = rest
			}
		}
	}
	if kind != "" {
		return Reading{Machine: kind, MachineReason: why}
	}
	own, atts := mk.ownText(m.Text, e.From)
	return Reading{Text: own, Attachments: atts}
}

// WithAttachments is the text with the attachment lines after it, as the
// engine reads it (file names carry evidence: "..._signed.pdf").
func (rd Reading) WithAttachments() string {
	if len(rd.Attachments) == 0 {
		return rd.Text
	}
	return rd.Text + "\n\n" + strings.Join(rd.Attachments, "\n\n")
}
