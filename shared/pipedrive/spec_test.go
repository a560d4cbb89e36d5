package pipedrive

import (
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/stagemover/stagemover/shared/pipedrive/spec"
)

type specOperation struct {
	OperationID string `yaml:"operationId"`
	TokenCost   *int   `yaml:"x-token-cost"`
	Parameters  []struct {
		In   string `yaml:"in"`
		Name string `yaml:"name"`
	} `yaml:"parameters"`
	RequestBody struct {
		Content map[string]struct {
			Schema struct {
				Properties map[string]any `yaml:"properties"`
			} `yaml:"schema"`
		} `yaml:"content"`
	} `yaml:"requestBody"`
}

func loadSpecPaths(t *testing.T) map[string]map[string]specOperation {
	t.Helper()
	var doc struct {
		Servers []struct {
			URL string `yaml:"url"`
		} `yaml:"servers"`
		Paths map[string]map[string]specOperation `yaml:"paths"`
	}
	if err := yaml.Unmarshal(spec.V2, &doc); err != nil {
		t.Fatalf("parsing spec: %v", err)
	}
	if len(doc.Servers) == 0 || !strings.HasSuffix(doc.Servers[0].URL, apiPrefix) {
		t.Fatalf("spec server URL %v does not end in %s: paths in the cost table would be wrong", doc.Servers, apiPrefix)
	}
	return doc.Paths
}

// TestCostTableMatchesSpec checks every entry of the token-cost table
// against the official spec's x-token-cost for the same method and path.
func TestCostTableMatchesSpec(t *testing.T) {
	paths := loadSpecPaths(t)
	seen := map[string]bool{}
	for _, op := range operations {
		if seen[op.ID] {
			t.Errorf("operation %s listed twice", op.ID)
		}
		seen[op.ID] = true
		methods, ok := paths[op.Path]
		if !ok {
			t.Errorf("%s: path %s not in spec", op.ID, op.Path)
			continue
		}
		so, ok := methods[strings.ToLower(op.Method)]
		if !ok {
			t.Errorf("%s: %s %s not in spec", op.ID, op.Method, op.Path)
			continue
		}
		if so.OperationID != op.ID {
			t.Errorf("%s %s: spec operationId %q, table says %q", op.Method, op.Path, so.OperationID, op.ID)
		}
		if so.TokenCost == nil {
			t.Errorf("%s: spec has no x-token-cost", op.ID)
			continue
		}
		if *so.TokenCost != op.Cost {
			t.Errorf("%s (%s %s): table cost %d, spec x-token-cost %d", op.ID, op.Method, op.Path, op.Cost, *so.TokenCost)
		}
		if c, ok := TokenCost(op.ID); !ok || c != op.Cost {
			t.Errorf("TokenCost(%q) = %d, %v", op.ID, c, ok)
		}
	}
}

// TestQueryParamsExistInSpec checks that the query parameters the client
// sends are declared by the spec for the operation.
func TestQueryParamsExistInSpec(t *testing.T) {
	paths := loadSpecPaths(t)
	sent := map[string][]string{
		opGetDeals.ID:      {"person_id", "org_id", "status", "limit", "cursor"},
		opGetStages.ID:     {"pipeline_id", "limit", "cursor"},
		opGetPipelines.ID:  {"limit", "cursor"},
		opSearchPersons.ID: {"term", "fields", "exact_match", "limit", "cursor"},
		opSearchOrgs.ID:    {"term", "fields", "exact_match", "limit"},
		opGetOrg.ID:        nil,
		opGetDeal.ID:       nil,
		opUpdateDeal.ID:    nil,
	}
	for _, op := range operations {
		so := paths[op.Path][strings.ToLower(op.Method)]
		declared := map[string]bool{}
		for _, p := range so.Parameters {
			if p.In == "query" {
				declared[p.Name] = true
			}
		}
		for _, name := range sent[op.ID] {
			if !declared[name] {
				t.Errorf("%s: query parameter %q not declared in spec", op.ID, name)
			}
		}
	}
}

// TestDealPatchFieldsExistInSpec checks every DealPatch JSON field is a
// property of the updateDeal request body.
func TestDealPatchFieldsExistInSpec(t *testing.T) {
	paths := loadSpecPaths(t)
	props := paths[opUpdateDeal.Path]["patch"].RequestBody.Content["application/json"].Schema.Properties
	if len(props) == 0 {
		t.Fatal("updateDeal request body has no properties in spec")
	}
	rt := reflect.TypeOf(DealPatch{})
	for i := 0; i < rt.NumField(); i++ {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		if _, ok := props[name]; !ok {
			t.Errorf("DealPatch.%s: %q is not a property of the updateDeal body", rt.Field(i).Name, name)
		}
	}
}
