package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/stagemover/stagemover/shared/dev/local"
	"github.com/stagemover/stagemover/shared/pipedrive/pipedrivetest"
	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/store"
)

func init() {
	commands["demo"] = command{"replay events/ through a local system and show each deal's decision, reasons and stage", runDemo}
}

// demoVendorDomains are the demo's own company (events/demo) and the
// sample event's sender company: mail from them is the vendor side.
var demoVendorDomains = []string{"brightwave.example", "acme-routing.io"}

// The demo company's mailboxes in the provider stand-ins: one rep on
// Outlook (Microsoft Graph), one on Google Workspace (Gmail).
const (
	demoOutlookMailbox = "mara.lind@brightwave.example"
	demoGmailMailbox   = "jonas.berg@brightwave.example"
)

// sampleDealID is the deal events/ingest-generic.json refers to; the demo
// adds it to the sandbox so the sample is judged like the others.
const sampleDealID = 4217

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("demo", flag.ContinueOnError)
	fset.SetOutput(stderr)
	var f localFlags
	f.register(fset, "127.0.0.1:0")
	setUsage(fset, "stagemover demo [--addr ADDR] [--live] [--verbose]")
	if code, ok := parseFlags(fset, args, stdout, stderr); !ok {
		return code
	}
	opts, err := f.options(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "stagemover demo:", err)
		return 2
	}
	opts.InternalDomains = append(opts.InternalDomains, demoVendorDomains...)
	deliveries, err := demoDeliveries(time.Now())
	if err != nil {
		fmt.Fprintln(stderr, "stagemover demo:", err)
		return 1
	}
	fmt.Fprintln(stdout, "starting DynamoDB Local, the Pipedrive sandbox and the Outlook and Gmail stand-ins...")
	sys, err := local.Start(ctx, opts)
	if err != nil {
		fmt.Fprintln(stderr, "stagemover demo:", err)
		return 1
	}
	defer sys.Close()
	if sys.Sandbox != nil {
		person := sys.Sandbox.AddPerson("Dana Whitfield", "dana.whitfield@northwind-logistics.com")
		sys.Sandbox.AddDeal(pipedrivetest.Deal{ID: sampleDealID, Title: "Northwind Logistics – route optimisation pilot", PipelineID: 1, StageID: 3, PersonID: person, Value: 48000, Currency: "USD"})
	}

	fmt.Fprintf(stdout, "replaying %d deliveries from events/ to %s (mode %s)\n", len(deliveries), sys.URL, sys.Config.Mode)
	secret := []byte(opts.IngestSecret)
	if len(secret) == 0 {
		secret = []byte(local.DevIngestSecret)
	}
	calendlyKey := []byte(opts.CalendlyKey)
	if len(calendlyKey) == 0 {
		calendlyKey = []byte(local.DevCalendlyKey)
	}
	// Every deal's stage before the replay: deals found from a person's
	// email address are only known once the evaluator has resolved them.
	before := map[int64]string{}
	if sys.Sandbox != nil {
		for _, d := range sys.Sandbox.Deals() {
			before[d.ID] = stageName(ctx, sys, d.ID)
		}
	}
	deals := map[int64]bool{}
	drain := func() bool {
		if _, err := sys.Drain(ctx); err != nil {
			fmt.Fprintln(stderr, "stagemover demo: stream delivery:", err)
			return false
		}
		return true
	}
	for i, dl := range deliveries {
		var code int
		var resp []byte
		var err error
		switch dl.route {
		case "/signals":
			var env ingest.Envelope
			_ = json.Unmarshal(dl.body, &env)
			if env.DealID > 0 && !deals[env.DealID] {
				deals[env.DealID] = true
				if _, ok := before[env.DealID]; !ok {
					before[env.DealID] = stageName(ctx, sys, env.DealID)
				}
			}
			code, resp, err = postSigned(ctx, sys.URL, secret, dl.body)
		default:
			// A provider's delivery: first let everything before it take
			// effect, so each step sees the same deals on every run.
			if !drain() {
				return 1
			}
			code, resp, err = replayProvider(ctx, sys, dl, calendlyKey)
		}
		if err != nil || code >= 300 {
			fmt.Fprintf(stderr, "delivery %d (%s) failed: %d %s %v\n", i+1, dl.title, code, strings.TrimSpace(string(resp)), err)
			return 1
		}
		if dl.route != "/signals" {
			fmt.Fprintf(stdout, "  %s: POST %s %d\n", dl.title, dl.route, code)
			if !drain() {
				return 1
			}
		}
	}
	if !drain() {
		return 1
	}

	// Every deal that got a decision, whether the signal named it or the
	// evaluator found it from the buyer's email address.
	decided, err := sys.DecidedDeals(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "stagemover demo:", err)
		return 1
	}
	for _, id := range decided {
		deals[id] = true
	}
	ids := make([]int64, 0, len(deals))
	for id := range deals {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		b, ok := before[id]
		if !ok {
			b = "?"
		}
		printDeal(ctx, stdout, sys, id, b)
	}
	u := sys.Pipedrive.Usage()
	fmt.Fprintf(stdout, "\nPipedrive: %d requests, %d token units; failure queue: %d records\n", u.Requests, u.TokenCost, sys.Failures.Len())

	// People correct the mover in Pipedrive; the sandbox echoes their
	// changes (and every PATCH of ours) to POST /pipedrive.
	if sys.Sandbox != nil {
		if err := humanCorrections(ctx, stdout, sys, ids, secret); err != nil {
			fmt.Fprintln(stderr, "stagemover demo:", err)
			return 1
		}
	}
	rep, err := sys.Report(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "stagemover demo: report:", err)
		return 1
	}
	fmt.Fprintln(stdout, "\nreport (what `stagemover report` prints for this table):")
	if err := rep.WriteText(stdout); err != nil {
		fmt.Fprintln(stderr, "stagemover demo:", err)
		return 1
	}
	return 0
}

