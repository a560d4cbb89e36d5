package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/stagemover/stagemover"
	"github.com/stagemover/stagemover/shared/calendly"
	"github.com/stagemover/stagemover/shared/local"
	"github.com/stagemover/stagemover/shared/pipedrive/sandbox"
	"github.com/stagemover/stagemover/shared/store"
	"github.com/stagemover/stagemover/shared/webhook"
)

func init() {
	commands["demo"] = command{"replay events/ through a local system and show each deal's decision, reasons and stage", runDemo}
}

// demoVendorDomains are the demo's own company (events/demo) and the
// sample event's sender company: mail from them is the vendor side.
var demoVendorDomains = []string{"brightwave.example", "acme-routing.io"}

// sampleDealID is the deal events/ingest-generic.json refers to; the demo
// adds it to the sandbox so the sample is judged like the others.
const sampleDealID = 4217

// demoScenario is one file under events/demo: deliveries to POST /signals.
type demoScenario struct {
	Title      string            `json:"title"`
	Deliveries []json.RawMessage `json:"deliveries"`
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("demo", flag.ContinueOnError)
	fset.SetOutput(stderr)
	var f localFlags
	f.register(fset, "127.0.0.1:0")
	if err := fset.Parse(args); err != nil {
		return 2
	}
	opts := f.options(stderr)
	opts.InternalDomains = append(opts.InternalDomains, demoVendorDomains...)
	deliveries, err := demoDeliveries(time.Now())
	if err != nil {
		fmt.Fprintln(stderr, "stagemover demo:", err)
		return 1
	}
	fmt.Fprintln(stdout, "starting DynamoDB Local and the Pipedrive sandbox...")
	sys, err := local.Start(ctx, opts)
	if err != nil {
		fmt.Fprintln(stderr, "stagemover demo:", err)
		return 1
	}
	defer sys.Close()
	if sys.Sandbox != nil {
		person := sys.Sandbox.AddPerson("Dana Whitfield", "dana.whitfield@northwind-logistics.com")
		sys.Sandbox.AddDeal(sandbox.Deal{ID: sampleDealID, Title: "Northwind Logistics – route optimisation pilot", PipelineID: 1, StageID: 3, PersonID: person, Value: 48000, Currency: "USD"})
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
	before := map[int64]string{}
	deals := map[int64]bool{}
	for i, dl := range deliveries {
		var code int
		var resp []byte
		var err error
		switch dl.route {
		case "/signals":
			var env webhook.Envelope
			_ = json.Unmarshal(dl.body, &env)
			if env.DealID > 0 && !deals[env.DealID] {
				deals[env.DealID] = true
				before[env.DealID] = stageName(ctx, sys, env.DealID)
			}
			code, resp, err = postSigned(ctx, sys.URL, secret, dl.body)
		case "/webhooks/calendly":
			code, resp, err = post(ctx, sys.URL+dl.route, dl.body, map[string]string{
				"Calendly-Webhook-Signature": calendly.Sign(calendlyKey, time.Now(), dl.body)})
		}
		if err != nil || code >= 300 {
			fmt.Fprintf(stderr, "delivery %d (%s) failed: %d %s %v\n", i+1, dl.title, code, strings.TrimSpace(string(resp)), err)
			return 1
		}
	}
	if _, err := sys.Drain(ctx); err != nil {
		fmt.Fprintln(stderr, "stagemover demo: stream delivery:", err)
		return 1
	}

	ids := make([]int64, 0, len(deals))
	for id := range deals {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		printDeal(ctx, stdout, sys, id, before[id])
	}
	u := sys.Pipedrive.Usage()
	fmt.Fprintf(stdout, "\nPipedrive: %d requests, %d token units; failure queue: %d records\n", u.Requests, u.TokenCost, sys.Failures.Len())
	return 0
}

// delivery is one request the demo replays.
type delivery struct {
	route string // /signals or /webhooks/calendly
	title string
	body  []byte
}

// demoDeliveries reads events/ingest-generic.json's body, events/demo/*.json
// and the Calendly samples (a booking and its cancellation), shifting each
// scenario's times so its newest event happened an hour ago.
func demoDeliveries(now time.Time) ([]delivery, error) {
	var out []delivery
	sample := func(file string) (json.RawMessage, error) {
		raw, err := fs.ReadFile(stagemover.Events, file)
		if err != nil {
			return nil, err
		}
		var ev struct{ Body string }
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		return json.RawMessage(ev.Body), nil
	}
	body, err := sample("events/ingest-generic.json")
	if err != nil {
		return nil, err
	}
	b, err := shiftTimes([]json.RawMessage{body}, now, signalAt)
	if err != nil {
		return nil, err
	}
	out = append(out, delivery{"/signals", "ingest-generic sample: a buyer email thread", b[0]})

	files, err := fs.Glob(stagemover.Events, "events/demo/*.json")
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	for _, file := range files {
		raw, err := fs.ReadFile(stagemover.Events, file)
		if err != nil {
			return nil, err
		}
		var sc demoScenario
		if err := json.Unmarshal(raw, &sc); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		b, err := shiftTimes(sc.Deliveries, now, signalAt)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		for _, body := range b {
			out = append(out, delivery{"/signals", path.Base(file) + ": " + sc.Title, body})
		}
	}

	var cal []json.RawMessage
	for _, file := range []string{"events/ingest-calendly-created.json", "events/ingest-calendly-canceled.json"} {
		body, err := sample(file)
		if err != nil {
			return nil, err
		}
		cal = append(cal, body)
	}
	if b, err = shiftTimes(cal, now, calendlyAt); err != nil {
		return nil, err
	}
	out = append(out, delivery{"/webhooks/calendly", "Calendly: the buyer books a meeting", b[0]},
		delivery{"/webhooks/calendly", "Calendly: ...and cancels it", b[1]})
	return out, nil
}

// shiftTimes moves every RFC 3339 time in the deliveries by one offset, so
// the newest event (per eventTime) happened an hour before now and meetings
// keep their dates relative to it.
func shiftTimes(deliveries []json.RawMessage, now time.Time, eventTime func(map[string]any) string) ([][]byte, error) {
	docs := make([]map[string]any, len(deliveries))
	var newest time.Time
	for i, d := range deliveries {
		if err := json.Unmarshal(d, &docs[i]); err != nil {
			return nil, err
		}
		if t, err := time.Parse(time.RFC3339, eventTime(docs[i])); err == nil && t.After(newest) {
			newest = t
		}
	}
	offset := time.Duration(0)
	if !newest.IsZero() {
		offset = now.Add(-time.Hour).Sub(newest).Truncate(time.Second)
	}
	out := make([][]byte, len(docs))
	for i, d := range docs {
		b, err := json.Marshal(shiftAll(d, offset))
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

// shiftAll walks a JSON document and moves every time string by offset.
func shiftAll(v any, offset time.Duration) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = shiftAll(e, offset)
		}
	case []any:
		for i, e := range x {
			x[i] = shiftAll(e, offset)
		}
	case string:
		if t, err := time.Parse(time.RFC3339Nano, x); err == nil && len(x) >= len("2006-01-02T15:04:05Z") {
			return t.Add(offset).UTC().Format(time.RFC3339)
		}
	}
	return v
}

// signalAt and calendlyAt name each route's event time.
func signalAt(d map[string]any) string {
	sig, _ := d["signal"].(map[string]any)
	return fmt.Sprint(sig["at"])
}

func calendlyAt(d map[string]any) string { return fmt.Sprint(d["created_at"]) }

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
		fmt.Fprintf(w, "  decision after %s: %s", d.EventID, verdict)
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

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
