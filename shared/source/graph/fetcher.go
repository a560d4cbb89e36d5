package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stagemover/stagemover/shared/core/signal"
	"github.com/stagemover/stagemover/shared/platform/logx"
	"github.com/stagemover/stagemover/shared/platform/metrics"
	"github.com/stagemover/stagemover/shared/store"
)

// Fetcher turns stored Graph notifications into signals. It implements the
// fetcher function's Source (shared/source/fetcher). Errors retry.IsLater
// matches are transient (429, 5xx, network); other errors are permanent failures
// that must reach the failure queue (bad credentials, no permission, a
// mailbox Graph cannot resolve, a mailbox that is not watched). A message
// or event deleted before the fetch (Graph's 404 ErrorItemNotFound) is not
// a failure: no signal, no error.
type Fetcher struct {
	Client *Client
	// Mailboxes are the watched mailboxes (GRAPH_MAILBOXES): the fetcher
	// reads no other (see watchedMailbox); when empty, it reads none.
	Mailboxes []string
	// Metrics counts GraphMailboxNotWatched and GraphUnknownTimeZone.
	Metrics *metrics.Recorder
	// Renewer recreates a removed subscription (optional: without it a
	// subscriptionRemoved notification only resyncs, and the scheduled
	// renewer recreates the subscription on its next run).
	Renewer *Renewer
	// InternalDomains are the vendor's email domains (INTERNAL_DOMAINS); the
	// mailbox's own domain is always internal.
	InternalDomains []string
	// ResyncWindow is how far back a resync after missed notifications or
	// a removed subscription reads (default 24 h; Graph retries deliveries
	// for up to 4 hours).
	ResyncWindow time.Duration
	// ResyncMax bounds the items one resync reads per kind (default 200).
	ResyncMax int
	Now       func() time.Time
	Log       *slog.Logger
}

// ErrBadFetchItem marks a fetch item this source cannot read; retrying will
// not help, and the failure queue shows it.
var ErrBadFetchItem = errors.New("graph: unusable fetch item")

// MetricUnknownTimeZone counts events whose start is in a time zone no
// table here knows (the fetcher function's metric): a booking then carries
// no signal, since its time, future or past, is unknown.
const MetricUnknownTimeZone = "GraphUnknownTimeZone"

// maxBody bounds the HTML body kept in a signal: the top of a message is
// what its sender wrote now, and a stored signal must stay well inside
// DynamoDB's 400 KB item limit after JSON escaping.
const maxBody = 48 << 10

