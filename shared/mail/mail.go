// Package mail reads an email the way a person does: only what this sender
// wrote now counts, and machine mail is recognised as such.
package mail

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

// Read reduces an email as a mail client holds it. headers may be nil; body
// may be plain text, HTML or a whole MIME message.
//
// TODO(mail helper): real implementation; this stub only passes text through.
func Read(headers map[string]string, subject, body string) Message {
	return Message{Text: body}
}
