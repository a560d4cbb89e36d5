package main

// The demo's deliveries: events/ read, their times shifted to now, and
// each replayed the way its provider delivers it.

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/stagemover/stagemover"
	"github.com/stagemover/stagemover/shared/dev/local"
	"github.com/stagemover/stagemover/shared/source/calendly"
)

// demoScenario is one file under events/demo: deliveries to POST /signals.
type demoScenario struct {
	Title      string            `json:"title"`
	Deliveries []json.RawMessage `json:"deliveries"`
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
