package pipedrivetest

// Deal updates: PATCH /api/v2/deals/{id} and the changes a human makes in
// the app, with Pipedrive's business rules and the webhooks they fire.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"time"
)

func (s *Sandbox) opUpdateDeal(c *call) (*response, *apiError) {
	id, aerr := pathID(c)
	if aerr != nil {
		return nil, aerr
	}
	fields := map[string]any{}
	dec := json.NewDecoder(bytes.NewReader(c.body))
	dec.UseNumber()
	if err := dec.Decode(&fields); err != nil {
		return nil, badRequest("Request body must be a JSON object")
	}
	d, aerr := s.updateDeal(c.r.Context(), id, fields, "api", s.opts.IntegrationUserID)
	if aerr != nil {
		return nil, aerr
	}
	return ok(s.dealJSONLocked(&d), nil), nil
}

// MoveDealAsUser moves a deal as a human would in the Pipedrive web app:
// the change is attributed to userID with change_source "app" and fires
// the matching webhooks.
func (s *Sandbox) MoveDealAsUser(dealID, stageID, userID int64) error {
	patch := map[string]any{"stage_id": stageID}
	_, aerr := s.updateDeal(context.Background(), dealID, patch, "app", userID)
	if aerr != nil {
		return fmt.Errorf("sandbox: move deal %d to stage %d: %s (%s)", dealID, stageID, aerr.Error, aerr.Info)
	}
	return nil
}

// UpdateDealAsUser applies a PATCH-like change (v2 field names, e.g.
// {"status":"won"}) as a human in the app (change_source "app").
func (s *Sandbox) UpdateDealAsUser(dealID, userID int64, fields map[string]any) error {
	_, aerr := s.updateDeal(context.Background(), dealID, fields, "app", userID)
	if aerr != nil {
		return fmt.Errorf("sandbox: update deal %d: %s (%s)", dealID, aerr.Error, aerr.Info)
	}
	return nil
}

// Messages for rule violations on PATCH /deals/{id}.
const (
	MsgStageNotFound    = "Stage not found"
	MsgPipelineNotFound = "Pipeline not found"
	MsgStageOtherPipe   = "Stage does not belong to the given pipeline"
	MsgArchivedDeal     = "Archived deals cannot be edited"
)

