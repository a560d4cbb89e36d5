package pipedrivetest

// Persons: the sandbox's person state and GET /api/v2/persons/search.

// Person is a contact.
type Person struct {
	ID      int64
	Name    string
	Emails  []string
	Phones  []string
	OrgID   int64
	OwnerID int64
	Notes   []string
}

// AddPerson adds a person with the given email addresses and returns its id.
func (s *Sandbox) AddPerson(name string, emails ...string) int64 {
	return s.AddPersonFull(Person{Name: name, Emails: emails})
}

// AddPersonFull adds a person (ID 0 = auto) and returns its id.
func (s *Sandbox) AddPersonFull(p Person) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	p.ID = assignID(p.ID, &s.nextPerson)
	if p.OwnerID == 0 {
		p.OwnerID = DefaultOwnerID
	}
	p.Emails = append([]string(nil), p.Emails...)
	p.Phones = append([]string(nil), p.Phones...)
	s.persons[p.ID] = &p
	return p.ID
}

func (s *Sandbox) opSearchPersons(c *call) (*response, *apiError) {
	q := c.r.URL.Query()
	sq, aerr := parseSearch(q, []string{"organization_id"}, []string{"name", "email", "phone", "notes", "custom_fields"})
	if aerr != nil {
		return nil, aerr
	}
	org, orgSet := sq.ints["organization_id"]

	s.mu.Lock()
	var hits []searchHit
	for _, p := range s.persons {
		if orgSet && p.OrgID != org {
			continue
		}
		best := 0.0
		consider := func(vals ...string) {
			for _, v := range vals {
				if m, sc := sq.match(v); m && sc > best {
					best = sc
				}
			}
		}
		if sq.fields["name"] {
			consider(p.Name)
		}
		if sq.fields["email"] {
			consider(p.Emails...)
		}
		if sq.fields["phone"] {
			consider(p.Phones...)
		}
		if sq.fields["notes"] {
			consider(p.Notes...)
		}
		if best <= 0 {
			continue
		}
		item := map[string]any{
			"id":            p.ID,
			"type":          "person",
			"name":          p.Name,
			"phones":        nonNil(p.Phones),
			"emails":        nonNil(p.Emails),
			"visible_to":    3,
			"owner":         map[string]any{"id": p.OwnerID},
			"custom_fields": []string{},
			"notes":         nonNil(p.Notes),
		}
		if o, found := s.orgs[p.OrgID]; found {
			item["organization"] = map[string]any{"id": o.ID, "name": o.Name}
		}
		hits = append(hits, searchHit{score: best, id: p.ID, item: item})
	}
	s.mu.Unlock()
	return searchPage(hits, sq.limit, q.Get("cursor"))
}
