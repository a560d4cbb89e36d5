// Package graph is the Outlook mail and calendar source: Microsoft Graph
// change notifications (webhooks) for messages and events, fetched later with
// app-only credentials, plus the subscriptions that keep them flowing.
//
//   - Webhook is the notification URL's ingest.Source: the validation
//     handshake, the clientState check and one fetch item per notification,
//     stored before the 202 (the content is fetched after, by the fetcher).
//   - Client calls Graph with a client-credentials token it caches.
//   - Fetcher turns a stored notification into email and meeting signals,
//     and acts on lifecycle notifications (reauthorize, recreate, resync).
//   - Renewer creates missing subscriptions and renews expiring ones.
//   - standin (subpackage) is a local Graph and token endpoint for tests.
//
// Documentation followed (Microsoft Graph docs, microsoft-graph-docs-contrib):
//   - concepts/change-notifications-delivery-webhooks.md (delivery, 2xx within
//     3 s, 202 after persisting, clientState check, renewal PATCH)
//   - concepts/includes/change-notifications-delivery-notificationurl-validation.md
//     (?validationToken=..., 200 text/plain with the URL-decoded token in 10 s)
//   - concepts/change-notifications-lifecycle-events.md (reauthorizationRequired,
//     subscriptionRemoved, missed; 202 then act)
//   - api-reference/v1.0/resources/changenotification.md and
//     changenotificationcollection.md (the payload fields)
//   - api-reference/v1.0/resources/subscription.md (Outlook message/event
//     subscriptions last at most 4230 minutes; clientState at most 128 chars)
//   - concepts/auth-v2-service.md (client credentials token request/response)
//   - api-reference/v1.0/api/message-get.md, event-get.md, resources/event.md
//   - concepts/outlook-immutable-id.md (Prefer: IdType="ImmutableId")
//   - concepts/errors.md and concepts/throttling.md (error body, 429 Retry-After)
//   - resources/datetimetimezone.md (timeZone: a Windows or IANA name), with
//     Unicode CLDR's windowsZones.xml (cldr/) mapping Windows names to IANA
package graph

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stagemover/stagemover/shared/source/ingest"
)

// Source names this provider in fetch and signal keys.
const Source = "graph"

// Change types and lifecycle events as Graph sends them (changenotification.md).
const (
	ChangeCreated = "created"
	ChangeUpdated = "updated"
	ChangeDeleted = "deleted"

	LifecycleReauthorizationRequired = "reauthorizationRequired"
	LifecycleSubscriptionRemoved     = "subscriptionRemoved"
	LifecycleMissed                  = "missed"
)

// Kinds of subscribed resources, as they appear in resource paths and in
// the kind query parameter the Renewer puts on its notification URLs.
const (
	KindMessages = "messages"
	KindEvents   = "events"
)

// ResourceData is the changeNotification's resourceData for Outlook items:
// the item's type, path, etag and id.
type ResourceData struct {
	ODataType string `json:"@odata.type,omitempty"`
	ODataID   string `json:"@odata.id,omitempty"`
	ODataEtag string `json:"@odata.etag,omitempty"`
	ID        string `json:"id,omitempty"`
}

// Notification is one changeNotification: either a change notification
// (ChangeType set) or a lifecycle notification (LifecycleEvent set).
type Notification struct {
	ID                             string        `json:"id,omitempty"`
	SubscriptionID                 string        `json:"subscriptionId"`
	SubscriptionExpirationDateTime string        `json:"subscriptionExpirationDateTime,omitempty"`
	ChangeType                     string        `json:"changeType,omitempty"`
	LifecycleEvent                 string        `json:"lifecycleEvent,omitempty"`
	Resource                       string        `json:"resource,omitempty"`
	ResourceData                   *ResourceData `json:"resourceData,omitempty"`
	ClientState                    string        `json:"clientState,omitempty"`
	TenantID                       string        `json:"tenantId,omitempty"`
	// OrganizationID replaces tenantId in some lifecycle notifications
	// (seen in practice: microsoftgraph/msgraph-sdk-java#1551).
	OrganizationID string `json:"organizationId,omitempty"`
}

// IsLifecycle reports whether n is a lifecycle notification.
func (n Notification) IsLifecycle() bool { return n.LifecycleEvent != "" }

// Supported reports whether this source acts on n: a created, updated or
// deleted change, or one of the three lifecycle events. Others (a future
// value such as unknownFutureValue) are acknowledged and ignored.
func (n Notification) Supported() bool {
	if n.IsLifecycle() {
		switch n.LifecycleEvent {
		case LifecycleReauthorizationRequired, LifecycleSubscriptionRemoved, LifecycleMissed:
			return true
		}
		return false
	}
	switch n.ChangeType {
	case ChangeCreated, ChangeUpdated, ChangeDeleted:
		return true
	}
	return false
}