// updateDeal applies a PATCH /deals/{id} body (v2 field names) as source
// ("api" or "app") by userID and fires webhooks on change.
func (s *Sandbox) updateDeal(_ context.Context, id int64, fields map[string]any, source string, userID int64) (Deal, *apiError) {
	s.mu.Lock()
	now := s.now()
	d, found := s.deals[id]
	if !found || d.IsDeleted {
		s.mu.Unlock()
		return Deal{}, errNotFound()
	}
	old := d.clone()
	nd := d.clone()
	fail := func(e *apiError) (Deal, *apiError) {
		s.mu.Unlock()
		s.log.Warn("deal update refused", "deal_id", id, "source", source, "user_id", userID, "status", e.Status, "error", e.Error, "detail", e.Info)
		return Deal{}, e
	}

	unarchive := false
	if v, present := fields["is_archived"]; present {
		if b, isBool := v.(bool); isBool && !b {
			unarchive = true
		}
	}
	if old.IsArchived && !unarchive {
		return fail(&apiError{Status: http.StatusBadRequest, Error: MsgArchivedDeal,
			Info: fmt.Sprintf("Deal %d is archived. Unarchive it first (is_archived: false).", id)})
	}

	var (
		status            = old.Status
		stageSet, pipeSet bool
		stageID, pipeID   int64
	)
	for k, v := range fields {
		switch k {
		case "title":
			t, isStr := v.(string)
			if !isStr || strings.TrimSpace(t) == "" {
				return fail(badRequest("Title cannot be empty"))
			}
			nd.Title = t
		case "owner_id":
			n, _ := asInt64(v)
			nd.OwnerID = n
		case "person_id":
			n, _ := asInt64(v)
			if _, exists := s.persons[n]; !exists {
				return fail(badRequest(fmt.Sprintf("Person with id %d not found", n)))
			}
			nd.PersonID = n
		case "org_id":
			n, _ := asInt64(v)
			if _, exists := s.orgs[n]; !exists {
				return fail(badRequest(fmt.Sprintf("Organization with id %d not found", n)))
			}
			nd.OrgID = n
		case "pipeline_id":
			pipeID, _ = asInt64(v)
			pipeSet = true
		case "stage_id":
			stageID, _ = asInt64(v)
			stageSet = true
		case "value":
			f, _ := asFloat(v)
			nd.Value = f
		case "currency":
			cur, _ := v.(string)
			if len(cur) != 3 {
				return fail(badRequest("Invalid currency"))
			}
			nd.Currency = strings.ToUpper(cur)
		case "visible_to":
			n, _ := asInt64(v)
			nd.VisibleTo = int(n)
		case "probability":
			if v == nil {
				nd.Probability = nil
			} else {
				f, _ := asFloat(v)
				nd.Probability = &f
			}
		case "expected_close_date":
			ds, _ := v.(string)
			if _, err := time.Parse(time.DateOnly, ds); err != nil {
				return fail(badRequest("expected_close_date must be YYYY-MM-DD"))
			}
			nd.ExpectedCloseDate = ds
		case "label_ids":
			arr, _ := v.([]any)
			nd.LabelIDs = nil
			for _, x := range arr {
				n, _ := asInt64(x)
				nd.LabelIDs = append(nd.LabelIDs, n)
			}
		case "custom_fields":
			obj, _ := v.(map[string]any)
			if nd.CustomFields == nil {
				nd.CustomFields = map[string]any{}
			}
			for ck, cv := range obj {
				if cv == nil {
					delete(nd.CustomFields, ck)
				} else {
					nd.CustomFields[ck] = cv
				}
			}
		case "is_deleted":
			if b, _ := v.(bool); b {
				nd.IsDeleted = true
			}
		case "is_archived":
			b, _ := v.(bool)
			nd.IsArchived = b
			if b {
				nd.ArchiveTime = now
				if at, present := fields["archive_time"]; present {
					t, err := parseAPITime(at)
					if err != nil {
						return fail(badRequest("archive_time: " + err.Error()))
					}
					nd.ArchiveTime = t
				}
			} else {
				nd.ArchiveTime = time.Time{}
			}
		case "status":
			st, _ := v.(string)
			if st != "open" && st != "won" && st != "lost" {
				return fail(badRequest("Invalid status: must be one of open, won, lost"))
			}
			status = st
		}
	}

	// a stage implies its pipeline
	if stageSet {
		st, exists := s.stages[stageID]
		if !exists || st.IsDeleted {
			return fail(&apiError{Status: http.StatusBadRequest, Error: MsgStageNotFound,
				Info: fmt.Sprintf("stage_id %d not found", stageID)})
		}
		if pipeSet && pipeID != st.PipelineID {
			return fail(&apiError{Status: http.StatusBadRequest, Error: MsgStageOtherPipe,
				Info: fmt.Sprintf("stage_id %d belongs to pipeline %d, not pipeline_id %d", stageID, st.PipelineID, pipeID)})
		}
		nd.StageID, nd.PipelineID = st.ID, st.PipelineID
	} else if pipeSet {
		p, exists := s.pipelines[pipeID]
		if !exists || p.IsDeleted {
			return fail(&apiError{Status: http.StatusBadRequest, Error: MsgPipelineNotFound,
				Info: fmt.Sprintf("pipeline_id %d not found", pipeID)})
		}
		if pipeID != nd.PipelineID {
			first := s.firstStageLocked(pipeID)
			if first == nil {
				return fail(badRequest(fmt.Sprintf("Pipeline %d has no stages", pipeID)))
			}
			nd.PipelineID, nd.StageID = pipeID, first.ID
		}
	}

	// status and the times that go with it
	if status != old.Status {
		nd.Status = status
		nd.WonTime, nd.LostTime, nd.CloseTime = time.Time{}, time.Time{}, time.Time{}
		switch status {
		case "won":
			nd.WonTime, nd.CloseTime, nd.LostReason = now, now, ""
		case "lost":
			nd.LostTime, nd.CloseTime = now, now
		case "open":
			nd.LostReason = ""
		}
	}
	for _, tf := range []struct {
		key     string
		allowed bool
		rule    string
		dst     *time.Time
	}{
		{"won_time", status == "won", "won_time can only be set if deal status is won", &nd.WonTime},
		{"lost_time", status == "lost", "lost_time can only be set if deal status is lost", &nd.LostTime},
		{"close_time", status == "won" || status == "lost", "close_time can only be set if deal status is won or lost", &nd.CloseTime},
	} {
		v, present := fields[tf.key]
		if !present {
			continue
		}
		if v == nil && tf.key == "close_time" {
			if status != "open" {
				return fail(badRequest("close_time cannot be cleared on a closed deal"))
			}
			continue
		}
		if !tf.allowed {
			return fail(badRequest(tf.rule))
		}
		t, err := parseAPITime(v)
		if err != nil {
			return fail(badRequest(tf.key + ": " + err.Error()))
		}
		*tf.dst = t
	}
	if v, present := fields["lost_reason"]; present {
		if v == nil {
			nd.LostReason = ""
		} else {
			if status != "lost" {
				return fail(badRequest("lost_reason can only be set if deal status is lost"))
			}
			nd.LostReason, _ = v.(string)
		}
	}

	before, after := s.dealJSON(&old), s.dealJSON(&nd)
	previous := diffDeal(before, after)
	if len(previous) == 0 {
		s.mu.Unlock()
		return old, nil
	}
	nd.UpdateTime = now
	if nd.StageID != old.StageID {
		nd.StageChangeTime = now
	}
	*d = nd.clone()
	change := s.describeChangeLocked(&old, &nd)
	ev := webhookEvent{
		action:       "change",
		entity:       "deal",
		entityID:     id,
		source:       source,
		userID:       userID,
		permitted:    uniqueIDs(nd.OwnerID, s.opts.IntegrationUserID),
		data:         s.dealJSON(&nd),
		previous:     previous,
		stageChanged: nd.StageID != old.StageID,
	}
	if nd.IsDeleted {
		ev.action, ev.data, ev.previous = "delete", nil, before
	}
	// enqueue while holding s.mu so events queue in the order the changes happened
	s.hooks.emit(ev)
	s.mu.Unlock()

	s.log.Info("deal updated", "deal_id", id, "title", nd.Title, "source", source, "user_id", userID, "changes", change)
	return nd, nil
}

