package pipedrivetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestFaults(t *testing.T) {
	srv := start(t, Options{})
	id := srv.AddDeal(Deal{StageID: 1})
	path := fmt.Sprintf("/api/v2/deals/%d", id)

	t.Run("5xx Times", func(t *testing.T) {
		srv.InjectFault(Fault{Method: "PATCH", PathPrefix: "/api/v2/deals/", Status: 503, Times: 2})
		defer srv.ClearFaults()
		var got []int
		for i := 0; i < 3; i++ {
			got = append(got, doReq(t, srv, "PATCH", path, map[string]any{"stage_id": 2}).status)
		}
		if fmt.Sprint(got) != "[503 503 200]" {
			t.Errorf("statuses %v", got)
		}
		if doReq(t, srv, "GET", path, nil).status != 200 {
			t.Error("GET should not be faulted")
		}
	})
	t.Run("ApplyBeforeDelay applies the change, answer lost", func(t *testing.T) {
		srv.InjectFault(Fault{Method: "PATCH", PathPrefix: path, Delay: 5 * time.Second, ApplyBeforeDelay: true, Times: 1})
		defer srv.ClearFaults()
		srv.ResetRequests()
		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
		defer cancel()
		startT := time.Now()
		r := callCtx(t, ctx, srv, "PATCH", path, map[string]any{"stage_id": 4})
		if r.status != -1 {
			t.Fatalf("expected a client timeout, got %d", r.status)
		}
		if time.Since(startT) > 2*time.Second {
			t.Errorf("took too long")
		}
		if d, _ := srv.Deal(id); d.StageID != 4 {
			t.Errorf("change not applied: stage %d", d.StageID)
		}
		waitFor(t, func() bool { return srv.Count("PATCH", path) == 1 })
		if rq := srv.Requests(); rq[0].Status != 499 {
			t.Errorf("logged status %d", rq[0].Status)
		}
	})
	t.Run("Delay without apply does not write", func(t *testing.T) {
		srv.InjectFault(Fault{Method: "PATCH", Delay: 5 * time.Second, Times: 1})
		defer srv.ClearFaults()
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		callCtx(t, ctx, srv, "PATCH", path, map[string]any{"stage_id": 1})
		time.Sleep(50 * time.Millisecond)
		if d, _ := srv.Deal(id); d.StageID != 4 {
			t.Errorf("change applied despite stall: stage %d", d.StageID)
		}
	})
	t.Run("ApplyBeforeDelay with status answers 502 after the write", func(t *testing.T) {
		srv.InjectFault(Fault{Method: "PATCH", Status: 502, ApplyBeforeDelay: true, Times: 1})
		defer srv.ClearFaults()
		r := doReq(t, srv, "PATCH", path, map[string]any{"stage_id": 5})
		if d, _ := srv.Deal(id); r.status != 502 || d.StageID != 5 {
			t.Errorf("status %d stage %d", r.status, d.StageID)
		}
	})
	t.Run("403 HTML", func(t *testing.T) {
		srv.InjectFault(Fault{Status: 403, HTMLBody: true, Times: 1})
		defer srv.ClearFaults()
		r := doReq(t, srv, "GET", path, nil)
		if r.status != 403 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
			t.Errorf("%d %s", r.status, r.header.Get("Content-Type"))
		}
	})
	noValidationErrors(t, srv)
}
