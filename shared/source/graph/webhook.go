package graph

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stagemover/stagemover/shared/platform/metrics"
	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/store"
)

// FetchWriter stores a fetch item once per source and notification id.
type FetchWriter interface {
	PutFetch(ctx context.Context, r store.FetchRecord) (created bool, err error)
}

// Metric names this handler emits besides metrics.SignalRejected (a 4xx).
const (
	MetricNotificationStored    = "GraphNotificationStored"
	MetricNotificationDuplicate = "GraphNotificationDuplicate"
	MetricClientStateMismatch   = "GraphClientStateMismatch" // per notification item
	MetricNotificationIgnored   = "GraphNotificationIgnored" // unknown change type or lifecycle event
	// MetricMailboxNotWatched counts notifications (ingest-graph) and fetch
	// items (fetcher) refused because they name a mailbox outside
	// GRAPH_MAILBOXES, or none by address.
	MetricMailboxNotWatched = "GraphMailboxNotWatched"
)

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

// Handler answers Graph's POSTs to the notification URL (and the lifecycle
// notification URL, which may be the same).
//
// clientState policy: Graph batches notifications of several subscriptions
// (even of other apps and tenants sharing the URL) in one POST, so one item
// with a wrong clientState does not make the others false. Items whose
// clientState does not match the secret are dropped and counted
// (GraphClientStateMismatch); the valid ones are stored and the request gets
// 202. Only a request in which no item matches is refused with 401, storing
// nothing. Graph retries non-2xx answers for up to 4 hours, so a 401 to a
// mixed batch would only bring the valid items back.
//
// Mailbox policy: a notification about a mailbox outside Mailboxes (see
// watchedMailbox) is not stored: it is counted (GraphMailboxNotWatched),
// logged, and acknowledged with the others (202), like the Gmail source
// does, since a refusal would only make Graph redeliver it for hours.
type Handler struct {
	Store FetchWriter
	// Mailboxes are the watched mailboxes (GRAPH_MAILBOXES, ParseMailboxes);
	// when empty, none is watched and every notification is refused.
	Mailboxes   []string
	ClientState func(ctx context.Context) (string, error) // the subscriptions' clientState secret
	Now         func() time.Time
	Log         *slog.Logger
	Metrics     *metrics.Recorder
}

