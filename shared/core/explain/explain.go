// Package explain writes stagemover's explanations back to the deal: after
// a move, a note saying what moved it and quoting the evidence; for a
// follow_up flag, an activity for the deal owner. Both are optional and
// idempotent per decision.
//
// Idempotency: before each POST the writer claims a marker on the decision
// item with a conditional write (store.ClaimExplanation), so of any number
// of repeated or concurrent runs exactly one sends the request. The choice
// is at-most-once: when the POST's outcome is unknown (5xx, timeout, a
// crash between claim and answer) the marker stays (uncertain, or posting)
// and nothing is ever re-sent. A duplicate note or task lands in front of
// the salesperson and reads as a bot spamming the deal; a missing one loses
// nothing that cannot be recovered, since the decision, its rule and its
// evidence stay in the table and in `stagemover report`. Only when Pipedrive
// certainly did not create anything (it refused the request: 429, 4xx) is
// the marker released so a later run may post.
//
// Token cost per the specs' x-token-cost: a note is POST /v1/notes (10); a
// follow-up is GET /api/v2/deals/{id} (1, for the owner) plus POST
// /api/v2/activities (5). The pipedrive.Client counts them in Usage().
package explain

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/stagemover/stagemover/shared/core/intent"
	"github.com/stagemover/stagemover/shared/pipedrive"
	"github.com/stagemover/stagemover/shared/store"
)

// Token costs (x-token-cost in openapi-v1.yaml / openapi-v2.yaml).
const (
	NoteTokenCost     = 10 // POST /v1/notes
	ActivityTokenCost = 5  // POST /api/v2/activities
	GetDealTokenCost  = 1  // GET /api/v2/deals/{id}
)

// Pipedrive is the part of the API the writer uses.
type Pipedrive interface {
	AddNote(ctx context.Context, n pipedrive.NewNote) (pipedrive.Note, error)
	AddActivity(ctx context.Context, a pipedrive.NewActivity) (pipedrive.Activity, error)
	GetDeal(ctx context.Context, id int64) (pipedrive.Deal, error)
}

// Store holds the markers (see store/explain.go).
type Store interface {
	ClaimExplanation(ctx context.Context, dealID int64, sortKey, kind, owner string) error
	SettleExplanation(ctx context.Context, dealID int64, sortKey, kind, owner, state string, id int64, reason string) error
	ReleaseExplanation(ctx context.Context, dealID int64, sortKey, kind, owner string) error
}

// StageNames names stage ids (optional); the mover's stage map fits.
type StageNames interface {
	StageName(ctx context.Context, stageID int64) (string, bool)
}

// Evidence finds the stored signals a decision's reasons point at, to name
// who sent them (optional; *store.Store fits).
type Evidence interface {
	SignalsForDeal(ctx context.Context, dealID int64, since time.Time, limit int) ([]store.SignalRecord, error)
}

// Writer writes explanations. The zero values of the optional fields are usable.
type Writer struct {
	Pipedrive  Pipedrive
	Store      Store
	Notes      bool // write a note after each live move
	Activities bool // create a follow-up activity for follow_up flags
	Stages     StageNames
	Evidence   Evidence

	// ActivityType is the activity type key ("task" by default; "call" fits too).
	ActivityType string
	// FollowUpDays is how many business days (Mon-Fri) after now the
	// follow-up is due (default 2).
	FollowUpDays int
	// MaxReasons caps the evidence quoted in a note (default 3).
	MaxReasons int
	// Location is the time zone for dates in the text (default UTC).
	Location *time.Location

	Now func() time.Time
	Log *slog.Logger
}

// Result says what a call did.
type Result struct {
	Posted  bool   // a note or activity was created now
	ID      int64  // its Pipedrive id
	Skipped string // why nothing was sent ("" when Posted)
}

// ErrUncertain wraps a POST whose outcome is unknown; it is never re-sent.
var ErrUncertain = errors.New("explanation outcome unknown; not re-sent (at most once)")

func (w *Writer) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

func (w *Writer) log() *slog.Logger {
	if w.Log != nil {
		return w.Log
	}
	return slog.New(slog.DiscardHandler)
}

func (w *Writer) loc() *time.Location {
	if w.Location != nil {
		return w.Location
	}
	return time.UTC
}

