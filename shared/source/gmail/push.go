// Package gmail is the Gmail source: Cloud Pub/Sub push notifications of
// mailbox changes (verified by their OIDC token) are stored as fetch items
// and acknowledged at once; the fetcher then reads the new messages through
// the Gmail API (users.history.list since the mailbox's last history id,
// users.messages.get in raw format) and turns each into an email signal; a
// scheduled renewer keeps every mailbox's users.watch alive.
//
// Documents followed:
//   - https://developers.google.com/gmail/api/guides/push (watch, notification payload)
//   - https://cloud.google.com/pubsub/docs/push (push body, success codes 102/200/201/202/204)
//   - https://cloud.google.com/pubsub/docs/authenticate-push-subscriptions (OIDC token)
//   - https://developers.google.com/gmail/api/guides/sync (history.list, 404 means full sync)
//   - https://developers.google.com/identity/protocols/oauth2/service-account (JWT bearer grant)
package gmail

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/stagemover/stagemover/shared/source/ingest"
)

// Source names Gmail in fetch and signal keys.
const Source = "gmail"

// Notification is a Gmail push notification with its Pub/Sub envelope.
type Notification struct {
	EmailAddress string    `json:"emailAddress"` // the mailbox that changed (lower case)
	HistoryID    uint64    `json:"historyId"`    // the mailbox's history id after the change
	MessageID    string    `json:"messageId"`    // Pub/Sub message id: redeliveries reuse it
	PublishTime  time.Time `json:"publishTime,omitzero"`
	Subscription string    `json:"subscription,omitempty"`
}

// pushBody is a Pub/Sub push request body. Pub/Sub writes the message id and
// publish time twice (camelCase and snake_case); older deliveries have only
// message_id.
type pushBody struct {
	Message *struct {
		Data         *string           `json:"data"`
		Attributes   map[string]string `json:"attributes"`
		MessageID    string            `json:"messageId"`
		MessageIDOld string            `json:"message_id"`
		PublishTime  string            `json:"publishTime"`
		PublishOld   string            `json:"publish_time"`
	} `json:"message"`
	Subscription    string `json:"subscription"`
	DeliveryAttempt int    `json:"deliveryAttempt"`
}

// gmailPayload is message.data decoded: {"emailAddress": "...", "historyId": "..."}.
// Gmail writes historyId as a number; the guide's example shows a string:
// both are accepted.
type gmailPayload struct {
	EmailAddress *string         `json:"emailAddress"`
	HistoryID    json.RawMessage `json:"historyId"`
}

var (
	messageIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)
	mailboxPattern   = regexp.MustCompile(`^[^\s@<>()",;:\\\[\]]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z0-9-]{2,63}$`)
)

// ErrInvalid marks a body that is not a Pub/Sub push of a Gmail
// notification: DecodePush refuses it with an ingest.RejectError (400)
// wrapping ErrInvalid.
var ErrInvalid = errors.New("invalid push")

func invalid(reason string) error {
	return ingest.Reject(http.StatusBadRequest, ErrInvalid, "%s", reason)
}

// DecodePush reads a push body into a notification, or says what is wrong.
// The returned notification carries the message id whenever one was read,
// for the log.
func DecodePush(body []byte) (Notification, error) {
	var n Notification
	var pb pushBody
	if err := json.Unmarshal(body, &pb); err != nil {
		return n, invalid("body is not a Pub/Sub push message (invalid JSON)")
	}
	if pb.Message == nil {
		return n, invalid("message is required")
	}
	m := pb.Message
	id := m.MessageID
	if id == "" {
		id = m.MessageIDOld
	}
	if !messageIDPattern.MatchString(id) {
		return n, invalid("message.messageId is required (1-128 letters, digits and ._:-)")
	}
	n.MessageID = id
	n.Subscription = pb.Subscription
	pt := m.PublishTime
	if pt == "" {
		pt = m.PublishOld
	}
	if pt != "" {
		t, err := time.Parse(time.RFC3339Nano, pt)
		if err != nil {
			return n, invalid("message.publishTime must be an RFC 3339 time")
		}
		n.PublishTime = t.UTC()
	}
	if m.Data == nil || *m.Data == "" {
		return n, invalid("message.data is required")
	}
	raw, err := decodeBase64(*m.Data)
	if err != nil {
		return n, invalid("message.data is not base64")
	}
	var p gmailPayload
	if err := json.Unmarshal(raw, &p); err != nil {
		return n, invalid("message.data is not a Gmail notification (invalid JSON)")
	}
	if p.EmailAddress == nil || !mailboxPattern.MatchString(*p.EmailAddress) {
		return n, invalid("message.data emailAddress must be an email address")
	}
	n.EmailAddress = strings.ToLower(*p.EmailAddress)
	hid, err := parseHistoryID(p.HistoryID)
	if err != nil {
		return n, invalid("message.data historyId must be a positive integer")
	}
	n.HistoryID = hid
	return n, nil
}

// decodeBase64 accepts standard base64 (what Pub/Sub sends) and base64url
// (what the Gmail guide says), padded or not.
func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

func parseHistoryID(raw json.RawMessage) (uint64, error) {
	s := strings.TrimSpace(string(raw))
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v == 0 {
		return 0, errors.New("bad history id")
	}
	return v, nil
}
