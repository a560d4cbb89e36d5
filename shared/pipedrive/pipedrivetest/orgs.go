package pipedrivetest

import (
	"sort"
	"time"
)

// Organization is a company a person can belong to. Zero times mean "now"
// when added; OwnerID 0 means DefaultOwnerID.
type Organization struct {
	ID      int64
	Name    string
	OwnerID int64
	// Website is the standard v2 "website" field (e.g. "https://www.acme.example").
	Website string
	// Address is the full address (address.value); searchable.
	Address string
	Notes   []string // searchable note texts
	// CustomFields are keyed by field key; string values are searchable
	// with fields=custom_fields.
	CustomFields map[string]any
	IsDeleted    bool
	AddTime      time.Time
	UpdateTime   time.Time
}

func (o Organization) clone() Organization {
	c := o
	c.Notes = append([]string(nil), o.Notes...)
	if o.CustomFields != nil {
		c.CustomFields = make(map[string]any, len(o.CustomFields))
		for k, v := range o.CustomFields {
			c.CustomFields[k] = v
		}
	}
	return c
}

// AddOrganization adds an organization and returns its id.
func (s *Sandbox) AddOrganization(name string) int64 {
	return s.AddOrganizationFull(Organization{Name: name})
}

// AddOrganizationFull adds an organization (ID 0 = auto) and returns its id.
func (s *Sandbox) AddOrganizationFull(o Organization) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	o.ID = assignID(o.ID, &s.nextOrg)
	if o.OwnerID == 0 {
		o.OwnerID = DefaultOwnerID
	}
	if o.AddTime.IsZero() {
		o.AddTime = s.now()
	}
	if o.UpdateTime.IsZero() {
		o.UpdateTime = o.AddTime
	}
	c := o.clone()
	s.orgs[o.ID] = &c
	return o.ID
}

// Organization returns a snapshot of an organization.
func (s *Sandbox) Organization(id int64) (Organization, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orgs[id]
	if !ok {
		return Organization{}, false
	}
	return o.clone(), true
}

// Organizations: GET /api/v2/organizations/search (searchOrganization,
// x-token-cost 20, search burst window) and GET /api/v2/organizations/{id}
// (getOrganization, x-token-cost 1), answered in the shapes of
// openapi-v2.yaml (GetOrganizationSearchResponse, UpsertOrganizationResponse).

// orgJSON renders an organization like getOrganization. Non-nullable fields
// without a value (address) are omitted; nullable ones are sent as null.
func orgJSON(o *Organization) map[string]any {
	var website any
	if o.Website != "" {
		website = o.Website
	}
	cf := map[string]any{}
	for k, v := range o.CustomFields {
		cf[k] = v
	}
	m := map[string]any{
		"id":             o.ID,
		"name":           o.Name,
		"owner_id":       o.OwnerID,
		"add_time":       fmtTime(o.AddTime),
		"update_time":    fmtTime(o.UpdateTime),
		"is_deleted":     o.IsDeleted,
		"visible_to":     3,
		"label_ids":      []int64{},
		"website":        website,
		"linkedin":       nil,
		"industry":       nil,
		"annual_revenue": nil,
		"employee_count": nil,
		"custom_fields":  cf,
	}
	if o.Address != "" {
		m["address"] = map[string]any{"value": o.Address}
	}
	return m
}

func (s *Sandbox) opGetOrganization(c *call) (*response, *apiError) {
	id, aerr := pathID(c)
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, found := s.orgs[id]
	if !found || o.IsDeleted {
		return nil, errNotFound()
	}
	return ok(orgJSON(o), nil), nil
}

// opSearchOrganizations matches name, address, notes and string custom
// field values like opSearchPersons: exact_match compares whole values
// without case; otherwise a value containing the term matches, scored by
// how much of the value the term covers. The item's custom_fields lists the
// custom field values that matched (the spec documents only "Custom fields").
func (s *Sandbox) opSearchOrganizations(c *call) (*response, *apiError) {
	q := c.r.URL.Query()
	sq, aerr := parseSearch(q, nil, []string{"name", "address", "notes", "custom_fields"})
	if aerr != nil {
		return nil, aerr
	}

	s.mu.Lock()
	var hits []searchHit
	for _, o := range s.orgs {
		if o.IsDeleted {
			continue
		}
		best := 0.0
		var cfHits []string
		consider := func(v string) bool {
			m, sc := sq.match(v)
			if m && sc > best {
				best = sc
			}
			return m
		}
		if sq.fields["name"] {
			consider(o.Name)
		}
		if sq.fields["address"] {
			consider(o.Address)
		}
		if sq.fields["notes"] {
			for _, n := range o.Notes {
				consider(n)
			}
		}
		if sq.fields["custom_fields"] {
			keys := make([]string, 0, len(o.CustomFields))
			for k := range o.CustomFields {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if v, isStr := o.CustomFields[k].(string); isStr && consider(v) {
					cfHits = append(cfHits, v)
				}
			}
		}
		if best <= 0 {
			continue
		}
		item := map[string]any{
			"id":            o.ID,
			"type":          "organization",
			"name":          o.Name,
			"visible_to":    3,
			"owner":         map[string]any{"id": o.OwnerID},
			"custom_fields": nonNil(cfHits),
			"notes":         nonNil(o.Notes),
		}
		if o.Address != "" {
			item["address"] = o.Address
		}
		hits = append(hits, searchHit{score: best, id: o.ID, item: item})
	}
	s.mu.Unlock()
	return searchPage(hits, sq.limit, q.Get("cursor"))
}
