package pipedrive

// operation describes one Pipedrive API operation the client calls.
//
// ID is the spec's operationId, Path the spec path relative to the server
// URL (v2: https://api.pipedrive.com/api/v2; v1: https://api.pipedrive.com/v1),
// Cost the spec's x-token-cost. The table is checked against the embedded
// specs (shared/pipedrive/spec) by TestCostTableMatchesSpec; the specs are
// never read at run time.
type operation struct {
	ID     string
	Method string
	Path   string
	Cost   int
	// bucket names the burst-limit window the operation counts against.
	// Search endpoints have their own, smaller burst limit.
	bucket string
	// v1 marks the endpoints v2 does not have (notes, webhooks): Path is
	// relative to the v1 server. Both go through the same request loop.
	v1 bool
}

// prefix is the server path Path is relative to.
func (op operation) prefix() string {
	if op.v1 {
		return v1Prefix
	}
	return apiPrefix
}

const (
	bucketAPI    = "api"
	bucketSearch = "search"
)

// apiPrefix is prepended to a v2 operation's Path to build request URLs.
const apiPrefix = "/api/v2"

// v1Prefix is the path of Pipedrive's v1 API (servers:
// https://api.pipedrive.com/v1), prepended to a v1 operation's Path.
const v1Prefix = "/v1"

var (
	opGetDeal       = operation{ID: "getDeal", Method: "GET", Path: "/deals/{id}", Cost: 1, bucket: bucketAPI}
	opUpdateDeal    = operation{ID: "updateDeal", Method: "PATCH", Path: "/deals/{id}", Cost: 5, bucket: bucketAPI}
	opGetDeals      = operation{ID: "getDeals", Method: "GET", Path: "/deals", Cost: 10, bucket: bucketAPI}
	opGetPipelines  = operation{ID: "getPipelines", Method: "GET", Path: "/pipelines", Cost: 5, bucket: bucketAPI}
	opGetStages     = operation{ID: "getStages", Method: "GET", Path: "/stages", Cost: 5, bucket: bucketAPI}
	opSearchPersons = operation{ID: "searchPersons", Method: "GET", Path: "/persons/search", Cost: 20, bucket: bucketSearch}
	opSearchOrgs    = operation{ID: "searchOrganization", Method: "GET", Path: "/organizations/search", Cost: 20, bucket: bucketSearch}
	opGetOrg        = operation{ID: "getOrganization", Method: "GET", Path: "/organizations/{id}", Cost: 1, bucket: bucketAPI}
	// POST /api/v2/activities: the current v1 spec no longer has POST
	// /v1/activities; the v2 body names the assignee owner_id, not user_id.
	opAddActivity = operation{ID: "addActivity", Method: "POST", Path: "/activities", Cost: 5, bucket: bucketAPI}

	// v1 only (openapi-v1-subset.yaml): v2 has no notes or webhooks.
	opAddNote       = operation{ID: "addNote", Method: "POST", Path: "/notes", Cost: 10, bucket: bucketAPI, v1: true}
	opGetWebhooks   = operation{ID: "getWebhooks", Method: "GET", Path: "/webhooks", Cost: 10, bucket: bucketAPI, v1: true}
	opAddWebhook    = operation{ID: "addWebhook", Method: "POST", Path: "/webhooks", Cost: 10, bucket: bucketAPI, v1: true}
	opDeleteWebhook = operation{ID: "deleteWebhook", Method: "DELETE", Path: "/webhooks/{id}", Cost: 6, bucket: bucketAPI, v1: true}
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
	opAddActivity,
	opAddNote,
	opGetWebhooks,
	opAddWebhook,
	opDeleteWebhook,
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
