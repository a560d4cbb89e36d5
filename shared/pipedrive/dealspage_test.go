package pipedrive

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/stagemover/stagemover/shared/pipedrive/pipedrivetest"
)

// TestSandboxListDealsPage pages through a pipeline's open deals one page
// at a time, with the cursor carried between calls as a resumed run would.
func TestSandboxListDealsPage(t *testing.T) {
	e := startSandbox(t, pipedrivetest.Options{})
	c := e.client(sandboxToken)
	ctx := context.Background()
	other, otherStages := e.srv.AddPipeline("Partners", "Intro", "Pilot")
	var want []int64
	for i := 0; i < 7; i++ {
		want = append(want, e.srv.AddDeal(pipedrivetest.Deal{StageID: 2}))
	}
	e.srv.AddDeal(pipedrivetest.Deal{StageID: 2, Status: "won"})
	e.srv.AddDeal(pipedrivetest.Deal{StageID: otherStages[0]})
	e.srv.AddDeal(pipedrivetest.Deal{StageID: 3, IsArchived: true})

	var got []int64
	cursor, pages := "", 0
	for {
		deals, next, err := c.ListDealsPage(ctx, DealsPageQuery{PipelineID: 1, Status: StatusOpen, Cursor: cursor, Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, d := range deals {
			if d.PipelineID != 1 || d.Status != StatusOpen {
				t.Errorf("deal %+v outside the query", d)
			}
			got = append(got, d.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if pages != 3 || len(got) != len(want) {
		t.Fatalf("pages %d, deals %v, want 3 pages of %v", pages, got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("deals %v, want %v in id order", got, want)
		}
	}
	if u := c.Usage(); u.TokenCost != 30 || u.ByOperation["getDeals"].Requests != 3 {
		t.Errorf("usage %+v, want 3 getDeals at 10 tokens", u)
	}
	for _, r := range e.srv.Requests() {
		q, _ := url.ParseQuery(r.Query)
		if q.Get("pipeline_id") != "1" || q.Get("status") != "open" || q.Get("sort_by") != "id" || q.Get("sort_direction") != "asc" {
			t.Errorf("query %q", r.Query)
		}
		if strings.Contains(r.Query, sandboxToken) {
			t.Errorf("token in the query")
		}
	}
	if _, _, err := c.ListDealsPage(ctx, DealsPageQuery{Status: "closed"}); err == nil {
		t.Error("invalid status accepted")
	}
	if deals, _, err := c.ListDealsPage(ctx, DealsPageQuery{PipelineID: other, Status: StatusOpen}); err != nil || len(deals) != 1 {
		t.Errorf("other pipeline: %v %v", deals, err)
	}
}
