package gmail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/stagemover/stagemover/shared/platform/logx"
)

// WatchAPI is the part of the Gmail API the renewer calls (Client).
type WatchAPI interface {
	Watch(ctx context.Context, mailbox string, req WatchRequest) (WatchResponse, error)
}

// Renewer keeps users.watch alive on every mailbox: "You must re-call watch
// at least every 7 days or else you will stop receiving updates for the
// user. We recommend calling watch once per day."
// (https://developers.google.com/gmail/api/guides/push). Run it on a
// schedule (daily, or every few hours); it calls watch only for mailboxes
// whose watch is unknown or expires within RenewBefore, so running it twice
// is harmless, and watch itself is idempotent.
type Renewer struct {
	Client    WatchAPI
	Mailboxes []string
	Topic     string   // projects/{project}/topics/{topic}; Gmail must be allowed to publish to it
	LabelIDs  []string // optional filter, e.g. INBOX and SENT
	Watches   Watches
	// History, when set, gets the watch's history id as the mailbox's first
	// cursor, so the first notification's change is fetched too.
	History     History
	RenewBefore time.Duration // default 48 hours
	Now         func() time.Time
	Log         *slog.Logger
}

// RenewResult says what Run did for one mailbox.
type RenewResult struct {
	Mailbox string
	Renewed bool
	Expires time.Time
	Err     error
}

// Run is the scheduled function's handler: Renew, failures joined.
func (r *Renewer) Run(ctx context.Context) error {
	_, err := r.Renew(ctx)
	return err
}

// Renew renews what needs renewing. It goes through every mailbox even when
// one fails, and returns the failures joined.
func (r *Renewer) Renew(ctx context.Context) ([]RenewResult, error) {
	if r.Topic == "" {
		return nil, errors.New("gmail renew: no Pub/Sub topic configured")
	}
	before := r.RenewBefore
	if before <= 0 {
		before = 48 * time.Hour
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	log := logx.Or(r.Log)
	var results []RenewResult
	var errs []error
	for _, mb := range r.Mailboxes {
		mb = strings.ToLower(strings.TrimSpace(mb))
		if mb == "" {
			continue
		}
		res := r.renew(ctx, mb, now(), before)
		results = append(results, res)
		switch {
		case res.Err != nil:
			errs = append(errs, res.Err)
			log.ErrorContext(ctx, "gmail watch renewal failed", "mailbox", mb, "error", res.Err)
		case res.Renewed:
			log.InfoContext(ctx, "gmail watch renewed", "mailbox", mb, "expires", res.Expires)
		default:
			log.InfoContext(ctx, "gmail watch still valid", "mailbox", mb, "expires", res.Expires)
		}
	}
	return results, errors.Join(errs...)
}

func (r *Renewer) renew(ctx context.Context, mb string, now time.Time, before time.Duration) RenewResult {
	res := RenewResult{Mailbox: mb}
	exp, found, err := r.Watches.GetWatchExpiry(ctx, mb)
	if err != nil {
		res.Err = fmt.Errorf("gmail renew %s: read watch: %w", mb, err)
		return res
	}
	if found && exp.Sub(now) > before {
		res.Expires = exp
		return res
	}
	req := WatchRequest{TopicName: r.Topic, LabelIDs: r.LabelIDs}
	if len(r.LabelIDs) > 0 {
		req.LabelFilterBehavior = "INCLUDE"
	}
	w, err := r.Client.Watch(ctx, mb, req)
	if err != nil {
		res.Err = fmt.Errorf("gmail renew %s: %w", mb, err)
		return res
	}
	exp, err = w.Expires()
	if err != nil {
		res.Err = fmt.Errorf("gmail renew %s: %w", mb, err)
		return res
	}
	if err := r.Watches.PutWatchExpiry(ctx, mb, exp); err != nil {
		res.Err = fmt.Errorf("gmail renew %s: save watch: %w", mb, err)
		return res
	}
	res.Renewed, res.Expires = true, exp
	if r.History != nil {
		if err := r.baseline(ctx, mb, w.HistoryID); err != nil {
			res.Err = fmt.Errorf("gmail renew %s: baseline: %w", mb, err)
		}
	}
	return res
}

// baseline sets the mailbox's first cursor to the watch's history id.
func (r *Renewer) baseline(ctx context.Context, mb, historyID string) error {
	if _, found, err := r.History.GetCursor(ctx, mb); err != nil || found {
		return err
	}
	id, err := strconv.ParseUint(historyID, 10, 64)
	if err != nil || id == 0 {
		return fmt.Errorf("watch answered history id %q", historyID)
	}
	return r.History.PutCursor(ctx, mb, Cursor{HistoryID: id})
}
