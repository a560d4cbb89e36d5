package pipedrivetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

var (
	errNotFound = func() *apiError {
		// Pipedrive's documented 404 answer (openapi-v2.yaml examples).
		return &apiError{Status: http.StatusNotFound, Error: "Entity was not found", Info: "Object was not found."}
	}
	infoDocs = "Please check developers.pipedrive.com for more information about Pipedrive API."
)

func badRequest(msg string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Error: msg, Info: infoDocs}
}

func (s *Sandbox) dispatch(c *call) *response {
	op := c.route.Operation.OperationID
	var (
		resp *response
		aerr *apiError
	)
	switch op {
	// v2
	case "getDeal":
		resp, aerr = s.opGetDeal(c)
	case "updateDeal":
		resp, aerr = s.opUpdateDeal(c)
	case "getDeals":
		resp, aerr = s.opListDeals(c, false)
	case "getArchivedDeals":
		resp, aerr = s.opListDeals(c, true)
	case "getStages":
		resp, aerr = s.opListStages(c)
	case "getStage":
		resp, aerr = s.opGetStage(c)
	case "getPipelines":
		resp, aerr = s.opListPipelines(c)
	case "getPipeline":
		resp, aerr = s.opGetPipeline(c)
	case "searchPersons":
		resp, aerr = s.opSearchPersons(c)
	case "searchOrganization":
		resp, aerr = s.opSearchOrganizations(c)
	case "getOrganization":
		resp, aerr = s.opGetOrganization(c)
	case "addActivity":
		resp, aerr = s.opAddActivity(c)
	// v1
	case "getWebhooks":
		resp, aerr = s.opListWebhooks(c)
	case "addWebhook":
		resp, aerr = s.opAddWebhook(c)
	case "deleteWebhook":
		resp, aerr = s.opDeleteWebhook(c)
	case "addNote":
		resp, aerr = s.opAddNote(c)
	default:
		s.log.Warn("operation not implemented by the sandbox", "operation", op, "method", c.r.Method, "path", c.r.URL.Path)
		aerr = &apiError{Status: http.StatusNotImplemented, Error: "Not implemented in the Pipedrive sandbox: " + op,
			Info: "The sandbox implements deals, stages, pipelines, persons search, organization search and details, adding activities (v2), webhooks and adding notes (v1)."}
	}
	if aerr != nil {
		return errorResponse(aerr)
	}
	return resp
}

func ok(data any, additional any) *response {
	body := map[string]any{"success": true, "data": data}
	if additional != nil {
		body["additional_data"] = additional
	}
	return jsonResponse(http.StatusOK, body)
}

func pathID(c *call) (int64, *apiError) {
	id, err := strconv.ParseInt(c.params["id"], 10, 64)
	if err != nil || id <= 0 {
		return 0, badRequest("Invalid id")
	}
	return id, nil
}

// ---------------------------------------------------------------- JSON shapes

func fmtTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return fmtTime(t)
}