// untracked fields never appear in webhook "previous" blocks.
var untracked = map[string]bool{"update_time": true, "stage_change_time": true, "archive_time": true}

// diffDeal returns the previous values of the fields that changed (absent
// fields count as null).
func diffDeal(before, after map[string]any) map[string]any {
	prev := map[string]any{}
	keys := map[string]bool{}
	for k := range before {
		keys[k] = true
	}
	for k := range after {
		keys[k] = true
	}
	for k := range keys {
		if untracked[k] {
			continue
		}
		if !reflect.DeepEqual(normalize(before[k]), normalize(after[k])) {
			prev[k] = before[k]
		}
	}
	return prev
}

func normalize(v any) any {
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

func (s *Sandbox) describeChangeLocked(old, nd *Deal) string {
	var parts []string
	if old.StageID != nd.StageID {
		parts = append(parts, fmt.Sprintf("stage %s → %s", s.stageLabelLocked(old.StageID), s.stageLabelLocked(nd.StageID)))
	}
	if old.Status != nd.Status {
		parts = append(parts, fmt.Sprintf("status %s → %s", old.Status, nd.Status))
	}
	if old.Title != nd.Title {
		parts = append(parts, fmt.Sprintf("title %q → %q", old.Title, nd.Title))
	}
	if old.Value != nd.Value || old.Currency != nd.Currency {
		parts = append(parts, fmt.Sprintf("value %.2f %s → %.2f %s", old.Value, old.Currency, nd.Value, nd.Currency))
	}
	if old.IsArchived != nd.IsArchived {
		parts = append(parts, fmt.Sprintf("archived %v → %v", old.IsArchived, nd.IsArchived))
	}
	if old.IsDeleted != nd.IsDeleted {
		parts = append(parts, "deleted")
	}
	if len(parts) == 0 {
		parts = append(parts, "other fields")
	}
	return strings.Join(parts, "; ")
}

func (s *Sandbox) stageLabelLocked(id int64) string {
	st, found := s.stages[id]
	if !found {
		return fmt.Sprintf("#%d", id)
	}
	pn := ""
	if p, found := s.pipelines[st.PipelineID]; found {
		pn = p.Name + "/"
	}
	return fmt.Sprintf("%s%s (#%d)", pn, st.Name, id)
}

func uniqueIDs(ids ...int64) []int64 {
	var out []int64
	seen := map[int64]bool{}
	for _, id := range ids {
		if id != 0 && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

func parseAPITime(v any) (time.Time, error) {
	s, isStr := v.(string)
	if !isStr {
		return time.Time{}, fmt.Errorf("must be a string")
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02 15:04:05", time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid date-time %q (use YYYY-MM-DD HH:MM:SS or RFC 3339)", s)
}

func asInt64(v any) (int64, bool) {
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		if err != nil {
			f, ferr := n.Float64()
			return int64(f), ferr == nil
		}
		return i, true
	case float64:
		return int64(n), true
	case int64:
		return n, true
	case int:
		return int64(n), true
	}
	return 0, false
}

func asFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case float64:
		return n, true
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	}
	return 0, false
}
