package intent_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/core/intent"
	"github.com/stagemover/stagemover/shared/core/signal"
)

// benchInput is a realistic deal: buyer and rep emails of 1-3 KB with
// quoted history and signatures, a meeting, document events and a call.
func benchInput() intent.Input {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	quoted := func(n int) string {
		var b strings.Builder
		for k := 0; k < n; k++ {
			fmt.Fprintf(&b, "\n\nOn Mon, %d Mar 2026 at 09:%02d, Rep Name <rep@vendor.example> wrote:\n", k+1, k)
			b.WriteString("> Hi Jane,\n> Thanks for the time on the call. As discussed, we can offer a discount for a three-year term,\n")
			b.WriteString("> net 30 payment terms and our standard SLA. Our legal team can turn around redlines within 48 hours.\n")
			b.WriteString("> Would Tuesday at 2pm work to walk your procurement team through the order form?\n> Best,\n> Rep\n")
		}
		return b.String()
	}
	sig := "\n\nKind regards,\nJane Doe\nHead of Operations | Acme Ltd\n+44 20 7946 0000 | www.acme.example\n" +
		"CONFIDENTIALITY NOTICE: This email may contain confidential information, including contract terms and pricing.\n"
	bodies := []string{
		"Hi Rep,\n\nThanks for the proposal. We've gone through it with our finance director and the package looks right overall. " +
			"If we commit to a three-year term instead of annual, what discount could you offer? We would also prefer quarterly invoicing.",
		"Hi Rep,\n\nQuick update: our legal team has been through the MSA and has comments on clause 9 (limitation of liability) " +
			"and the auto-renewal notice period. I'll send the marked-up version tomorrow.",
		"Hi Rep,\n\nThanks, I'll take a look at this next week and come back to you.",
	}
	var sigs []signal.Signal
	for k, b := range bodies {
		sigs = append(sigs, signal.Signal{Kind: signal.KindEmail, At: at.Add(time.Duration(k) * time.Hour),
			From: "rep@vendor.example", To: []string{"jane@acme.example"}, Subject: "Proposal",
			Body: "Hi Jane,\n\nAttached is the proposal for 40 seats as promised. Let me know any questions." + quoted(k+2)})
		sigs = append(sigs, signal.Signal{Kind: signal.KindEmail, At: at.Add(time.Duration(k)*time.Hour + 30*time.Minute),
			From: "jane@acme.example", To: []string{"rep@vendor.example"}, Subject: "Re: Proposal",
			Body: b + sig + quoted(k+3)})
	}
	start := at.Add(7 * 24 * time.Hour)
	sigs = append(sigs,
		signal.Signal{Kind: signal.KindMeeting, At: at, Status: "scheduled", StartsAt: &start, Title: "Demo",
			Organizer: "rep@vendor.example", Attendees: []string{"rep@vendor.example", "jane@acme.example"}},
		signal.Signal{Kind: signal.KindDocument, At: at, Action: "sent", DocType: "proposal", Name: "Proposal", Actor: "rep@vendor.example"},
		signal.Signal{Kind: signal.KindDocument, At: at, Action: "viewed", DocType: "proposal", Name: "Proposal", Actor: "jane@acme.example", Session: "s1"},
		signal.Signal{Kind: signal.KindCall, At: at, Direction: "outbound", Outcome: "connected", DurationS: 600,
			Notes: "Walked through the proposal; they asked whether the price is negotiable for a two-year commitment."},
	)
	return intent.Input{Now: at.Add(48 * time.Hour), InternalDomains: []string{"vendor.example"}, Signals: sigs,
		Deal: intent.Deal{ID: 7, Pipeline: "Sales", Stage: "Proposal Made", Status: "open", PersonEmail: "jane@acme.example", OrgDomain: "acme.example"}}
}

// BenchmarkDecide reports signals decided per second on one core.
// benchDecide times b.N decisions on in and reports signals/s, counting
// signals per decision.
func benchDecide(b *testing.B, ctx context.Context, engine intent.Engine, in intent.Input, signals int) {
	b.Helper()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := engine.Decide(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*signals)/b.Elapsed().Seconds(), "signals/s")
}

func BenchmarkDecide(b *testing.B) {
	engine := intent.NewEngine(intent.DefaultRules())
	in := benchInput()
	emailBytes := 0
	for _, s := range in.Signals {
		emailBytes += len(s.Body)
	}
	ctx := context.Background()
	if _, err := engine.Decide(ctx, in); err != nil {
		b.Fatal(err)
	}
	benchDecide(b, ctx, engine, in, len(in.Signals))
	b.ReportMetric(float64(emailBytes)/float64(6), "email_bytes/email")
}

func TestConcurrentDecide(t *testing.T) {
	engine := intent.NewEngine(intent.DefaultRules())
	in := benchInput()
	want, err := engine.Decide(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan string, 8)
	for g := 0; g < 8; g++ {
		go func() {
			for k := 0; k < 20; k++ {
				d, err := engine.Decide(context.Background(), in)
				if err != nil || d.Stage != want.Stage || d.Rule != want.Rule || len(d.Reasons) != len(want.Reasons) {
					done <- fmt.Sprintf("concurrent decision differs: %+v", d)
					return
				}
			}
			done <- ""
		}()
	}
	for g := 0; g < 8; g++ {
		if msg := <-done; msg != "" {
			t.Error(msg)
		}
	}
}

// BenchmarkDecideEmails: only 2-3 KB emails with quoted history, the
// expensive kind of signal.
func BenchmarkDecideEmails(b *testing.B) {
	engine := intent.NewEngine(intent.DefaultRules())
	in := benchInput()
	var emails []signal.Signal
	for _, s := range in.Signals {
		if s.Kind == signal.KindEmail {
			s.Body += strings.Repeat("\n> Earlier thread: thanks for the call, looking forward to the proposal and the next steps on pricing.", 10)
			emails = append(emails, s)
		}
	}
	in.Signals = emails
	size := 0
	for _, s := range emails {
		size += len(s.Body)
	}
	ctx := context.Background()
	benchDecide(b, ctx, engine, in, len(emails))
	b.ReportMetric(float64(size)/float64(len(emails)), "bytes/email")
}
