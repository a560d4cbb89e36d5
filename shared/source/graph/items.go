package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// ---------------------------------------------------------------- items

// EmailAddress is Graph's emailAddress.
type EmailAddress struct {
	Name    string `json:"name,omitempty"`
	Address string `json:"address,omitempty"`
}

// Recipient is Graph's recipient.
type Recipient struct {
	EmailAddress EmailAddress `json:"emailAddress"`
}

// ItemBody is Graph's itemBody.
type ItemBody struct {
	ContentType string `json:"contentType,omitempty"` // text | html
	Content     string `json:"content,omitempty"`
}

// InternetMessageHeader is one raw header of a message.
type InternetMessageHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Message holds the message properties this source selects (message-get.md).
type Message struct {
	ID                     string                  `json:"id"`
	InternetMessageID      string                  `json:"internetMessageId,omitempty"`
	ConversationID         string                  `json:"conversationId,omitempty"`
	Subject                string                  `json:"subject,omitempty"`
	Body                   ItemBody                `json:"body"`
	From                   *Recipient              `json:"from,omitempty"`
	Sender                 *Recipient              `json:"sender,omitempty"`
	ToRecipients           []Recipient             `json:"toRecipients,omitempty"`
	CcRecipients           []Recipient             `json:"ccRecipients,omitempty"`
	ReceivedDateTime       *time.Time              `json:"receivedDateTime,omitempty"`
	SentDateTime           *time.Time              `json:"sentDateTime,omitempty"`
	InternetMessageHeaders []InternetMessageHeader `json:"internetMessageHeaders,omitempty"`
	IsDraft                bool                    `json:"isDraft,omitempty"`
}

// DateTimeTimeZone is Graph's dateTimeTimeZone ("2014-11-03T17:00:00.0000000",
// "UTC" or "Pacific Standard Time"); Parse and Time are in timezone.go.
type DateTimeTimeZone struct {
	DateTime string `json:"dateTime"`
	TimeZone string `json:"timeZone"`
}

// ResponseStatus is Graph's responseStatus.
type ResponseStatus struct {
	Response string `json:"response,omitempty"` // none|organizer|tentativelyAccepted|accepted|declined|notResponded
	Time     string `json:"time,omitempty"`
}

// Attendee is Graph's attendee.
type Attendee struct {
	Type         string          `json:"type,omitempty"`
	Status       *ResponseStatus `json:"status,omitempty"`
	EmailAddress EmailAddress    `json:"emailAddress"`
}

// Event holds the event properties this source selects (resources/event.md).
type Event struct {
	ID                   string            `json:"id"`
	ICalUID              string            `json:"iCalUId,omitempty"`
	ChangeKey            string            `json:"changeKey,omitempty"`
	Subject              string            `json:"subject,omitempty"`
	IsCancelled          bool              `json:"isCancelled,omitempty"`
	IsOrganizer          bool              `json:"isOrganizer,omitempty"`
	Type                 string            `json:"type,omitempty"`
	Start                *DateTimeTimeZone `json:"start,omitempty"`
	End                  *DateTimeTimeZone `json:"end,omitempty"`
	Organizer            *Recipient        `json:"organizer,omitempty"`
	Attendees            []Attendee        `json:"attendees,omitempty"`
	ResponseStatus       *ResponseStatus   `json:"responseStatus,omitempty"`
	CreatedDateTime      *time.Time        `json:"createdDateTime,omitempty"`
	LastModifiedDateTime *time.Time        `json:"lastModifiedDateTime,omitempty"`
}

const (
	messageSelect = "id,internetMessageId,conversationId,subject,body,from,sender,toRecipients,ccRecipients," +
		"receivedDateTime,sentDateTime,internetMessageHeaders,isDraft"
	eventSelect = "id,iCalUId,changeKey,subject,isCancelled,isOrganizer,type,start,end,organizer,attendees," +
		"responseStatus,createdDateTime,lastModifiedDateTime"

	// preferImmutableID keeps item ids stable when items move between
	// folders (outlook-immutable-id.md); subscriptions are created with it
	// so notifications carry the same ids.
	preferImmutableID = `IdType="ImmutableId"`
	preferUTC         = `outlook.timezone="UTC"`
)

