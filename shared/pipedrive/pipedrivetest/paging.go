package pipedrivetest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"time"
)

// pageItem is one element of a list answer with its sort key.
type pageItem struct {
	key string // sortable representation of the sort field
	id  int64  // tie breaker
	v   any
}

// cursor mirrors the shape of Pipedrive's opaque cursors (base64url JSON
// {"field","fieldValue","sortDirection","id"}). Clients must treat it as opaque.
type cursor struct {
	Field         string `json:"field"`
	FieldValue    string `json:"fieldValue"`
	SortDirection string `json:"sortDirection"`
	ID            int64  `json:"id"`
}

func sortInt(n int64) string      { return fmt.Sprintf("%020d", n) }
func sortTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000000Z") }

const (
	defaultPageLimit = 100
	maxPageLimit     = 500
)

func pageLimit(q url.Values) (int, *apiError) {
	v := q.Get("limit")
	if v == "" {
		return defaultPageLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, badRequest("limit must be a positive integer")
	}
	if n > maxPageLimit {
		return 0, badRequest(fmt.Sprintf("limit must not exceed %d", maxPageLimit))
	}
	return n, nil
}

func less(a, b pageItem, desc bool) bool {
	if a.key != b.key {
		return (a.key < b.key) != desc
	}
	if a.id == b.id {
		return false
	}
	return (a.id < b.id) != desc
}

// paginate sorts items and returns the page that starts at cursor (or the
// beginning) plus the cursor of the next page ("" on the last page).
func paginate(items []pageItem, field, dir string, limit int, rawCursor string) ([]any, string, *apiError) {
	desc := dir == "desc"
	sort.Slice(items, func(i, j int) bool { return less(items[i], items[j], desc) })
	start := 0
	if rawCursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(rawCursor)
		var c cursor
		if err == nil {
			err = json.Unmarshal(b, &c)
		}
		if err != nil || c.Field != field || c.SortDirection != dir {
			return nil, "", badRequest("Invalid cursor")
		}
		at := pageItem{key: c.FieldValue, id: c.ID}
		start = sort.Search(len(items), func(i int) bool { return !less(items[i], at, desc) })
	}
	end := min(start+limit, len(items))
	page := make([]any, 0, end-start)
	for _, it := range items[start:end] {
		page = append(page, it.v)
	}
	next := ""
	if end < len(items) {
		n := items[end]
		b, _ := json.Marshal(cursor{Field: field, FieldValue: n.key, SortDirection: dir, ID: n.id})
		next = base64.RawURLEncoding.EncodeToString(b)
	}
	return page, next, nil
}