// Limits on what a notification collection may hold. Graph's own values are
// far below them; they only bound hostile input.
const (
	maxNotifications = 1000
	maxIDLen         = 256
	maxResourceLen   = 2048
	maxClientState   = 255 // changenotification.md: clientState is at most 255 characters
)

// ErrMalformed marks a body that is not a change notification collection:
// ParseNotifications refuses it with an ingest.RejectError (400) wrapping
// ErrMalformed.
var ErrMalformed = errors.New("malformed notification")

func malformed(format string, args ...any) error {
	return ingest.Reject(http.StatusBadRequest, ErrMalformed, format, args...)
}

// ParseNotifications decodes a changeNotificationCollection
// ({"value":[...], "validationTokens":[...]}). Unknown fields are ignored
// (Graph adds fields over time); every item must name its subscription and
// be exactly one of a change notification (changeType and resource) or a
// lifecycle notification (lifecycleEvent).
func ParseNotifications(body []byte) ([]Notification, error) {
	var coll struct {
		Value *[]Notification `json:"value"`
	}
	if err := ingest.DecodeJSON(body, &coll); err != nil {
		return nil, malformed("%s", err)
	}
	if coll.Value == nil {
		return nil, malformed("value (the notifications array) is required")
	}
	ns := *coll.Value
	switch {
	case len(ns) == 0:
		return nil, malformed("value holds no notifications")
	case len(ns) > maxNotifications:
		return nil, malformed("more than %d notifications in one request", maxNotifications)
	}
	for i := range ns {
		if err := ns[i].check(); err != nil {
			return nil, malformed("value[%d]: %s", i, err)
		}
	}
	return ns, nil
}

func (n Notification) check() error {
	switch {
	case n.SubscriptionID == "":
		return errors.New("subscriptionId is required")
	case !printable(n.SubscriptionID, maxIDLen):
		return errors.New("subscriptionId is not a valid id")
	case n.ChangeType != "" && n.LifecycleEvent != "":
		return errors.New("changeType and lifecycleEvent are mutually exclusive")
	case n.ChangeType == "" && n.LifecycleEvent == "":
		return errors.New("changeType or lifecycleEvent is required")
	case len(n.ClientState) > maxClientState:
		return fmt.Errorf("clientState is longer than %d characters", maxClientState)
	case !printable(n.ChangeType+n.LifecycleEvent, 64):
		return errors.New("changeType or lifecycleEvent is not a valid value")
	case len(n.Resource) > maxResourceLen || (n.Resource != "" && !printable(n.Resource, maxResourceLen)):
		return errors.New("resource is not a valid resource path")
	case len(n.SubscriptionExpirationDateTime) > 64 || len(n.TenantID) > maxIDLen || len(n.OrganizationID) > maxIDLen || len(n.ID) > maxIDLen:
		return errors.New("a field is too long")
	}
	if !n.IsLifecycle() && strings.TrimSpace(n.Resource) == "" {
		return errors.New("resource is required in a change notification")
	}
	if rd := n.ResourceData; rd != nil {
		if len(rd.ID) > maxResourceLen || len(rd.ODataID) > maxResourceLen || len(rd.ODataType) > maxIDLen || len(rd.ODataEtag) > maxIDLen {
			return errors.New("resourceData holds a field that is too long")
		}
		if rd.ID != "" && !printable(rd.ID, maxResourceLen) {
			return errors.New("resourceData.id is not a valid id")
		}
	}
	return nil
}

