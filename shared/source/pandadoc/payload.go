package pandadoc

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/stagemover/stagemover/shared/core/signal"
	"github.com/stagemover/stagemover/shared/source/doctype"
	"github.com/stagemover/stagemover/shared/source/ingest"
)

// Webhook events this source reads.
const (
	EventStateChanged       = "document_state_changed"
	EventRecipientCompleted = "recipient_completed"
)

// Document statuses (data.status) that become signals, and their action.
var statusActions = map[string]string{
	"document.sent":      "sent",
	"document.viewed":    "viewed",
	"document.completed": "completed",
	"document.declined":  "declined",
}

// ignoredEvent matches the other documented events (document_updated,
// document_deleted, document_creation_failed, document_completed_pdf_ready,
// document_section_added, quote_updated, template_created/_updated/_deleted,
// content_library_item_created/_creation_failed) and later ones of the same
// families: acknowledged (200 "ignored"), nothing stored, so adding them to
// the subscription never makes PandaDoc retry. Other document statuses
// (draft, waiting_approval, approved, rejected, waiting_pay, paid,
// cancelled, voided, expired, ...) are ignored the same way.
var ignoredEvent = regexp.MustCompile(`^(document|recipient|template|content_library_item|quote)_[a-z_]{1,60}$`)
var docStatus = regexp.MustCompile(`^document\.[a-z_]{1,60}$`)
var docID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ErrInvalid marks a body that is not a usable PandaDoc delivery; Parse
// refuses it with an ingest.RejectError (400) wrapping ErrInvalid.
var ErrInvalid = errors.New("invalid pandadoc delivery")

// Notification is one element of the delivered array.
type Notification struct {
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
}

// Document is the part of the notification's data a signal needs.
type Document struct {
	ID           string      `json:"id"`
	Name         string      `json:"name"`
	Status       string      `json:"status"`
	DateCreated  *time.Time  `json:"date_created"`
	DateModified *time.Time  `json:"date_modified"`
	CreatedBy    *Person     `json:"created_by"`
	SentBy       *Person     `json:"sent_by"`
	Recipients   []Recipient `json:"recipients"`
	Template     *Template   `json:"template"`
	// recipient_completed only
	ActionBy   *Person    `json:"action_by"`
	ActionDate *time.Time `json:"action_date"`
}

// Person is a PandaDoc user or contact (created_by, sent_by, action_by).
type Person struct {
	ID        string `json:"id"`
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
}

// Recipient is one of the document's recipients.
type Recipient struct {
	ID            string `json:"id"`
	Email         string `json:"email"`
	FirstName     string `json:"first_name"`
	LastName      string `json:"last_name"`
	RecipientType string `json:"recipient_type"` // SIGNER, CC, ...
	HasCompleted  bool   `json:"has_completed"`
	Role          string `json:"role"`
	SigningOrder  *int   `json:"signing_order"`
}

// Template is the template the document was created from.
type Template struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Config is what normalisation needs besides the body.
type Config struct {
	Rules           *doctype.Rules // nil: doctype.Default()
	InternalDomains []string       // the vendor's domains (INTERNAL_DOMAINS)
}

// Item is one notification of a delivery, normalised.
type Item struct {
	Index       int           `json:"index"`             // position in the delivered array
	Event       string        `json:"event"`             // webhook event
	Status      string        `json:"status,omitempty"`  // data.status
	Ignored     string        `json:"ignored,omitempty"` // why nothing is stored for it
	EventID     string        `json:"event_id,omitempty"`
	PersonEmail string        `json:"person_email,omitempty"` // the buyer-side recipient: the deal is resolved from it
	Signal      signal.Signal `json:"signal"`
}

const (
	maxItems = 100
	maxName  = 500
)

// Source names this source in signal keys ("SIG#pandadoc#<event id>").
const Source = "pandadoc"

