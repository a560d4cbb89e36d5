package pipedrivetest

import "time"

// SeedDemoData adds realistic organizations, persons and deals spread over
// the "Sales" pipeline, plus a small "Partnerships" pipeline, so people
// running `stagemover local` without a Pipedrive account have something to
// move. Addresses use the reserved .example domain.
func (s *Sandbox) SeedDemoData() {
	now := s.now()
	day := 24 * time.Hour

	_, partnerStages := s.AddPipeline("Partnerships", "Intro Call", "Pilot Agreed", "Contract Sent")

	orgs := map[string]int64{}
	for _, o := range []struct{ name, website string }{
		{"Northwind Traders", "https://www.northwind.example"},
		{"Globex Logistics", "https://globex.example"},
		{"Initech GmbH", "https://www.initech.example/de"},
		{"Umbrella Health", "https://umbrella-health.example"},
		{"Blue Harbor Foods", "https://www.blueharbor.example"},
		{"Vandelay Industries", "https://vandelay.example"},
	} {
		orgs[o.name] = s.AddOrganizationFull(Organization{Name: o.name, Website: o.website})
	}
	type person struct {
		name, org, email, phone string
	}
	people := []person{
		{"Anna Schmidt", "Northwind Traders", "anna.schmidt@northwind.example", "+49 30 5550 1001"},
		{"James Carter", "Globex Logistics", "j.carter@globex.example", "+1 415 555 0142"},
		{"Priya Natarajan", "Initech GmbH", "priya.natarajan@initech.example", "+49 89 5550 2231"},
		{"Lucas Moreau", "Umbrella Health", "lucas.moreau@umbrella-health.example", "+33 1 5550 7788"},
		{"Sofia Rossi", "Blue Harbor Foods", "sofia@blueharbor.example", "+39 02 5550 3321"},
		{"Tomasz Kowalski", "Vandelay Industries", "tomasz.kowalski@vandelay.example", "+48 22 555 0199"},
		{"Emily Chen", "Globex Logistics", "emily.chen@globex.example", "+1 415 555 0177"},
		{"Mikko Virtanen", "Northwind Traders", "mikko.virtanen@northwind.example", "+358 9 5550 4411"},
	}
	pid := map[string]int64{}
	for _, p := range people {
		pid[p.name] = s.AddPersonFull(Person{Name: p.name, Emails: []string{p.email}, Phones: []string{p.phone}, OrgID: orgs[p.org]})
	}

	type deal struct {
		title, person, org string
		stage              int64
		value              float64
		currency           string
		ageDays            int
		status             string
	}
	deals := []deal{
		{"Northwind – warehouse scanners rollout", "Anna Schmidt", "Northwind Traders", 1, 18500, "EUR", 3, "open"},
		{"Globex – fleet telematics (120 vehicles)", "James Carter", "Globex Logistics", 2, 64000, "USD", 9, "open"},
		{"Initech – support plan renewal", "Priya Natarajan", "Initech GmbH", 3, 12000, "EUR", 14, "open"},
		{"Umbrella Health – clinic scheduling pilot", "Lucas Moreau", "Umbrella Health", 4, 27500, "EUR", 21, "open"},
		{"Blue Harbor – cold chain sensors", "Sofia Rossi", "Blue Harbor Foods", 5, 41000, "EUR", 30, "open"},
		{"Vandelay – import compliance audit", "Tomasz Kowalski", "Vandelay Industries", 2, 9800, "EUR", 6, "open"},
		{"Globex – EU expansion add-on", "Emily Chen", "Globex Logistics", 1, 15000, "USD", 1, "open"},
		{"Northwind – Finland stores", "Mikko Virtanen", "Northwind Traders", 3, 22000, "EUR", 11, "open"},
		{"Initech – data migration", "Priya Natarajan", "Initech GmbH", 5, 8000, "EUR", 45, "won"},
		{"Blue Harbor – route planning", "Sofia Rossi", "Blue Harbor Foods", 2, 6000, "EUR", 60, "lost"},
	}
	for _, d := range deals {
		added := now.Add(-time.Duration(d.ageDays) * day)
		s.AddDeal(Deal{
			Title: d.title, StageID: d.stage, PersonID: pid[d.person], OrgID: orgs[d.org],
			Value: d.value, Currency: d.currency, Status: d.status,
			AddTime: added, UpdateTime: added.Add(2 * time.Hour), StageChangeTime: added.Add(2 * time.Hour),
		})
	}
	s.AddDeal(Deal{Title: "Vandelay – reseller partnership", StageID: partnerStages[0], PersonID: pid["Tomasz Kowalski"],
		OrgID: orgs["Vandelay Industries"], Value: 30000, Currency: "EUR", AddTime: now.Add(-5 * day)})
	s.AddDeal(Deal{Title: "Umbrella Health – 2024 tender (archived)", StageID: 2, PersonID: pid["Lucas Moreau"],
		OrgID: orgs["Umbrella Health"], Value: 50000, Currency: "EUR", IsArchived: true, AddTime: now.Add(-200 * day)})
	s.log.Info("demo data seeded", "organizations", len(orgs), "persons", len(people), "deals", len(deals)+2)
}