// dealJSON renders a deal in the API v2 shape. Fields that the spec declares
// as non-nullable are omitted when unset (real Pipedrive sends null there,
// which the spec does not allow); nullable ones are sent as null.
func (s *Sandbox) dealJSON(d *Deal) map[string]any {
	m := map[string]any{
		"id":              d.ID,
		"title":           d.Title,
		"creator_user_id": d.CreatorUserID,
		"owner_id":        d.OwnerID,
		"pipeline_id":     d.PipelineID,
		"stage_id":        d.StageID,
		"value":           d.Value,
		"currency":        d.Currency,
		"add_time":        fmtTime(d.AddTime),
		"update_time":     fmtTime(d.UpdateTime),
		"is_deleted":      d.IsDeleted,
		"is_archived":     d.IsArchived,
		"archive_time":    nullTime(d.ArchiveTime),
		"status":          d.Status,
		"probability":     nil,
		"lost_reason":     nil,
		"visible_to":      d.VisibleTo,
		"close_time":      nullTime(d.CloseTime),
		"label_ids":       []int64{},
		"origin":          d.Origin,
		"origin_id":       nil,
		"channel":         nil,
		"channel_id":      nil,
		"arr":             nil,
		"mrr":             nil,
		"acv":             nil,
		"custom_fields":   map[string]any{},
	}
	if d.PersonID != 0 {
		m["person_id"] = d.PersonID
	}
	if d.OrgID != 0 {
		m["org_id"] = d.OrgID
	}
	if !d.StageChangeTime.IsZero() {
		m["stage_change_time"] = fmtTime(d.StageChangeTime)
	}
	if !d.WonTime.IsZero() {
		m["won_time"] = fmtTime(d.WonTime)
	}
	if !d.LostTime.IsZero() {
		m["lost_time"] = fmtTime(d.LostTime)
	}
	if d.ExpectedCloseDate != "" {
		m["expected_close_date"] = d.ExpectedCloseDate
	}
	if d.Probability != nil {
		m["probability"] = *d.Probability
	}
	if d.LostReason != "" {
		m["lost_reason"] = d.LostReason
	}
	if len(d.LabelIDs) > 0 {
		m["label_ids"] = append([]int64(nil), d.LabelIDs...)
	}
	if len(d.CustomFields) > 0 {
		cf := map[string]any{}
		for k, v := range d.CustomFields {
			cf[k] = v
		}
		m["custom_fields"] = cf
	}
	return m
}

func stageJSON(st *Stage) map[string]any {
	var rot any
	if st.DaysToRotten != nil {
		rot = *st.DaysToRotten
	}
	return map[string]any{
		"id":                  st.ID,
		"order_nr":            st.OrderNr,
		"name":                st.Name,
		"is_deleted":          st.IsDeleted,
		"deal_probability":    st.DealProbability,
		"pipeline_id":         st.PipelineID,
		"is_deal_rot_enabled": st.RotEnabled,
		"days_to_rotten":      rot,
		"add_time":            fmtTime(st.AddTime),
		"update_time":         fmtTime(st.UpdateTime),
	}
}

func pipelineJSON(p *Pipeline) map[string]any {
	return map[string]any{
		"id":                          p.ID,
		"name":                        p.Name,
		"order_nr":                    p.OrderNr,
		"is_deleted":                  p.IsDeleted,
		"is_deal_probability_enabled": p.DealProbabilityEnabled,
		"add_time":                    fmtTime(p.AddTime),
		"update_time":                 fmtTime(p.UpdateTime),
	}
}

// ---------------------------------------------------------------- deals

func (s *Sandbox) opGetDeal(c *call) (*response, *apiError) {
	id, aerr := pathID(c)
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, found := s.deals[id]
	if !found || d.IsDeleted {
		return nil, errNotFound()
	}
	return ok(s.dealJSON(d), nil), nil
}

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

func (s *Sandbox) dealJSONLocked(d *Deal) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dealJSON(d)
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

// ---------------------------------------------------------------- lists

func queryInt(q url.Values, name string) (int64, bool, *apiError) {
	v := q.Get(name)
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, false, badRequest(fmt.Sprintf("%s must be an integer", name))
	}
	return n, true, nil
}

