package pipedrivetest

// The API operations' dispatch and the helpers the handlers share; each
// resource's handlers sit with its state (deals.go, stages.go, persons.go,
// orgs.go, notes.go, webhooks.go).

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

var (
	errNotFound = func() *apiError {
		// Pipedrive's documented 404 answer (openapi-v2.yaml examples).
		return &apiError{Status: http.StatusNotFound, Error: "Entity was not found", Info: "Object was not found."}
	}
	infoDocs = "Please check developers.pipedrive.com for more information about Pipedrive API."
)

func badRequest(msg string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Error: msg, Info: infoDocs}
}

func (s *Sandbox) dispatch(c *call) *response {
	op := c.route.Operation.OperationID
	var (
		resp *response
		aerr *apiError
	)
	switch op {
	// v2
	case "getDeal":
		resp, aerr = s.opGetDeal(c)
	case "updateDeal":
		resp, aerr = s.opUpdateDeal(c)
	case "getDeals":
		resp, aerr = s.opListDeals(c, false)
	case "getArchivedDeals":
		resp, aerr = s.opListDeals(c, true)
	case "getStages":
		resp, aerr = s.opListStages(c)
	case "getStage":
		resp, aerr = s.opGetStage(c)
	case "getPipelines":
		resp, aerr = s.opListPipelines(c)
	case "getPipeline":
		resp, aerr = s.opGetPipeline(c)
	case "searchPersons":
		resp, aerr = s.opSearchPersons(c)
	case "searchOrganization":
		resp, aerr = s.opSearchOrganizations(c)
	case "getOrganization":
		resp, aerr = s.opGetOrganization(c)
	case "addActivity":
		resp, aerr = s.opAddActivity(c)
	// v1
	case "getWebhooks":
		resp, aerr = s.opListWebhooks(c)
	case "addWebhook":
		resp, aerr = s.opAddWebhook(c)
	case "deleteWebhook":
		resp, aerr = s.opDeleteWebhook(c)
	case "addNote":
		resp, aerr = s.opAddNote(c)
	default:
		s.log.Warn("operation not implemented by the sandbox", "operation", op, "method", c.r.Method, "path", c.r.URL.Path)
		aerr = &apiError{Status: http.StatusNotImplemented, Error: "Not implemented in the Pipedrive sandbox: " + op,
			Info: "The sandbox implements deals, stages, pipelines, persons search, organization search and details, adding activities (v2), webhooks and adding notes (v1)."}
	}
	if aerr != nil {
		return errorResponse(aerr)
	}
	return resp
}

func ok(data any, additional any) *response {
	body := map[string]any{"success": true, "data": data}
	if additional != nil {
		body["additional_data"] = additional
	}
	return jsonResponse(http.StatusOK, body)
}

func pathID(c *call) (int64, *apiError) {
	id, err := strconv.ParseInt(c.params["id"], 10, 64)
	if err != nil || id <= 0 {
		return 0, badRequest("Invalid id")
	}
	return id, nil
}

func fmtTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return fmtTime(t)
}

func queryInt(q url.Values, name string) (int64, bool, *apiError) {
	v := q.Get(name)
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, false, badRequest(fmt.Sprintf("%s must be an integer", name))
	}
	return n, true, nil
}

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func additional(next string) map[string]any {
	// next_cursor is declared as a non-nullable string in the spec, so it is
	// omitted on the last page (Pipedrive sends null there).
	if next == "" {
		return map[string]any{}
	}
	return map[string]any{"next_cursor": next}
}
