package graph

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/store"
)

// MetricMailboxNotWatched counts fetch items the fetcher refuses because
// they name a mailbox outside GRAPH_MAILBOXES, or none by address (the
// notification URL counts them as ingest.MetricIgnored, Reason unwatched).
const MetricMailboxNotWatched = "GraphMailboxNotWatched"

// Query parameters the Renewer puts on notification URLs; Graph includes
// the notificationUrl's query string in every POST it makes to it
// (change-notifications-delivery-webhooks.md, the note under "Subscription request").
const (
	QueryMailbox = "mailbox"
	QueryKind    = "kind"
	// QueryValidationToken is what Graph adds when it validates a URL.
	QueryValidationToken = "validationToken"
)

// maxValidationToken bounds the echoed token; Graph's are about 100 characters.
const maxValidationToken = 4096

// Webhook is the ingest.Source of Graph's POSTs to the notification URL
// (and the lifecycle notification URL, which may be the same): the
// validation handshake, then change and lifecycle notifications, each
// stored as a fetch item for the fetcher. The handler's key is the
// subscriptions' clientState.
//
// clientState policy: Graph signs no request; each notification carries
// the clientState, and Graph batches notifications of several
// subscriptions (even of other apps and tenants sharing the URL) in one
// POST, so one item with a wrong clientState does not make the others
// false. Items whose clientState does not match are skipped as
// ingest.NotAuthentic and the valid ones stored (202); a request in which
// no item matches is refused with 401 by the handler, storing nothing.
// Graph retries non-2xx answers for up to 4 hours, so a 401 to a mixed
// batch would only bring the valid items back.
//
// Mailbox policy: a notification about a mailbox outside Mailboxes (see
// watchedMailbox) is skipped as ingest.Unwatched and acknowledged with
// the others (202), like the Gmail source does, since a refusal would only
// make Graph redeliver it for hours.
type Webhook struct {
	// Mailboxes are the watched mailboxes (GRAPH_MAILBOXES, ParseMailboxes);
	// when empty, none is watched and every notification is skipped.
	Mailboxes []string
}

// Name implements ingest.Source.
func (Webhook) Name() string { return Source }

// Handshake answers the validation request: 200, text/plain, the decoded
// token and nothing else, stored nowhere.
func (Webhook) Handshake(_ context.Context, r *ingest.Request) (events.APIGatewayV2HTTPResponse, bool, error) {
	token, ok := validationToken(r.HTTP)
	switch {
	case !ok:
		return events.APIGatewayV2HTTPResponse{}, false, nil
	case token == "":
		return events.APIGatewayV2HTTPResponse{}, true, ingest.Reject(http.StatusBadRequest, nil, "validationToken is empty")
	case !printable(token, maxValidationToken):
		return events.APIGatewayV2HTTPResponse{}, true, ingest.Reject(http.StatusBadRequest, nil, "validationToken is not a plain-text token")
	}
	return events.APIGatewayV2HTTPResponse{
		StatusCode: http.StatusOK,
		Headers: map[string]string{
			"Content-Type": "text/plain; charset=utf-8",
			// the token is echoed verbatim: never let a browser sniff it as HTML
			"X-Content-Type-Options": "nosniff",
			"Cache-Control":          "no-store",
		},
		Body: token,
	}, true, nil
}

// Verify accepts every request: Graph signs none. Each notification's
// clientState is compared by Parse (see the clientState policy).
func (Webhook) Verify(context.Context, *ingest.Request) error { return nil }