func (s *Sandbox) opListDeals(c *call, archived bool) (*response, *apiError) {
	q := c.r.URL.Query()
	if q.Get("filter_id") != "" {
		return nil, &apiError{Status: http.StatusNotImplemented, Error: "Not implemented in the Pipedrive sandbox: filter_id", Info: "Use the individual filters instead."}
	}
	filters := map[string]int64{}
	for _, f := range []string{"owner_id", "person_id", "org_id", "pipeline_id", "stage_id"} {
		n, set, aerr := queryInt(q, f)
		if aerr != nil {
			return nil, aerr
		}
		if set {
			filters[f] = n
		}
	}
	var idSet map[int64]bool
	if ids := q.Get("ids"); ids != "" {
		idSet = map[int64]bool{}
		for _, p := range strings.Split(ids, ",") {
			n, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64)
			if err != nil {
				return nil, badRequest("ids must be a comma separated list of integers")
			}
			idSet[n] = true
		}
		if len(idSet) > 100 {
			return nil, badRequest("ids accepts at most 100 ids")
		}
	}
	var since, until time.Time
	for _, tf := range []struct {
		name string
		dst  *time.Time
	}{{"updated_since", &since}, {"updated_until", &until}} {
		if v := q.Get(tf.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return nil, badRequest(tf.name + " must be RFC 3339, e.g. 2025-01-01T10:20:00Z")
			}
			*tf.dst = t
		}
	}
	status := q.Get("status")
	sortBy := orDefault(q.Get("sort_by"), "id")
	dir := orDefault(q.Get("sort_direction"), "asc")
	limit, aerr := pageLimit(q)
	if aerr != nil {
		return nil, aerr
	}

	s.mu.Lock()
	var items []pageItem
	for _, d := range s.deals {
		if d.IsArchived != archived {
			continue
		}
		if status == "deleted" {
			if !d.IsDeleted {
				continue
			}
		} else {
			if d.IsDeleted || (status != "" && d.Status != status) {
				continue
			}
		}
		if idSet != nil && !idSet[d.ID] {
			continue
		}
		match := true
		for f, want := range filters {
			var have int64
			switch f {
			case "owner_id":
				have = d.OwnerID
			case "person_id":
				have = d.PersonID
			case "org_id":
				have = d.OrgID
			case "pipeline_id":
				have = d.PipelineID
			case "stage_id":
				have = d.StageID
			}
			if have != want {
				match = false
			}
		}
		if !match || (!since.IsZero() && d.UpdateTime.Before(since)) || (!until.IsZero() && !d.UpdateTime.Before(until)) {
			continue
		}
		var key string
		switch sortBy {
		case "update_time":
			key = sortTime(d.UpdateTime)
		case "add_time":
			key = sortTime(d.AddTime)
		default:
			key = sortInt(d.ID)
		}
		items = append(items, pageItem{key: key, id: d.ID, v: s.dealJSON(d)})
	}
	s.mu.Unlock()
	page, next, aerr := paginate(items, sortBy, dir, limit, q.Get("cursor"))
	if aerr != nil {
		return nil, aerr
	}
	return ok(page, additional(next)), nil
}

func (s *Sandbox) opListStages(c *call) (*response, *apiError) {
	q := c.r.URL.Query()
	pipe, pipeSet, aerr := queryInt(q, "pipeline_id")
	if aerr != nil {
		return nil, aerr
	}
	sortBy := orDefault(q.Get("sort_by"), "id")
	dir := orDefault(q.Get("sort_direction"), "asc")
	limit, aerr := pageLimit(q)
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	var items []pageItem
	for _, st := range s.stages {
		if st.IsDeleted || (pipeSet && st.PipelineID != pipe) {
			continue
		}
		var key string
		switch sortBy {
		case "order_nr":
			key = sortInt(int64(st.OrderNr))
		case "update_time":
			key = sortTime(st.UpdateTime)
		case "add_time":
			key = sortTime(st.AddTime)
		default:
			key = sortInt(st.ID)
		}
		items = append(items, pageItem{key: key, id: st.ID, v: stageJSON(st)})
	}
	s.mu.Unlock()
	page, next, aerr := paginate(items, sortBy, dir, limit, q.Get("cursor"))
	if aerr != nil {
		return nil, aerr
	}
	return ok(page, additional(next)), nil
}

func (s *Sandbox) opGetStage(c *call) (*response, *apiError) {
	id, aerr := pathID(c)
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, found := s.stages[id]
	if !found {
		return nil, errNotFound()
	}
	return ok(stageJSON(st), nil), nil
}

func (s *Sandbox) opListPipelines(c *call) (*response, *apiError) {
	q := c.r.URL.Query()
	sortBy := orDefault(q.Get("sort_by"), "id")
	dir := orDefault(q.Get("sort_direction"), "asc")
	limit, aerr := pageLimit(q)
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	var items []pageItem
	for _, p := range s.pipelines {
		if p.IsDeleted {
			continue
		}
		var key string
		switch sortBy {
		case "update_time":
			key = sortTime(p.UpdateTime)
		case "add_time":
			key = sortTime(p.AddTime)
		default:
			key = sortInt(p.ID)
		}
		items = append(items, pageItem{key: key, id: p.ID, v: pipelineJSON(p)})
	}
	s.mu.Unlock()
	page, next, aerr := paginate(items, sortBy, dir, limit, q.Get("cursor"))
	if aerr != nil {
		return nil, aerr
	}
	return ok(page, additional(next)), nil
}