func stageName(ctx context.Context, sys *local.System, dealID int64) string {
	if sys.Sandbox == nil {
		return "?"
	}
	d, ok := sys.Sandbox.Deal(dealID)
	if !ok {
		return "(no such deal)"
	}
	name := fmt.Sprintf("stage %d", d.StageID)
	for _, st := range sys.Sandbox.Stages(d.PipelineID) {
		if st.ID == d.StageID {
			name = st.Name
		}
	}
	if d.Status != "open" {
		name += " (" + d.Status + ")"
	}
	return name
}

func printDeal(ctx context.Context, w io.Writer, sys *local.System, dealID int64, before string) {
	title := ""
	if sys.Sandbox != nil {
		if d, ok := sys.Sandbox.Deal(dealID); ok {
			title = d.Title
		}
	}
	fmt.Fprintf(w, "\ndeal %d %s\n  stage: %s -> %s\n", dealID, title, before, stageName(ctx, sys, dealID))
	decisions, err := sys.Store.DecisionsForDeal(ctx, dealID)
	if err != nil {
		fmt.Fprintf(w, "  (decisions unavailable: %v)\n", err)
		return
	}
	sort.Slice(decisions, func(i, j int) bool { return decisions[i].CreatedAt.Before(decisions[j].CreatedAt) })
	if len(decisions) == 0 {
		fmt.Fprintln(w, "  no decision (signal not matched to this deal)")
	}
	for _, d := range decisions {
		verdict := "stay"
		if d.Action == store.ActionMove {
			verdict = "move to " + orDash(d.TargetStage)
			if d.Status == "won" {
				verdict = "mark won"
			}
		}
		fmt.Fprintf(w, "  decision after %s%s: %s", signalSource(d.SignalKey), d.EventID, verdict)
		if d.Flag != "" {
			fmt.Fprintf(w, " [flag %s]", d.Flag)
		}
		if d.Rule != "" {
			fmt.Fprintf(w, " (rule %s)", d.Rule)
		}
		fmt.Fprintln(w)
		if d.Action == store.ActionMove {
			fmt.Fprintf(w, "    mover: %s: %s\n", d.State, d.StateReason)
		}
		for _, r := range d.Reasons {
			mark := "+"
			if !r.Counted {
				mark = "-"
			}
			fmt.Fprintf(w, "    %s %s %s", mark, r.Kind, r.Cue)
			if r.Excerpt != "" {
				fmt.Fprintf(w, ": %q", r.Excerpt)
			}
			fmt.Fprintln(w)
		}
	}
}

// signalSource is "[source] " from a signal key (SIG#source#event id).
func signalSource(key string) string {
	parts := strings.SplitN(key, "#", 3)
	if len(parts) != 3 || parts[0] != "SIG" {
		return ""
	}
	return "[" + parts[1] + "] "
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