// AfterMove writes the note for a decision the mover finished. It writes
// nothing unless notes are enabled and the outcome is a live (non-shadow)
// done move. Running it again, or concurrently, for the same decision sends
// at most one note.
func (w *Writer) AfterMove(ctx context.Context, d store.Decision, out store.Outcome) (Result, error) {
	switch {
	case !w.Notes:
		return Result{Skipped: "notes disabled"}, nil
	case d.Action != store.ActionMove:
		return Result{Skipped: "not a move decision"}, nil
	case out.State != store.StateDone:
		return Result{Skipped: "decision is " + out.State}, nil
	case out.Shadow:
		return Result{Skipped: "shadow mode"}, nil
	}
	content := w.NoteContent(ctx, d, out)
	return w.post(ctx, d, store.ExplainNote, func(ctx context.Context) (int64, string, error) {
		n, err := w.Pipedrive.AddNote(ctx, pipedrive.NewNote{DealID: d.DealID, Content: content})
		return n.ID, "", err
	})
}

// FollowUp creates the follow-up activity for a decision flagged follow_up,
// assigned to the deal's owner (read with GET deal; the integration user is
// not the person who should call back). Closed or deleted deals get none.
func (w *Writer) FollowUp(ctx context.Context, d store.Decision) (Result, error) {
	switch {
	case !w.Activities:
		return Result{Skipped: "activities disabled"}, nil
	case d.Flag != intent.FlagFollowUp:
		return Result{Skipped: "not flagged follow_up"}, nil
	}
	return w.post(ctx, d, store.ExplainActivity, func(ctx context.Context) (int64, string, error) {
		deal, err := w.Pipedrive.GetDeal(ctx, d.DealID)
		if err != nil {
			return 0, "", fmt.Errorf("read deal owner: %w: %w", errBeforeSend, err)
		}
		if deal.Status != pipedrive.StatusOpen || deal.IsDeleted {
			return 0, fmt.Sprintf("deal is %s", deal.Status), nil
		}
		a, err := w.Pipedrive.AddActivity(ctx, w.activity(d, deal.OwnerID))
		return a.ID, "", err
	})
}

// post claims the marker, sends, and settles the marker by the outcome. send
// returns the created id, or a skip reason, or an error.
func (w *Writer) post(ctx context.Context, d store.Decision, kind string, send func(context.Context) (int64, string, error)) (Result, error) {
	log := w.log().With("deal_id", d.DealID, "decision", d.SortKey(), "explanation", kind)
	owner := randomID()
	if err := w.Store.ClaimExplanation(ctx, d.DealID, d.SortKey(), kind, owner); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return Result{Skipped: kind + " already written or being written"}, nil
		}
		return Result{}, fmt.Errorf("explain %s: %w", kind, err)
	}
	id, skip, err := send(ctx)
	// Settle even when ctx has ended: the marker must not stay "posting".
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	switch {
	case err == nil && skip != "":
		if serr := w.Store.SettleExplanation(sctx, d.DealID, d.SortKey(), kind, owner, store.ExplainSkipped, 0, skip); serr != nil {
			log.WarnContext(ctx, "explanation skip not recorded", "error", serr)
		}
		log.InfoContext(ctx, "explanation skipped", "reason", skip)
		return Result{Skipped: skip}, nil
	case err == nil:
		if serr := w.Store.SettleExplanation(sctx, d.DealID, d.SortKey(), kind, owner, store.ExplainPosted, id, ""); serr != nil {
			// The claim stays "posting": still never re-sent.
			log.WarnContext(ctx, "explanation posted but not recorded", "id", id, "error", serr)
		}
		log.InfoContext(ctx, "explanation posted", "id", id)
		return Result{Posted: true, ID: id}, nil
	case notApplied(err):
		if rerr := w.Store.ReleaseExplanation(sctx, d.DealID, d.SortKey(), kind, owner); rerr != nil {
			log.WarnContext(ctx, "explanation claim not released; it will not be retried", "error", rerr)
		}
		log.WarnContext(ctx, "explanation refused by pipedrive; released for a later run", "error", err.Error())
		return Result{}, fmt.Errorf("explain %s: %w", kind, err)
	default:
		if serr := w.Store.SettleExplanation(sctx, d.DealID, d.SortKey(), kind, owner, store.ExplainUncertain, 0, truncate(err.Error(), 300)); serr != nil {
			log.WarnContext(ctx, "explanation outcome not recorded", "error", serr)
		}
		log.WarnContext(ctx, "explanation outcome unknown; not re-sent", "error", err.Error())
		return Result{}, fmt.Errorf("explain %s: %w: %w", kind, ErrUncertain, err)
	}
}

