package pipedrivetest

import "testing"

func TestPersonSearch(t *testing.T) {
	srv := start(t, Options{})
	org := srv.AddOrganization("Northwind")
	anna := srv.AddPersonFull(Person{Name: "Anna Schmidt", Emails: []string{"Anna.Schmidt@northwind.example"}, OrgID: org})
	annaB := srv.AddPerson("Anna Berg", "anna@other.example", "berg@northwind.example")
	srv.AddPerson("Bob", "bob@northwind.example.org")
	cases := []struct {
		name  string
		query string
		want  []int64
		code  int
	}{
		{"exact email, case-insensitive", "term=anna.schmidt%40northwind.example&fields=email&exact_match=true", []int64{anna}, 200},
		{"exact email second address", "term=berg%40northwind.example&fields=email&exact_match=true", []int64{annaB}, 200},
		{"exact does not match substrings", "term=northwind.example&fields=email&exact_match=true", nil, 200},
		{"exact email does not search names", "term=Anna+Berg&fields=email&exact_match=true", nil, 200},
		{"partial name, best score first", "term=anna&fields=name", []int64{annaB, anna}, 200},
		{"one char needs exact_match", "term=a", nil, 400},
		{"term required", "fields=email", nil, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkSearch(t, srv, "/api/v2/persons/search", tc.query, tc.want, tc.code)
		})
	}
	r := doReq(t, srv, "GET", "/api/v2/persons/search?term=anna.schmidt%40northwind.example&fields=email&exact_match=true", nil)
	item := data(r)["items"].([]any)[0].(map[string]any)["item"].(map[string]any)
	if item["organization"].(map[string]any)["name"] != "Northwind" || item["type"] != "person" {
		t.Errorf("item = %v", item)
	}
}
