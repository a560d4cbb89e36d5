package pipedrivetest

// Deals: the sandbox's deal state and GET /api/v2/deals, /deals/archived
// and /deals/{id}.

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Deal is the sandbox's view of a deal. Zero times mean "not set".
type Deal struct {
	ID                int64
	Title             string
	PipelineID        int64
	StageID           int64
	Status            string // open | won | lost
	IsArchived        bool
	IsDeleted         bool
	PersonID          int64
	OrgID             int64
	OwnerID           int64
	CreatorUserID     int64
	Value             float64
	Currency          string
	Probability       *float64
	LostReason        string
	VisibleTo         int
	ExpectedCloseDate string // YYYY-MM-DD
	LabelIDs          []int64
	CustomFields      map[string]any
	Origin            string
	AddTime           time.Time
	UpdateTime        time.Time
	StageChangeTime   time.Time
	WonTime           time.Time
	LostTime          time.Time
	CloseTime         time.Time
	ArchiveTime       time.Time
}

func (d Deal) clone() Deal {
	c := d
	if d.LabelIDs != nil {
		c.LabelIDs = append([]int64(nil), d.LabelIDs...)
	}
	if d.CustomFields != nil {
		c.CustomFields = make(map[string]any, len(d.CustomFields))
		for k, v := range d.CustomFields {
			c.CustomFields[k] = v
		}
	}
	if d.Probability != nil {
		p := *d.Probability
		c.Probability = &p
	}
	return c
}

// AddDeal stores a deal and returns its id. Defaults: ID auto, pipeline 1,
// the pipeline's first stage, status "open", currency "EUR", owner
// DefaultOwnerID, add/update time now. A known StageID sets PipelineID.
// Unknown stage ids are stored as given (to model broken data).
func (s *Sandbox) AddDeal(d Deal) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	d.ID = assignID(d.ID, &s.nextDeal)
	if d.StageID != 0 {
		if st, ok := s.stages[d.StageID]; ok {
			d.PipelineID = st.PipelineID
		}
	} else {
		if d.PipelineID == 0 {
			d.PipelineID = 1
		}
		if st := s.firstStageLocked(d.PipelineID); st != nil {
			d.StageID = st.ID
		}
	}
	if d.Title == "" {
		d.Title = fmt.Sprintf("Deal %d", d.ID)
	}
	if d.Status == "" {
		d.Status = "open"
	}
	if d.Currency == "" {
		d.Currency = "EUR"
	}
	if d.OwnerID == 0 {
		d.OwnerID = DefaultOwnerID
	}
	if d.CreatorUserID == 0 {
		d.CreatorUserID = d.OwnerID
	}
	if d.VisibleTo == 0 {
		d.VisibleTo = 3
	}
	if d.Origin == "" {
		d.Origin = "ManuallyCreated"
	}
	if d.AddTime.IsZero() {
		d.AddTime = now
	}
	if d.UpdateTime.IsZero() {
		d.UpdateTime = d.AddTime
	}
	if d.StageChangeTime.IsZero() {
		d.StageChangeTime = d.AddTime
	}
	if d.IsArchived && d.ArchiveTime.IsZero() {
		d.ArchiveTime = now
	}
	switch d.Status {
	case "won":
		if d.WonTime.IsZero() {
			d.WonTime = now
		}
		if d.CloseTime.IsZero() {
			d.CloseTime = d.WonTime
		}
	case "lost":
		if d.LostTime.IsZero() {
			d.LostTime = now
		}
		if d.CloseTime.IsZero() {
			d.CloseTime = d.LostTime
		}
	}
	c := d.clone()
	s.deals[d.ID] = &c
	return d.ID
}

// Deal returns a snapshot of a deal.
func (s *Sandbox) Deal(id int64) (Deal, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.deals[id]
	if !ok {
		return Deal{}, false
	}
	return d.clone(), true
}

// Deals returns snapshots of all deals ordered by id.
func (s *Sandbox) Deals() []Deal {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Deal, 0, len(s.deals))
	for _, d := range s.deals {
		out = append(out, d.clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// ArchiveDeal archives (or unarchives) a deal as a human would in the app.
func (s *Sandbox) ArchiveDeal(id int64, archived bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.deals[id]
	if !ok {
		return ErrNotFound
	}
	d.IsArchived = archived
	if archived {
		d.ArchiveTime = s.now()
	} else {
		d.ArchiveTime = time.Time{}
	}
	d.UpdateTime = s.now()
	return nil
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

func (s *Sandbox) dealJSONLocked(d *Deal) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dealJSON(d)
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
	return s.listSorted(q, func(sortBy string) (items []pageItem) {
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
			key := timeOrIDKey(sortBy, d.ID, d.AddTime, d.UpdateTime)
			items = append(items, pageItem{key: key, id: d.ID, v: s.dealJSON(d)})
		}
		return items
	})
}