// Parse reads a delivery body (a JSON array of notifications; a single
// object is accepted as a one-element array) and normalises each
// notification. It fails, wrapping ErrInvalid with a reason naming the
// element, when any notification is unusable: a delivery is stored whole
// or not at all.
//
// Mapping (see the package documentation for the sources):
//   - document_state_changed with status document.sent: action "sent",
//     actor = sent_by (else created_by): the vendor;
//   - document.viewed: action "viewed". PandaDoc does not say who viewed:
//     the actor is the recipient who can have opened it, that is, when
//     signing orders are set, the pending signer first in order, else the
//     first buyer-side recipient (signers first). session = one per
//     document, actor and day (doctype.Session), as PandaDoc reports no
//     viewing session;
//   - document.completed: action "completed", actor = the buyer-side
//     recipient who completed (signers first);
//   - document.declined: action "declined", actor = the first buyer-side
//     signer who had not completed (the decliner is not named);
//   - recipient_completed: action "completed", actor = action_by, whoever
//     that is (a vendor countersignature stays the vendor's: the engine
//     discounts it).
//
// person_email is the first buyer-side recipient (signers first): not in
// InternalDomains and not the sender or creator. A document with no
// buyer-side recipient is ignored (no deal to find). doc_type comes from
// the rules on the document name, then the template name.
//
// event_id = document id, event, the status (or, for recipient_completed,
// the actor) and the time of the change (date_modified, or action_date):
// stable over PandaDoc's redeliveries, distinct for each state change.
func Parse(body []byte, cfg Config) ([]Item, error) {
	trimmed := bytes.TrimSpace(body)
	var list []Notification
	switch {
	case len(trimmed) > 0 && trimmed[0] == '{':
		var n Notification
		if err := ingest.DecodeJSON(trimmed, &n); err != nil {
			return nil, invalid("body is not a PandaDoc webhook payload: %s", err)
		}
		list = []Notification{n}
	default:
		if err := ingest.DecodeJSON(trimmed, &list); err != nil {
			return nil, invalid("body is not a PandaDoc webhook payload (a JSON array of notifications): %s", err)
		}
	}
	if len(list) == 0 {
		return nil, invalid("body holds no notifications")
	}
	if len(list) > maxItems {
		return nil, invalid("body holds more than %d notifications", maxItems)
	}
	rules := cfg.Rules
	if rules == nil {
		rules = doctype.Default()
	}
	items := make([]Item, 0, len(list))
	for i, n := range list {
		it, err := normalise(n, rules, cfg.InternalDomains)
		if err != nil {
			var re *ingest.RejectError
			if len(list) > 1 && errors.As(err, &re) {
				return nil, invalid("notification %d: %s", i, re.Reason)
			}
			return nil, err
		}
		it.Index = i
		items = append(items, it)
	}
	return items, nil
}

