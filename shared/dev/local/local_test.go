package local_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stagemover/stagemover"
	"github.com/stagemover/stagemover/shared/dev/local"
	"github.com/stagemover/stagemover/shared/pipedrive/pipedrivetest"
	"github.com/stagemover/stagemover/shared/source/calendly"
	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/store"
	"github.com/stagemover/stagemover/shared/testkit"
)

const vendor = "vendor.example"

func start(t *testing.T) (*local.System, *testkit.LogBuffer) {
	t.Helper()
	logs := &testkit.LogBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sys, err := local.Start(ctx, local.Options{
		Addr:            "127.0.0.1:0",
		InternalDomains: []string{vendor},
		Log:             logs.LoggerAt(slog.LevelInfo),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sys.Close)
	return sys, logs
}

func post(t *testing.T, sys *local.System, env map[string]any) int {
	t.Helper()
	body, _ := json.Marshal(env)
	ts, sig := ingest.Sign([]byte(local.DevIngestSecret), time.Now(), body)
	req, _ := http.NewRequest(http.MethodPost, sys.URL+"/signals", bytes.NewReader(body))
	req.Header.Set(ingest.HeaderTimestamp, ts)
	req.Header.Set(ingest.HeaderSignature, sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func drain(t *testing.T, sys *local.System) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := sys.Drain(ctx); err != nil {
		t.Fatal(err)
	}
}

func stageOf(t *testing.T, sys *local.System, dealID int64) (int64, string) {
	t.Helper()
	d, ok := sys.Sandbox.Deal(dealID)
	if !ok {
		t.Fatalf("deal %d missing", dealID)
	}
	return d.StageID, d.Status
}

func TestEndToEndFromSignedWebhookToStageMove(t *testing.T) {
	sys, logs := start(t)
	sb := sys.Sandbox
	now := time.Now().UTC()
	at := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }

	personID := sb.AddPerson("Jane Buyer", "jane@acme.example")
	proposalDeal := sb.AddDeal(pipedrivetest.Deal{Title: "Acme - proposal", PipelineID: 1, StageID: 2, Status: "open", PersonID: personID})
	autoReplyDeal := sb.AddDeal(pipedrivetest.Deal{Title: "Globex - out of office", PipelineID: 1, StageID: 2, Status: "open"})
	signedDeal := sb.AddDeal(pipedrivetest.Deal{Title: "Initech - signed", PipelineID: 1, StageID: 4, Status: "open"})
	requestDeal := sb.AddDeal(pipedrivetest.Deal{Title: "Umbrella - form", PipelineID: 1, StageID: 1, Status: "open"})
	backwardsDeal := sb.AddDeal(pipedrivetest.Deal{Title: "Hooli - late form", PipelineID: 1, StageID: 5, Status: "open"})

	proposal := map[string]any{"event_id": "doc-1", "deal_id": proposalDeal, "signal": map[string]any{
		"kind": "document", "at": at(-2 * time.Hour), "action": "sent", "doc_type": "proposal",
		"name": "Acme proposal", "actor": "rep@" + vendor}}
	deliveries := []map[string]any{
		proposal,
		proposal, // a redelivery
		{"event_id": "mail-ooo", "deal_id": autoReplyDeal, "signal": map[string]any{
			"kind": "email", "at": at(-time.Hour), "from": "max@globex.example", "to": []string{"rep@" + vendor},
			"subject": "Automatic reply: Pricing for your team",
			"body":    "I am out of the office until Monday with limited access to email.",
			"headers": map[string]string{"Auto-Submitted": "auto-replied"}}},
		{"event_id": "sign-1", "deal_id": signedDeal, "signal": map[string]any{
			"kind": "document", "at": at(-time.Hour), "action": "completed", "doc_type": "contract",
			"name": "Order form", "actor": "cfo@initech.example", "session": "s-9"}},
		{"event_id": "form-1", "deal_id": requestDeal, "signal": map[string]any{"kind": "stage_request", "stage": "Demo Scheduled"}},
		{"event_id": "form-2", "deal_id": backwardsDeal, "signal": map[string]any{"kind": "stage_request", "stage": "Contact Made"}},
	}
	codes := make([]int, len(deliveries))
	for i, d := range deliveries {
		codes[i] = post(t, sys, d)
	}
	if fmt.Sprint(codes) != "[202 200 202 202 202 202]" {
		t.Fatalf("status codes = %v", codes)
	}
	drain(t, sys)

	if st, _ := stageOf(t, sys, proposalDeal); st != 4 {
		t.Errorf("proposal deal at stage %d, want 4 (Proposal Made)", st)
	}
	if st, _ := stageOf(t, sys, autoReplyDeal); st != 2 {
		t.Errorf("an auto-reply moved a deal to stage %d", st)
	}
	if _, status := stageOf(t, sys, signedDeal); status != "won" {
		t.Errorf("buyer-signed deal status = %s, want won", status)
	}
	if st, _ := stageOf(t, sys, requestDeal); st != 3 {
		t.Errorf("stage request deal at stage %d, want 3 (Demo Scheduled)", st)
	}
	if st, _ := stageOf(t, sys, backwardsDeal); st != 5 {
		t.Errorf("a stage request moved a deal backwards to %d", st)
	}
	for _, id := range []int64{proposalDeal, signedDeal, requestDeal} {
		if n := sb.Count(http.MethodPatch, fmt.Sprintf("/api/v2/deals/%d", id)); n != 1 {
			t.Errorf("deal %d patched %d times, want 1", id, n)
		}
	}
	for _, id := range []int64{autoReplyDeal, backwardsDeal} {
		if n := sb.Count(http.MethodPatch, fmt.Sprintf("/api/v2/deals/%d", id)); n != 0 {
			t.Errorf("deal %d patched %d times, want 0", id, n)
		}
	}

	ctx := context.Background()
	decisions, err := sys.Store.DecisionsForDeal(ctx, proposalDeal)
	if err != nil || len(decisions) != 1 {
		t.Fatalf("proposal deal decisions = %d, %v; want exactly 1 (the redelivery adds nothing)", len(decisions), err)
	}
	d := decisions[0]
	if d.Action != store.ActionMove || d.State != store.StateDone || len(d.Reasons) == 0 || d.Rule == "" {
		t.Fatalf("decision = %+v, want a done move with reasons and a rule", d)
	}
	stay, err := sys.Store.DecisionsForDeal(ctx, autoReplyDeal)
	if err != nil || len(stay) != 1 || stay[0].Action != store.ActionStay {
		t.Fatalf("auto-reply decisions = %+v, %v; want one stay", stay, err)
	}
	if sys.Failures.Len() != 0 {
		t.Fatalf("failure queue holds %d records", sys.Failures.Len())
	}
	if errs := sb.ValidationErrors(); len(errs) != 0 {
		t.Fatalf("requests off the OpenAPI spec: %v", errs)
	}
	if strings.Contains(logs.String(), sb.Token()) {
		t.Fatal("the Pipedrive token appeared in the logs")
	}
}

func TestPersonEmailResolvesToTheSingleOpenDeal(t *testing.T) {
	sys, _ := start(t)
	sb := sys.Sandbox
	now := time.Now().UTC()
	one := sb.AddPerson("Ola Single", "ola@single.example")
	oneDeal := sb.AddDeal(pipedrivetest.Deal{Title: "Single", PipelineID: 1, StageID: 2, Status: "open", PersonID: one})
	two := sb.AddPerson("Tia Twice", "tia@twice.example")
	twiceA := sb.AddDeal(pipedrivetest.Deal{Title: "Twice A", PipelineID: 1, StageID: 2, Status: "open", PersonID: two})
	twiceB := sb.AddDeal(pipedrivetest.Deal{Title: "Twice B", PipelineID: 1, StageID: 2, Status: "open", PersonID: two})

	for i, email := range []string{"ola@single.example", "tia@twice.example", "nobody@unknown.example"} {
		code := post(t, sys, map[string]any{"event_id": fmt.Sprintf("p-%d", i), "person_email": email, "signal": map[string]any{
			"kind": "document", "at": now.Add(-time.Hour).Format(time.RFC3339), "action": "sent", "doc_type": "quote",
			"name": "Quote", "actor": "rep@" + vendor}})
		if code != http.StatusAccepted {
			t.Fatalf("post %d: %d", i, code)
		}
	}
	drain(t, sys)
	if st, _ := stageOf(t, sys, oneDeal); st != 4 {
		t.Errorf("single open deal at stage %d, want 4", st)
	}
	for _, id := range []int64{twiceA, twiceB} {
		if st, _ := stageOf(t, sys, id); st != 2 {
			t.Errorf("with two candidates deal %d moved to %d; nothing should be guessed", id, st)
		}
		if ds, _ := sys.Store.DecisionsForDeal(context.Background(), id); len(ds) != 0 {
			t.Errorf("deal %d got a decision from an ambiguous person signal", id)
		}
	}
}

func TestCalendlyRouteStoresOnce(t *testing.T) {
	sys, _ := start(t)
	raw, err := fs.ReadFile(stagemover.Events, "events/ingest-calendly-created.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev struct{ Body string }
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	send := func(key string) int {
		req, _ := http.NewRequest(http.MethodPost, sys.URL+"/webhooks/calendly", strings.NewReader(ev.Body))
		req.Header.Set("Calendly-Webhook-Signature", calendly.Sign([]byte(key), time.Now(), []byte(ev.Body)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := []int{send("wrong-key"), send(local.DevCalendlyKey), send(local.DevCalendlyKey)}; fmt.Sprint(got) != "[401 202 200]" {
		t.Fatalf("status codes = %v, want [401 202 200]", got)
	}
}

// graphMessage is a message as Graph returns it (message resource JSON).
func graphMessage(from, to, subject, body string, at time.Time) []byte {
	b, _ := json.Marshal(map[string]any{
		"internetMessageId": fmt.Sprintf("<%d.local-test@%s>", at.UnixNano(), strings.SplitN(from, "@", 2)[1]),
		"subject":           subject,
		"isDraft":           false,
		"receivedDateTime":  at.UTC().Format(time.RFC3339),
		"sentDateTime":      at.UTC().Format(time.RFC3339),
		"body":              map[string]string{"contentType": "html", "content": "<html><body><div>" + body + "</div></body></html>"},
		"from":              map[string]any{"emailAddress": map[string]string{"address": from}},
		"sender":            map[string]any{"emailAddress": map[string]string{"address": from}},
		"toRecipients":      []any{map[string]any{"emailAddress": map[string]string{"address": to}}},
	})
	return b
}

// rawMail is an RFC 5322 message as Gmail stores it.
func rawMail(from, to, subject, body string, at time.Time) []byte {
	return []byte("From: " + from + "\r\nTo: " + to + "\r\nSubject: " + subject + "\r\nDate: " + at.Format(time.RFC1123Z) +
		"\r\nMessage-ID: <" + fmt.Sprint(at.UnixNano()) + "@local.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n" +
		body + "\r\n")
}

// oneDecision checks that a deal has exactly one decision, after a signal
// from source, that moved the deal to stage.
func oneDecision(t *testing.T, sys *local.System, dealID int64, source, stage string) {
	t.Helper()
	ctx := context.Background()
	sigs, err := sys.Store.SignalsForDeal(ctx, dealID, time.Now().Add(-24*time.Hour), 10)
	if err != nil || len(sigs) != 1 || sigs[0].Source != source || sigs[0].Signal.Kind != "email" {
		t.Fatalf("deal %d signals = %+v, %v; want one %s email", dealID, sigs, err, source)
	}
	ds, err := sys.Store.DecisionsForDeal(ctx, dealID)
	if err != nil || len(ds) != 1 {
		t.Fatalf("deal %d decisions = %+v, %v; want 1", dealID, ds, err)
	}
	d := ds[0]
	if d.SignalKey != sigs[0].Key() || d.Action != store.ActionMove || d.TargetStage != stage || d.State != store.StateDone || len(d.Reasons) == 0 {
		t.Fatalf("deal %d decision = %+v, want a done move to %s after the %s signal", dealID, d, stage, source)
	}
}

// TestOutlookAndGmailMailMoveTheBuyersDeal: a buyer's reply lands in an
// Outlook mailbox (Graph stand-in → change notification → POST
// /webhooks/graph) and another in a Gmail mailbox (Google stand-in → Pub/Sub
// push with an OIDC token → POST /gmail/push); the fetcher reads each
// through the provider's API, the evaluator resolves the sender to the
// person's one open deal, and the mover moves it.
func TestOutlookAndGmailMailMoveTheBuyersDeal(t *testing.T) {
	sys, logs := start(t)
	sb := sys.Sandbox
	ctx := context.Background()
	now := time.Now().UTC()
	olive := sb.AddPerson("Olive Outlook", "olive@oaktree.example")
	oliveDeal := sb.AddDeal(pipedrivetest.Deal{Title: "Oaktree", PipelineID: 1, StageID: 2, Status: "open", PersonID: olive})
	gus := sb.AddPerson("Gus Gmail", "gus@gannet.example")
	gusDeal := sb.AddDeal(pipedrivetest.Deal{Title: "Gannet", PipelineID: 1, StageID: 2, Status: "open", PersonID: gus})
	bystander := sb.AddDeal(pipedrivetest.Deal{Title: "Bystander", PipelineID: 1, StageID: 2, Status: "open"})
	redlines := "We went through the contract with our legal team. Attached are our redlines on the liability clause."

	// Outlook
	outlook := local.DevGraphMailbox
	id := sys.Graph.AddMessage(outlook, graphMessage("olive@oaktree.example", outlook, "RE: Contract", redlines, now.Add(-10*time.Minute)))
	codes, err := sys.Graph.Notify(ctx, outlook, "messages", id, "created")
	if err != nil || fmt.Sprint(codes) != "[202]" {
		t.Fatalf("Graph notification: %v %v", codes, err)
	}
	drain(t, sys)
	oneDecision(t, sys, oliveDeal, "graph", "Negotiations Started")
	if st, _ := stageOf(t, sys, oliveDeal); st != 5 {
		t.Errorf("Outlook buyer's deal at stage %d, want 5 (Negotiations Started)", st)
	}

	// Gmail
	gm := local.DevGmailMailbox
	at := now.Add(-5 * time.Minute)
	sys.Gmail.AddMessage(gm, rawMail("Gus Gmail <gus@gannet.example>", gm, "Re: Order form", redlines, at), at)
	if code, err := sys.PushGmail(ctx, gm); err != nil || code != http.StatusAccepted {
		t.Fatalf("Gmail push: %d %v", code, err)
	}
	drain(t, sys)
	oneDecision(t, sys, gusDeal, "gmail", "Negotiations Started")
	if st, _ := stageOf(t, sys, gusDeal); st != 5 {
		t.Errorf("Gmail buyer's deal at stage %d, want 5 (Negotiations Started)", st)
	}

	// A second push for the same history, and a push without a token, add nothing.
	if code, err := sys.PushGmail(ctx, gm); err != nil || code != http.StatusAccepted {
		t.Fatalf("second Gmail push: %d %v", code, err)
	}
	resp, err := http.Post(sys.URL+"/gmail/push", "application/json", strings.NewReader(`{"message":{"data":"e30=","messageId":"1"}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("push without a token: %d, want 401", resp.StatusCode)
	}
	drain(t, sys)
	oneDecision(t, sys, gusDeal, "gmail", "Negotiations Started")

	decided, err := sys.DecidedDeals(ctx)
	if err != nil || fmt.Sprint(decided) != fmt.Sprint([]int64{oliveDeal, gusDeal}) {
		t.Fatalf("decided deals = %v, %v; want [%d %d]", decided, err, oliveDeal, gusDeal)
	}
	if st, _ := stageOf(t, sys, bystander); st != 2 {
		t.Errorf("an unrelated deal moved to %d", st)
	}
	if sys.Failures.Len() != 0 {
		t.Fatalf("failure queue holds %d records", sys.Failures.Len())
	}
	for _, secret := range []string{local.DevGraphClientState, sys.Graph.ClientSecret, sb.Token()} {
		if strings.Contains(logs.String(), secret) {
			t.Fatalf("a secret appeared in the logs")
		}
	}
}