// Fetch fetches the item rec names and returns its signal, or performs the
// lifecycle action rec asks for (returning the signals a resync finds).
func (f *Fetcher) Fetch(ctx context.Context, rec store.FetchRecord) ([]store.SignalRecord, error) {
	if rec.Source != Source {
		return nil, fmt.Errorf("%w: source %q is not %q", ErrBadFetchItem, rec.Source, Source)
	}
	p, err := DecodePayload(rec.Payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadFetchItem, err)
	}
	log := f.log().With("notification_id", rec.NotificationID, "subscription_id", p.SubscriptionID)
	mailbox, refused := watchedMailbox(f.Mailboxes, rec.Mailbox, p.Notification)
	if refused != "" {
		f.Metrics.Inc(MetricMailboxNotWatched)
		log.WarnContext(ctx, "graph fetch refused: its mailbox is not watched", "reason", refused,
			"mailbox", truncate(rec.Mailbox, 256), "resource", truncate(p.Resource, 256))
		return nil, fmt.Errorf("%w: %s", ErrMailboxNotWatched, refused)
	}
	rec.Mailbox = mailbox
	if p.IsLifecycle() {
		return f.lifecycle(ctx, log, rec, p)
	}
	rp, ok := ParseResource(p.Resource)
	if !ok {
		return nil, fmt.Errorf("%w: resource is not an Outlook message or event path", ErrBadFetchItem)
	}
	id := rp.ID
	if p.ResourceData != nil && p.ResourceData.ID != "" {
		id = p.ResourceData.ID
	}
	kind := rp.Kind
	if t := strings.ToLower(resourceType(p)); t != "" {
		kind = t
	}
	if id == "" {
		return nil, fmt.Errorf("%w: the notification names no item id", ErrBadFetchItem)
	}
	if p.ChangeType == ChangeDeleted {
		log.InfoContext(ctx, "graph item deleted: nothing to fetch", "kind", kind)
		return nil, nil
	}
	// only the watched mailbox is read, whatever user the resource names
	user := mailbox
	log = log.With("kind", kind, "change_type", p.ChangeType)
	switch kind {
	case KindMessages:
		m, err := f.Client.GetMessage(ctx, user, id)
		// only item-not-found means deleted: a 404 about the mailbox
		// (ErrorInvalidUser, ...) fails the fetch
		if errors.Is(err, ErrItemNotFound) {
			log.InfoContext(ctx, "graph message no longer exists: no signal", "error", err)
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		s, skip := f.messageSignal(rec, m)
		return f.one(ctx, log, s, skip)
	case KindEvents:
		e, err := f.Client.GetEvent(ctx, user, id)
		if errors.Is(err, ErrItemNotFound) {
			log.InfoContext(ctx, "graph event no longer exists: no signal", "error", err)
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		s, skip := f.eventSignal(ctx, log, rec, e, p.ChangeType)
		return f.one(ctx, log, s, skip)
	}
	log.WarnContext(ctx, "graph notification for an unsupported resource: no signal", "resource_kind", kind)
	return nil, nil
}

func (f *Fetcher) one(ctx context.Context, log *slog.Logger, rec store.SignalRecord, skip string) ([]store.SignalRecord, error) {
	if skip != "" {
		log.InfoContext(ctx, "graph item is no evidence: no signal", "reason", skip)
		return nil, nil
	}
	return []store.SignalRecord{rec}, nil
}

// resourceType maps resourceData's @odata.type (#Microsoft.Graph.Message)
// to a kind.
func resourceType(p Payload) string {
	if p.ResourceData == nil {
		return ""
	}
	t := strings.ToLower(p.ResourceData.ODataType)
	switch {
	case strings.HasSuffix(t, ".message"):
		return KindMessages
	case strings.HasSuffix(t, ".event"):
		return KindEvents
	}
	return ""
}

// ---------------------------------------------------------------- signals

type side struct {
	mailbox  string
	internal map[string]bool
}

func (f *Fetcher) sides(mailbox string) side {
	s := side{internal: map[string]bool{}}
	if isAddress(mailbox) {
		s.mailbox = strings.ToLower(mailbox)
		s.internal[domainOf(s.mailbox)] = true
	}
	for _, d := range f.InternalDomains {
		if d = strings.ToLower(strings.TrimSpace(d)); d != "" {
			s.internal[d] = true
		}
	}
	return s
}

// external: an address on the buyer's side of the mailbox.
func (s side) external(addr string) bool {
	addr = strings.ToLower(addr)
	return strings.Contains(addr, "@") && addr != s.mailbox && !s.internal[domainOf(addr)]
}

// firstExternal is the first of addrs on the buyer's side, or "".
func (s side) firstExternal(addrs ...string) string {
	for _, a := range addrs {
		if s.external(a) {
			return a
		}
	}
	return ""
}

// firstTime is the first set time of ts, or fallback: when an item happened.
func firstTime(fallback time.Time, ts ...*time.Time) time.Time {
	for _, t := range ts {
		if t != nil && !t.IsZero() {
			return *t
		}
	}
	return fallback
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return strings.ToLower(addr[i+1:])
	}
	return ""
}

func address(r *Recipient) string {
	if r == nil {
		return ""
	}
	return strings.TrimSpace(r.EmailAddress.Address)
}

