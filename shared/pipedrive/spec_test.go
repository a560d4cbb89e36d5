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
	return loadSpec(t, spec.V2, apiPrefix)
}

// loadV1SpecPaths reads the embedded v1 subset (notes, webhooks).
func loadV1SpecPaths(t *testing.T) map[string]map[string]specOperation {
	t.Helper()
	return loadSpec(t, spec.V1, v1Prefix)
}

func loadSpec(t *testing.T, doc []byte, prefix string) map[string]map[string]specOperation {
	t.Helper()
	var d struct {
		Servers []struct {
			URL string `yaml:"url"`
		} `yaml:"servers"`
		Paths map[string]map[string]specOperation `yaml:"paths"`
	}
	if err := yaml.Unmarshal(doc, &d); err != nil {
		t.Fatalf("parsing spec: %v", err)
	}
	if len(d.Servers) == 0 || !strings.HasSuffix(d.Servers[0].URL, prefix) {
		t.Fatalf("spec server URL %v does not end in %s: paths in the cost table would be wrong", d.Servers, prefix)
	}
	return d.Paths
}

// specPaths returns the paths of the spec op belongs to (v1 or v2).
func specPaths(t *testing.T, op operation) map[string]map[string]specOperation {
	t.Helper()
	if op.v1 {
		return loadV1SpecPaths(t)
	}
	return loadSpecPaths(t)
}

// TestCostTableMatchesSpec checks every entry of the token-cost table
// against the official spec's x-token-cost for the same method and path:
// v2 operations against openapi-v2.yaml, v1 ones (notes, webhooks) against
// openapi-v1-subset.yaml.
func TestCostTableMatchesSpec(t *testing.T) {
	seen := map[string]bool{}
	for _, op := range operations {
		if seen[op.ID] {
			t.Errorf("operation %s listed twice", op.ID)
		}
		seen[op.ID] = true
		paths := specPaths(t, op)
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
		so := specPaths(t, op)[op.Path][strings.ToLower(op.Method)]
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
