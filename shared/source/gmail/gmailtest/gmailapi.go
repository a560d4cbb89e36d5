package gmailtest

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// googleError writes Gmail's error body.
func googleError(w http.ResponseWriter, code int) {
	reason, msg, status := "backendError", "Backend Error", "INTERNAL"
	domain := "global"
	switch code {
	case 400:
		reason, msg, status = "badRequest", "Invalid request", "INVALID_ARGUMENT"
	case 401:
		reason, msg, status = "authError", "Invalid Credentials", "UNAUTHENTICATED"
	case 403:
		reason, msg, status = "forbidden", "Forbidden", "PERMISSION_DENIED"
	case 404:
		reason, msg, status = "notFound", "Requested entity was not found.", "NOT_FOUND"
	case 429:
		reason, msg, status = "rateLimitExceeded", "Too many concurrent requests for user", "RESOURCE_EXHAUSTED"
	case 503:
		msg, status = "The service is currently unavailable.", "UNAVAILABLE"
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	if code == 429 || code == 503 {
		w.Header().Set("Retry-After", "1")
	}
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"code":    code,
		"message": msg,
		"errors":  []map[string]string{{"message": msg, "domain": domain, "reason": reason}},
		"status":  status,
	}})
}

type gmailHandler func(w http.ResponseWriter, r *http.Request, mb *mailbox, addr string)

// gmail checks the bearer token and that it was issued for the path's user.
func (s *Server) gmail(op string, h gmailHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if code := s.fault(op); code != 0 {
			googleError(w, code)
			return
		}
		auth := r.Header.Get("Authorization")
		s.mu.Lock()
		at, ok := s.accessTokens[strings.TrimPrefix(auth, "Bearer ")]
		s.mu.Unlock()
		if !strings.HasPrefix(auth, "Bearer ") || !ok || !s.Now().Before(at.expires) {
			googleError(w, 401)
			return
		}
		user := strings.ToLower(r.PathValue("userId"))
		if user == "me" {
			user = at.mailbox
		}
		if user != at.mailbox {
			googleError(w, 403) // delegation covers only the impersonated user
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		h(w, r, s.mailbox(user), user)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(w).Encode(v)
}

func pageBounds(q url.Values, total, def, max int) (start, end int, next string, ok bool) {
	n := def
	if v := q.Get("maxResults"); v != "" {
		m, err := strconv.Atoi(v)
		if err != nil || m < 1 {
			return 0, 0, "", false
		}
		n = min(m, max)
	}
	if v := q.Get("pageToken"); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 0 || p > total {
			return 0, 0, "", false
		}
		start = p
	}
	end = min(start+n, total)
	if end < total {
		next = strconv.Itoa(end)
	}
	return start, end, next, true
}

func (s *Server) historyList(w http.ResponseWriter, r *http.Request, mb *mailbox, _ string) {
	q := r.URL.Query()
	start, err := strconv.ParseUint(q.Get("startHistoryId"), 10, 64)
	if err != nil {
		googleError(w, 400)
		return
	}
	if start < mb.oldestHistory || start > mb.historyID {
		googleError(w, 404)
		return
	}
	types := q["historyTypes"]
	var recs []historyRecord
	for _, h := range mb.history {
		if h.id > start && (len(types) == 0 || slices.Contains(types, "messageAdded")) {
			recs = append(recs, h)
		}
	}
	from, to, next, ok := pageBounds(q, len(recs), 100, 500)
	if !ok {
		googleError(w, 400)
		return
	}
	type ref struct {
		ID       string   `json:"id"`
		ThreadID string   `json:"threadId"`
		LabelIDs []string `json:"labelIds,omitempty"`
	}
	type added struct {
		Message ref `json:"message"`
	}
	type record struct {
		ID            string  `json:"id"`
		Messages      []ref   `json:"messages"`
		MessagesAdded []added `json:"messagesAdded"`
	}
	out := struct {
		History       []record `json:"history,omitempty"`
		NextPageToken string   `json:"nextPageToken,omitempty"`
		HistoryID     string   `json:"historyId"`
	}{NextPageToken: next, HistoryID: strconv.FormatUint(mb.historyID, 10)}
	for _, h := range recs[from:to] {
		m := mb.messages[h.msgID]
		rf := ref{ID: m.id, ThreadID: m.threadID}
		withLabels := rf
		withLabels.LabelIDs = m.labels
		out.History = append(out.History, record{ID: strconv.FormatUint(h.id, 10), Messages: []ref{rf}, MessagesAdded: []added{{Message: withLabels}}})
	}
	writeJSON(w, out)
}

