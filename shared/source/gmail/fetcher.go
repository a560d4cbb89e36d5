package gmail

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	netmail "net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/stagemover/stagemover/shared/core/mail"
	"github.com/stagemover/stagemover/shared/core/signal"
	"github.com/stagemover/stagemover/shared/platform/retry"
	"github.com/stagemover/stagemover/shared/store"
)

// API is the part of the Gmail API the fetcher reads (Client).
type API interface {
	HistoryList(ctx context.Context, mailbox string, startHistoryID uint64, pageToken string) (HistoryPage, error)
	MessageGet(ctx context.Context, mailbox, id string) (Message, error)
	MessagesList(ctx context.Context, mailbox, query, pageToken string) (MessagesPage, error)
}

// Fetcher turns a stored Gmail notification into email signals: the
// messages added to the mailbox since its cursor (users.history.list with
// historyTypes=messageAdded), each read in raw format and parsed with
// mail.ParseRaw. It implements the fetcher function's Source.
//
// Where a fetch starts:
//   - a retry of a notification starts where its first attempt started;
//   - otherwise at the mailbox's cursor, or, for a mailbox with no cursor
//     yet, at the notification's own history id. A notification's history
//     id is the mailbox's state after the change it announces, so that first
//     change itself is not read: the first notification only sets the
//     baseline. The Renewer sets the baseline when it first watches a
//     mailbox, so this only happens when the cursor was lost;
//   - a cursor at or past the notification's history id means a later
//     notification already read this one's changes: nothing to do.
//
// When Gmail answers 404 (the start is older than the history it keeps,
// about a week), the fetcher resyncs: users.messages.list with ResyncQuery,
// then continues from the notification's history id.
//
// Two fetches for one mailbox may overlap (notifications come in bursts
// and the stream may deliver them in one batch or in parallel shards): both
// may read the same messages, which is safe because a signal is keyed by its
// Gmail message id, and the cursor only moves forward.
type Fetcher struct {
	Client  API
	History History
	// InternalDomains are the vendor's email domains; the mailbox's own
	// domain counts as internal too unless it is a consumer Gmail domain.
	InternalDomains []string
	ResyncQuery     string // default "newer_than:7d"
	MaxMessages     int    // per fetch, default 500
	Now             func() time.Time
	Log             *slog.Logger
}

// Labels whose messages are not evidence.
var skipLabels = map[string]bool{"DRAFT": true, "SPAM": true, "TRASH": true, "CHAT": true}

// consumerDomains are Google's own mail domains: a mailbox there shares its
// domain with buyers.
var consumerDomains = map[string]bool{"gmail.com": true, "googlemail.com": true}

const defaultResyncQuery = "newer_than:7d"

// Fetch implements the fetcher function's Source.
func (f *Fetcher) Fetch(ctx context.Context, rec store.FetchRecord) ([]store.SignalRecord, error) {
	if rec.Source != Source {
		return nil, fmt.Errorf("gmail fetch %s: not a gmail notification", rec.Key())
	}
	mailbox := strings.ToLower(strings.TrimSpace(rec.Mailbox))
	notified, err := strconv.ParseUint(rec.Resource, 10, 64)
	if err != nil || notified == 0 || !strings.Contains(mailbox, "@") {
		return nil, fmt.Errorf("gmail fetch %s: the record has no mailbox or history id", rec.Key())
	}
	log := f.log().With("mailbox", mailbox, "notification_id", rec.NotificationID, "history_id", notified)

	cur, found, err := f.History.GetCursor(ctx, mailbox)
	if err != nil {
		return nil, fmt.Errorf("gmail fetch %s: read cursor: %w: %v", rec.Key(), retry.ErrLater, err)
	}
	start, retried := cur.startFor(rec.NotificationID)
	switch {
	case retried:
		log.InfoContext(ctx, "retried notification lists its window again", "start", start)
	case !found:
		start = notified
		log.InfoContext(ctx, "first notification for this mailbox sets the baseline")
	case cur.HistoryID >= notified:
		log.InfoContext(ctx, "already fetched past this notification", "cursor", cur.HistoryID)
		return nil, nil
	default:
		start = cur.HistoryID
	}

	ids, next, err := f.listSince(ctx, log, mailbox, start)
	if errors.Is(err, ErrNotFound) {
		log.WarnContext(ctx, "history id too old to list from; resyncing", "start", start)
		ids, err = f.resync(ctx, log, mailbox)
		next = notified
	}
	if err != nil {
		return nil, fmt.Errorf("gmail fetch %s: %w", rec.Key(), err)
	}

	now := f.now()
	var sigs []store.SignalRecord
	for _, id := range ids {
		m, err := f.Client.MessageGet(ctx, mailbox, id)
		if errors.Is(err, ErrNotFound) {
			log.InfoContext(ctx, "message gone before it was read", "message_id", id)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("gmail fetch %s: %w", rec.Key(), err)
		}
		sig, skip := f.toSignal(mailbox, m, now)
		if skip != "" {
			log.InfoContext(ctx, "message skipped", "message_id", id, "reason", skip)
			continue
		}
		sigs = append(sigs, sig)
	}

	// Re-read: an overlapping fetch may have moved the cursor meanwhile.
	latest, _, err := f.History.GetCursor(ctx, mailbox)
	if err == nil {
		err = f.History.PutCursor(ctx, mailbox, latest.advanced(next, rec.NotificationID, start))
	}
	if err != nil {
		return nil, fmt.Errorf("gmail fetch %s: save cursor: %w: %v", rec.Key(), retry.ErrLater, err)
	}
	log.InfoContext(ctx, "gmail fetched", "start", start, "cursor", next, "messages", len(ids), "signals", len(sigs))
	return sigs, nil
}

