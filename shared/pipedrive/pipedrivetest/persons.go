package pipedrivetest

// Persons: the sandbox's person state and GET /api/v2/persons/search.

import (
	"fmt"
	"sort"
	"strings"
)

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
	if p.ID == 0 {
		p.ID = s.nextPerson
	}
	if p.ID >= s.nextPerson {
		s.nextPerson = p.ID + 1
	}
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