func (s *Server) messageGet(w http.ResponseWriter, r *http.Request, mb *mailbox, _ string) {
	m, ok := mb.messages[r.PathValue("id")]
	if !ok {
		googleError(w, 404)
		return
	}
	out := map[string]any{
		"id":           m.id,
		"threadId":     m.threadID,
		"labelIds":     m.labels,
		"snippet":      "",
		"sizeEstimate": len(m.raw),
		"historyId":    strconv.FormatUint(m.historyID, 10),
		"internalDate": strconv.FormatInt(m.internalDate, 10),
	}
	if f := r.URL.Query().Get("format"); f == "raw" || f == "RAW" {
		out["raw"] = base64.URLEncoding.EncodeToString(m.raw)
	}
	writeJSON(w, out)
}

// messagesList returns the mailbox's messages newest first. Of the search
// syntax only "newer_than:Nd" and "-in:chats"-style terms are understood;
// other terms are ignored.
func (s *Server) messagesList(w http.ResponseWriter, r *http.Request, mb *mailbox, _ string) {
	q := r.URL.Query()
	var since time.Time
	for _, term := range strings.Fields(q.Get("q")) {
		if v, ok := strings.CutPrefix(term, "newer_than:"); ok && strings.HasSuffix(v, "d") {
			if d, err := strconv.Atoi(strings.TrimSuffix(v, "d")); err == nil {
				since = s.Now().Add(-time.Duration(d) * 24 * time.Hour)
			}
		}
	}
	ids := make([]string, 0, len(mb.order))
	for i := len(mb.order) - 1; i >= 0; i-- {
		m := mb.messages[mb.order[i]]
		if !since.IsZero() && m.internalDate < since.UnixMilli() {
			continue
		}
		ids = append(ids, m.id)
	}
	from, to, next, ok := pageBounds(q, len(ids), 100, 500)
	if !ok {
		googleError(w, 400)
		return
	}
	type ref struct {
		ID       string `json:"id"`
		ThreadID string `json:"threadId"`
	}
	out := struct {
		Messages           []ref  `json:"messages,omitempty"`
		NextPageToken      string `json:"nextPageToken,omitempty"`
		ResultSizeEstimate int    `json:"resultSizeEstimate"`
	}{NextPageToken: next, ResultSizeEstimate: len(ids)}
	for _, id := range ids[from:to] {
		out.Messages = append(out.Messages, ref{ID: id, ThreadID: mb.messages[id].threadID})
	}
	writeJSON(w, out)
}

func (s *Server) watch(w http.ResponseWriter, r *http.Request, mb *mailbox, addr string) {
	var req struct {
		TopicName           string   `json:"topicName"`
		LabelIDs            []string `json:"labelIds"`
		LabelFilterBehavior string   `json:"labelFilterBehavior"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		googleError(w, 400)
		return
	}
	parts := strings.Split(req.TopicName, "/")
	if len(parts) != 4 || parts[0] != "projects" || parts[2] != "topics" || parts[1] == "" || parts[3] == "" {
		googleError(w, 400)
		return
	}
	s.watches = append(s.watches, WatchCall{Mailbox: addr, TopicName: req.TopicName, LabelIDs: req.LabelIDs})
	writeJSON(w, map[string]string{
		"historyId":  strconv.FormatUint(mb.historyID, 10),
		"expiration": strconv.FormatInt(s.Now().Add(7*24*time.Hour).UnixMilli(), 10),
	})
}

func (s *Server) stop(w http.ResponseWriter, r *http.Request, mb *mailbox, addr string) {
	w.WriteHeader(http.StatusNoContent)
}
