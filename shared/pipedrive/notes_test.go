package pipedrive

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stagemover/stagemover/shared/pipedrive/pipedrivetest"
)

// TestWriteCostsMatchSpecs checks the note (v1) and activity (v2)
// operations against the specs' x-token-cost.
func TestWriteCostsMatchSpecs(t *testing.T) {
	v1 := loadV1SpecPaths(t)
	v2 := loadSpecPaths(t)
	for _, tc := range []struct {
		op    operation
		paths map[string]map[string]specOperation
	}{{opAddNote, v1}, {opAddActivity, v2}, {opGetWebhooks, v1}, {opAddWebhook, v1}, {opDeleteWebhook, v1}} {
		so, ok := tc.paths[tc.op.Path][strings.ToLower(tc.op.Method)]
		if !ok || so.OperationID != tc.op.ID || so.TokenCost == nil || *so.TokenCost != tc.op.Cost {
			t.Errorf("%s %s: spec has %+v, table says %s cost %d", tc.op.Method, tc.op.Path, so, tc.op.ID, tc.op.Cost)
		}
	}
}

func TestAddNoteAndActivityAgainstSandbox(t *testing.T) {
	srv, err := pipedrivetest.Start(pipedrivetest.Options{Token: "tok-notes-123"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	deal := srv.AddDeal(pipedrivetest.Deal{Title: "Acme", OwnerID: 55})
	c, err := New(Config{BaseURL: srv.URL() + "/api/v2", Token: StaticToken("tok-notes-123")})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	n, err := c.AddNote(ctx, NewNote{DealID: deal, Content: "<p>why</p>"})
	if err != nil || n.ID == 0 || n.DealID != deal {
		t.Fatalf("AddNote: %+v %v", n, err)
	}
	a, err := c.AddActivity(ctx, NewActivity{DealID: deal, Subject: "Follow up", Type: "task", OwnerID: 55, DueDate: "2026-03-06"})
	if err != nil || a.ID == 0 || a.OwnerID != 55 || a.DueDate != "2026-03-06" {
		t.Fatalf("AddActivity: %+v %v", a, err)
	}
	if _, err := c.AddNote(ctx, NewNote{DealID: 9999, Content: "x"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("note on a missing deal: %v", err)
	}
	// 429 is retried (nothing was created); a 5xx is not (it may have been).
	srv.InjectFault(pipedrivetest.Fault{Method: "POST", PathPrefix: "/v1/notes", Status: 429, Times: 1})
	if _, err := c.AddNote(ctx, NewNote{DealID: deal, Content: "again"}); err != nil {
		t.Errorf("after one 429: %v", err)
	}
	srv.InjectFault(pipedrivetest.Fault{Method: "POST", PathPrefix: "/v1/notes", Status: 503, Times: 1})
	if _, err := c.AddNote(ctx, NewNote{DealID: deal, Content: "once"}); !errors.Is(err, ErrServer) {
		t.Errorf("503: %v", err)
	}
	u := c.Usage()
	if got := u.ByOperation["addNote"]; got.Requests != 5 || got.Retries != 1 || got.Refused != 1 || got.TokenCost != 4*opAddNote.Cost {
		t.Errorf("addNote usage %+v", got)
	}
	if got := u.ByOperation["addActivity"]; got.Requests != 1 || got.TokenCost != opAddActivity.Cost {
		t.Errorf("addActivity usage %+v", got)
	}
	if len(srv.Notes(deal)) != 2 {
		t.Errorf("notes %d", len(srv.Notes(deal)))
	}
	if v := srv.ValidationErrors(); len(v) > 0 {
		t.Errorf("validation errors %v", v)
	}
}
