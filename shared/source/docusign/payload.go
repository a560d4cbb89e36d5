package docusign

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/stagemover/stagemover/shared/core/signal"
	"github.com/stagemover/stagemover/shared/source/doctype"
	"github.com/stagemover/stagemover/shared/source/ingest"
)

// Source names this source in signal keys ("SIG#docusign#<event id>").
const Source = "docusign"

// Events this source reads, and their action.
var eventActions = map[string]string{
	"envelope-sent":       "sent",
	"envelope-delivered":  "viewed",
	"envelope-completed":  "completed",
	"envelope-declined":   "declined",
	"recipient-delivered": "viewed",
	"recipient-completed": "completed",
	"recipient-declined":  "declined",
}

// ignoredEvent matches the other documented Connect events
// (envelope-created, -resent, -voided, -corrected, -purge, -deleted,
// -discard, recipient-sent, -resent, -autoresponded,
// -authenticationfailed, -reassign, -delegate, -finish-later,
// template-created, -modified, ...): acknowledged (200 "ignored"), nothing
// stored, so a broader Connect configuration never makes DocuSign retry.
var ignoredEvent = regexp.MustCompile(`^(envelope|recipient|template|click)-[a-z-]{1,60}$`)
var envelopeID = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)
var recipientID = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)

// ErrInvalid marks a body that is not a usable Connect message; Parse
// refuses it with an ingest.RejectError (400) wrapping ErrInvalid.
var ErrInvalid = errors.New("invalid docusign connect message")

// Message is a JSON SIM Connect message.
type Message struct {
	Event             string          `json:"event"`
	APIVersion        string          `json:"apiVersion"`
	URI               string          `json:"uri"`
	RetryCount        json.RawMessage `json:"retryCount"`
	ConfigurationID   json.RawMessage `json:"configurationId"`
	GeneratedDateTime string          `json:"generatedDateTime"`
	Data              *Data           `json:"data"`
}

// Data is the message's data element.
type Data struct {
	AccountID       string    `json:"accountId"`
	UserID          string    `json:"userId"`
	EnvelopeID      string    `json:"envelopeId"`
	RecipientID     flexID    `json:"recipientId"` // recipient events
	EnvelopeSummary *Envelope `json:"envelopeSummary"`
}

// Envelope is the part of envelopeSummary a signal needs.
type Envelope struct {
	EnvelopeID        string      `json:"envelopeId"`
	Status            string      `json:"status"`
	EmailSubject      string      `json:"emailSubject"`
	Sender            *Sender     `json:"sender"`
	Recipients        *Recipients `json:"recipients"`
	EnvelopeDocuments []Document  `json:"envelopeDocuments"`
	SentDateTime      string      `json:"sentDateTime"`
	DeliveredDateTime string      `json:"deliveredDateTime"`
	CompletedDateTime string      `json:"completedDateTime"`
	DeclinedDateTime  string      `json:"declinedDateTime"`
}

// Sender is the envelope's sender (the vendor).
type Sender struct {
	UserName string `json:"userName"`
	UserID   string `json:"userId"`
	Email    string `json:"email"`
}

// Recipients are the envelope's recipients by type.
type Recipients struct {
	Signers             []Recipient `json:"signers"`
	InPersonSigners     []Recipient `json:"inPersonSigners"`
	CertifiedDeliveries []Recipient `json:"certifiedDeliveries"`
	Agents              []Recipient `json:"agents"`
	Editors             []Recipient `json:"editors"`
	Intermediaries      []Recipient `json:"intermediaries"`
	CarbonCopies        []Recipient `json:"carbonCopies"`
}

// Recipient is one recipient with its progress.
type Recipient struct {
	Email             string `json:"email"`
	Name              string `json:"name"`
	RecipientID       flexID `json:"recipientId"`
	RecipientIDGuid   string `json:"recipientIdGuid"`
	Status            string `json:"status"` // created|sent|delivered|completed|declined|autoresponded|...
	RoutingOrder      flexID `json:"routingOrder"`
	DeliveredDateTime string `json:"deliveredDateTime"`
	SignedDateTime    string `json:"signedDateTime"`
	DeclinedDateTime  string `json:"declinedDateTime"`
	signer            bool
}

// Document is one of the envelope's documents.
type Document struct {
	DocumentID flexID `json:"documentId"`
	Name       string `json:"name"`
}

