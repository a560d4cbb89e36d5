package pipedrive

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
)

// NewNote is the body of POST /v1/notes for a deal note.
type NewNote struct {
	DealID       int64  // required
	Content      string // HTML; Pipedrive sanitises it
	PinnedToDeal bool
}

// Note is the subset of the v1 note object the project uses.
type Note struct {
	ID      int64  `json:"id"`
	DealID  int64  `json:"deal_id"`
	UserID  int64  `json:"user_id"`
	Content string `json:"content"`
	AddTime string `json:"add_time"` // "YYYY-MM-DD HH:MM:SS" UTC
}

// AddNote adds a note to a deal: POST /v1/notes (token cost 10). Like
// UpdateDeal it is retried on 429 only (Pipedrive did not process the
// request); a 5xx or network error is returned at once wrapping ErrServer or
// ErrNetwork, because the note may have been created.
func (c *Client) AddNote(ctx context.Context, n NewNote) (Note, error) {
	if n.DealID <= 0 {
		return Note{}, fmt.Errorf("pipedrive %s: invalid deal id %d: %w", opAddNote.ID, n.DealID, ErrBadRequest)
	}
	if strings.TrimSpace(n.Content) == "" {
		return Note{}, fmt.Errorf("pipedrive %s: empty content: %w", opAddNote.ID, ErrBadRequest)
	}
	body := map[string]any{"deal_id": n.DealID, "content": n.Content}
	if n.PinnedToDeal {
		body["pinned_to_deal_flag"] = 1
	}
	b, err := json.Marshal(body)
	if err != nil {
		return Note{}, fmt.Errorf("pipedrive %s: encoding body: %w", opAddNote.ID, err)
	}
	// The deal id goes in the body: call.id would be substituted into a path.
	env, err := c.do(ctx, call{op: opAddNote, body: b, attrs: []slog.Attr{slog.Int64("deal_id", n.DealID)}})
	if err != nil {
		return Note{}, err
	}
	return decodeData[Note](opAddNote, env)
}
