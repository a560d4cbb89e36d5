package gmail

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/stagemover/stagemover/shared/store"
)

// History keeps per mailbox how far its history has been fetched.
// GetCursor reports found=false for a mailbox never fetched.
type History interface {
	GetCursor(ctx context.Context, mailbox string) (c Cursor, found bool, err error)
	PutCursor(ctx context.Context, mailbox string, c Cursor) error
}

// Cursor is a mailbox's fetch position: the last history id whose new
// messages were read, and the start each recent notification listed from.
// A notification whose signals could not all be stored is retried by the
// stream; by then the cursor may have moved past its window, so the retry
// lists again from the start it used the first time.
type Cursor struct {
	HistoryID uint64   `json:"history_id"`
	Windows   []Window `json:"windows,omitempty"` // newest last, at most maxWindows
}

// Window is where one notification's fetch started.
type Window struct {
	Notification string `json:"n"`
	Start        uint64 `json:"s"`
}

// maxWindows bounds the cursor document; a retry comes within minutes, and
// a busy mailbox sees fewer notifications than this in that time.
const maxWindows = 64

// startFor returns the start notification used before, if remembered.
func (c Cursor) startFor(notification string) (uint64, bool) {
	for i := len(c.Windows) - 1; i >= 0; i-- {
		if c.Windows[i].Notification == notification {
			return c.Windows[i].Start, true
		}
	}
	return 0, false
}

// advanced returns c moved to historyID (never backwards) with the window
// recorded.
func (c Cursor) advanced(historyID uint64, notification string, start uint64) Cursor {
	out := Cursor{HistoryID: max(c.HistoryID, historyID)}
	for _, w := range c.Windows {
		if w.Notification != notification {
			out.Windows = append(out.Windows, w)
		}
	}
	out.Windows = append(out.Windows, Window{Notification: notification, Start: start})
	if n := len(out.Windows); n > maxWindows {
		out.Windows = out.Windows[n-maxWindows:]
	}
	return out
}

// Watches keeps per mailbox when its users.watch expires.
type Watches interface {
	GetWatchExpiry(ctx context.Context, mailbox string) (exp time.Time, found bool, err error)
	PutWatchExpiry(ctx context.Context, mailbox string, exp time.Time) error
}

// DocStore is the small-document part of store.Store.
type DocStore interface {
	GetJSON(ctx context.Context, name string, v any) (storedAt time.Time, err error)
	PutJSON(ctx context.Context, name string, v any, ttl time.Duration) error
}

// StoreState implements History and Watches on the table's documents
// (store.Store's GetJSON/PutJSON): "gmail/history/<mailbox>" and
// "gmail/watch/<mailbox>", kept in separate items so the fetcher and the
// renewer never overwrite each other's field.
type StoreState struct {
	Docs DocStore
}

// stateTTL outlives Gmail's history window (about a week) and the watch
// (7 days) by far; a mailbox idle longer starts over from its next
// notification.
const stateTTL = 60 * 24 * time.Hour

type watchDoc struct {
	Expires time.Time `json:"expires"`
}

func historyName(mailbox string) string { return "gmail/history/" + strings.ToLower(mailbox) }
func watchName(mailbox string) string   { return "gmail/watch/" + strings.ToLower(mailbox) }

// GetCursor implements History.
func (s StoreState) GetCursor(ctx context.Context, mailbox string) (Cursor, bool, error) {
	var c Cursor
	if _, err := s.Docs.GetJSON(ctx, historyName(mailbox), &c); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return Cursor{}, false, nil
		}
		return Cursor{}, false, err
	}
	return c, c.HistoryID > 0, nil
}

// PutCursor implements History.
func (s StoreState) PutCursor(ctx context.Context, mailbox string, c Cursor) error {
	return s.Docs.PutJSON(ctx, historyName(mailbox), c, stateTTL)
}

// GetWatchExpiry implements Watches.
func (s StoreState) GetWatchExpiry(ctx context.Context, mailbox string) (time.Time, bool, error) {
	var d watchDoc
	if _, err := s.Docs.GetJSON(ctx, watchName(mailbox), &d); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return time.Time{}, false, nil
		}
		return time.Time{}, false, err
	}
	return d.Expires, !d.Expires.IsZero(), nil
}

// PutWatchExpiry implements Watches.
func (s StoreState) PutWatchExpiry(ctx context.Context, mailbox string, exp time.Time) error {
	return s.Docs.PutJSON(ctx, watchName(mailbox), watchDoc{Expires: exp.UTC()}, stateTTL)
}
