package graphtest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Subscription is a stand-in subscription as Graph lists it, plus what
// tests need to see.
type Subscription struct {
	ID                       string
	Resource                 string
	ChangeType               string
	NotificationURL          string
	LifecycleNotificationURL string
	ClientState              string
	Expires                  time.Time
	Reauthorized             int
}

// Subscriptions returns the live subscriptions.
func (s *Server) Subscriptions() []Subscription {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Subscription
	for _, id := range s.subOrder {
		sb := s.subs[id]
		if sb == nil || !sb.expires.After(s.now()) {
			continue
		}
		out = append(out, Subscription{ID: sb.id, Resource: sb.resource, ChangeType: str(sb.data["changeType"]),
			NotificationURL: str(sb.data["notificationUrl"]), LifecycleNotificationURL: str(sb.data["lifecycleNotificationUrl"]),
			ClientState: str(sb.data["clientState"]), Expires: sb.expires, Reauthorized: sb.reauth})
	}
	return out
}

// ---------------------------------------------------------------- subscriptions

func (s *Server) subscriptions(w http.ResponseWriter, r *http.Request, rest []string) {
	switch {
	case len(rest) == 0 && r.Method == http.MethodPost:
		s.createSub(w, r)
	case len(rest) == 0 && r.Method == http.MethodGet:
		s.listSubs(w, r)
	case len(rest) == 1 && r.Method == http.MethodPatch:
		s.renewSub(w, r, rest[0])
	case len(rest) == 1 && r.Method == http.MethodDelete:
		s.mu.Lock()
		_, ok := s.liveSub(rest[0])
		delete(s.subs, rest[0])
		s.mu.Unlock()
		if !ok {
			graphErr(w, http.StatusNotFound, "ResourceNotFound", "The object was not found.")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case len(rest) == 1 && r.Method == http.MethodGet:
		s.mu.Lock()
		sb, ok := s.liveSub(rest[0])
		var out map[string]any
		if ok {
			out = s.subJSON(sb)
		}
		s.mu.Unlock()
		if !ok {
			graphErr(w, http.StatusNotFound, "ResourceNotFound", "The object was not found.")
			return
		}
		writeJSON(w, http.StatusOK, out)
	case len(rest) == 2 && strings.EqualFold(rest[1], "reauthorize") && r.Method == http.MethodPost:
		s.mu.Lock()
		sb, ok := s.liveSub(rest[0])
		if ok {
			sb.reauth++
		}
		s.mu.Unlock()
		if !ok {
			graphErr(w, http.StatusNotFound, "ResourceNotFound", "The object was not found.")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		graphErr(w, http.StatusMethodNotAllowed, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
	}
}

func (s *Server) liveSub(id string) (*sub, bool) {
	sb := s.subs[id]
	if sb == nil || !sb.expires.After(s.now()) {
		return nil, false
	}
	return sb, true
}

func (s *Server) subJSON(sb *sub) map[string]any {
	out := map[string]any{}
	for k, v := range sb.data {
		out[k] = v
	}
	out["id"] = sb.id
	out["applicationId"] = s.ClientID
	out["creatorId"] = newGUIDFrom(s.ClientID)
	out["expirationDateTime"] = sb.expires.UTC().Format("2006-01-02T15:04:05.0000000Z")
	out["notificationContentType"] = "application/json"
	if _, ok := out["latestSupportedTlsVersion"]; !ok {
		out["latestSupportedTlsVersion"] = "v1_2"
	}
	return out
}

func (s *Server) listSubs(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	var value []any
	for _, id := range s.subOrder {
		if sb, ok := s.liveSub(id); ok {
			j := s.subJSON(sb)
			j["clientState"] = nil // subscription-list.md: not returned, for security
			value = append(value, j)
		}
	}
	s.mu.Unlock()
	skip, _ := strconv.Atoi(r.URL.Query().Get("$skiptoken"))
	if skip < 0 || skip > len(value) {
		skip = 0
	}
	end := min(skip+s.pageSize, len(value))
	out := map[string]any{"@odata.context": s.GraphURL() + "/$metadata#subscriptions", "value": append([]any{}, value[skip:end]...)}
	if end < len(value) {
		out["@odata.nextLink"] = s.GraphURL() + "/subscriptions?$skiptoken=" + strconv.Itoa(end)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) checkExpiration(v any) (time.Time, string) {
	t, err := time.Parse(time.RFC3339Nano, str(v))
	if err != nil {
		return t, "expirationDateTime is required and must be a DateTimeOffset."
	}
	now := s.now()
	if !t.After(now) {
		return t, "Subscription expiration date time must be in the future."
	}
	if t.After(now.Add(MaxLifetime)) {
		return t, "Subscription expiration can only be 4230 minutes in the future."
	}
	return t, ""
}

func (s *Server) createSub(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
		graphErr(w, http.StatusBadRequest, "InvalidRequest", "The request body is not valid JSON.")
		return
	}
	changeTypes := strings.Split(str(body["changeType"]), ",")
	for _, ct := range changeTypes {
		if ct != "created" && ct != "updated" && ct != "deleted" {
			graphErr(w, http.StatusBadRequest, "InvalidRequest", "changeType must be created, updated and/or deleted.")
			return
		}
	}
	notify := str(body["notificationUrl"])
	lifecycle := str(body["lifecycleNotificationUrl"])
	if notify == "" {
		graphErr(w, http.StatusBadRequest, "InvalidRequest", "notificationUrl is required.")
		return
	}
	for _, u := range []string{notify, lifecycle} {
		if u != "" && !acceptableURL(u) {
			graphErr(w, http.StatusBadRequest, "InvalidRequest", "The notification URL must use HTTPS.")
			return
		}
	}
	if cs := str(body["clientState"]); len(cs) > 128 {
		graphErr(w, http.StatusBadRequest, "InvalidRequest", "clientState can be at most 128 characters.")
		return
	}
	s.mu.Lock()
	exp, msg := s.checkExpiration(body["expirationDateTime"])
	s.mu.Unlock()
	if msg != "" {
		graphErr(w, http.StatusBadRequest, "InvalidRequest", msg)
		return
	}
	res := strings.Trim(str(body["resource"]), "/")
	parts := strings.Split(res, "/")
	if len(parts) != 3 || !strings.EqualFold(parts[0], "users") || (!strings.EqualFold(parts[2], "messages") && !strings.EqualFold(parts[2], "events")) {
		graphErr(w, http.StatusBadRequest, "InvalidRequest", "Resource '"+res+"' is not supported by this stand-in.")
		return
	}
	s.mu.Lock()
	u := s.lookupUser(parts[1])
	s.mu.Unlock()
	if u == nil {
		graphErr(w, http.StatusNotFound, "ResourceNotFound", "The requested user '"+parts[1]+"' is invalid.")
		return
	}
	// validate the endpoints exactly like Graph: a POST with ?validationToken=
	targets := []string{notify}
	if lifecycle != "" && lifecycle != notify {
		targets = append(targets, lifecycle)
	}
	for _, t := range targets {
		if err := s.validateEndpoint(r.Context(), t); err != nil {
			graphErr(w, http.StatusBadRequest, "ValidationError", "Subscription validation request failed. "+err.Error())
			return
		}
	}
	sb := &sub{data: body, id: newGUID(), resource: str(body["resource"]), user: u, kind: strings.ToLower(parts[2]),
		changeTypes: changeTypes, expires: exp}
	s.mu.Lock()
	s.subs[sb.id] = sb
	s.subOrder = append(s.subOrder, sb.id)
	out := s.subJSON(sb)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, out)
}

func acceptableURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return false
	}
	if u.Scheme == "https" {
		return true
	}
	return u.Scheme == "http" && (u.Hostname() == "127.0.0.1" || u.Hostname() == "localhost")
}

