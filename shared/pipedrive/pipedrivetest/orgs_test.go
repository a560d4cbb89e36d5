package pipedrivetest

import (
	"fmt"
	"testing"
)

func TestOrganizationSearch(t *testing.T) {
	srv := start(t, Options{SearchBurstLimit: 50, BurstLimit: 100})
	acme := srv.AddOrganizationFull(Organization{Name: "Acme Corp", Website: "https://www.acme.example",
		Address: "Main St 1, Springfield", CustomFields: map[string]any{"d0main": "acme.example", "n": 42.0}})
	widgets := srv.AddOrganizationFull(Organization{Name: "Acme Widgets", Notes: []string{"met at the fair"}})
	srv.AddOrganizationFull(Organization{Name: "Acme Gone", IsDeleted: true})
	other := srv.AddOrganization("Globex")
	cases := []struct {
		name  string
		query string
		want  []int64
		code  int
	}{
		{"partial name, best score first", "term=acme&fields=name", []int64{acme, widgets}, 200},
		{"exact name without case", "term=acme+corp&fields=name&exact_match=true", []int64{acme}, 200},
		{"exact does not match substrings", "term=acme&fields=name&exact_match=true", nil, 200},
		{"custom field exact", "term=ACME.example&fields=custom_fields&exact_match=true", []int64{acme}, 200},
		{"custom fields not searched by name", "term=acme.example&fields=name", nil, 200},
		{"address", "term=springfield&fields=address", []int64{acme}, 200},
		{"notes", "term=fair&fields=notes", []int64{widgets}, 200},
		{"all fields by default", "term=globex", []int64{other}, 200},
		{"one char needs exact_match", "term=a", nil, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if r := checkSearch(t, srv, "/api/v2/organizations/search", tc.query, tc.want, tc.code); tc.code != 200 {
				assertErrorShape(t, r)
			}
		})
	}
	r := doReq(t, srv, "GET", "/api/v2/organizations/search?term=acme.example&fields=custom_fields&exact_match=true", nil)
	item := data(r)["items"].([]any)[0].(map[string]any)["item"].(map[string]any)
	if item["type"] != "organization" || item["address"] != "Main St 1, Springfield" || fmt.Sprint(item["custom_fields"]) != "[acme.example]" {
		t.Errorf("item = %v", item)
	}
	if r.header.Get("x-ratelimit-limit") != "50" {
		t.Errorf("organization search is not in the search window: %v", r.header)
	}
	if rs := srv.Requests(); rs[len(rs)-1].TokenCost != 20 || rs[len(rs)-1].Operation != "searchOrganization" {
		t.Errorf("last request %+v", rs[len(rs)-1])
	}
	// The spec declares fields as a single enum value: a list is a client bug.
	r = doReq(t, srv, "GET", "/api/v2/organizations/search?term=acme&fields=name,address", nil)
	if r.status != 400 || len(srv.ValidationErrors()) != 1 {
		t.Errorf("fields list: %d, validation errors %v", r.status, srv.ValidationErrors())
	}
	srv.ClearValidationErrors()
	noValidationErrors(t, srv)
}

func TestGetOrganization(t *testing.T) {
	srv := start(t, Options{})
	acme := srv.AddOrganizationFull(Organization{Name: "Acme Corp", Website: "https://www.acme.example", Address: "Main St 1",
		CustomFields: map[string]any{"d0main": "acme.example"}})
	bare := srv.AddOrganization("Bare")
	gone := srv.AddOrganizationFull(Organization{Name: "Gone", IsDeleted: true})

	r := doReq(t, srv, "GET", fmt.Sprintf("/api/v2/organizations/%d", acme), nil)
	d := data(r)
	if r.status != 200 || d["website"] != "https://www.acme.example" || d["name"] != "Acme Corp" ||
		d["address"].(map[string]any)["value"] != "Main St 1" || d["custom_fields"].(map[string]any)["d0main"] != "acme.example" ||
		num(d["owner_id"]) != DefaultOwnerID {
		t.Errorf("org: %d %s", r.status, r.body)
	}
	if rs := srv.Requests(); rs[len(rs)-1].TokenCost != 1 {
		t.Errorf("cost %d", rs[len(rs)-1].TokenCost)
	}
	r = doReq(t, srv, "GET", fmt.Sprintf("/api/v2/organizations/%d", bare), nil)
	if d := data(r); r.status != 200 || d["website"] != nil {
		t.Errorf("bare org: %d %s", r.status, r.body)
	}
	for _, id := range []int64{gone, 999} {
		r = doReq(t, srv, "GET", fmt.Sprintf("/api/v2/organizations/%d", id), nil)
		if r.status != 404 {
			t.Errorf("org %d: %d", id, r.status)
		}
		assertErrorShape(t, r)
	}
	if o, found := srv.Organization(acme); !found || o.Website != "https://www.acme.example" {
		t.Errorf("snapshot %+v", o)
	}
	noValidationErrors(t, srv)
}

func TestDealsByOrganization(t *testing.T) {
	srv := start(t, Options{})
	org := srv.AddOrganization("Acme")
	open := srv.AddDeal(Deal{OrgID: org})
	srv.AddDeal(Deal{OrgID: org, Status: "won"})
	srv.AddDeal(Deal{OrgID: org + 1})
	r := doReq(t, srv, "GET", fmt.Sprintf("/api/v2/deals?org_id=%d&status=open", org), nil)
	items, _ := r.json["data"].([]any)
	if r.status != 200 || len(items) != 1 || num(items[0].(map[string]any)["id"]) != open {
		t.Errorf("deals: %d %s", r.status, r.body)
	}
	noValidationErrors(t, srv)
}