func (f *Fetcher) maxMessages() int {
	if f.MaxMessages > 0 {
		return f.MaxMessages
	}
	return 500
}

// listSince returns the ids of messages added after start, oldest first,
// and the history id to continue from.
func (f *Fetcher) listSince(ctx context.Context, log *slog.Logger, mailbox string, start uint64) ([]string, uint64, error) {
	var ids []string
	seen := map[string]bool{}
	page := ""
	for {
		hp, err := f.Client.HistoryList(ctx, mailbox, start, page)
		if err != nil {
			return nil, 0, err
		}
		for _, h := range hp.History {
			for _, a := range h.MessagesAdded {
				id := a.Message.ID
				if id == "" || seen[id] || hasSkipLabel(a.Message.LabelIDs) {
					continue
				}
				seen[id] = true
				ids = append(ids, id)
			}
			if len(ids) >= f.maxMessages() {
				// Stop after a whole record; the rest waits for the next
				// notification, which starts from here.
				if hid, err := strconv.ParseUint(h.ID, 10, 64); err == nil && hid > start {
					log.WarnContext(ctx, "more new messages than one fetch reads; continuing at the next notification", "read", len(ids))
					return ids, hid, nil
				}
			}
		}
		if hp.NextPageToken == "" {
			next, err := strconv.ParseUint(hp.HistoryID, 10, 64)
			if err != nil || next < start {
				next = start
			}
			return ids, next, nil
		}
		page = hp.NextPageToken
	}
}

// resync lists recent messages when history cannot be listed.
func (f *Fetcher) resync(ctx context.Context, log *slog.Logger, mailbox string) ([]string, error) {
	q := f.ResyncQuery
	if q == "" {
		q = defaultResyncQuery
	}
	var ids []string
	page := ""
	for len(ids) < f.maxMessages() {
		mp, err := f.Client.MessagesList(ctx, mailbox, q, page)
		if err != nil {
			return nil, err
		}
		for _, m := range mp.Messages {
			if m.ID != "" && len(ids) < f.maxMessages() {
				ids = append(ids, m.ID)
			}
		}
		if mp.NextPageToken == "" {
			break
		}
		page = mp.NextPageToken
	}
	if len(ids) >= f.maxMessages() {
		log.WarnContext(ctx, "resync read only the newest messages", "read", len(ids))
	}
	// messages.list is newest first; evidence reads better oldest first.
	for i, j := 0, len(ids)-1; i < j; i, j = i+1, j-1 {
		ids[i], ids[j] = ids[j], ids[i]
	}
	return ids, nil
}

func hasSkipLabel(labels []string) bool {
	for _, l := range labels {
		if skipLabels[l] {
			return true
		}
	}
	return false
}

// keptHeaders are the headers a signal keeps: threading, the ones mail.Read
// uses to recognise machine mail, and the MIME ones its body needs.
var keptHeaders = map[string]bool{
	"Message-Id": true, "In-Reply-To": true, "References": true, "Date": true,
	"Reply-To": true, "Sender": true, "Return-Path": true,
	"Auto-Submitted": true, "Precedence": true, "X-Autoreply": true, "X-Autorespond": true,
	"X-Auto-Response-Suppress": true, "X-Apple-Action": true, "X-Failed-Recipients": true,
	"Mailing-List": true, "X-Mlserver": true, "X-Ml-Name": true, "X-Ml-Server": true,
	"Feedback-Type": true,
	"Mime-Version":  true, "Content-Type": true, "Content-Transfer-Encoding": true,
}

const maxHeaderValue = 2 << 10

