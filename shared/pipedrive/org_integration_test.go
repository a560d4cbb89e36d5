package pipedrive

import (
	"context"
	"errors"
	"testing"

	"github.com/stagemover/stagemover/shared/pipedrive/pipedrivetest"
)

func TestSandboxOrganizations(t *testing.T) {
	e := startSandbox(t, pipedrivetest.Options{})
	c := e.client(sandboxToken)
	ctx := context.Background()
	acme := e.srv.AddOrganizationFull(pipedrivetest.Organization{Name: "Acme Corp", Website: "https://www.acme.example",
		Address: "Main St 1", CustomFields: map[string]any{"k": "acme.example"}, OwnerID: 7})
	widgets := e.srv.AddOrganization("Acme Widgets")

	hits, err := c.SearchOrganizations(ctx, OrgSearch{Term: "acme", Field: OrgFieldName})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 2 || hits[0].ID != acme || hits[1].ID != widgets || hits[0].OwnerID != 7 || hits[0].Address != "Main St 1" || hits[0].Score <= 0 {
		t.Errorf("hits %+v", hits)
	}
	hits, err = c.SearchOrganizations(ctx, OrgSearch{Term: "ACME.example", Field: OrgFieldCustomFields, ExactMatch: true, Limit: 5})
	if err != nil || len(hits) != 1 || hits[0].ID != acme || len(hits[0].CustomFields) != 1 || hits[0].CustomFields[0] != "acme.example" {
		t.Errorf("custom field search %+v %v", hits, err)
	}
	if hits, err := c.SearchOrganizations(ctx, OrgSearch{Term: "nothing", Field: OrgFieldName}); err != nil || len(hits) != 0 {
		t.Errorf("no hit: %+v %v", hits, err)
	}
	if _, err := c.SearchOrganizations(ctx, OrgSearch{Term: "a"}); err == nil {
		t.Error("one-character fuzzy term accepted")
	}
	if _, err := c.SearchOrganizations(ctx, OrgSearch{Term: "acme", Field: "website"}); err == nil {
		t.Error("unsupported field accepted")
	}

	o, err := c.GetOrganization(ctx, acme)
	if err != nil {
		t.Fatal(err)
	}
	if o.ID != acme || o.Name != "Acme Corp" || o.Website != "https://www.acme.example" || o.Address.Value != "Main St 1" ||
		o.CustomFields["k"] != "acme.example" || o.OwnerID != 7 || o.IsDeleted {
		t.Errorf("org %+v", o)
	}
	if o, err := c.GetOrganization(ctx, widgets); err != nil || o.Website != "" {
		t.Errorf("org without website %+v %v", o, err)
	}
	if _, err := c.GetOrganization(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing org: %v", err)
	}

	open1 := e.srv.AddDeal(pipedrivetest.Deal{OrgID: acme})
	open2 := e.srv.AddDeal(pipedrivetest.Deal{OrgID: acme, StageID: 3})
	e.srv.AddDeal(pipedrivetest.Deal{OrgID: acme, Status: "lost"})
	e.srv.AddDeal(pipedrivetest.Deal{OrgID: widgets})
	ds, err := c.ListOpenDealsByOrg(ctx, acme)
	if err != nil || len(ds) != 2 || ds[0].ID != open1 || ds[1].ID != open2 || ds[1].OrgID != acme {
		t.Errorf("org deals %+v %v", ds, err)
	}
	if _, err := c.ListOpenDealsByOrg(ctx, 0); err == nil {
		t.Error("org id 0 accepted")
	}
	u := c.Usage()
	if u.ByOperation["searchOrganization"].TokenCost != 60 || u.ByOperation["getOrganization"].TokenCost != 3 ||
		u.ByOperation["getDeals"].TokenCost != 10 {
		t.Errorf("usage %+v", u.ByOperation)
	}
}
