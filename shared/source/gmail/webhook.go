package gmail

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/store"
)

// PushVerifier checks the push request's Authorization header (Verifier).
type PushVerifier interface {
	Verify(ctx context.Context, authorization string) (PushIdentity, error)
}

// Webhook is the ingest.Source of POST /gmail/push: Pub/Sub push requests
// carrying Gmail notifications, each stored as a fetch item for the
// fetcher. It has no key of its own: the request's OIDC token is checked
// against Google's published keys (Verifier).
type Webhook struct {
	Verifier PushVerifier
	// Mailboxes, when set, is the list of watched mailboxes: a notification
	// for any other mailbox is acknowledged and skipped (nothing could fetch
	// it, and a refusal would make Pub/Sub redeliver it for days).
	Mailboxes []string
}

// Name implements ingest.Source.
func (Webhook) Name() string { return Source }

// Verify checks the push token. The reason is logged; the sender only
// learns whether the token was missing or refused. Google's keys being
// unreachable is our failure (503: Pub/Sub redelivers).
func (w Webhook) Verify(ctx context.Context, r *ingest.Request) error {
	_, err := w.Verifier.Verify(ctx, r.Header("Authorization"))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrKeysUnavailable):
		return err
	case errors.Is(err, ErrNoToken):
		return &ingest.RejectError{Status: http.StatusUnauthorized, Reason: ErrNoToken.Error(), Err: err}
	}
	return &ingest.RejectError{Status: http.StatusUnauthorized, Reason: ErrTokenInvalid.Error(), Err: err}
}

// Parse reads the notification into one fetch item.
func (w Webhook) Parse(_ context.Context, r *ingest.Request) ([]ingest.Item, error) {
	n, err := DecodePush(r.Body)
	if err != nil {
		return nil, err
	}
	attrs := []any{"mailbox", n.EmailAddress, "history_id", n.HistoryID}
	if !w.watched(n.EmailAddress) {
		return []ingest.Item{{Skip: ingest.Unwatched, Why: "its mailbox is not watched", Attrs: append(attrs, "notification_id", n.MessageID)}}, nil
	}
	payload, _ := json.Marshal(n)
	rec := store.FetchRecord{
		Source:         Source,
		NotificationID: n.MessageID,
		Mailbox:        n.EmailAddress,
		Resource:       strconv.FormatUint(n.HistoryID, 10),
		Payload:        string(payload),
		ReceivedAt:     r.Received,
	}
	return []ingest.Item{{Fetch: &rec, Attrs: attrs}}, nil
}

func (w Webhook) watched(mailbox string) bool {
	if len(w.Mailboxes) == 0 {
		return true
	}
	for _, m := range w.Mailboxes {
		if strings.EqualFold(strings.TrimSpace(m), mailbox) {
			return true
		}
	}
	return false
}
