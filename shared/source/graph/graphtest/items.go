package graphtest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// AddMessage stores a message (Graph's message JSON) in upn's mailbox and
// returns its id (the item's "id", or a new one).
func (s *Server) AddMessage(upn string, message []byte) string {
	return s.addItem(upn, "messages", message)
}

// AddEvent stores an event (Graph's event JSON) and returns its id.
func (s *Server) AddEvent(upn string, event []byte) string {
	return s.addItem(upn, "events", event)
}

func (s *Server) addItem(upn, kind string, raw []byte) string {
	var item map[string]any
	if err := json.Unmarshal(raw, &item); err != nil {
		panic("graphtest: item is not a JSON object: " + err.Error())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.addUser(upn)
	id, _ := item["id"].(string)
	if id == "" {
		id = "AAMkAG" + randHex(24) + "="
		item["id"] = id
	}
	if _, ok := item["changeKey"]; !ok {
		item["changeKey"] = randHex(10)
	}
	s.items(u, kind)[id] = item
	return id
}

// UpdateEvent merges fields into an event and gives it a new changeKey.
func (s *Server) UpdateEvent(upn, id string, fields map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.lookupUser(upn)
	if u == nil || u.events[id] == nil {
		panic("graphtest: no such event")
	}
	for k, v := range fields {
		u.events[id][k] = v
	}
	u.events[id]["changeKey"] = randHex(10)
}

// Delete removes a message or event ("messages" or "events").
func (s *Server) Delete(upn, kind, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.lookupUser(upn); u != nil {
		delete(s.items(u, kind), id)
	}
}

func (s *Server) items(u *user, kind string) map[string]map[string]any {
	if kind == "events" {
		return u.events
	}
	return u.messages
}

func (s *Server) userItems(w http.ResponseWriter, r *http.Request, userSeg, kind string, rest []string) {
	if r.Method != http.MethodGet {
		graphErr(w, http.StatusMethodNotAllowed, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
		return
	}
	if kind != "messages" && kind != "events" {
		graphErr(w, http.StatusBadRequest, "BadRequest", "Resource not found for the segment '"+kind+"'.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.lookupUser(userSeg)
	if u == nil {
		graphErr(w, http.StatusNotFound, "ErrorInvalidUser", "The requested user '"+userSeg+"' is invalid.")
		return
	}
	sel := selectFields(r.URL.Query().Get("$select"))
	switch len(rest) {
	case 1:
		item := s.items(u, kind)[rest[0]]
		if item == nil {
			graphErr(w, http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
			return
		}
		out := project(item, sel)
		out["@odata.context"] = s.GraphURL() + "/$metadata#users('" + u.id + "')/" + kind + "/$entity"
		writeJSON(w, http.StatusOK, out)
	case 0:
		s.list(w, r, u, kind, sel)
	default:
		graphErr(w, http.StatusBadRequest, "BadRequest", "Unsupported segment.")
	}
}

// list serves a collection with an optional "<field> ge <time>" filter,
// newest first, paged with $top/$skip and @odata.nextLink.
func (s *Server) list(w http.ResponseWriter, r *http.Request, u *user, kind string, sel map[string]bool) {
	q := r.URL.Query()
	field := "receivedDateTime"
	if kind == "events" {
		field = "lastModifiedDateTime"
	}
	var since time.Time
	if f := strings.TrimSpace(q.Get("$filter")); f != "" {
		parts := strings.Fields(f)
		if len(parts) != 3 || parts[0] != field || parts[1] != "ge" {
			graphErr(w, http.StatusBadRequest, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes.")
			return
		}
		t, err := time.Parse(time.RFC3339, parts[2])
		if err != nil {
			graphErr(w, http.StatusBadRequest, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes.")
			return
		}
		since = t
	}
	type entry struct {
		at   time.Time
		item map[string]any
	}
	var all []entry
	for _, it := range s.items(u, kind) {
		at, _ := time.Parse(time.RFC3339Nano, str(it[field]))
		if !since.IsZero() && at.Before(since) {
			continue
		}
		all = append(all, entry{at, it})
	}
	sort.Slice(all, func(i, j int) bool {
		if !all[i].at.Equal(all[j].at) {
			return all[i].at.After(all[j].at)
		}
		return str(all[i].item["id"]) < str(all[j].item["id"])
	})
	top := s.pageSize
	if t, err := strconv.Atoi(q.Get("$top")); err == nil && t > 0 && t < top {
		top = t
	}
	skip, _ := strconv.Atoi(q.Get("$skip"))
	if skip < 0 {
		skip = 0
	}
	end := min(skip+top, len(all))
	value := []any{}
	for _, e := range all[min(skip, len(all)):end] {
		value = append(value, project(e.item, sel))
	}
	out := map[string]any{"@odata.context": s.GraphURL() + "/$metadata#users('" + u.id + "')/" + kind, "value": value}
	if end < len(all) {
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("$skip", strconv.Itoa(end))
		nq.Set("$top", strconv.Itoa(top))
		out["@odata.nextLink"] = s.GraphURL() + "/users/" + url.PathEscape(u.id) + "/" + kind + "?" + nq.Encode()
	}
	writeJSON(w, http.StatusOK, out)
}

func selectFields(sel string) map[string]bool {
	if sel == "" {
		return nil
	}
	m := map[string]bool{"id": true, "@odata.etag": true}
	for _, f := range strings.Split(sel, ",") {
		m[strings.TrimSpace(f)] = true
	}
	return m
}

// project applies $select; without it, every property but
// internetMessageHeaders (Graph returns those only when selected).
func project(item map[string]any, sel map[string]bool) map[string]any {
	out := map[string]any{}
	for k, v := range item {
		if sel == nil && k == "internetMessageHeaders" {
			continue
		}
		if sel != nil && !sel[k] {
			continue
		}
		out[k] = v
	}
	if ck, ok := item["changeKey"].(string); ok {
		out["@odata.etag"] = `W/"` + ck + `"`
	}
	return out
}
