package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/core/signal"
	"github.com/stagemover/stagemover/shared/dev/ddblocal"
	"github.com/stagemover/stagemover/shared/pipedrive/pipedrivetest"
	"github.com/stagemover/stagemover/shared/store"
)

// TestBackfillCommand runs `stagemover backfill` against DynamoDB Local
// (--endpoint) and the sandbox (PIPEDRIVE_BASE_URL / PIPEDRIVE_API_TOKEN):
// a dry run patches nothing, a live run stops at its budget (exit 3) and the
// same --run finishes it (exit 0) with one PATCH per qualifying deal.
func TestBackfillCommand(t *testing.T) {
	const tok = "cli-backfill-token-93b1f0"
	sb, err := pipedrivetest.Start(pipedrivetest.Options{Token: tok, BurstLimit: 200})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	tbl := ddblocal.ForTest(t)
	st := store.New(tbl.DB, tbl.Name)
	ctx := context.Background()
	var qualify []int64
	for i := 0; i < 12; i++ {
		id := sb.AddDeal(pipedrivetest.Deal{StageID: 2})
		if i%2 == 0 {
			sig := signal.Signal{Kind: signal.KindDocument, At: time.Now().Add(-time.Hour), Action: "sent", DocType: "proposal", Name: "Proposal", Actor: "rep@vendor.example"}
			if _, err := st.PutSignal(ctx, store.SignalRecord{Source: "generic", EventID: fmt.Sprint("doc-", id), DealID: id, PersonEmail: "ann@buyer.example", Signal: sig}); err != nil {
				t.Fatal(err)
			}
			qualify = append(qualify, id)
		}
	}
	for _, v := range []string{"TABLE_NAME", "RULES_FILE", "STAGEMOVER_MODE", "MOVER_CONCURRENCY"} {
		t.Setenv(v, "")
	}
	t.Setenv("PIPEDRIVE_BASE_URL", sb.URL())
	t.Setenv("INTERNAL_DOMAINS", "vendor.example")
	base := []string{"--table", tbl.Name, "--endpoint", tbl.Instance.Endpoint(), "--pipeline", "Sales"}
	run := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := dispatch(ctx, append([]string{"backfill"}, append(base, args...)...), &stdout, &stderr)
		if strings.Contains(stdout.String()+stderr.String(), tok) {
			t.Errorf("the token is in the output")
		}
		return code, stdout.String(), stderr.String()
	}

	t.Setenv("PIPEDRIVE_API_TOKEN", "")
	if code, _, stderr := run("--budget", "100"); code != 2 || !strings.Contains(stderr, "PIPEDRIVE_API_TOKEN is not set") {
		t.Fatalf("without a token: exit %d, %s", code, stderr)
	}
	t.Setenv("PIPEDRIVE_API_TOKEN", tok)
	if code, _, _ := run(); code != 2 {
		t.Fatalf("without --budget: exit %d, want 2", code)
	}

	code, out, stderr := run("--budget", "1000", "--dry-run", "--run", "cli-dry")
	if code != 0 || !strings.Contains(out, `backfill cli-dry (dry run) "Sales": scanned 12, moves 6`) {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, out, stderr)
	}
	for _, r := range sb.Requests() {
		if r.Method != http.MethodGet {
			t.Fatalf("dry run sent %s %s", r.Method, r.Path)
		}
	}

	// Stage map cached by the dry run; one page (10) + three moves (18).
	code, out, stderr = run("--budget", "28", "--run", "cli-live")
	if code != 3 || !strings.Contains(out, "stopped at the budget of 28 token units; resume with --run cli-live") || strings.Count(out, ": moved ") != 3 {
		t.Fatalf("budgeted run: exit %d\n%s\n%s", code, out, stderr)
	}
	code, out, stderr = run("--budget", "1000", "--run", "cli-live")
	if code != 0 || !strings.Contains(out, "backfill cli-live: complete") || !strings.Contains(out, `"Sales": scanned 12, moves 6`) {
		t.Fatalf("resumed run: exit %d\n%s\n%s", code, out, stderr)
	}
	for _, id := range qualify {
		if d, _ := sb.Deal(id); d.StageID != 4 {
			t.Errorf("deal %d at stage %d, want 4", id, d.StageID)
		}
		n := 0
		for _, r := range sb.Requests() {
			if r.Method == http.MethodPatch && r.Path == fmt.Sprintf("/api/v2/deals/%d", id) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("deal %d patched %d times", id, n)
		}
	}
	if n := sb.Count(http.MethodPatch, "/api/v2/deals/"); n != len(qualify) {
		t.Errorf("%d PATCHes, want %d", n, len(qualify))
	}
	if code, _, stderr := run("--budget", "100", "--run", "cli-live", "--dry-run"); code != 2 || !strings.Contains(stderr, "mismatch") {
		t.Errorf("dry run on a live run id: exit %d %s", code, stderr)
	}
}