// notApplied reports errors after which Pipedrive certainly created nothing:
// refusals (429, 4xx) and failures before any request was sent. 5xx,
// network errors and timeouts may have been applied.
func notApplied(err error) bool {
	if errors.Is(err, errBeforeSend) {
		return true
	}
	var ae *pipedrive.APIError
	if errors.As(err, &ae) {
		return ae.Status == 429 || (ae.Status >= 400 && ae.Status < 500)
	}
	if errors.Is(err, pipedrive.ErrServer) || errors.Is(err, pipedrive.ErrNetwork) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false
	}
	// Validation and token-source errors fail before sending; the GET deal
	// of a follow-up fails before the POST is sent.
	return errors.Is(err, pipedrive.ErrBadRequest) || errors.Is(err, pipedrive.ErrRateLimited)
}

var errBeforeSend = errors.New("failed before sending")

func (w *Writer) activity(d store.Decision, ownerID int64) pipedrive.NewActivity {
	typ := w.ActivityType
	if typ == "" {
		typ = "task"
	}
	days := w.FollowUpDays
	if days <= 0 {
		days = 2
	}
	at := d.CreatedAt
	if r, ok := latestReason(d.Reasons); ok {
		if t, err := time.Parse(time.RFC3339, r.At); err == nil {
			at = t
		}
	}
	what := "vague reply"
	if at.IsZero() {
		at = w.now()
	}
	a := pipedrive.NewActivity{
		Subject: fmt.Sprintf("Follow up: %s on %s", what, w.day(at)),
		Type:    typ,
		OwnerID: ownerID,
		DealID:  d.DealID,
		DueDate: addBusinessDays(w.now().In(w.loc()), days).Format(time.DateOnly),
	}
	var b strings.Builder
	b.WriteString("<p>stagemover left this deal where it is: the latest reply was not clear enough to move it.</p>")
	w.writeReasons(&b, d.Reasons, nil)
	a.Note = b.String()
	return a
}

// latestReason is the newest reason with a time, counted ones first.
func latestReason(rs []store.Reason) (store.Reason, bool) {
	var best store.Reason
	found := false
	for _, r := range rs {
		if r.At == "" {
			continue
		}
		if !found || r.At > best.At {
			best, found = r, true
		}
	}
	return best, found
}

func addBusinessDays(t time.Time, n int) time.Time {
	for n > 0 {
		t = t.AddDate(0, 0, 1)
		if wd := t.Weekday(); wd != time.Saturday && wd != time.Sunday {
			n--
		}
	}
	return t
}

// NoteContent renders the note: what moved the deal, the rule, and up to
// MaxReasons counted pieces of evidence with short quotes. Quotes are HTML
// escaped, cut short, and have e-mail addresses masked and URL queries
// dropped, so no link token or address list leaks into the CRM.
func (w *Writer) NoteContent(ctx context.Context, d store.Decision, out store.Outcome) string {
	var b strings.Builder
	from, fromOK := w.stageName(ctx, out.FromStageID)
	to, toOK := w.stageName(ctx, out.ToStageID)
	if !toOK && d.TargetStage != "" {
		to, toOK = d.TargetStage, true
	}
	b.WriteString("<p><b>stagemover</b> ")
	switch {
	case out.FromStageID != out.ToStageID && fromOK && toOK:
		fmt.Fprintf(&b, "moved this deal from <b>%s</b> to <b>%s</b>", esc(from), esc(to))
	case out.FromStageID != out.ToStageID && toOK:
		fmt.Fprintf(&b, "moved this deal to <b>%s</b>", esc(to))
	case toOK && d.Status != pipedrive.StatusWon:
		fmt.Fprintf(&b, "moved this deal to <b>%s</b>", esc(to))
	default:
		b.WriteString("updated this deal")
	}
	if d.Status == pipedrive.StatusWon {
		b.WriteString(" and marked it <b>won</b>")
	}
	if d.Rule != "" {
		fmt.Fprintf(&b, " (rule <code>%s</code>)", esc(d.Rule))
	}
	b.WriteString(".</p>")
	w.writeReasons(&b, d.Reasons, w.senders(ctx, d))
	b.WriteString("<p><small>Automated by stagemover. Moved it wrongly? Move the deal back: the revert is recorded against the rule.</small></p>")
	return b.String()
}

