package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/stagemover/stagemover/shared/platform/logx"
)

// MaxSubscriptionLifetime is the longest Graph allows for Outlook message
// and event subscriptions: 4230 minutes, under 3 days (subscription.md,
// "Maximum length of subscription per resource type").
const MaxSubscriptionLifetime = 4230 * time.Minute

// SubscriptionConfig says which subscriptions should exist.
type SubscriptionConfig struct {
	// Mailboxes are the users (userPrincipalName, usually the email
	// address) whose mail and calendar are watched.
	Mailboxes []string
	// NotificationURL is the handler's public HTTPS URL (POST /webhooks/graph).
	NotificationURL string
	// LifecycleNotificationURL receives lifecycle notifications (default:
	// NotificationURL; the same handler serves both).
	LifecycleNotificationURL string
	// ClientState returns the secret every notification must carry (at most
	// 128 characters, subscription.md).
	ClientState func(ctx context.Context) (string, error)
	// Lifetime of a new or renewed subscription (default 4215 minutes: the
	// maximum less a margin for clock skew).
	Lifetime time.Duration
	// RenewBefore: subscriptions expiring sooner than this are renewed
	// (default 24 h).
	RenewBefore time.Duration
}

// Renewer keeps one message subscription (created) and one event
// subscription (created, updated) per configured mailbox: it creates those
// missing, renews those expiring within RenewBefore, and deletes duplicates
// of its own. Running it again changes nothing.
type Renewer struct {
	Client        *Client
	Subscriptions SubscriptionConfig
	Now           func() time.Time
	Log           *slog.Logger
}

// wanted is one subscription the configuration asks for.
type wanted struct {
	mailbox, kind   string
	resource        string
	changeType      string
	notificationURL string
	lifecycleURL    string
}

func (r *Renewer) wanted(mailbox string) ([]wanted, error) {
	mailbox = strings.ToLower(strings.TrimSpace(mailbox))
	if !mailboxPattern.MatchString(mailbox) {
		return nil, fmt.Errorf("graph: mailbox %q is not an email address", mailbox)
	}
	var out []wanted
	for _, w := range []struct{ kind, changeType string }{
		{KindMessages, ChangeCreated},
		// deleted events cannot be fetched: only created and updated help
		{KindEvents, ChangeCreated + "," + ChangeUpdated},
	} {
		n, err := withContext(r.Subscriptions.NotificationURL, mailbox, w.kind)
		if err != nil {
			return nil, err
		}
		l := n
		if r.Subscriptions.LifecycleNotificationURL != "" {
			if l, err = withContext(r.Subscriptions.LifecycleNotificationURL, mailbox, w.kind); err != nil {
				return nil, err
			}
		}
		out = append(out, wanted{mailbox: mailbox, kind: w.kind, resource: "users/" + mailbox + "/" + w.kind,
			changeType: w.changeType, notificationURL: n, lifecycleURL: l})
	}
	return out, nil
}

// withContext adds mailbox and kind to a notification URL; Graph sends the
// query string back with every notification.
func withContext(raw, mailbox, kind string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", errors.New("graph: the notification URL must be an absolute https URL")
	}
	q := u.Query()
	q.Set(QueryMailbox, mailbox)
	q.Set(QueryKind, kind)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// Run reconciles every configured mailbox. A failure with one mailbox does
// not stop the others; the errors are returned together.
func (r *Renewer) Run(ctx context.Context) error {
	if len(r.Subscriptions.Mailboxes) == 0 {
		r.log().InfoContext(ctx, "graph renewer: no mailboxes configured")
		return nil
	}
	subs, err := r.Client.ListSubscriptions(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range r.Subscriptions.Mailboxes {
		if err := r.ensure(ctx, m, subs); err != nil {
			errs = append(errs, fmt.Errorf("mailbox %s: %w", m, err))
		}
	}
	return errors.Join(errs...)
}

// EnsureMailbox reconciles one mailbox (used after subscriptionRemoved).
func (r *Renewer) EnsureMailbox(ctx context.Context, mailbox string) error {
	subs, err := r.Client.ListSubscriptions(ctx)
	if err != nil {
		return err
	}
	return r.ensure(ctx, mailbox, subs)
}

func (r *Renewer) ensure(ctx context.Context, mailbox string, subs []Subscription) error {
	ws, err := r.wanted(mailbox)
	if err != nil {
		return err
	}
	var errs []error
	for _, w := range ws {
		if err := r.ensureOne(ctx, w, subs); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", w.kind, err))
		}
	}
	return errors.Join(errs...)
}