// toSignal reads one raw message into an email signal about the mailbox's
// external counterpart, or says why it is no evidence.
func (f *Fetcher) toSignal(mailbox string, m Message, now time.Time) (store.SignalRecord, string) {
	if hasSkipLabel(m.LabelIDs) {
		return store.SignalRecord{}, "draft, spam, trash or chat"
	}
	raw, err := base64.URLEncoding.DecodeString(m.Raw)
	if err != nil {
		raw, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(m.Raw, "="))
	}
	if err != nil || len(raw) == 0 {
		return store.SignalRecord{}, "raw message is not base64url"
	}
	hdrs, subject, body, err := mail.ParseRaw(raw)
	if err != nil {
		return store.SignalRecord{}, "not an RFC 5322 message"
	}
	from := firstAddress(hdrs["From"])
	if from == "" {
		return store.SignalRecord{}, "no From address"
	}
	to, cc := addressList(hdrs["To"]), addressList(hdrs["Cc"])
	counterpart := ""
	if !f.internal(from, mailbox) {
		counterpart = from // inbound: the buyer wrote
	} else {
		for _, a := range append(append([]string{}, to...), cc...) {
			if !f.internal(a, mailbox) {
				counterpart = a // outbound: the first outside recipient
				break
			}
		}
	}
	if counterpart == "" {
		return store.SignalRecord{}, "internal mail only"
	}

	kept := map[string]string{}
	for k, v := range hdrs {
		if keptHeaders[k] || strings.HasPrefix(k, "List-") {
			kept[k] = cutText(toValidUTF8(v), maxHeaderValue)
		}
	}
	text, cte := prepareBody(kept["Content-Type"], kept["Content-Transfer-Encoding"], body)
	if cte != "" {
		kept["Content-Transfer-Encoding"] = cte
	}
	sig := signal.Signal{
		Kind:    signal.KindEmail,
		At:      messageTime(m.InternalDate, hdrs["Date"], now),
		From:    from,
		To:      to,
		Cc:      cc,
		Subject: cutText(toValidUTF8(subject), maxHeaderValue),
		Body:    text,
		Headers: kept,
	}
	if err := sig.Validate(); err != nil {
		return store.SignalRecord{}, "not a valid email signal"
	}
	return store.SignalRecord{
		Source:      Source,
		EventID:     m.ID,
		PersonEmail: counterpart,
		ReceivedAt:  now,
		Signal:      sig,
	}, ""
}

// internal reports whether addr is on the vendor's side.
func (f *Fetcher) internal(addr, mailbox string) bool {
	if addr == mailbox {
		return true
	}
	d := domainOf(addr)
	if md := domainOf(mailbox); d == md && !consumerDomains[md] {
		return true
	}
	for _, x := range f.InternalDomains {
		x = strings.ToLower(strings.TrimSpace(x))
		if x != "" && (d == x || strings.HasSuffix(d, "."+x)) {
			return true
		}
	}
	return false
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return strings.ToLower(addr[i+1:])
	}
	return ""
}

// firstAddress is the lower-case address of a From-like header.
func firstAddress(v string) string {
	if as := addressList(v); len(as) > 0 {
		return as[0]
	}
	return ""
}

// addressList reads an address list header leniently: RFC 5322 first, then
// any <...> or bare word with an @.
func addressList(v string) []string {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	var out []string
	dec := netmail.AddressParser{WordDecoder: &mimeWordDecoder}
	if list, err := dec.ParseList(v); err == nil {
		for _, a := range list {
			if a.Address != "" && len(out) < 100 {
				out = append(out, strings.ToLower(a.Address))
			}
		}
		return out
	}
	for _, part := range strings.Split(v, ",") {
		if i, j := strings.LastIndexByte(part, '<'), strings.LastIndexByte(part, '>'); i >= 0 && j > i {
			part = part[i+1 : j]
		}
		for _, w := range strings.Fields(part) {
			w = strings.Trim(w, `"'()<>;`)
			if strings.Count(w, "@") == 1 && !strings.HasPrefix(w, "@") && !strings.HasSuffix(w, "@") && len(out) < 100 {
				out = append(out, strings.ToLower(w))
				break
			}
		}
	}
	return out
}

// mimeWordDecoder lets display names in any charset through: only the
// addresses are used.
var mimeWordDecoder = mime.WordDecoder{CharsetReader: func(_ string, r io.Reader) (io.Reader, error) { return r, nil }}

// messageTime is internalDate (epoch ms, when Gmail accepted the message),
// else the Date header, else now.
func messageTime(internalDate, date string, now time.Time) time.Time {
	if ms, err := strconv.ParseInt(internalDate, 10, 64); err == nil && ms > 0 {
		return time.UnixMilli(ms).UTC()
	}
	if t, err := netmail.ParseDate(date); err == nil {
		return t.UTC()
	}
	return now.UTC()
}

func (f *Fetcher) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f *Fetcher) log() *slog.Logger {
	if f.Log != nil {
		return f.Log
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
