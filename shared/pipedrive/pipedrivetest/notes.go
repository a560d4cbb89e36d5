package pipedrivetest

import (
	"encoding/json"
	"net/http"
	"time"
)

// Note is a deal note added through POST /v1/notes.
type Note struct {
	ID      int64
	DealID  int64
	UserID  int64 // the author: the token's user
	Content string
	Pinned  bool
	AddTime time.Time
}

// Activity is an activity added through POST /api/v2/activities.
type Activity struct {
	ID            int64
	DealID        int64
	PersonID      int64
	OrgID         int64
	Subject       string
	Type          string
	OwnerID       int64 // the assignee; the token's user when the request names none
	CreatorUserID int64
	DueDate       string
	Note          string
	Done          bool
	AddTime       time.Time
}

// crmState holds notes and activities; guarded by Sandbox.mu.
type crmState struct {
	notes      []Note
	activities []Activity
}

// Notes returns the notes of a deal (dealID 0: all), oldest first.
func (s *Sandbox) Notes(dealID int64) []Note {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ofDeal(s.crm.notes, dealID, func(n Note) int64 { return n.DealID })
}

// Activities returns the activities of a deal (dealID 0: all), oldest first.
func (s *Sandbox) Activities(dealID int64) []Activity {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ofDeal(s.crm.activities, dealID, func(a Activity) int64 { return a.DealID })
}

// ofDeal returns the records of xs whose deal is dealID (0: all), in order.
func ofDeal[T any](xs []T, dealID int64, deal func(T) int64) []T {
	var out []T
	for _, x := range xs {
		if dealID == 0 || deal(x) == dealID {
			out = append(out, x)
		}
	}
	return out
}

func fmtV1Time(t time.Time) string { return t.UTC().Format(time.DateTime) }

// opAddNote implements POST /v1/notes for deal notes. The request body was
// already validated against openapi-v1.yaml (content is required).
func (s *Sandbox) opAddNote(c *call) (*response, *apiError) {
	var in struct {
		Content         string `json:"content"`
		DealID          *int64 `json:"deal_id"`
		LeadID          string `json:"lead_id"`
		PersonID        *int64 `json:"person_id"`
		OrgID           *int64 `json:"org_id"`
		PinnedToDealFlg *int   `json:"pinned_to_deal_flag"`
	}
	if err := json.Unmarshal(c.body, &in); err != nil {
		return nil, badRequest("Invalid JSON body")
	}
	if in.Content == "" {
		return nil, badRequest("Content is required")
	}
	if in.DealID == nil {
		// The sandbox models deal notes only; Pipedrive would accept the others.
		if in.LeadID != "" || in.PersonID != nil || in.OrgID != nil {
			return nil, &apiError{Status: http.StatusNotImplemented, Error: "Not implemented in the Pipedrive sandbox: notes on leads, persons or organizations", Info: infoDocs}
		}
		return nil, badRequest("One of deal_id, lead_id, person_id, org_id, project_id or task_id is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, found := s.deals[*in.DealID]
	if !found || d.IsDeleted {
		return nil, &apiError{Status: http.StatusNotFound, Error: "Deal not found", Info: infoDocs}
	}
	n := Note{
		ID: int64(len(s.crm.notes) + 1), DealID: d.ID, UserID: s.opts.IntegrationUserID,
		Content: in.Content, Pinned: in.PinnedToDealFlg != nil && *in.PinnedToDealFlg == 1, AddTime: c.now,
	}
	s.crm.notes = append(s.crm.notes, n)
	s.log.Info("note added", "note_id", n.ID, "deal_id", n.DealID, "bytes", len(n.Content))
	data := map[string]any{
		"id":                  n.ID,
		"active_flag":         true,
		"add_time":            fmtV1Time(n.AddTime),
		"update_time":         fmtV1Time(n.AddTime),
		"content":             n.Content,
		"deal_id":             n.DealID,
		"deal":                map[string]any{"title": d.Title},
		"user_id":             n.UserID,
		"last_update_user_id": n.UserID,
		"pinned_to_deal_flag": n.Pinned,
		"user":                map[string]any{"is_you": true, "name": "Integration user"},
	}
	if d.PersonID > 0 {
		data["person_id"] = d.PersonID
	}
	if d.OrgID > 0 {
		data["org_id"] = d.OrgID
	}
	// The spec documents 200 for addNote.
	return jsonResponse(http.StatusOK, map[string]any{"success": true, "data": data}), nil
}

// opAddActivity implements POST /api/v2/activities for deal activities.
func (s *Sandbox) opAddActivity(c *call) (*response, *apiError) {
	var in struct {
		Subject string `json:"subject"`
		Type    string `json:"type"`
		OwnerID int64  `json:"owner_id"`
		DealID  int64  `json:"deal_id"`
		DueDate string `json:"due_date"`
		Note    string `json:"note"`
		Done    bool   `json:"done"`
	}
	if err := json.Unmarshal(c.body, &in); err != nil {
		return nil, badRequest("Invalid JSON body")
	}
	if in.DealID == 0 {
		return nil, &apiError{Status: http.StatusNotImplemented, Error: "Not implemented in the Pipedrive sandbox: activities without a deal", Info: infoDocs}
	}
	if in.DueDate != "" {
		if _, err := time.Parse(time.DateOnly, in.DueDate); err != nil {
			return nil, badRequest("Invalid due_date: expected YYYY-MM-DD")
		}
	}
	if in.Subject == "" {
		in.Subject = "Task" // Pipedrive names a subject-less activity after its type
	}
	if in.Type == "" {
		in.Type = "task"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, found := s.deals[in.DealID]
	if !found || d.IsDeleted {
		return nil, errNotFound()
	}
	a := Activity{
		ID: int64(len(s.crm.activities) + 1), DealID: d.ID, PersonID: d.PersonID, OrgID: d.OrgID,
		Subject: in.Subject, Type: in.Type, OwnerID: in.OwnerID, CreatorUserID: s.opts.IntegrationUserID,
		DueDate: in.DueDate, Note: in.Note, Done: in.Done, AddTime: c.now,
	}
	if a.OwnerID == 0 {
		a.OwnerID = s.opts.IntegrationUserID
	}
	s.crm.activities = append(s.crm.activities, a)
	s.log.Info("activity added", "activity_id", a.ID, "deal_id", a.DealID, "owner_id", a.OwnerID, "type", a.Type, "due_date", a.DueDate)
	data := map[string]any{
		"id":              a.ID,
		"subject":         a.Subject,
		"type":            a.Type,
		"owner_id":        a.OwnerID,
		"creator_user_id": a.CreatorUserID,
		"is_deleted":      false,
		"add_time":        fmtTime(a.AddTime),
		"update_time":     fmtTime(a.AddTime),
		"deal_id":         a.DealID,
		"busy":            false,
		"done":            a.Done,
		"participants":    []any{},
		"attendees":       []any{},
	}
	if a.PersonID > 0 {
		data["person_id"] = a.PersonID
		data["participants"] = []any{map[string]any{"person_id": a.PersonID, "primary": true}}
	}
	if a.OrgID > 0 {
		data["org_id"] = a.OrgID
	}
	if a.DueDate != "" {
		data["due_date"] = a.DueDate
	}
	if a.Note != "" {
		data["note"] = a.Note
	}
	return ok(data, nil), nil
}
