package pipedrive

// operation describes one Pipedrive API v2 operation the client calls.
//
// ID is the spec's operationId, Path the spec path relative to the v2
// server URL (https://api.pipedrive.com/api/v2), Cost the spec's
// x-token-cost. The table is checked against
// the embedded v2 spec (shared/pipedrive/spec) by TestCostTableMatchesSpec; the
// spec is never read at run time.
type operation struct {
	ID     string
	Method string
	Path   string
	Cost   int
	// bucket names the burst-limit window the operation counts against.
	// Search endpoints have their own, smaller burst limit.
	bucket string
}

const (
	bucketAPI    = "api"
	bucketSearch = "search"
)

// apiPrefix is prepended to Path to build request URLs.
const apiPrefix = "/api/v2"

var (
	opGetDeal       = operation{ID: "getDeal", Method: "GET", Path: "/deals/{id}", Cost: 1, bucket: bucketAPI}
	opUpdateDeal    = operation{ID: "updateDeal", Method: "PATCH", Path: "/deals/{id}", Cost: 5, bucket: bucketAPI}
	opGetDeals      = operation{ID: "getDeals", Method: "GET", Path: "/deals", Cost: 10, bucket: bucketAPI}
	opGetPipelines  = operation{ID: "getPipelines", Method: "GET", Path: "/pipelines", Cost: 5, bucket: bucketAPI}
	opGetStages     = operation{ID: "getStages", Method: "GET", Path: "/stages", Cost: 5, bucket: bucketAPI}
	opSearchPersons = operation{ID: "searchPersons", Method: "GET", Path: "/persons/search", Cost: 20, bucket: bucketSearch}
	opSearchOrgs    = operation{ID: "searchOrganization", Method: "GET", Path: "/organizations/search", Cost: 20, bucket: bucketSearch}
	opGetOrg        = operation{ID: "getOrganization", Method: "GET", Path: "/organizations/{id}", Cost: 1, bucket: bucketAPI}
)

// operations lists every operation the client uses (the token-cost table).
var operations = []operation{
	opGetDeal,
	opUpdateDeal,
	opGetDeals,
	opGetPipelines,
	opGetStages,
	opSearchPersons,
	opSearchOrgs,
	opGetOrg,
}

// TokenCost returns the x-token-cost of a spec operationId used by this
// client, and false for operations the client does not call.
func TokenCost(operationID string) (int, bool) {
	for _, op := range operations {
		if op.ID == operationID {
			return op.Cost, true
		}
	}
	return 0, false
}
