// Package signal defines the normalised engagement evidence every source
// writes and the intent engine reads. The JSON shape is the one in the
// evaluation contract (shared/core/evalcase/FORMAT.md), so a case file, a webhook
// body and a stored item carry exactly the same fields.
package signal

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Kind names what happened.
type Kind string

const (
	KindEmail    Kind = "email"
	KindMeeting  Kind = "meeting"
	KindDocument Kind = "document"
	KindCall     Kind = "call"
	// KindStageRequest is an explicit "move deal N to stage S" from a form,
	// Zapier or Make. It passes through the same policy checks as evidence.
	KindStageRequest Kind = "stage_request"
)

// Signal is one piece of evidence. Only the fields of its kind are set.
type Signal struct {
	Kind Kind      `json:"kind"`
	At   time.Time `json:"at"`

	// email
	From    string            `json:"from,omitempty"`
	To      []string          `json:"to,omitempty"`
	Cc      []string          `json:"cc,omitempty"`
	Subject string            `json:"subject,omitempty"`
	Body    string            `json:"body,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`

	// meeting: Status is scheduled|rescheduled|canceled|held|no_show
	Status    string     `json:"status,omitempty"`
	StartsAt  *time.Time `json:"starts_at,omitempty"`
	Title     string     `json:"title,omitempty"`
	Organizer string     `json:"organizer,omitempty"`
	Attendees []string   `json:"attendees,omitempty"`

	// document: Action is sent|viewed|completed|declined,
	// DocType is proposal|quote|contract|other
	Action  string `json:"action,omitempty"`
	DocType string `json:"doc_type,omitempty"`
	Name    string `json:"name,omitempty"`
	Actor   string `json:"actor,omitempty"`
	Session string `json:"session,omitempty"`

	// call: Direction is outbound|inbound, Outcome is connected|no_answer|voicemail
	Direction string `json:"direction,omitempty"`
	Outcome   string `json:"outcome,omitempty"`
	DurationS int    `json:"duration_s,omitempty"`
	Notes     string `json:"notes,omitempty"`

	// stage_request: the target stage by name, optionally in a named pipeline
	Stage    string `json:"stage,omitempty"`
	Pipeline string `json:"pipeline,omitempty"`
}

// ErrInvalid marks a signal that cannot be evidence; callers answer 400.
var ErrInvalid = errors.New("invalid signal")

var (
	meetingStatuses = set("scheduled", "rescheduled", "canceled", "held", "no_show")
	docActions      = set("sent", "viewed", "completed", "declined")
	docTypes        = set("proposal", "quote", "contract", "other")
	callDirections  = set("outbound", "inbound")
	callOutcomes    = set("connected", "no_answer", "voicemail")
)

// Validate reports the first problem that makes the signal unusable, wrapped
// in ErrInvalid, with the field named so a sender can fix it.
func (s *Signal) Validate() error {
	if s.At.IsZero() {
		return invalid("at is required (RFC 3339 time)")
	}
	switch s.Kind {
	case KindEmail:
		if !strings.Contains(s.From, "@") {
			return invalid("email.from must be an email address")
		}
	case KindMeeting:
		if !meetingStatuses[s.Status] {
			return invalid("meeting.status must be one of scheduled, rescheduled, canceled, held, no_show")
		}
	case KindDocument:
		if !docActions[s.Action] {
			return invalid("document.action must be one of sent, viewed, completed, declined")
		}
		if s.DocType != "" && !docTypes[s.DocType] {
			return invalid("document.doc_type must be one of proposal, quote, contract, other")
		}
	case KindCall:
		if s.Direction != "" && !callDirections[s.Direction] {
			return invalid("call.direction must be outbound or inbound")
		}
		if s.Outcome != "" && !callOutcomes[s.Outcome] {
			return invalid("call.outcome must be one of connected, no_answer, voicemail")
		}
		if s.DurationS < 0 {
			return invalid("call.duration_s must not be negative")
		}
	case KindStageRequest:
		if strings.TrimSpace(s.Stage) == "" {
			return invalid("stage_request.stage (a stage name) is required")
		}
	case "":
		return invalid("kind is required")
	default:
		return invalid(fmt.Sprintf("kind %q is not one of email, meeting, document, call, stage_request", s.Kind))
	}
	return nil
}

func invalid(reason string) error { return fmt.Errorf("%w: %s", ErrInvalid, reason) }

func set(values ...string) map[string]bool {
	m := make(map[string]bool, len(values))
	for _, v := range values {
		m[v] = true
	}
	return m
}