func (s *Sandbox) opGetPipeline(c *call) (*response, *apiError) {
	id, aerr := pathID(c)
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, found := s.pipelines[id]
	if !found {
		return nil, errNotFound()
	}
	return ok(pipelineJSON(p), nil), nil
}

// ---------------------------------------------------------------- persons search

func (s *Sandbox) opSearchPersons(c *call) (*response, *apiError) {
	q := c.r.URL.Query()
	term := strings.TrimSpace(q.Get("term"))
	exact := q.Get("exact_match") == "true" || q.Get("exact_match") == "1"
	minLen := 2
	if exact {
		minLen = 1
	}
	if len([]rune(term)) < minLen {
		return nil, badRequest(fmt.Sprintf("The search term must be at least %d characters long", minLen))
	}
	fields := map[string]bool{"name": true, "email": true, "phone": true, "notes": true, "custom_fields": true}
	if f := q.Get("fields"); f != "" {
		fields = map[string]bool{}
		for _, p := range strings.Split(f, ",") {
			fields[strings.TrimSpace(p)] = true
		}
	}
	org, orgSet, aerr := queryInt(q, "organization_id")
	if aerr != nil {
		return nil, aerr
	}
	limit, aerr := pageLimit(q)
	if aerr != nil {
		return nil, aerr
	}
	lt := strings.ToLower(term)
	matches := func(v string) (bool, float64) {
		lv := strings.ToLower(strings.TrimSpace(v))
		if lv == lt {
			return true, 1
		}
		if !exact && strings.Contains(lv, lt) {
			return true, float64(len(lt)) / float64(len(lv))
		}
		return false, 0
	}

	s.mu.Lock()
	type hit struct {
		score float64
		p     *Person
	}
	var hits []hit
	for _, p := range s.persons {
		if orgSet && p.OrgID != org {
			continue
		}
		best := 0.0
		consider := func(vals ...string) {
			for _, v := range vals {
				if m, sc := matches(v); m && sc > best {
					best = sc
				}
			}
		}
		if fields["name"] {
			consider(p.Name)
		}
		if fields["email"] {
			consider(p.Emails...)
		}
		if fields["phone"] {
			consider(p.Phones...)
		}
		if fields["notes"] {
			consider(p.Notes...)
		}
		if best > 0 {
			hits = append(hits, hit{best, p})
		}
	}
	sort.Slice(hits, func(i, j int) bool {
		if hits[i].score != hits[j].score {
			return hits[i].score > hits[j].score
		}
		return hits[i].p.ID < hits[j].p.ID
	})
	items := make([]pageItem, 0, len(hits))
	for i, h := range hits {
		item := map[string]any{
			"id":            h.p.ID,
			"type":          "person",
			"name":          h.p.Name,
			"phones":        nonNil(h.p.Phones),
			"emails":        nonNil(h.p.Emails),
			"visible_to":    3,
			"owner":         map[string]any{"id": h.p.OwnerID},
			"custom_fields": []string{},
			"notes":         nonNil(h.p.Notes),
		}
		if o, found := s.orgs[h.p.OrgID]; found {
			item["organization"] = map[string]any{"id": o.ID, "name": o.Name}
		}
		items = append(items, pageItem{key: sortInt(int64(i)), id: h.p.ID, v: map[string]any{
			"result_score": float64(int(h.score*10000)) / 10000,
			"item":         item,
		}})
	}
	s.mu.Unlock()
	page, next, aerr := paginate(items, "result_score", "asc", limit, q.Get("cursor"))
	if aerr != nil {
		return nil, aerr
	}
	return ok(map[string]any{"items": page}, additional(next)), nil
}

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func additional(next string) map[string]any {
	// next_cursor is declared as a non-nullable string in the spec, so it is
	// omitted on the last page (Pipedrive sends null there).
	if next == "" {
		return map[string]any{}
	}
	return map[string]any{"next_cursor": next}
}