// validateEndpoint is Graph's notificationUrl validation request.
func (s *Server) validateEndpoint(ctx context.Context, target string) error {
	token := "Validation: Testing client application reachability for subscription Request-Id: " + newGUID()
	u, err := url.Parse(target)
	if err != nil {
		return err
	}
	q := u.Query()
	q.Set("validationToken", token)
	u.RawQuery = q.Encode()
	v := Validation{URL: target, Token: token}
	defer func() {
		s.mu.Lock()
		s.validations = append(s.validations, v)
		s.mu.Unlock()
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	if err != nil {
		v.Err = err.Error()
		return err
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	start := time.Now()
	resp, err := s.callback.Do(req)
	v.Elapsed = time.Since(start)
	if err != nil {
		v.Err = err.Error()
		return errors.New("Notification endpoint must respond with 200 OK to validation request within 10 seconds.")
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	v.Status, v.ContentType, v.Body = resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	if resp.StatusCode != http.StatusOK {
		return errors.New("Notification endpoint must respond with 200 OK to validation request.")
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/plain" {
		return errors.New("Notification endpoint must respond with a text/plain validation token.")
	}
	if string(b) != token {
		return errors.New("Notification endpoint must respond with the decoded validation token.")
	}
	return nil
}

func (s *Server) renewSub(w http.ResponseWriter, r *http.Request, id string) {
	var body map[string]any
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
		graphErr(w, http.StatusBadRequest, "InvalidRequest", "The request body is not valid JSON.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sb, ok := s.liveSub(id)
	if !ok {
		graphErr(w, http.StatusNotFound, "ResourceNotFound", "The object was not found.")
		return
	}
	exp, msg := s.checkExpiration(body["expirationDateTime"])
	if msg != "" {
		graphErr(w, http.StatusBadRequest, "InvalidRequest", msg)
		return
	}
	sb.expires = exp
	writeJSON(w, http.StatusOK, s.subJSON(sb))
}