func (c *Client) userURL(user, kind, id string) string {
	u := c.graphURL() + "/users/" + url.PathEscape(user) + "/" + kind
	if id != "" {
		u += "/" + url.PathEscape(id)
	}
	return u
}

// GetMessage reads one message of user (an id or userPrincipalName).
func (c *Client) GetMessage(ctx context.Context, user, id string) (*Message, error) {
	var m Message
	q := url.Values{"$select": {messageSelect}}
	if err := c.call(ctx, "get message", http.MethodGet, c.userURL(user, KindMessages, id)+"?"+q.Encode(), nil, &m, preferImmutableID); err != nil {
		return nil, err
	}
	return &m, nil
}

// GetEvent reads one event of user, with times in UTC.
func (c *Client) GetEvent(ctx context.Context, user, id string) (*Event, error) {
	var e Event
	q := url.Values{"$select": {eventSelect}}
	if err := c.call(ctx, "get event", http.MethodGet, c.userURL(user, KindEvents, id)+"?"+q.Encode(), nil, &e, preferImmutableID, preferUTC); err != nil {
		return nil, err
	}
	return &e, nil
}

// maxPages bounds any paged listing.
const maxPages = 20

// ListMessagesSince lists user's messages received at or after since, at
// most max (newest first, Graph's default order), for a resync.
func (c *Client) ListMessagesSince(ctx context.Context, user string, since time.Time, max int) ([]Message, error) {
	q := url.Values{
		"$filter": {"receivedDateTime ge " + since.UTC().Format(time.RFC3339)},
		"$select": {messageSelect},
		"$top":    {"50"},
	}
	var out []Message
	err := c.pages(ctx, "list messages", c.userURL(user, KindMessages, "")+"?"+q.Encode(), max, func(raw json.RawMessage) error {
		var page []Message
		if err := json.Unmarshal(raw, &page); err != nil {
			return err
		}
		out = append(out, page...)
		return nil
	}, func() int { return len(out) }, preferImmutableID)
	if len(out) > max {
		out = out[:max]
	}
	return out, err
}

// ListEventsSince lists user's events changed at or after since, at most max.
func (c *Client) ListEventsSince(ctx context.Context, user string, since time.Time, max int) ([]Event, error) {
	q := url.Values{
		"$filter": {"lastModifiedDateTime ge " + since.UTC().Format(time.RFC3339)},
		"$select": {eventSelect},
		"$top":    {"50"},
	}
	var out []Event
	err := c.pages(ctx, "list events", c.userURL(user, KindEvents, "")+"?"+q.Encode(), max, func(raw json.RawMessage) error {
		var page []Event
		if err := json.Unmarshal(raw, &page); err != nil {
			return err
		}
		out = append(out, page...)
		return nil
	}, func() int { return len(out) }, preferImmutableID, preferUTC)
	if len(out) > max {
		out = out[:max]
	}
	return out, err
}

// pages follows @odata.nextLink, only to the configured Graph host (the
// bearer token must never be sent elsewhere), for at most maxPages pages.
func (c *Client) pages(ctx context.Context, op, first string, max int, add func(json.RawMessage) error, count func() int, prefer ...string) error {
	base, err := url.Parse(c.graphURL())
	if err != nil {
		return fmt.Errorf("graph: %s: bad GraphURL", op)
	}
	next := first
	for page := 0; next != "" && page < maxPages && count() < max; page++ {
		var resp struct {
			Value    json.RawMessage `json:"value"`
			NextLink string          `json:"@odata.nextLink"`
		}
		if err := c.call(ctx, op, http.MethodGet, next, nil, &resp, prefer...); err != nil {
			return err
		}
		if len(resp.Value) > 0 {
			if err := add(resp.Value); err != nil {
				return &APIError{Op: op, Status: http.StatusOK, Message: "value is not the expected JSON"}
			}
		}
		next = ""
		if resp.NextLink != "" {
			u, err := url.Parse(resp.NextLink)
			if err != nil || u.Scheme != base.Scheme || u.Host != base.Host {
				return &APIError{Op: op, Status: http.StatusOK, Message: "@odata.nextLink points outside the Graph endpoint"}
			}
			next = resp.NextLink
		}
	}
	return nil
}
