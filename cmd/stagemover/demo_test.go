package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// demoBlock returns the output block of one deal ("deal ID title" up to the
// next blank line).
func demoBlock(t *testing.T, out, header string) string {
	t.Helper()
	i := strings.Index(out, "\n"+header)
	if i < 0 {
		t.Fatalf("demo output lists no %q:\n%s", header, out)
	}
	block := out[i+1:]
	if j := strings.Index(block, "\n\n"); j >= 0 {
		block = block[:j]
	}
	return block
}

// TestDemoReplaysEveryProvider: the demo runs with no accounts, and its
// output shows the deals each provider's event reached (found from the
// buyer's email address for Outlook, Gmail and Calendly) with their
// decisions and reasons.
func TestDemoReplaysEveryProvider(t *testing.T) {
	for _, v := range []string{"PIPEDRIVE_BASE_URL", "PIPEDRIVE_API_TOKEN", "INTERNAL_DOMAINS"} {
		t.Setenv(v, "")
	}
	// Unset, not empty: an empty key variable is refused (TestLocalRefusesUnusableKeys).
	for _, v := range []string{"STAGEMOVER_INGEST_SECRET", "CALENDLY_SIGNING_KEY"} {
		unsetenv(t, v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	if code := runDemo(ctx, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("demo exited %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, c := range []struct{ deal, want string }{
		// Outlook: the buyer's reply to the proposal, through Graph
		{"deal 2 Globex – fleet telematics", "[graph] msg:CAJ9kRt7Vb2m=Qx8pLw4eHd1sYc6n@mail.globex.example: move to Negotiations Started (rule negotiation-price)"},
		{"deal 2 Globex – fleet telematics", "stage: Contact Made -> Negotiations Started"},
		// Gmail: the buyer books again after the cancellation
		{"deal 7 Globex – EU expansion add-on", "[gmail] "},
		{"deal 7 Globex – EU expansion add-on", ": move to Demo Scheduled (rule meeting-booked)"},
		{"deal 7 Globex – EU expansion add-on", "stage: Qualified -> Demo Scheduled"},
		// Calendly: a booking and its cancellation
		{"deal 4217 Northwind Logistics", "[calendly] scheduled_events/b7f3c2d1-4e5a-4f68-9a0b-3c2d1e4f5a6b/invitees/0e9d8c7b-6a5f-4e3d-8c2b-1a0f9e8d7c6b:invitee.created"},
		{"deal 4217 Northwind Logistics", ":invitee.canceled"},
	} {
		if block := demoBlock(t, out, c.deal); !strings.Contains(block, c.want) {
			t.Errorf("%s: no %q in\n%s", c.deal, c.want, block)
		}
	}
	for _, want := range []string{
		"POST /webhooks/graph 202", "POST /gmail/push 202", "POST /webhooks/calendly 202",
		"failure queue: 0 records",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	// People's corrections come back through POST /pipedrive and show in
	// the report: one revert (of deal 1's meeting-booked move) and one miss.
	report := out[strings.Index(out, "\nreport ")+1:]
	rows := map[string][]string{}
	for _, l := range strings.Split(report, "\n") {
		if f := strings.Fields(l); len(f) >= 6 {
			rows[f[0]+" "+f[1]] = f
		}
	}
	// PIPELINE RULE MOVES REVERTS RATE MISSES
	if f := rows["Sales meeting-booked"]; len(f) < 6 || f[3] != "1" {
		t.Errorf("report row for meeting-booked: %v, want 1 revert", f)
	}
	if f := rows["Sales stage-request"]; len(f) < 6 || f[5] != "1" {
		t.Errorf("report row for stage-request: %v, want 1 miss", f)
	}
	if f := rows["all all"]; len(f) < 6 || f[3] != "1" || f[5] != "1" {
		t.Errorf("report total: %v, want 1 revert and 1 miss", f)
	}
	if !strings.Contains(out, "(0 failed attempts)") {
		t.Errorf("webhook deliveries to POST /pipedrive failed")
	}
	if t.Failed() {
		t.Logf("demo output:\n%s", out)
	}
}