func (w *Writer) writeReasons(b *strings.Builder, rs []store.Reason, senders map[string]string) {
	limit := w.MaxReasons
	if limit <= 0 {
		limit = 3
	}
	var picked []store.Reason
	for _, r := range rs {
		if r.Counted && len(picked) < limit {
			picked = append(picked, r)
		}
	}
	if len(picked) == 0 {
		for _, r := range rs {
			if len(picked) < limit {
				picked = append(picked, r)
			}
		}
	}
	if len(picked) == 0 {
		return
	}
	b.WriteString("<ul>")
	for _, r := range picked {
		b.WriteString("<li>")
		if r.Rule != "" {
			fmt.Fprintf(b, "%s — ", esc(r.Rule))
		}
		b.WriteString(esc(strings.ReplaceAll(r.Cue, "_", " ")))
		if q := quote(r.Excerpt); q != "" {
			fmt.Fprintf(b, ": “%s”", esc(q))
		}
		var src []string
		kind := r.Kind
		if kind == "" {
			kind = "evidence"
		}
		if who := senders[r.At]; who != "" {
			src = append(src, fmt.Sprintf("%s from %s", kind, maskEmail(who)))
		} else {
			src = append(src, kind)
		}
		if t, err := time.Parse(time.RFC3339, r.At); err == nil {
			src = append(src, "on "+w.day(t))
		}
		fmt.Fprintf(b, " (%s)", esc(strings.Join(src, " ")))
		if !r.Counted && r.Note != "" {
			fmt.Fprintf(b, " — not counted: %s", esc(truncate(r.Note, 120)))
		}
		b.WriteString("</li>")
	}
	b.WriteString("</ul>")
}

// senders maps a reason's time to who sent the signal at that time, from
// the stored evidence (one query; nil when no Evidence is configured).
func (w *Writer) senders(ctx context.Context, d store.Decision) map[string]string {
	if w.Evidence == nil {
		return nil
	}
	var since time.Time
	for _, r := range d.Reasons {
		if t, err := time.Parse(time.RFC3339, r.At); err == nil && (since.IsZero() || t.Before(since)) {
			since = t
		}
	}
	if since.IsZero() {
		return nil
	}
	recs, err := w.Evidence.SignalsForDeal(ctx, d.DealID, since.Add(-time.Second), 100)
	if err != nil {
		w.log().WarnContext(ctx, "evidence senders not read; the note names no senders", "deal_id", d.DealID, "error", err)
		return nil
	}
	out := map[string]string{}
	for _, rec := range recs {
		s := rec.Signal
		who := s.From
		if who == "" {
			who = s.Actor
		}
		if who == "" {
			who = s.Organizer
		}
		if who == "" {
			continue
		}
		for _, r := range d.Reasons {
			t, err := time.Parse(time.RFC3339, r.At)
			if err == nil && (t.Equal(s.At) || t.Equal(s.At.Truncate(time.Second))) {
				out[r.At] = who
			}
		}
	}
	return out
}

func (w *Writer) stageName(ctx context.Context, id int64) (string, bool) {
	if id <= 0 || w.Stages == nil {
		return "", false
	}
	return w.Stages.StageName(ctx, id)
}

func (w *Writer) day(t time.Time) string {
	t = t.In(w.loc())
	if t.Year() != w.now().In(w.loc()).Year() {
		return t.Format("2 Jan 2006")
	}
	return t.Format("2 Jan")
}

var (
	emailRe = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}`)
	urlRe   = regexp.MustCompile(`(https?://[^\s?#"]+)[?#][^\s"]*`)
)

// quote shortens an excerpt for a note: one line, at most 160 characters,
// addresses masked, URL queries (which may carry tokens) dropped.
func quote(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s = urlRe.ReplaceAllString(s, "$1")
	s = emailRe.ReplaceAllStringFunc(s, maskEmail)
	return truncate(s, 160)
}

// maskEmail keeps the local part: "jane@example.com" -> "jane@…".
func maskEmail(s string) string {
	if i := strings.IndexByte(s, '@'); i > 0 {
		return s[:i] + "@…"
	}
	return s
}

func esc(s string) string { return html.EscapeString(s) }

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return strings.TrimSpace(string(r[:n-1])) + "…"
}

func randomID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