// flexID accepts an id DocuSign writes as a string ("1") or a number (1).
type flexID string

func (f *flexID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexID(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*f = flexID(n.String())
	return nil
}

// Config is what normalisation needs besides the body.
type Config struct {
	Rules           *doctype.Rules // nil: doctype.Default()
	InternalDomains []string
}

// Item is a normalised message.
type Item struct {
	Event       string        `json:"event"`
	Ignored     string        `json:"ignored,omitempty"`
	EventID     string        `json:"event_id,omitempty"`
	PersonEmail string        `json:"person_email,omitempty"`
	Signal      signal.Signal `json:"signal"`
}

const maxName = 500

// Parse reads one JSON SIM message and normalises it.
//
// Mapping:
//   - envelope-sent: "sent", actor = the sender (vendor);
//   - recipient-delivered / -completed / -declined: "viewed" / "completed" /
//     "declined", actor = the recipient data.recipientId names, whoever it
//     is (a vendor-side signer stays the actor: the engine discounts it);
//   - envelope-delivered: "viewed", envelope-completed: "completed",
//     envelope-declined: "declined"; the actor is the buyer-side signer
//     whose status shows it (delivered, completed, declined), else the
//     first buyer-side signer;
//   - session (views only): one per envelope, viewer and UTC day
//     (doctype.Session): DocuSign reports no viewing session, and
//     envelope-delivered and recipient-delivered for the same view fall
//     into the same session.
//
// person_email is the first buyer-side recipient (signers first, then
// carbon copies; not in InternalDomains, not the sender). An envelope
// without one is ignored. name is the email subject (else the first
// document's name); doc_type comes from the rules on the email subject,
// then on each document name. The message must carry envelopeSummary with
// recipients (Connect's eventData.includeData: "recipients").
//
// at is the time of the change the event reports (the recipient's or the
// envelope's sent/delivered/signed/completed/declined time), else
// generatedDateTime. event_id = envelope id, event, recipient id (recipient
// events) and that time: stable across Connect's retries (which change
// retryCount), distinct for each event.
func Parse(body []byte, cfg Config) (Item, error) {
	var it Item
	var m Message
	if isXML(body) {
		return it, invalid("DocuSign Connect must send JSON (SIM); XML is not supported: set the Connect configuration's data format to JSON (deliveryMode SIM, eventData.version restv2.1)")
	}
	if err := ingest.DecodeJSON(body, &m); err != nil {
		return it, invalid("body is not a Connect JSON SIM message: %s", err)
	}
	it.Event = m.Event
	action, used := eventActions[m.Event]
	switch {
	case used:
	case m.Event == "":
		return it, invalid("event is required (configure Connect for JSON SIM: deliveryMode SIM, eventData.version restv2.1)")
	case ignoredEvent.MatchString(m.Event):
		it.Ignored = "event " + m.Event + " is not used"
		return it, nil
	default:
		return it, invalid("event %q is not supported", doctype.Clip(m.Event, 60))
	}
	d := m.Data
	if d == nil {
		return it, invalid("data is required")
	}
	if !envelopeID.MatchString(d.EnvelopeID) {
		return it, invalid("data.envelopeId is required")
	}
	env := d.EnvelopeSummary
	if env == nil || env.Recipients == nil {
		return it, invalid("data.envelopeSummary.recipients is required: add \"recipients\" to the Connect configuration's eventData.includeData")
	}
	isRecipientEvent := strings.HasPrefix(m.Event, "recipient-")
	if isRecipientEvent && !recipientID.MatchString(string(d.RecipientID)) {
		return it, invalid("data.recipientId is required for %s", m.Event)
	}

	in := doctype.NewInternal(cfg.InternalDomains)
	var sender string
	if env.Sender != nil {
		if a, ok := doctype.Address(env.Sender.Email); ok {
			sender = a
			in.Add(a)
		}
	}
	all := recipients(env.Recipients)
	var buyers []Recipient
	seen := map[string]bool{}
	for _, r := range all {
		if a, ok := doctype.Address(r.Email); ok && !seen[a] && !in.Is(a) {
			seen[a] = true
			r.Email = a
			buyers = append(buyers, r)
		}
	}
	if len(buyers) == 0 {
		it.Ignored = "no buyer-side recipient (every recipient is internal or has no email address)"
		return it, nil
	}

	s := signal.Signal{Kind: signal.KindDocument, Action: action}
	names := []string{env.EmailSubject}
	for _, doc := range env.EnvelopeDocuments {
		names = append(names, doc.Name)
	}
	rules := cfg.Rules
	if rules == nil {
		rules = doctype.Default()
	}
	s.DocType = rules.Classify(names...)
	for _, n := range names {
		if strings.TrimSpace(n) != "" {
			s.Name = doctype.Clip(strings.TrimSpace(n), maxName)
			break
		}
	}

	var when string
	marker := m.Event
	switch {
	case isRecipientEvent:
		var r *Recipient
		for i := range all {
			if string(all[i].RecipientID) == string(d.RecipientID) {
				r = &all[i]
				break
			}
		}
		if r == nil {
			return it, invalid("data.recipientId %q is not among envelopeSummary.recipients", string(d.RecipientID))
		}
		a, ok := doctype.Address(r.Email)
		if !ok {
			return it, invalid("the recipient %q has no email address", string(d.RecipientID))
		}
		s.Actor = a
		marker += ":" + string(d.RecipientID)
		when = pick(action, r.DeliveredDateTime, r.SignedDateTime, r.DeclinedDateTime)
	case action == "sent":
		s.Actor = sender
		when = env.SentDateTime
	default:
		status := map[string]string{"viewed": "delivered", "completed": "completed", "declined": "declined"}[action]
		s.Actor = buyers[0].Email
		for _, b := range buyers {
			if b.signer && (strings.EqualFold(b.Status, status) || (status == "delivered" && strings.EqualFold(b.Status, "completed"))) {
				s.Actor = b.Email
				when = pick(action, b.DeliveredDateTime, b.SignedDateTime, b.DeclinedDateTime)
				break
			}
		}
		if t := pick(action, env.DeliveredDateTime, env.CompletedDateTime, env.DeclinedDateTime); t != "" && (action != "viewed" || when == "") {
			when = t
		}
	}
	at, err := firstTime(when, m.GeneratedDateTime)
	if err != nil {
		return it, err
	}
	s.At = at
	if action == "viewed" {
		s.Session = doctype.Session(Source, d.EnvelopeID, s.Actor, s.At)
	}
	if err := s.Validate(); err != nil {
		return it, invalid("%s", err)
	}
	it.EventID = d.EnvelopeID + ":" + marker + ":" + s.At.Format(time.RFC3339Nano)
	it.PersonEmail = buyers[0].Email
	it.Signal = s
	return it, nil
}

// recipients flattens the recipient lists, signers first.
func recipients(r *Recipients) []Recipient {
	var out []Recipient
	for _, list := range [][]Recipient{r.Signers, r.InPersonSigners} {
		for _, x := range list {
			x.signer = true
			out = append(out, x)
		}
	}
	for _, list := range [][]Recipient{r.CertifiedDeliveries, r.Agents, r.Editors, r.Intermediaries, r.CarbonCopies} {
		out = append(out, list...)
	}
	return out
}

func pick(action, delivered, signed, declined string) string {
	switch action {
	case "viewed":
		return delivered
	case "completed":
		return signed
	case "declined":
		return declined
	}
	return ""
}

func firstTime(values ...string) (time.Time, error) {
	for _, v := range values {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return time.Time{}, invalid("times must be RFC 3339, e.g. 2026-03-09T16:05:11.4820000Z (got %q)", doctype.Clip(v, 40))
		}
		if t.Year() < 2000 {
			continue // DocuSign's "0001-01-01T08:00:00.0000000Z" means "not yet"
		}
		return t.UTC(), nil
	}
	return time.Time{}, invalid("the event's time (the envelope's or recipient's date, or generatedDateTime) is required")
}

// isXML: the first byte after an optional byte order mark and white space
// is '<', as in Connect's legacy XML messages (<?xml ...?> or
// <DocuSignEnvelopeInformation>); JSON never starts so.
func isXML(body []byte) bool {
	b := bytes.TrimLeft(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")), " \t\r\n")
	return len(b) > 0 && b[0] == '<'
}

func invalid(format string, args ...any) error {
	return ingest.Reject(http.StatusBadRequest, ErrInvalid, format, args...)
}