func (r *Renewer) ensureOne(ctx context.Context, w wanted, subs []Subscription) error {
	now := r.now()
	log := r.log().With("mailbox", w.mailbox, "kind", w.kind)
	var mine []Subscription
	for _, s := range subs {
		// only our own: same resource and the very notification URL this
		// configuration uses (another stack's subscriptions are left alone)
		if strings.EqualFold(strings.Trim(s.Resource, "/"), w.resource) && s.NotificationURL == w.notificationURL &&
			s.Expiration().After(now) {
			mine = append(mine, s)
		}
	}
	sort.Slice(mine, func(i, j int) bool { return mine[i].Expiration().After(mine[j].Expiration()) })
	for _, dup := range mine[min(1, len(mine)):] {
		if err := r.Client.DeleteSubscription(ctx, dup.ID); err != nil && !errors.Is(err, ErrNotFound) {
			log.WarnContext(ctx, "graph renewer: could not delete a duplicate subscription", "subscription_id", dup.ID, "error", err)
		} else {
			log.InfoContext(ctx, "graph renewer: duplicate subscription deleted", "subscription_id", dup.ID)
		}
	}
	if len(mine) > 0 {
		keep := mine[0]
		if keep.Expiration().Sub(now) > r.renewBefore() {
			log.DebugContext(ctx, "graph subscription current", "subscription_id", keep.ID, "expires", keep.ExpirationDateTime)
			return nil
		}
		renewed, err := r.Client.RenewSubscription(ctx, keep.ID, now.Add(r.lifetime()))
		if err == nil {
			log.InfoContext(ctx, "graph subscription renewed", "subscription_id", renewed.ID, "expires", renewed.ExpirationDateTime)
			return nil
		}
		if !errors.Is(err, ErrNotFound) {
			return err
		}
		log.WarnContext(ctx, "graph subscription vanished before renewal: creating a new one", "subscription_id", keep.ID)
	}
	state, err := r.clientState(ctx)
	if err != nil {
		return err
	}
	created, err := r.Client.CreateSubscription(ctx, Subscription{
		ChangeType:                w.changeType,
		NotificationURL:           w.notificationURL,
		LifecycleNotificationURL:  w.lifecycleURL,
		Resource:                  w.resource,
		ExpirationDateTime:        graphTime(now.Add(r.lifetime())),
		ClientState:               state,
		LatestSupportedTLSVersion: "v1_2",
	})
	if err != nil {
		return err
	}
	log.InfoContext(ctx, "graph subscription created", "subscription_id", created.ID, "expires", created.ExpirationDateTime)
	return nil
}

func (r *Renewer) clientState(ctx context.Context) (string, error) {
	if r.Subscriptions.ClientState == nil {
		return "", errors.New("graph: no clientState secret configured")
	}
	s, err := r.Subscriptions.ClientState(ctx)
	if err != nil {
		return "", err
	}
	if s == "" || len(s) > 128 {
		return "", errors.New("graph: the clientState secret must be 1-128 characters")
	}
	return s, nil
}

func (r *Renewer) lifetime() time.Duration {
	if l := r.Subscriptions.Lifetime; l > 0 && l <= MaxSubscriptionLifetime {
		return l
	}
	return MaxSubscriptionLifetime - 15*time.Minute
}

func (r *Renewer) renewBefore() time.Duration {
	if d := r.Subscriptions.RenewBefore; d > 0 {
		return d
	}
	return 24 * time.Hour
}

func (r *Renewer) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Renewer) log() *slog.Logger { return logx.Or(r.Log) }

// HandleScheduled is the Lambda handler for the schedule (any event).
func (r *Renewer) HandleScheduled(ctx context.Context, _ json.RawMessage) error { return r.Run(ctx) }

// ParseMailboxes reads a comma-separated mailbox list (GRAPH_MAILBOXES).
func ParseMailboxes(s string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, m := range strings.Split(s, ",") {
		m = strings.ToLower(strings.TrimSpace(m))
		if m == "" || seen[m] {
			continue
		}
		if !mailboxPattern.MatchString(m) {
			return nil, fmt.Errorf("graph: mailbox %q is not an email address", m)
		}
		seen[m] = true
		out = append(out, m)
	}
	return out, nil
}
