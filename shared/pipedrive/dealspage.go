package pipedrive

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
)

// DealsPageQuery selects one page of GET /api/v2/deals. Pages come sorted
// by id ascending (the spec's sort_by=id, sort_direction=asc, sent
// explicitly), so a caller that remembers the last id it finished can resume
// inside a page.
type DealsPageQuery struct {
	PipelineID int64  // 0: any pipeline
	StageID    int64  // 0: any stage
	Status     string // open|won|lost|deleted; "": all deals that are not deleted
	Cursor     string // from the previous page; "" for the first page
	Limit      int    // 1..500; 0 means 500 (a page costs the same whatever its size)
}

// ListDealsPage returns one page of deals and the cursor of the next page
// ("" on the last page): GET /api/v2/deals (token cost 10 per page). The
// cursor is opaque; it can be stored and used later to continue.
func (c *Client) ListDealsPage(ctx context.Context, q DealsPageQuery) ([]Deal, string, error) {
	if q.PipelineID < 0 || q.StageID < 0 {
		return nil, "", fmt.Errorf("pipedrive %s: invalid pipeline or stage id", opGetDeals.ID)
	}
	switch q.Status {
	case "", StatusOpen, StatusWon, StatusLost, "deleted":
	default:
		return nil, "", fmt.Errorf("pipedrive %s: invalid status %q", opGetDeals.ID, q.Status)
	}
	limit := q.Limit
	if limit <= 0 || limit > pageLimit {
		limit = pageLimit
	}
	v := url.Values{}
	var attrs []slog.Attr
	if q.PipelineID > 0 {
		v.Set("pipeline_id", strconv.FormatInt(q.PipelineID, 10))
		attrs = append(attrs, slog.Int64("pipeline_id", q.PipelineID))
	}
	if q.StageID > 0 {
		v.Set("stage_id", strconv.FormatInt(q.StageID, 10))
		attrs = append(attrs, slog.Int64("stage_id", q.StageID))
	}
	if q.Status != "" {
		v.Set("status", q.Status)
	}
	v.Set("sort_by", "id")
	v.Set("sort_direction", "asc")
	v.Set("limit", strconv.Itoa(limit))
	if q.Cursor != "" {
		v.Set("cursor", q.Cursor)
	}
	env, err := c.do(ctx, call{op: opGetDeals, query: v, attrs: attrs})
	if err != nil {
		return nil, "", err
	}
	var deals []Deal
	if len(env.Data) > 0 && string(env.Data) != "null" {
		if err := json.Unmarshal(env.Data, &deals); err != nil {
			return nil, "", fmt.Errorf("pipedrive %s: decoding data: %w", opGetDeals.ID, err)
		}
	}
	next := env.nextCursor()
	if next != "" && next == q.Cursor {
		return nil, "", fmt.Errorf("pipedrive %s: cursor did not advance", opGetDeals.ID)
	}
	return deals, next, nil
}
