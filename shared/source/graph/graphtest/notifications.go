package graphtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// ---------------------------------------------------------------- notifications

// Notify sends Graph's change notification for item id (changeType
// created/updated/deleted) to every live subscription on the item's
// mailbox and kind that includes changeType. It returns the HTTP status of
// each delivery.
func (s *Server) Notify(ctx context.Context, upn, kind, id, changeType string) ([]int, error) {
	s.mu.Lock()
	u := s.lookupUser(upn)
	if u == nil {
		s.mu.Unlock()
		return nil, fmt.Errorf("graphtest: no user %s", upn)
	}
	type delivery struct {
		url  string
		body []byte
	}
	var ds []delivery
	for _, sid := range s.subOrder {
		sb := s.subs[sid]
		if sb == nil || sb.user != u || sb.kind != kind || !sb.expires.After(s.now()) || !contains(sb.changeTypes, changeType) {
			continue
		}
		ds = append(ds, delivery{url: str(sb.data["notificationUrl"]), body: s.changeNotification(sb, u, kind, id, changeType)})
	}
	s.mu.Unlock()
	if len(ds) == 0 {
		return nil, fmt.Errorf("graphtest: no subscription for %s %s %s", upn, kind, changeType)
	}
	var codes []int
	for _, d := range ds {
		code, err := s.Post(ctx, d.url, d.body)
		if err != nil {
			return codes, err
		}
		codes = append(codes, code)
	}
	return codes, nil
}

// ChangeNotification builds the collection Graph would send for one change
// (the change notification example of change-notifications-delivery-webhooks.md).
func (s *Server) ChangeNotification(subscriptionID, upn, kind, id, changeType string) ([]byte, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sb := s.subs[subscriptionID]
	u := s.lookupUser(upn)
	if sb == nil || u == nil {
		return nil, "", fmt.Errorf("graphtest: unknown subscription or user")
	}
	return s.changeNotification(sb, u, kind, id, changeType), str(sb.data["notificationUrl"]), nil
}

func (s *Server) changeNotification(sb *sub, u *user, kind, id, changeType string) []byte {
	odataType, seg := "#Microsoft.Graph.Message", "Messages"
	if kind == "events" {
		odataType, seg = "#Microsoft.Graph.Event", "Events"
	}
	etag := ""
	if item := s.items(u, kind)[id]; item != nil {
		etag = `W/"` + str(item["changeKey"]) + `"`
	}
	path := "Users/" + u.id + "@" + s.TenantID + "/" + seg + "/" + id
	rd := map[string]any{"@odata.type": odataType, "@odata.id": path, "id": id}
	if etag != "" {
		rd["@odata.etag"] = etag
	}
	n := map[string]any{
		"id":                             randHex(8),
		"subscriptionId":                 sb.id,
		"subscriptionExpirationDateTime": sb.expires.UTC().Format(time.RFC3339Nano),
		"clientState":                    sb.data["clientState"],
		"changeType":                     changeType,
		"resource":                       "users/" + u.id + "@" + s.TenantID + "/" + strings.ToLower(seg) + "/" + id,
		"tenantId":                       s.TenantID,
		"resourceData":                   rd,
	}
	b, _ := json.Marshal(map[string]any{"value": []any{n}})
	return b
}

// Lifecycle sends a lifecycle notification (reauthorizationRequired,
// subscriptionRemoved or missed) for a subscription to its lifecycle URL,
// in the shape of change-notifications-lifecycle-events.md.
func (s *Server) Lifecycle(ctx context.Context, subscriptionID, event string) (int, error) {
	s.mu.Lock()
	sb := s.subs[subscriptionID]
	if sb == nil {
		s.mu.Unlock()
		return 0, fmt.Errorf("graphtest: no subscription %s", subscriptionID)
	}
	target := str(sb.data["lifecycleNotificationUrl"])
	body := s.lifecycleNotification(sb, event)
	s.mu.Unlock()
	if target == "" {
		return 0, fmt.Errorf("graphtest: subscription %s has no lifecycleNotificationUrl", subscriptionID)
	}
	return s.Post(ctx, target, body)
}

func (s *Server) lifecycleNotification(sb *sub, event string) []byte {
	n := map[string]any{
		"subscriptionId":                 sb.id,
		"subscriptionExpirationDateTime": sb.expires.UTC().Format(time.RFC3339Nano),
		"tenantId":                       s.TenantID,
		"clientState":                    sb.data["clientState"],
		"lifecycleEvent":                 event,
	}
	b, _ := json.Marshal(map[string]any{"value": []any{n}})
	return b
}

// Remove deletes a subscription as Graph does when it removes one, and
// sends subscriptionRemoved to its lifecycle URL if it has one.
func (s *Server) Remove(ctx context.Context, subscriptionID string) (int, error) {
	s.mu.Lock()
	sb := s.subs[subscriptionID]
	if sb == nil {
		s.mu.Unlock()
		return 0, fmt.Errorf("graphtest: no subscription %s", subscriptionID)
	}
	delete(s.subs, subscriptionID)
	target := str(sb.data["lifecycleNotificationUrl"])
	body := s.lifecycleNotification(sb, "subscriptionRemoved")
	s.mu.Unlock()
	if target == "" {
		return 0, nil
	}
	return s.Post(ctx, target, body)
}

// Post delivers a notification body to a URL the way Graph does (JSON,
// 3-second timeout) and returns the status.
func (s *Server) Post(ctx context.Context, target string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.notifyClient.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp.StatusCode, nil
}