// Handle is the Lambda handler for API Gateway HTTP API (payload v2).
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	if token, ok := validationToken(req); ok {
		return h.validate(ctx, token)
	}
	body, err := ingest.RequestBody(req)
	if err != nil {
		return h.reject(ctx, http.StatusBadRequest, "body is not valid base64")
	}
	if len(body) > ingest.MaxBody {
		return h.reject(ctx, http.StatusRequestEntityTooLarge, fmt.Sprintf("body is larger than %d bytes", ingest.MaxBody))
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return h.reject(ctx, http.StatusBadRequest, "body is empty: expected a change notification collection or a validationToken query parameter")
	}
	ns, err := ParseNotifications(body)
	if err != nil {
		return h.reject(ctx, http.StatusBadRequest, err.Error())
	}
	secret, err := h.ClientState(ctx)
	if err != nil || secret == "" {
		// Our fault, not Graph's: 5xx so Graph retries. An empty secret
		// would accept notifications without a clientState: refuse instead.
		h.Log.ErrorContext(ctx, "graph clientState secret unavailable", "error", errString(err), "empty", err == nil)
		return ingest.JSON(http.StatusServiceUnavailable, map[string]string{"error": "temporarily unavailable"}), nil
	}
	want := sha256.Sum256([]byte(secret))
	var valid []Notification
	mismatched := 0
	for _, n := range ns {
		got := sha256.Sum256([]byte(n.ClientState))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			mismatched++
			h.Metrics.Inc(MetricClientStateMismatch)
			h.Log.WarnContext(ctx, "graph notification dropped: clientState does not match",
				"subscription_id", n.SubscriptionID, "change_type", n.ChangeType, "lifecycle_event", n.LifecycleEvent,
				"tenant_id", n.TenantID, "client_state_present", n.ClientState != "")
			continue
		}
		valid = append(valid, n)
	}
	if len(valid) == 0 {
		return h.reject(ctx, http.StatusUnauthorized, "clientState does not match for any notification")
	}

	named, kind := notificationURLContext(req)
	now := h.Now()
	stored, duplicates, ignored, unwatched := 0, 0, 0, 0
	for _, n := range valid {
		log := h.Log.With("subscription_id", n.SubscriptionID, "change_type", n.ChangeType, "lifecycle_event", n.LifecycleEvent)
		if !n.Supported() {
			ignored++
			h.Metrics.Inc(MetricNotificationIgnored)
			log.WarnContext(ctx, "graph notification ignored: unsupported change type or lifecycle event")
			continue
		}
		mailbox, refused := watchedMailbox(h.Mailboxes, named, n)
		if refused != "" {
			unwatched++
			h.Metrics.Inc(MetricMailboxNotWatched)
			log.WarnContext(ctx, "graph notification refused: its mailbox is not watched", "reason", refused,
				"mailbox", truncate(named, 256), "resource", truncate(n.Resource, 256), "tenant_id", n.TenantID)
			continue
		}
		rec := store.FetchRecord{
			Source:         Source,
			NotificationID: NotificationID(n, now),
			Mailbox:        mailbox,
			Resource:       FetchResource(n),
			Payload:        EncodePayload(n, recordKind(kind, n)),
			ReceivedAt:     now,
		}
		created, err := h.Store.PutFetch(ctx, rec)
		if err != nil {
			// Items stored so far are idempotent: Graph's retry stores nothing twice.
			log.ErrorContext(ctx, "store graph notification failed", "notification_id", rec.NotificationID, "error", err)
			return ingest.JSON(http.StatusServiceUnavailable, map[string]string{"error": "could not store the notification; retry"}), nil
		}
		if created {
			stored++
			h.Metrics.Inc(MetricNotificationStored)
		} else {
			duplicates++
			h.Metrics.Inc(MetricNotificationDuplicate)
		}
		log.InfoContext(ctx, "graph notification stored", "notification_id", rec.NotificationID, "new", created,
			"mailbox", rec.Mailbox, "fetch_key", rec.Key())
	}
	return ingest.JSON(http.StatusAccepted, map[string]any{
		"status": "accepted", "stored": stored, "duplicate": duplicates, "rejected": mismatched, "ignored": ignored,
		"unwatched": unwatched,
	}), nil
}

// validate answers the validation handshake: 200, text/plain, the decoded
// token and nothing else, stored nowhere.
func (h *Handler) validate(ctx context.Context, token string) (events.APIGatewayV2HTTPResponse, error) {
	switch {
	case token == "":
		return h.reject(ctx, http.StatusBadRequest, "validationToken is empty")
	case !printable(token, maxValidationToken):
		return h.reject(ctx, http.StatusBadRequest, "validationToken is not a plain-text token")
	}
	h.Log.InfoContext(ctx, "graph notification URL validated", "token_length", len(token))
	return events.APIGatewayV2HTTPResponse{
		StatusCode: http.StatusOK,
		Headers: map[string]string{
			"Content-Type": "text/plain; charset=utf-8",
			// the token is echoed verbatim: never let a browser sniff it as HTML
			"X-Content-Type-Options": "nosniff",
			"Cache-Control":          "no-store",
		},
		Body: token,
	}, nil
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

func queryParam(req events.APIGatewayV2HTTPRequest, name string) string {
	if v, ok := req.QueryStringParameters[name]; ok {
		return v
	}
	if req.RawQueryString != "" {
		if q, err := url.ParseQuery(req.RawQueryString); err == nil {
			return q.Get(name)
		}
	}
	return ""
}

var mailboxPattern = regexp.MustCompile(`^[^\s@<>"',;]{1,128}@[A-Za-z0-9.-]{1,190}$`)

// notificationURLContext reads the mailbox and kind the Renewer put on the
// notification URL. The mailbox is returned as sent (lower case), for
// watchedMailbox to check; an unknown kind is ignored.
func notificationURLContext(req events.APIGatewayV2HTTPRequest) (mailbox, kind string) {
	mailbox = strings.ToLower(strings.TrimSpace(queryParam(req, QueryMailbox)))
	kind = strings.ToLower(queryParam(req, QueryKind))
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

func (h *Handler) reject(ctx context.Context, code int, reason string) (events.APIGatewayV2HTTPResponse, error) {
	h.Metrics.Inc(metrics.SignalRejected)
	h.Log.WarnContext(ctx, "graph notification rejected", "status", code, "reason", reason)
	return ingest.JSON(code, map[string]string{"error": reason}), nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
