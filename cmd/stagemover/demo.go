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
	"github.com/stagemover/stagemover/shared/dev/local"
	"github.com/stagemover/stagemover/shared/pipedrive/pipedrivetest"
	"github.com/stagemover/stagemover/shared/source/calendly"
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

// demoPersonID is the (human) sales rep who corrects the mover in the demo.
const demoPersonID = pipedrivetest.DefaultOwnerID

// humanCorrections has a person move one deal the mover moved back to where
// it was (a revert against the move's rule) and move one deal the engine
// decided to leave forward to the stage its evidence named (a miss), then
// waits for the sandbox's webhooks to reach POST /pipedrive.
func humanCorrections(ctx context.Context, w io.Writer, sys *local.System, ids []int64, secret []byte) error {
	type stay struct {
		dealID int64
		d      store.Decision
	}
	var reverted int64
	var stays []stay
	var revert store.Decision
	for _, id := range ids {
		decisions, err := sys.Store.DecisionsForDeal(ctx, id)
		if err != nil {
			return err
		}
		deal, ok := sys.Sandbox.Deal(id)
		if !ok || deal.Status != "open" {
			continue
		}
		for _, d := range decisions {
			switch {
			case reverted == 0 && d.Action == store.ActionMove && d.State == store.StateDone && !d.Shadow &&
				d.FromStageID != 0 && d.FromStageID != d.ToStageID && deal.StageID == d.ToStageID:
				reverted, revert = id, d
			case d.Action == store.ActionStay && d.TargetStage != "":
				stays = append(stays, stay{id, d})
			}
		}
	}
	fmt.Fprintln(w, "\npeople correct the mover in Pipedrive (the sandbox echoes each change to POST /pipedrive):")
	if reverted != 0 {
		before := stageName(ctx, sys, reverted)
		if err := sys.Sandbox.MoveDealAsUser(reverted, revert.FromStageID, demoPersonID); err != nil {
			return err
		}
		fmt.Fprintf(w, "  deal %d: user %d moves it back, %s -> %s (a revert of rule %s)\n", reverted, demoPersonID, before, stageName(ctx, sys, reverted), revert.Rule)
	}
	missed := false
	for _, c := range stays {
		if c.dealID == reverted {
			continue
		}
		deal, _ := sys.Sandbox.Deal(c.dealID)
		var target int64
		forward := false
		for _, st := range sys.Sandbox.Stages(deal.PipelineID) {
			if st.ID == deal.StageID {
				forward = true // stages come in pipeline order: the target must come later
			} else if forward && strings.EqualFold(st.Name, c.d.TargetStage) {
				target = st.ID
			}
		}
		if target == 0 {
			continue
		}
		before := stageName(ctx, sys, c.dealID)
		if err := sys.Sandbox.MoveDealAsUser(c.dealID, target, demoPersonID); err != nil {
			return err
		}
		rule := c.d.Rule
		if rule == "" {
			rule = "(none)"
		}
		fmt.Fprintf(w, "  deal %d: user %d moves it forward, %s -> %s, where the engine stayed (a miss, rule %s)\n", c.dealID, demoPersonID, before, stageName(ctx, sys, c.dealID), rule)
		missed = true
		break
	}
	if !missed {
		// The engine records a stay without a stage (it names a stage only
		// to move there), so the demo's stays cannot be missed. A move
		// Pipedrive refused can: the rep then makes it by hand.
		if err := failedMoveThenByHand(ctx, w, sys, secret, missDealID, missStage); err != nil {
			return err
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := sys.WaitWebhooks(wctx); err != nil {
		return fmt.Errorf("waiting for the sandbox's webhooks: %w", err)
	}
	ok, failed := 0, 0
	for _, d := range sys.Sandbox.Deliveries() {
		if d.OK {
			ok++
		} else {
			failed++
		}
	}
	fmt.Fprintf(w, "  webhooks delivered to POST /pipedrive: %d (%d failed attempts)\n", ok, failed)
	return nil
}

// delivery is one request the demo replays.
type delivery struct {
	route string // /signals, /webhooks/calendly, /webhooks/graph or /gmail/push
	title string
	body  []byte    // the signal envelope, Calendly's webhook body, Graph's message or the raw email
	at    time.Time // the email's arrival (Gmail)
}

// replayProvider delivers one provider event the way the provider does.
// Outlook: the message lands in the rep's mailbox in the Graph stand-in,
// which sends its change notification to POST /webhooks/graph. Gmail: the
// message lands in the rep's mailbox in the Google stand-in, and a Pub/Sub
// push with a signed OIDC token goes to POST /gmail/push. Calendly: the
// webhook, signed with the subscription's key.
func replayProvider(ctx context.Context, sys *local.System, dl delivery, calendlyKey []byte) (int, []byte, error) {
	switch dl.route {
	case "/webhooks/calendly":
		return post(ctx, sys.URL+dl.route, dl.body, map[string]string{
			"Calendly-Webhook-Signature": calendly.Sign(calendlyKey, time.Now(), dl.body)})
	case "/webhooks/graph":
		id := sys.Graph.AddMessage(demoOutlookMailbox, dl.body)
		codes, err := sys.Graph.Notify(ctx, demoOutlookMailbox, "messages", id, "created")
		if err != nil || len(codes) != 1 {
			return 0, nil, fmt.Errorf("graph stand-in notified %d subscriptions: %v", len(codes), err)
		}
		return codes[0], nil, nil
	case "/gmail/push":
		sys.Gmail.AddMessage(demoGmailMailbox, dl.body, dl.at, "INBOX", "UNREAD")
		code, err := sys.PushGmail(ctx, demoGmailMailbox)
		return code, nil, err
	}
	return 0, nil, fmt.Errorf("no route %s", dl.route)
}

// demoDeliveries reads events/ingest-generic.json's body, events/demo/*.json,
// the Calendly samples (a booking and its cancellation) and the buyers'
// emails in events/demo/mail (one reaching an Outlook mailbox, one a Gmail
// mailbox), shifting each scenario's times so its newest event happened an
// hour ago; the emails arrived after all of it, 20 and 10 minutes ago.
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
	out = append(out, delivery{route: "/signals", title: "ingest-generic sample: a buyer email thread", body: b[0]})

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
			out = append(out, delivery{route: "/signals", title: path.Base(file) + ": " + sc.Title, body: body})
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
	out = append(out, delivery{route: "/webhooks/calendly", title: "Calendly: the buyer books a meeting", body: b[0]},
		delivery{route: "/webhooks/calendly", title: "Calendly: ...and cancels it", body: b[1]})

	// Outlook: James Carter (Globex) answers the proposal of 01-proposal-sent.json.
	msg, err := fs.ReadFile(stagemover.Events, "events/demo/mail/outlook-globex-reply.json")
	if err != nil {
		return nil, err
	}
	if b, err = shiftTimes([]json.RawMessage{msg}, now.Add(40*time.Minute), graphReceivedAt); err != nil {
		return nil, fmt.Errorf("events/demo/mail/outlook-globex-reply.json: %w", err)
	}
	out = append(out, delivery{route: "/webhooks/graph", title: "Outlook: Globex replies to the proposal", body: b[0]})

	// Gmail: Emily Chen (Globex EU) books again after 07-canceled-meeting.json.
	raw, err := fs.ReadFile(stagemover.Events, "events/demo/mail/gmail-globex-eu-rebook.eml")
	if err != nil {
		return nil, err
	}
	at := now.Add(-10 * time.Minute).Truncate(time.Second)
	out = append(out, delivery{route: "/gmail/push", title: "Gmail: Globex EU books a new walkthrough", body: withDate(raw, at), at: at})
	return out, nil
}

// withDate replaces a raw message's Date header.
func withDate(raw []byte, at time.Time) []byte {
	lines := strings.SplitAfter(string(raw), "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) == "" {
			break // end of the header
		}
		if strings.HasPrefix(strings.ToLower(l), "date:") {
			lines[i] = "Date: " + at.UTC().Format(time.RFC1123Z) + "\r\n"
		}
	}
	return []byte(strings.Join(lines, ""))
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

func graphReceivedAt(d map[string]any) string { return fmt.Sprint(d["receivedDateTime"]) }

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

// The deal and stage of the demo's miss: Northwind – Finland stores, at
// Demo Scheduled, asked for Proposal Made.
const (
	missDealID = 8
	missStage  = "Proposal Made"
)

// failedMoveThenByHand posts a stage request for dealID while the sandbox
// refuses its PATCH (422), so the mover records a failed move; then a person
// moves the deal to stage by hand: a miss of the failed move's rule.
func failedMoveThenByHand(ctx context.Context, w io.Writer, sys *local.System, secret []byte, dealID int64, stage string) error {
	deal, ok := sys.Sandbox.Deal(dealID)
	if !ok || deal.Status != "open" {
		return nil
	}
	var target int64
	for _, st := range sys.Sandbox.Stages(deal.PipelineID) {
		if st.Name == stage {
			target = st.ID
		}
	}
	if target == 0 {
		return nil
	}
	body, _ := json.Marshal(map[string]any{"event_id": "demo-miss-stage-request", "deal_id": dealID,
		"signal": map[string]any{"kind": "stage_request", "stage": stage, "at": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)}})
	path := fmt.Sprintf("/api/v2/deals/%d", dealID)
	sys.Sandbox.InjectFault(pipedrivetest.Fault{Method: "PATCH", PathPrefix: path, Status: 422})
	code, resp, err := postSigned(ctx, sys.URL, secret, body)
	if err == nil && code >= 300 {
		err = fmt.Errorf("POST /signals: %d %s", code, strings.TrimSpace(string(resp)))
	}
	if err == nil {
		_, err = sys.Drain(ctx)
	}
	sys.Sandbox.ClearFaults()
	if err != nil {
		return err
	}
	state, rule := "", ""
	decisions, err := sys.Store.DecisionsForDeal(ctx, dealID)
	if err != nil {
		return err
	}
	for _, d := range decisions {
		if d.EventID == "demo-miss-stage-request" {
			state, rule = d.State, d.Rule
		}
	}
	fmt.Fprintf(w, "  deal %d: a stage request for %s; Pipedrive refuses the PATCH (422, simulated): move %s\n", dealID, stage, orDash(state))
	before := stageName(ctx, sys, dealID)
	if err := sys.Sandbox.MoveDealAsUser(dealID, target, demoPersonID); err != nil {
		return err
	}
	fmt.Fprintf(w, "  deal %d: user %d moves it forward by hand, %s -> %s (a miss of rule %s)\n", dealID, demoPersonID, before, stageName(ctx, sys, dealID), orDash(rule))
	return nil
}
