package pipedrivetest

// Shared parts of the v2 search endpoints (persons, organizations).

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// searchQuery is the parsed term, exact_match, fields, integer filters and
// limit of a search call.
type searchQuery struct {
	lt     string // lower-cased term
	exact  bool
	fields map[string]bool
	ints   map[string]int64 // the integer filters given
	limit  int
}

// parseSearch reads term, exact_match, fields (defaulting to
// defaultFields), the integer filters intParams and limit, and rejects a
// term that is too short.
func parseSearch(q url.Values, intParams, defaultFields []string) (*searchQuery, *apiError) {
	term := strings.TrimSpace(q.Get("term"))
	exact := q.Get("exact_match") == "true" || q.Get("exact_match") == "1"
	minLen := 2
	if exact {
		minLen = 1
	}
	if len([]rune(term)) < minLen {
		return nil, badRequest(fmt.Sprintf("The search term must be at least %d characters long", minLen))
	}
	fields := map[string]bool{}
	for _, f := range defaultFields {
		fields[f] = true
	}
	if f := q.Get("fields"); f != "" {
		fields = map[string]bool{}
		for _, p := range strings.Split(f, ",") {
			fields[strings.TrimSpace(p)] = true
		}
	}
	ints := map[string]int64{}
	for _, name := range intParams {
		n, set, aerr := queryInt(q, name)
		if aerr != nil {
			return nil, aerr
		}
		if set {
			ints[name] = n
		}
	}
	limit, aerr := pageLimit(q)
	if aerr != nil {
		return nil, aerr
	}
	return &searchQuery{lt: strings.ToLower(term), exact: exact, fields: fields, ints: ints, limit: limit}, nil
}

// match reports whether v matches: exact_match compares whole values
// without case; otherwise a value containing the term matches, scored by
// how much of the value the term covers.
func (sq *searchQuery) match(v string) (bool, float64) {
	lv := strings.ToLower(strings.TrimSpace(v))
	if lv == "" {
		return false, 0
	}
	if lv == sq.lt {
		return true, 1
	}
	if !sq.exact && strings.Contains(lv, sq.lt) {
		return true, float64(len(sq.lt)) / float64(len(lv))
	}
	return false, 0
}

// searchHit is one matching record: its best score, id and result item.
type searchHit struct {
	score float64
	id    int64
	item  map[string]any
}

// searchPage orders hits by score (then id) and answers one page of
// {result_score, item} entries.
func searchPage(hits []searchHit, limit int, cursor string) (*response, *apiError) {
	sort.Slice(hits, func(i, j int) bool {
		if hits[i].score != hits[j].score {
			return hits[i].score > hits[j].score
		}
		return hits[i].id < hits[j].id
	})
	items := make([]pageItem, 0, len(hits))
	for i, h := range hits {
		items = append(items, pageItem{key: sortInt(int64(i)), id: h.id, v: map[string]any{
			"result_score": float64(int(h.score*10000)) / 10000,
			"item":         h.item,
		}})
	}
	page, next, aerr := paginate(items, "result_score", "asc", limit, cursor)
	if aerr != nil {
		return nil, aerr
	}
	return ok(map[string]any{"items": page}, additional(next)), nil
}
