package pipedrive

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// NewActivity is the body of POST /api/v2/activities.
type NewActivity struct {
	Subject string `json:"subject"`
	Type    string `json:"type,omitempty"`     // activity type key_string: "task", "call", ...
	OwnerID int64  `json:"owner_id,omitempty"` // 0: Pipedrive assigns the token's user
	DealID  int64  `json:"deal_id"`
	DueDate string `json:"due_date,omitempty"` // YYYY-MM-DD
	Note    string `json:"note,omitempty"`     // HTML
	Done    bool   `json:"done"`
}

// Activity is the subset of the v2 activity object the project uses.
type Activity struct {
	ID      int64  `json:"id"`
	Subject string `json:"subject"`
	Type    string `json:"type"`
	OwnerID int64  `json:"owner_id"`
	DealID  int64  `json:"deal_id"`
	DueDate string `json:"due_date"`
	Done    bool   `json:"done"`
}

// AddActivity creates an activity: POST /api/v2/activities (token cost 5).
// Retried on 429 only; a 5xx or network error wraps ErrServer / ErrNetwork
// and the activity may exist.
func (c *Client) AddActivity(ctx context.Context, a NewActivity) (Activity, error) {
	if a.DealID <= 0 {
		return Activity{}, fmt.Errorf("pipedrive %s: invalid deal id %d: %w", opAddActivity.ID, a.DealID, ErrBadRequest)
	}
	if strings.TrimSpace(a.Subject) == "" {
		return Activity{}, fmt.Errorf("pipedrive %s: empty subject: %w", opAddActivity.ID, ErrBadRequest)
	}
	if a.OwnerID < 0 {
		return Activity{}, fmt.Errorf("pipedrive %s: invalid owner id %d: %w", opAddActivity.ID, a.OwnerID, ErrBadRequest)
	}
	if a.DueDate != "" {
		if _, err := time.Parse(time.DateOnly, a.DueDate); err != nil {
			return Activity{}, fmt.Errorf("pipedrive %s: due date %q is not YYYY-MM-DD: %w", opAddActivity.ID, a.DueDate, ErrBadRequest)
		}
	}
	b, err := json.Marshal(a)
	if err != nil {
		return Activity{}, fmt.Errorf("pipedrive %s: encoding body: %w", opAddActivity.ID, err)
	}
	attrs := []slog.Attr{slog.Int64("deal_id", a.DealID)}
	if a.OwnerID > 0 {
		attrs = append(attrs, slog.Int64("owner_id", a.OwnerID))
	}
	env, err := c.do(ctx, call{op: opAddActivity, body: b, attrs: attrs})
	if err != nil {
		return Activity{}, err
	}
	return decodeData[Activity](opAddActivity, env)
}