// printable: valid UTF-8, no control characters, at most max bytes.
func printable(s string, max int) bool {
	if len(s) > max || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// lifecycleBucket groups redeliveries of a lifecycle notification (which has
// no resource to key on) while letting a later challenge for the same
// subscription through: Graph sends reauthorizationRequired again at most
// every 15 minutes (change-notifications-lifecycle-events.md).
const lifecycleBucket = 10 * time.Minute

// NotificationID is the idempotency key of n's fetch item. A change
// notification is keyed by subscription, resource, change type, item id and
// the item's etag (a redelivery carries the same values; a second update of
// the same event has a new etag and is fetched again). A lifecycle
// notification is keyed by subscription, event, expiration, its id if any,
// and a 10-minute window of its arrival.
func NotificationID(n Notification, received time.Time) string {
	h := sha256.New()
	write := func(parts ...string) {
		for _, p := range parts {
			h.Write([]byte(p))
			h.Write([]byte{0})
		}
	}
	if n.IsLifecycle() {
		write("lifecycle", n.SubscriptionID, n.LifecycleEvent, n.SubscriptionExpirationDateTime, n.ID,
			received.UTC().Truncate(lifecycleBucket).Format(time.RFC3339))
	} else {
		id, etag := "", ""
		if n.ResourceData != nil {
			id, etag = n.ResourceData.ID, n.ResourceData.ODataEtag
		}
		write("change", n.SubscriptionID, n.Resource, n.ChangeType, id, etag)
	}
	return hex.EncodeToString(h.Sum(nil))[:40]
}

// Lifecycle actions, the prefix of a lifecycle fetch item's Resource.
const (
	ActionReauthorize = "reauthorize"
	ActionRecreate    = "recreate"
	ActionResync      = "resync"
)

// FetchResource is what the fetch item asks the fetcher to do: the resource
// path for a change, or "<action>:subscriptions/<id>" for a lifecycle
// notification (reauthorize the subscription, recreate it, or resync the
// mailbox after missed notifications).
func FetchResource(n Notification) string {
	if !n.IsLifecycle() {
		return n.Resource
	}
	action := ActionResync
	switch n.LifecycleEvent {
	case LifecycleReauthorizationRequired:
		action = ActionReauthorize
	case LifecycleSubscriptionRemoved:
		action = ActionRecreate
	}
	return action + ":subscriptions/" + n.SubscriptionID
}

// Payload is the JSON a fetch item carries: the notification without its
// clientState (a secret has no business in the table or the stream), with
// the mailbox and kind the notification URL named.
type Payload struct {
	Notification
	Kind string `json:"kind,omitempty"` // messages|events, from the notification URL
}

// EncodePayload builds the fetch item's payload for n.
func EncodePayload(n Notification, kind string) string {
	n.ClientState = ""
	b, _ := json.Marshal(Payload{Notification: n, Kind: kind})
	return string(b)
}

// DecodePayload reads a fetch item's payload.
func DecodePayload(s string) (Payload, error) {
	var p Payload
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		return p, fmt.Errorf("%w: fetch payload: %s", ErrMalformed, ingest.DescribeJSON(err))
	}
	if err := p.check(); err != nil {
		return p, fmt.Errorf("%w: fetch payload: %s", ErrMalformed, err)
	}
	return p, nil
}

// ResourcePath is a parsed Outlook item path such as
// "Users/{user}/Messages/{id}", "Users('{user}')/Messages('{id}')" or
// "users/{user}/mailFolders('Inbox')/messages/{id}".
type ResourcePath struct {
	User string // user id, userPrincipalName or "{id}@{tenant}" as the path names it
	Kind string // KindMessages or KindEvents (lowercase), or the raw segment
	ID   string // the item id; empty for a collection
}

// ParseResource splits an Outlook resource path. It accepts the forms Graph
// sends in notifications and the ones subscriptions use, case-insensitively
// for the fixed segments, with or without a leading slash or version, with
// keys as path segments or in OData key form (Name('key')).
func ParseResource(resource string) (ResourcePath, bool) {
	var rp ResourcePath
	var parts []string
	for _, seg := range strings.Split(strings.Trim(strings.TrimSpace(resource), "/"), "/") {
		if name, key, ok := odataKey(seg); ok {
			parts = append(parts, name, key)
		} else {
			parts = append(parts, seg)
		}
	}
	if len(parts) > 0 && (strings.EqualFold(parts[0], "v1.0") || strings.EqualFold(parts[0], "beta")) {
		parts = parts[1:]
	}
	if len(parts) < 3 || !strings.EqualFold(parts[0], "users") {
		return rp, false
	}
	rp.User = parts[1]
	if rp.User == "" {
		return rp, false
	}
	rest := parts[2:]
	// the kind is the last "messages"/"events" segment; an id may follow it
	for i := len(rest) - 1; i >= 0; i-- {
		seg := strings.ToLower(rest[i])
		if seg == KindMessages || seg == KindEvents {
			rp.Kind = seg
			if i+1 < len(rest) {
				if i+2 != len(rest) {
					return rp, false
				}
				rp.ID = rest[i+1]
			}
			return rp, true
		}
	}
	return rp, false
}

// odataKey splits a "Name('key')" segment.
func odataKey(seg string) (name, key string, ok bool) {
	i := strings.Index(seg, "('")
	if i <= 0 || len(seg) < i+5 || !strings.HasSuffix(seg, "')") {
		return "", "", false
	}
	return seg[:i], seg[i+2 : len(seg)-2], true
}