func normalise(n Notification, rules *doctype.Rules, internal []string) (Item, error) {
	it := Item{Event: n.Event}
	switch {
	case n.Event == EventStateChanged || n.Event == EventRecipientCompleted:
	case n.Event == "":
		return it, invalid("event is required")
	case ignoredEvent.MatchString(n.Event):
		it.Ignored = "event " + n.Event + " is not used"
		return it, nil
	default:
		return it, invalid("event %q is not supported (want %s or %s)", doctype.Clip(n.Event, 60), EventStateChanged, EventRecipientCompleted)
	}
	if d := bytes.TrimSpace(n.Data); len(d) == 0 || bytes.Equal(d, []byte("null")) {
		return it, invalid("data is required")
	}
	var d Document
	if err := json.Unmarshal(n.Data, &d); err != nil {
		return it, invalid("data is not a document: %s", ingest.DescribeJSON(err))
	}
	if !docID.MatchString(d.ID) {
		return it, invalid("data.id (the document id) is required")
	}
	it.Status = d.Status
	if !docStatus.MatchString(d.Status) {
		return it, invalid("data.status must be a document status such as document.sent")
	}
	action, used := statusActions[d.Status]
	if n.Event == EventRecipientCompleted {
		action, used = "completed", true
	}
	if !used {
		it.Ignored = "status " + d.Status + " is not used"
		return it, nil
	}

	in := doctype.NewInternal(internal)
	var sender string
	for _, p := range []*Person{d.SentBy, d.CreatedBy} {
		if p != nil {
			in.Add(p.Email)
			if a, ok := doctype.Address(p.Email); ok && sender == "" {
				sender = a
			}
		}
	}
	buyers := buyerRecipients(d.Recipients, in)
	if len(buyers) == 0 {
		it.Ignored = "no buyer-side recipient (every recipient is internal or has no email address)"
		return it, nil
	}
	person := buyers[0].email

	s := signal.Signal{Kind: signal.KindDocument, Action: action, Name: doctype.Clip(strings.TrimSpace(d.Name), maxName)}
	var tmpl string
	if d.Template != nil {
		tmpl = d.Template.Name
	}
	s.DocType = rules.Classify(d.Name, tmpl)
	at := d.DateModified
	marker := d.Status
	switch {
	case n.Event == EventRecipientCompleted:
		if d.ActionBy == nil {
			return it, invalid("data.action_by is required for %s", EventRecipientCompleted)
		}
		a, ok := doctype.Address(d.ActionBy.Email)
		if !ok {
			return it, invalid("data.action_by.email must be the recipient's email address")
		}
		s.Actor = a
		marker = a
		if d.ActionDate != nil {
			at = d.ActionDate
		}
	case action == "sent":
		s.Actor = sender
	case action == "viewed":
		s.Actor = viewer(d.Recipients, buyers)
	case action == "completed":
		s.Actor = person
		for _, b := range buyers {
			if b.r.HasCompleted {
				s.Actor = b.email
				break
			}
		}
	case action == "declined":
		s.Actor = person
		for _, b := range buyers {
			if !b.r.HasCompleted && isSigner(b.r) {
				s.Actor = b.email
				break
			}
		}
	}
	if at == nil || at.IsZero() {
		return it, invalid("data.date_modified (the time of the change) is required")
	}
	s.At = at.UTC()
	if action == "viewed" {
		s.Session = doctype.Session(Source, d.ID, s.Actor, s.At)
	}
	if err := s.Validate(); err != nil {
		return it, invalid("%s", err)
	}
	it.EventID = d.ID + ":" + n.Event + ":" + marker + ":" + s.At.Format(time.RFC3339Nano)
	it.PersonEmail = person
	it.Signal = s
	return it, nil
}

type party struct {
	email string
	r     Recipient
}

// buyerRecipients lists the recipients that are not vendor side, signers
// first, each address once.
func buyerRecipients(rs []Recipient, in *doctype.Internal) []party {
	var out []party
	seen := map[string]bool{}
	for _, signersPass := range []bool{true, false} {
		for _, r := range rs {
			a, ok := doctype.Address(r.Email)
			if !ok || seen[a] || in.Is(a) || isSigner(r) != signersPass {
				continue
			}
			seen[a] = true
			out = append(out, party{a, r})
		}
	}
	return out
}

// viewer is who opened the document: with signing orders set, the pending
// signer first in order (internal or not: only they can open it to sign),
// else the first buyer-side recipient.
func viewer(rs []Recipient, buyers []party) string {
	var pending []Recipient
	for _, r := range rs {
		if r.SigningOrder != nil && isSigner(r) && !r.HasCompleted {
			if _, ok := doctype.Address(r.Email); ok {
				pending = append(pending, r)
			}
		}
	}
	if len(pending) > 0 {
		sort.SliceStable(pending, func(i, j int) bool { return *pending[i].SigningOrder < *pending[j].SigningOrder })
		a, _ := doctype.Address(pending[0].Email)
		return a
	}
	return buyers[0].email
}

func isSigner(r Recipient) bool {
	return strings.EqualFold(r.RecipientType, "signer") || (r.RecipientType == "" && r.SigningOrder != nil)
}

func invalid(format string, args ...any) error {
	return ingest.Reject(http.StatusBadRequest, ErrInvalid, format, args...)
}