func addresses(rs []Recipient) []string {
	var out []string
	for i := range rs {
		if a := address(&rs[i]); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// keptHeaders are the raw headers a signal carries: the ones that tell
// machine mail from a person's (mail.Read) and the threading ones. Content
// headers are left out on purpose: the body Graph returns is already
// decoded, and a multipart Content-Type would make mail.Read parse it again.
var keptHeaders = map[string]bool{
	"auto-submitted": true, "x-autoreply": true, "x-autorespond": true, "x-auto-response-suppress": true,
	"precedence": true, "list-id": true, "list-unsubscribe": true, "list-post": true, "list-help": true,
	"list-subscribe": true, "mailing-list": true, "x-failed-recipients": true, "return-path": true,
	"x-apple-action": true, "message-id": true, "in-reply-to": true, "references": true,
	"x-ms-exchange-generated-message-source": true, "x-ms-exchange-inbox-rules-loop": true,
}

func messageHeaders(hs []InternetMessageHeader) map[string]string {
	out := map[string]string{}
	for _, h := range hs {
		name := strings.TrimSpace(h.Name)
		if !keptHeaders[strings.ToLower(name)] {
			continue
		}
		if _, dup := out[name]; dup {
			continue
		}
		out[name] = truncateUTF8(h.Value, 1000)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// messageSignal converts a message; skip says why it is no evidence.
func (f *Fetcher) messageSignal(rec store.FetchRecord, m *Message) (store.SignalRecord, string) {
	if m.IsDraft {
		return store.SignalRecord{}, "a draft"
	}
	from := address(m.From)
	if from == "" {
		from = address(m.Sender)
	}
	if !strings.Contains(from, "@") {
		return store.SignalRecord{}, "no sender address"
	}
	to, cc := addresses(m.ToRecipients), addresses(m.CcRecipients)
	sd := f.sides(rec.Mailbox)
	person := sd.firstExternal(append(append([]string{from}, to...), cc...)...)
	if person == "" {
		return store.SignalRecord{}, "no participant outside the mailbox's organisation"
	}
	at := firstTime(f.now(), m.ReceivedDateTime, m.SentDateTime)
	sig := signal.Signal{
		Kind:    signal.KindEmail,
		At:      at.UTC(),
		From:    from,
		To:      to,
		Cc:      cc,
		Subject: m.Subject,
		Body:    truncateUTF8(m.Body.Content, maxBody),
		Headers: messageHeaders(m.InternetMessageHeaders),
	}
	if err := sig.Validate(); err != nil {
		return store.SignalRecord{}, err.Error()
	}
	return store.SignalRecord{
		Source:      Source,
		EventID:     messageEventID(m),
		PersonEmail: strings.ToLower(person),
		ReceivedAt:  f.now(),
		Signal:      sig,
	}, ""
}

// messageEventID keys an email by its Internet Message-ID when it has one,
// so the same email seen in two monitored mailboxes (the rep's Sent Items
// and a colleague's Inbox) is one signal; else by its immutable Graph id.
func messageEventID(m *Message) string {
	if mid := strings.Trim(strings.TrimSpace(m.InternetMessageID), "<>"); mid != "" && printable(mid, 900) {
		return "msg:" + mid
	}
	return "id:" + m.ID
}

// eventSignal converts an event. Status: canceled when the event is
// cancelled, when the mailbox's owner declined it, or when every outside
// attendee declined; otherwise scheduled for a new event and rescheduled
// for an update (the engine lets the newer record of a meeting replace the
// older). An update made after the meeting started carries no booking news
// and is skipped.
//
// The start is read in UTC, a Windows zone or an IANA zone. A start whose
// zone is unknown (or that is missing or malformed) is an unknown time: a
// cancellation is kept without starts_at, but a booking is skipped, since a
// meeting with no starts_at would count as booked for the future when it
// may be past. An unknown zone is logged and counted (GraphUnknownTimeZone).
func (f *Fetcher) eventSignal(ctx context.Context, log *slog.Logger, rec store.FetchRecord, e *Event, changeType string) (store.SignalRecord, string) {
	sd := f.sides(rec.Mailbox)
	organizer := address(e.Organizer)
	var attendees []string
	outside, outsideDeclined := 0, 0
	for _, a := range e.Attendees {
		addr := strings.TrimSpace(a.EmailAddress.Address)
		if addr == "" {
			continue
		}
		attendees = append(attendees, addr)
		if sd.external(addr) && !strings.EqualFold(addr, organizer) {
			outside++
			if a.Status != nil && a.Status.Response == "declined" {
				outsideDeclined++
			}
		}
	}
	person := sd.firstExternal(append([]string{organizer}, attendees...)...)
	if person == "" {
		return store.SignalRecord{}, "no participant outside the mailbox's organisation"
	}
	at := firstTime(f.now(), e.LastModifiedDateTime, e.CreatedDateTime)
	var startsAt *time.Time
	t, startErr := e.Start.Parse()
	if startErr == nil {
		startsAt = &t
	} else if errors.Is(startErr, ErrUnknownTimeZone) {
		f.Metrics.Inc(MetricUnknownTimeZone)
		log.WarnContext(ctx, "graph event start is in an unknown time zone: its time is unknown", "error", startErr.Error(), "event_id", e.ID)
	}
	status := "scheduled"
	ownerDeclined := !e.IsOrganizer && e.ResponseStatus != nil && e.ResponseStatus.Response == "declined"
	switch {
	case e.IsCancelled, ownerDeclined, outside > 0 && outsideDeclined == outside:
		status = "canceled"
	case startErr != nil:
		return store.SignalRecord{}, "a booking whose start time is unknown (" + startErr.Error() + ")"
	case changeType == ChangeUpdated:
		if startsAt != nil && !startsAt.After(at) {
			return store.SignalRecord{}, "an update after the meeting's start"
		}
		status = "rescheduled"
	}
	sig := signal.Signal{
		Kind:      signal.KindMeeting,
		At:        at.UTC(),
		Status:    status,
		StartsAt:  startsAt,
		Title:     e.Subject,
		Organizer: organizer,
		Attendees: attendees,
	}
	if err := sig.Validate(); err != nil {
		return store.SignalRecord{}, err.Error()
	}
	if changeType == "" {
		changeType = ChangeCreated
	}
	return store.SignalRecord{
		Source: Source,
		// a new version of the event (new changeKey) is a new signal; the
		// same version fetched twice is one
		EventID:     "evt:" + e.ID + "#" + changeType + "#" + e.ChangeKey,
		PersonEmail: strings.ToLower(person),
		ReceivedAt:  f.now(),
		Signal:      sig,
	}, ""
}

// ---------------------------------------------------------------- lifecycle

func (f *Fetcher) lifecycle(ctx context.Context, log *slog.Logger, rec store.FetchRecord, p Payload) ([]store.SignalRecord, error) {
	log = log.With("lifecycle_event", p.LifecycleEvent)
	switch p.LifecycleEvent {
	case LifecycleReauthorizationRequired:
		err := f.Client.ReauthorizeSubscription(ctx, p.SubscriptionID)
		if err == nil {
			log.InfoContext(ctx, "graph subscription reauthorized")
			return nil, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		log.WarnContext(ctx, "graph subscription to reauthorize no longer exists: recreating", "error", err)
		return f.recreate(ctx, log, rec, p)
	case LifecycleSubscriptionRemoved:
		return f.recreate(ctx, log, rec, p)
	case LifecycleMissed:
		return f.resync(ctx, log, rec, p)
	}
	log.WarnContext(ctx, "unsupported graph lifecycle event: nothing done")
	return nil, nil
}

// recreate creates the mailbox's missing subscriptions, then resyncs what
// may have changed while none existed (lifecycle events doc, step 5).
func (f *Fetcher) recreate(ctx context.Context, log *slog.Logger, rec store.FetchRecord, p Payload) ([]store.SignalRecord, error) {
	mailbox := rec.Mailbox
	if f.Renewer == nil {
		log.WarnContext(ctx, "no renewer configured: the scheduled renewer will recreate the subscription")
	} else if mailbox == "" {
		return nil, fmt.Errorf("%w: removed subscription names no mailbox to recreate it for", ErrBadFetchItem)
	} else if err := f.Renewer.EnsureMailbox(ctx, mailbox); err != nil {
		return nil, err
	} else {
		log.InfoContext(ctx, "graph subscriptions recreated", "mailbox", mailbox)
	}
	return f.resync(ctx, log, rec, p)
}

// resync reads the mailbox's items changed in the resync window and returns
// their signals; signals already stored are keyed the same and add nothing.
func (f *Fetcher) resync(ctx context.Context, log *slog.Logger, rec store.FetchRecord, p Payload) ([]store.SignalRecord, error) {
	user := rec.Mailbox
	if user == "" {
		return nil, fmt.Errorf("%w: lifecycle notification names no mailbox to resync", ErrBadFetchItem)
	}
	window := f.ResyncWindow
	if window <= 0 {
		window = 24 * time.Hour
	}
	max := f.ResyncMax
	if max <= 0 {
		max = 200
	}
	received := rec.ReceivedAt
	if received.IsZero() {
		received = f.now()
	}
	since := received.Add(-window)
	kinds := []string{KindMessages, KindEvents}
	if p.Kind == KindMessages || p.Kind == KindEvents {
		kinds = []string{p.Kind}
	}
	var out []store.SignalRecord
	for _, kind := range kinds {
		skipped := 0
		switch kind {
		case KindMessages:
			ms, err := f.Client.ListMessagesSince(ctx, user, since, max)
			if err != nil {
				return nil, err
			}
			for i := range ms {
				if s, skip := f.messageSignal(rec, &ms[i]); skip == "" {
					out = append(out, s)
				} else {
					skipped++
				}
			}
		case KindEvents:
			es, err := f.Client.ListEventsSince(ctx, user, since, max)
			if err != nil {
				return nil, err
			}
			for i := range es {
				ct := ChangeUpdated
				if es[i].CreatedDateTime != nil && !es[i].CreatedDateTime.Before(since) {
					ct = ChangeCreated
				}
				if s, skip := f.eventSignal(ctx, log, rec, &es[i], ct); skip == "" {
					out = append(out, s)
				} else {
					skipped++
				}
			}
		}
		log.InfoContext(ctx, "graph mailbox resynced", "kind", kind, "since", since, "skipped", skipped)
	}
	return out, nil
}

func (f *Fetcher) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f *Fetcher) log() *slog.Logger { return logx.Or(f.Log) }

// truncateUTF8 cuts s to at most n bytes at a character boundary.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