// Parse reads the notification collection: one fetch item per
// notification, or a skip (wrong clientState, unsupported change type or
// lifecycle event, mailbox not watched).
func (w Webhook) Parse(_ context.Context, r *ingest.Request) ([]ingest.Item, error) {
	if len(strings.TrimSpace(string(r.Body))) == 0 {
		return nil, ingest.Reject(http.StatusBadRequest, ErrMalformed, "body is empty: expected a change notification collection or a validationToken query parameter")
	}
	ns, err := ParseNotifications(r.Body)
	if err != nil {
		return nil, err
	}
	want := sha256.Sum256(r.Key)
	named, kind := notificationURLContext(r)
	items := make([]ingest.Item, 0, len(ns))
	for _, n := range ns {
		it := ingest.Item{Event: n.ChangeType + n.LifecycleEvent,
			Attrs: []any{"subscription_id", n.SubscriptionID, "change_type", n.ChangeType, "lifecycle_event", n.LifecycleEvent}}
		got := sha256.Sum256([]byte(n.ClientState))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			it.Skip, it.Why = ingest.NotAuthentic, "clientState does not match"
			it.Attrs = append(it.Attrs, "tenant_id", n.TenantID, "client_state_present", n.ClientState != "")
			items = append(items, it)
			continue
		}
		if !n.Supported() {
			it.Skip, it.Why = ingest.Unused, "unsupported change type or lifecycle event"
			items = append(items, it)
			continue
		}
		mailbox, refused := watchedMailbox(w.Mailboxes, named, n)
		if refused != "" {
			it.Skip, it.Why = ingest.Unwatched, "its mailbox is not watched"
			it.Attrs = append(it.Attrs, "detail", refused, "mailbox", truncate(named, 256), "resource", truncate(n.Resource, 256), "tenant_id", n.TenantID)
			items = append(items, it)
			continue
		}
		it.Fetch = &store.FetchRecord{
			Source:         Source,
			NotificationID: NotificationID(n, r.Received),
			Mailbox:        mailbox,
			Resource:       FetchResource(n),
			Payload:        EncodePayload(n, recordKind(kind, n)),
			ReceivedAt:     r.Received,
		}
		it.Attrs = append(it.Attrs, "mailbox", mailbox)
		items = append(items, it)
	}
	return items, nil
}

// Answer is Graph's: 202 whatever was stored (Graph wants a 2xx within 3
// seconds, 202 after persisting), with what became of the batch.
func (Webhook) Answer(o ingest.Outcome) events.APIGatewayV2HTTPResponse {
	return ingest.JSON(http.StatusAccepted, map[string]any{
		"status": "accepted", "stored": o.Stored, "duplicate": o.Duplicates, "rejected": o.NotAuthentic, "ignored": o.Unused,
		"unwatched": o.Unwatched,
	})
}

// validationToken finds the decoded validationToken query parameter. API
// Gateway decodes queryStringParameters; the raw query string is the
// fallback (the local mode and tests may set only one of them).
func validationToken(req events.APIGatewayV2HTTPRequest) (string, bool) {
	if v, ok := req.QueryStringParameters[QueryValidationToken]; ok {
		return v, true
	}
	if req.RawQueryString == "" {
		return "", false
	}
	q, err := url.ParseQuery(req.RawQueryString)
	if err != nil {
		// a token that does not decode is still a handshake: answered 400
		if strings.Contains(req.RawQueryString, QueryValidationToken+"=") {
			return "\x00", true
		}
		return "", false
	}
	if vs, ok := q[QueryValidationToken]; ok {
		return strings.Join(vs, ","), true
	}
	return "", false
}

// notificationURLContext reads the mailbox and kind the Renewer put on the
// notification URL. The mailbox is returned as sent (lower case), for
// watchedMailbox to check; an unknown kind is ignored.
func notificationURLContext(r *ingest.Request) (mailbox, kind string) {
	mailbox = strings.ToLower(strings.TrimSpace(r.Query(QueryMailbox)))
	kind = strings.ToLower(r.Query(QueryKind))
	if kind != KindMessages && kind != KindEvents {
		kind = ""
	}
	return mailbox, kind
}

func recordKind(kind string, n Notification) string {
	if rp, ok := ParseResource(n.Resource); ok && (rp.Kind == KindMessages || rp.Kind == KindEvents) {
		return rp.Kind
	}
	return kind
}
