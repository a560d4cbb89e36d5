package intent_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/core/intent"
	"github.com/stagemover/stagemover/shared/core/signal"
)

// Builders for compact, readable test cases.

var t0 = time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)

const (
	rep    = "rep@vendor.example"
	buyer  = "jane@acme.example"
	buyer2 = "li@acme.example"
)

func at(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }

func in(stage string, sigs ...signal.Signal) intent.Input {
	return intent.Input{Now: at(24 * 30), InternalDomains: []string{"vendor.example"}, Signals: sigs,
		Deal: intent.Deal{ID: 1, Pipeline: "Sales", Stage: stage, Status: "open", PersonEmail: buyer, OrgDomain: "acme.example"}}
}

func fromBuyer(h int, body string) signal.Signal {
	return signal.Signal{Kind: signal.KindEmail, At: at(h), From: buyer, To: []string{rep}, Subject: "Re: Proposal", Body: body}
}

func fromRep(h int, body string) signal.Signal {
	return signal.Signal{Kind: signal.KindEmail, At: at(h), From: rep, To: []string{buyer}, Subject: "Proposal", Body: body}
}

func meeting(h int, status string, startsH int, attendees ...string) signal.Signal {
	s := at(startsH)
	return signal.Signal{Kind: signal.KindMeeting, At: at(h), Status: status, StartsAt: &s, Title: "Product demo", Organizer: rep, Attendees: attendees}
}

func doc(h int, action, typ, actor, session string) signal.Signal {
	return signal.Signal{Kind: signal.KindDocument, At: at(h), Action: action, DocType: typ, Name: "Acme - " + typ, Actor: actor, Session: session}
}

func call(h int, outcome string, secs int, notes string) signal.Signal {
	return signal.Signal{Kind: signal.KindCall, At: at(h), Direction: "outbound", Outcome: outcome, DurationS: secs, Notes: notes}
}

func decide(t *testing.T, e intent.Engine, input intent.Input) intent.Decision {
	t.Helper()
	d, err := e.Decide(context.Background(), input)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

type want struct {
	stage  string // "" no move
	status string // "" = open
	flag   string
}

type engineCase struct {
	name string
	in   intent.Input
	want want
}

func runEngineCases(t *testing.T, cases []engineCase) {
	t.Helper()
	e := intent.NewEngine(nil)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := decide(t, e, c.in)
			wantStatus := c.want.status
			if wantStatus == "" {
				wantStatus = c.in.Deal.Status
			}
			if d.Stage != c.want.stage || d.Status != wantStatus || d.Flag != c.want.flag {
				t.Errorf("got (stage %q, status %q, flag %q, rule %q), want (stage %q, status %q, flag %q)\nreasons: %s",
					d.Stage, d.Status, d.Flag, d.Rule, c.want.stage, wantStatus, c.want.flag, dump(d))
			}
			if len(d.Reasons) == 0 {
				t.Error("a decision must list its reasons")
			}
			for _, r := range d.Reasons {
				if len(r.Excerpt) > 130 {
					t.Errorf("excerpt too long (%d): %q", len(r.Excerpt), r.Excerpt)
				}
			}
		})
	}
}

func dump(d intent.Decision) string {
	var b strings.Builder
	for _, r := range d.Reasons {
		b.WriteString("\n  ")
		b.WriteString(r.Kind + "#" + string(rune('0'+r.Signal)) + " " + r.Cue)
		if !r.Counted {
			b.WriteString(" (not counted: " + r.Note + ")")
		}
		b.WriteString(" rule=" + r.Rule + " " + r.Excerpt)
	}
	return b.String()
}

func findReason(d intent.Decision, cue string, counted bool) *intent.Reason {
	for i := range d.Reasons {
		if d.Reasons[i].Cue == cue && d.Reasons[i].Counted == counted {
			return &d.Reasons[i]
		}
	}
	return nil
}

const quotedTerms = "\n\nOn Tue, 31 Mar 2026 at 10:00, Rep <rep@vendor.example> wrote:\n" +
	"> We can offer a 15% discount with net 60 payment terms if you sign by 30 April.\n" +
	"> Our legal team can turn redlines around in 48 hours.\n"

func TestQuotedAndSignatureTextDoesNotCount(t *testing.T) {
	runEngineCases(t, []engineCase{
		{"quoted terms in a thanks", in("Proposal Made", fromBuyer(1, "Thanks, got it. Will read it tonight.\n\nJane"+quotedTerms)), want{}},
		{"forwarded terms", in("Proposal Made", fromBuyer(1, "Adding Li for visibility. Still reviewing.\n\nJane\n\n---------- Forwarded message ---------\nFrom: Rep <rep@vendor.example>\nDate: Tue, 31 Mar 2026\nSubject: Proposal\n\nWe can offer a 15% discount with net 60 payment terms.")), want{}},
		{"outlook original message", in("Proposal Made", fromBuyer(1, "Noted, thanks.\n\n-----Original Message-----\nFrom: Rep <rep@vendor.example>\nSent: Tuesday, March 31, 2026 10:00 AM\nTo: Jane\nSubject: Proposal\n\nHappy to discuss a discount and the SLA.")), want{}},
		{"signature with payment terms", in("Proposal Made", fromBuyer(1, "Thanks Rep, I'll pass this to our director.\n\nJane\n\nJane Doe\nFinance Officer | Acme\nSupplier payment terms: 30 days end of month. Queries: accounts@acme.example")), want{}},
		{"disclaimer mentioning contract terms", in("Proposal Made", fromBuyer(1, "Thanks, I'll take a look when I can.\n\nJane\n--\nJane Doe | Acme\n\nCONFIDENTIALITY NOTICE: This email may contain contract terms, pricing and legal advice.")), want{}},
		{"own words still count", in("Proposal Made", fromBuyer(1, "Could you do 10% off if we sign for two years?\n\nJane"+quotedTerms)), want{stage: "Negotiations Started"}},
	})
	d := decide(t, intent.NewEngine(nil), in("Proposal Made", fromBuyer(1, "Thanks, got it.\n\nJane"+quotedTerms)))
	found := false
	for _, r := range d.Reasons {
		if !r.Counted && strings.Contains(r.Note, "quoted") {
			found = true
		}
	}
	if !found {
		t.Errorf("quoted cues must be explained as discounted: %s", dump(d))
	}
}

func TestMachineMailNeverAdvances(t *testing.T) {
	ooo := fromBuyer(1, "Thank you for your message. I am out of the office until 14 April with limited access to email.")
	hdr := fromBuyer(1, "Thanks for your email, I'll reply when I'm back. Happy to discuss the discount then.")
	hdr.Headers = map[string]string{"Auto-Submitted": "auto-replied"}
	subj := fromBuyer(1, "I will be back on Monday.")
	subj.Subject = "Automatic reply: Proposal"
	de := fromBuyer(1, "Vielen Dank für Ihre Nachricht. Ich bin bis einschließlich 17.04. nicht im Büro.")
	bounce := signal.Signal{Kind: signal.KindEmail, At: at(1), From: "MAILER-DAEMON@mx.acme.example", To: []string{rep}, Subject: "Undeliverable: Proposal",
		Body: "Delivery has failed to these recipients or groups:\n\njane@acme.example\nThe email address couldn't be found."}
	bounce2 := fromBuyer(1, "Delivery has failed to these recipients.")
	bounce2.Headers = map[string]string{"X-Failed-Recipients": buyer}
	desk := fromBuyer(1, "Thank you for contacting the service desk. Your request has been logged as INC123. Please do not reply to this message.")
	var cases []engineCase
	for name, s := range map[string]signal.Signal{"ooo text": ooo, "auto-submitted header": hdr, "auto-reply subject": subj,
		"german ooo": de, "bounce from mailer-daemon": bounce, "bounce header": bounce2, "ticket auto-ack": desk} {
		cases = append(cases, engineCase{name, in("Qualified", s), want{}})
	}
	runEngineCases(t, cases)
	d := decide(t, intent.NewEngine(nil), in("Qualified", hdr))
	if r := findReason(d, intent.CueMachine, false); r == nil {
		t.Errorf("machine mail must be explained: %s", dump(d))
	}
}

func TestNegationAndTense(t *testing.T) {
	runEngineCases(t, []engineCase{
		{"not ready to discuss pricing", in("Proposal Made", fromBuyer(1, "We're not ready to discuss pricing or discounts yet.")), want{}},
		{"no questions on terms", in("Proposal Made", fromBuyer(1, "No questions on the terms or pricing from our side at this point.")), want{}},
		{"don't need legal", in("Proposal Made", fromBuyer(1, "We don't need legal to look at it, it's a standard subscription.")), want{}},
		{"procurement not involved", in("Proposal Made", fromBuyer(1, "Procurement hasn't been involved and we won't be involving them yet.")), want{}},
		{"no need for a demo", in("Contact Made", fromBuyer(1, "No need for a demo, thanks - we know the product.")), want{}},
		{"german negation", in("Proposal Made", fromBuyer(1, "Wir haben keine Fragen zum Rabatt oder zu den Zahlungsbedingungen.")), want{}},
		{"french negation", in("Proposal Made", fromBuyer(1, "Nous n'avons pas besoin de remise.")), want{}},
		{"spanish negation", in("Proposal Made", fromBuyer(1, "No necesitamos ningún descuento.")), want{}},
		{"dutch negation", in("Proposal Made", fromBuyer(1, "We hebben geen vragen over de betalingsvoorwaarden.")), want{}},
		{"objection still negotiates", in("Proposal Made", fromBuyer(1, "We can't accept the liability cap as written.")), want{stage: "Negotiations Started"}},
		{"without a discount is a condition", in("Proposal Made", fromBuyer(1, "Without a discount for the second site we can't make the numbers work.")), want{stage: "Negotiations Started"}},
		{"future signing is not won", in("Negotiations Started", fromBuyer(1, "We will send the signed order form next week once our CFO is back.")), want{}},
		{"signed contract attached is won", in("Negotiations Started", fromBuyer(1, "Please find attached the signed order form.")), want{status: "won"}},
		{"deciding whether is not a yes", in("Proposal Made", fromBuyer(1, "We're still deciding whether to go ahead at all this year.")), want{}},
		{"conditional refusal is not a refusal", in("Qualified", fromBuyer(1, "If you're not interested in a pilot, no worries - but I'd like to learn more.")), want{stage: "Contact Made"}},
	})
}

func TestDocumentsViewersAndSessions(t *testing.T) {
	runEngineCases(t, []engineCase{
		{"internal viewer", in("Demo Scheduled", doc(1, "viewed", "proposal", "colleague@vendor.example", "s1")), want{}},
		{"buyer view of a proposal", in("Demo Scheduled", doc(1, "viewed", "proposal", buyer, "s1")), want{stage: "Proposal Made"}},
		{"contract opened is not negotiation", in("Proposal Made", doc(1, "sent", "contract", rep, ""), doc(2, "viewed", "contract", buyer, "a"), doc(3, "viewed", "contract", buyer, "b")), want{}},
		{"proposal sent skips stages", in("Qualified", doc(1, "sent", "proposal", rep, "")), want{stage: "Proposal Made"}},
		{"vendor completion is not won", in("Negotiations Started", doc(1, "completed", "contract", "ceo@vendor.example", "s1")), want{}},
		{"buyer completion is won", in("Negotiations Started", doc(1, "completed", "contract", buyer2, "s1")), want{status: "won"}},
		{"signed contract on contact made is won", in("Contact Made", doc(1, "sent", "contract", rep, ""), doc(2, "completed", "contract", buyer, "s2")), want{status: "won"}},
		{"declined quote needs review", in("Proposal Made", doc(1, "declined", "quote", buyer, "s1")), want{flag: "review"}},
		{"buyer signature from qualified is won", in("Qualified", doc(1, "completed", "contract", buyer, "s1")), want{status: "won"}},
	})
	// the same session seen three times is one view
	d := decide(t, intent.NewEngine(nil), in("Demo Scheduled", doc(1, "viewed", "proposal", buyer, "s1"), doc(2, "viewed", "proposal", buyer, "s1"), doc(3, "viewed", "proposal", buyer, "s1")))
	counted, dups := 0, 0
	for _, r := range d.Reasons {
		if r.Cue == intent.CueProposalViewed && r.Counted {
			counted++
		}
		if r.Cue == intent.CueDuplicateSession && !r.Counted {
			dups++
		}
	}
	if counted != 1 || dups != 2 {
		t.Errorf("one session must count once: counted %d, duplicates %d: %s", counted, dups, dump(d))
	}
	nda := doc(1, "completed", "contract", buyer, "s1")
	nda.Name = "Mutual NDA - Acme"
	if d := decide(t, intent.NewEngine(nil), in("Qualified", nda)); d.Status == "won" {
		t.Errorf("a signed NDA must not win the deal: %s", dump(d))
	}
	if d := decide(t, intent.NewEngine(nil), in("Qualified", doc(1, "viewed", "proposal", "colleague@vendor.example", "s1"))); findReason(d, intent.CueInternalViewer, false) == nil {
		t.Errorf("internal views must be explained: %s", dump(d))
	}
}

func TestMeetings(t *testing.T) {
	runEngineCases(t, []engineCase{
		{"booked for the future", in("Contact Made", meeting(1, "scheduled", 72, rep, buyer)), want{stage: "Demo Scheduled"}},
		{"internal only", in("Contact Made", meeting(1, "scheduled", 72, rep, "presales@vendor.example")), want{}},
		{"canceled without a new time", in("Contact Made", meeting(1, "scheduled", 72, rep, buyer), meeting(2, "canceled", 72, rep, buyer)), want{}},
		{"canceled then a new time", in("Contact Made", meeting(1, "scheduled", 72, rep, buyer), meeting(2, "canceled", 72, rep, buyer), meeting(3, "scheduled", 120, rep, buyer)), want{stage: "Demo Scheduled"}},
		{"no-show then rescheduled", in("Contact Made", meeting(1, "scheduled", 72, rep, buyer), meeting(73, "no_show", 72, rep, buyer), meeting(74, "rescheduled", 140, rep, buyer)), want{stage: "Demo Scheduled"}},
		{"held", in("Qualified", meeting(3, "held", 2, rep, buyer)), want{stage: "Demo Scheduled"}},
		{"accepted in writing and confirmed", in("Contact Made",
			fromRep(1, "Would Tuesday at 2pm or Thursday at 10am work for a demo?"),
			fromBuyer(2, "Thursday at 10am works for us."),
			fromRep(3, "Great, confirmed for Thursday at 10am. Invite to follow.")), want{stage: "Demo Scheduled"}},
		{"accepted but never confirmed", in("Contact Made",
			fromRep(1, "Would Tuesday at 2pm work for a demo?"), fromBuyer(2, "Tuesday works.")), want{}},
		{"written booking then cancelled", in("Contact Made",
			fromBuyer(2, "Thursday at 10am works for us."), fromRep(3, "Confirmed, invite sent."),
			fromBuyer(4, "Sorry, I have to cancel Thursday's demo. I'll reach out when things calm down.")), want{flag: "follow_up"}},
	})
}

func TestCalls(t *testing.T) {
	runEngineCases(t, []engineCase{
		{"connected, real length", in("Qualified", call(1, "connected", 420, "Discussed their current process.")), want{stage: "Contact Made"}},
		{"too short", in("Qualified", call(1, "connected", 20, "Quick hello.")), want{}},
		{"voicemail", in("Qualified", call(1, "voicemail", 40, "Left a message about pricing and a discount.")), want{}},
		{"gatekeeper", in("Qualified", call(1, "connected", 200, "Reception answered, Jane not available.")), want{}},
		{"notes with negotiation", in("Proposal Made", call(1, "connected", 900, "They pushed for a 12% discount and quarterly invoicing.")), want{stage: "Negotiations Started"}},
		{"notes with the rep's own offer", in("Proposal Made", call(1, "connected", 900, "Offered a 5% discount if they sign this quarter. Jane will get back to us.")), want{flag: "follow_up"}},
		{"notes negated", in("Proposal Made", call(1, "connected", 600, "Still reviewing internally; no feedback on pricing yet and procurement hasn't been involved.")), want{}},
	})
}

func TestThirdPartySenderIsWeaker(t *testing.T) {
	consultant := signal.Signal{Kind: signal.KindEmail, At: at(1), From: "advisor@consultancy.example", To: []string{rep}, Subject: "Re: Proposal",
		Body: "I'm advising Acme on this purchase. Is there room on the price for a two-year commitment?"}
	copied := consultant
	copied.Cc = []string{buyer}
	signed := copied
	signed.Body = "Please find attached the signed order form."
	runEngineCases(t, []engineCase{
		{"third party alone", in("Proposal Made", consultant), want{flag: "review"}},
		{"third party with the buyer copied", in("Proposal Made", copied), want{stage: "Negotiations Started"}},
		{"third party never wins", in("Negotiations Started", signed), want{}},
	})
}

func TestPolicies(t *testing.T) {
	closedWon := in("Negotiations Started", fromBuyer(1, "Could you do a better price on the add-on?"))
	closedWon.Deal.Status = "won"
	closedLost := in("Contact Made", meeting(1, "scheduled", 48, rep, buyer))
	closedLost.Deal.Status = "lost"
	unknown := in("", doc(1, "sent", "proposal", rep, ""), fromBuyer(2, "What discount would you offer for three years?"))
	runEngineCases(t, []engineCase{
		{"forward only", in("Negotiations Started", meeting(1, "scheduled", 48, rep, buyer)), want{}},
		{"already there", in("Demo Scheduled", meeting(1, "scheduled", 48, rep, buyer)), want{}},
		{"never reopen won", closedWon, want{flag: "review"}},
		{"never reopen lost", closedLost, want{flag: "review"}},
		{"never lost on refusal", in("Proposal Made", fromBuyer(1, "We have chosen another vendor. Thanks for your time.")), want{flag: "review"}},
		{"refusal vetoes earlier evidence", in("Contact Made", meeting(1, "scheduled", 72, rep, buyer), fromBuyer(2, "We've decided not to proceed. Please cancel the demo.")), want{flag: "review"}},
		{"refusal superseded by later engagement", in("Qualified", fromBuyer(1, "Not interested, thanks."), fromBuyer(30, "Actually, circumstances changed - could we talk next week?")), want{stage: "Contact Made"}},
		{"vague reply flags follow-up", in("Proposal Made", fromBuyer(1, "Thanks, we'll review it internally and get back to you.")), want{flag: "follow_up"}},
		{"reply with a deferral still makes contact", in("Qualified", fromBuyer(1, "Thanks for reaching out. We're in budget planning; let me get back to you in a few weeks.")), want{stage: "Contact Made", flag: "follow_up"}},
		{"unsubscribe is nothing", in("Qualified", fromBuyer(1, "Please remove me from your mailing list.")), want{}},
		{"skip to won", in("Qualified", fromBuyer(1, "Attached is the signed agreement. Looking forward to starting!")), want{status: "won"}},
		{"skip to negotiations", in("Contact Made", doc(1, "sent", "quote", rep, ""), fromBuyer(2, "Can we pay quarterly instead of annually?")), want{stage: "Negotiations Started"}},
		{"unknown current stage: highest supported", unknown, want{stage: "Negotiations Started"}},
		{"price question before a proposal is contact", in("Qualified", fromBuyer(1, "What does it cost for 20 users?")), want{stage: "Contact Made"}},
		{"stage request forward", in("Qualified", signal.Signal{Kind: signal.KindStageRequest, At: at(1), Stage: "Demo Scheduled"}), want{stage: "Demo Scheduled"}},
		{"stage request backwards", in("Proposal Made", signal.Signal{Kind: signal.KindStageRequest, At: at(1), Stage: "Contact Made"}), want{flag: "review"}},
		{"stage request unknown stage", in("Qualified", signal.Signal{Kind: signal.KindStageRequest, At: at(1), Stage: "Closing"}), want{flag: "review"}},
		{"outbound pricing email is a proposal", in("Demo Scheduled", fromRep(1, "Hi Jane,\n\nHere is the pricing we discussed: EUR 1,150/month for 3 offices.\n\nRep")), want{stage: "Proposal Made"}},
		{"a promise of a proposal is not a proposal", in("Demo Scheduled", fromRep(1, "I'm putting together the proposal and will send it by Friday.")), want{}},
		{"internal email never counts", in("Demo Scheduled", signal.Signal{Kind: signal.KindEmail, At: at(1), From: rep, To: []string{"boss@vendor.example"}, Body: "Attached is the draft proposal for Acme, please approve the discount."}), want{}},
	})
	// closed deals keep their status and no stage; won is a status, not a stage
	d := decide(t, intent.NewEngine(nil), in("Qualified", fromBuyer(1, "Attached is the signed agreement.")))
	if d.Stage != "" || d.Status != "won" || d.Rule == "" {
		t.Errorf("won must be (stage \"\", status won) with its rule: %+v", d)
	}
	if d := decide(t, intent.NewEngine(nil), in("Proposal Made", fromBuyer(1, "We have chosen another vendor."))); d.Status == "lost" {
		t.Error("the engine never decides lost")
	}
}

func TestPipelines(t *testing.T) {
	other := in("Contact Made", meeting(1, "scheduled", 48, rep, buyer))
	other.Deal.Pipeline = "Partners" // not named: the "*" mapping applies by stage name
	custom := in("Discovery", meeting(1, "scheduled", 48, rep, buyer))
	custom.Deal.Pipeline = "Enterprise"
	runEngineCases(t, []engineCase{
		{"unnamed pipeline uses the default mapping", other, want{stage: "Demo Scheduled"}},
		{"unknown current stage is left for review", custom, want{flag: "review"}},
	})
}

func TestDecisionExplains(t *testing.T) {
	d := decide(t, intent.NewEngine(nil), in("Proposal Made",
		doc(1, "sent", "proposal", rep, ""),
		fromBuyer(2, "Hi Rep,\n\nIs the per-site price negotiable if we commit all 14 sites up front?\n\nJane")))
	if d.Stage != "Negotiations Started" || d.Rule != "negotiation-price" {
		t.Fatalf("got %+v", d)
	}
	r := findReason(d, intent.CuePricingNegotiation, true)
	if r == nil {
		t.Fatalf("no counted pricing_negotiation reason: %s", dump(d))
	}
	if r.Signal != 1 || r.Kind != "email" || r.At == "" || r.Rule != "negotiation-price" || !strings.Contains(r.Excerpt, "negotiable") {
		t.Errorf("reason must name signal, kind, time, rule and the words: %+v", *r)
	}
}

func TestContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := intent.NewEngine(nil).Decide(ctx, in("Qualified")); err == nil {
		t.Error("a cancelled context must stop the decision")
	}
}

func stageRequest(stage string) signal.Signal {
	return signal.Signal{Kind: signal.KindStageRequest, At: at(1), Stage: stage}
}

func TestEarlyPriceTalkIsContact(t *testing.T) {
	runEngineCases(t, []engineCase{
		{"discount question on a qualified deal", in("Qualified", fromBuyer(1, "Do you offer discounts for charities?")), want{stage: "Contact Made"}},
		// no offer exists yet: the demo alone does not make a discount question negotiation
		{"discount after a demo", in("Contact Made", meeting(1, "held", 0, rep, buyer), fromBuyer(2, "Could you offer a discount for two years?")), want{stage: "Demo Scheduled"}},
		{"discount after a proposal", in("Demo Scheduled", doc(1, "sent", "proposal", rep, ""), fromBuyer(2, "Could you offer a discount for two years?")), want{stage: "Negotiations Started"}},
	})
}

// A signal posted by deal id with no mirror: the engine knows neither the
// buyer's organisation nor the contact, so every outside party is the buyer.
func TestUnknownBuyerOrganisation(t *testing.T) {
	unknown := func(stage string, sigs ...signal.Signal) intent.Input {
		input := in(stage, sigs...)
		input.Deal.OrgDomain, input.Deal.PersonEmail, input.Deal.Stage, input.Deal.Pipeline = "", "", "", ""
		return input
	}
	runEngineCases(t, []engineCase{
		{"outside reply counts", unknown("", fromBuyer(1, "Could you do net 60 payment terms? Our legal team has redlines on the liability clause.")), want{stage: "Negotiations Started"}},
		{"outside signature wins", unknown("", doc(1, "completed", "contract", buyer, "s-1")), want{status: "won"}},
		{"outside attendee books a demo", unknown("", meeting(1, "scheduled", 24*40, rep, buyer)), want{stage: "Demo Scheduled"}},
		{"vendor signature still does not win", unknown("", doc(1, "completed", "contract", rep, "s-1")), want{}},
		{"internal-only meeting still does not count", unknown("", meeting(1, "scheduled", 24*40, rep, "cto@vendor.example")), want{}},
	})
}

// An introductory email that advertises list prices is not a proposal; an
// outbound email carrying an offer for this deal is.
func TestListPricesAreNotAProposal(t *testing.T) {
	intro := func(body string) signal.Signal {
		s := fromRep(0, body)
		s.Subject = "Idea for your finance team"
		return s
	}
	reply := fromBuyer(2, "Good timing. Does it export to our payroll tool?\n\nJane")
	runEngineCases(t, []engineCase{
		{"en plans begin at", in("Qualified", intro("Hi Jane, teams like yours save hours on month-end. Our plans begin at $12 a seat per month. Worth a chat?\n\nRep"), reply), want{stage: "Contact Made"}},
		{"en as low as", in("Qualified", intro("Hi Jane, you can get going for as low as $5 per user per month.\n\nRep"), reply), want{stage: "Contact Made"}},
		{"en generic price without specifics", in("Qualified", intro("Hi Jane, the Business edition costs £15 per user per month and includes SSO.\n\nRep"), reply), want{stage: "Contact Made"}},
		{"de ab preis", in("Qualified", intro("Hallo Frau Doe, das Paket gibt es schon ab 29 € pro Monat. Passt das Thema zu Ihnen?\n\nRep"), reply), want{stage: "Contact Made"}},
		{"de starten bei", in("Qualified", intro("Hallo Frau Doe, unsere Tarife beginnen bei 9 € je Anwender und Monat.\n\nRep"), reply), want{stage: "Contact Made"}},
		{"fr des", in("Qualified", intro("Bonjour Jane, l'offre Essentiel est disponible dès 25 € par mois et par utilisateur.\n\nRep"), reply), want{stage: "Contact Made"}},
		{"es a partir de", in("Qualified", intro("Hola Jane, los planes cuestan a partir de 12 € por usuario y mes.\n\nRep"), reply), want{stage: "Contact Made"}},
		{"nl vanaf", in("Qualified", intro("Hallo Jane, ons pakket is er al vanaf € 19 per gebruiker per maand.\n\nRep"), reply), want{stage: "Contact Made"}},
		{"teaser after a reply", in("Contact Made", fromBuyer(0, "Sounds useful, tell me more.\n\nJane"),
			fromRep(2, "Thanks Jane! Licences start from €12 per user per month, and onboarding takes a week.\n\nRep")), want{}},
		{"nl teaser after a reply", in("Contact Made", fromBuyer(0, "Klinkt goed, vertel meer.\n\nJane"),
			fromRep(2, "Dank je! Het instappakket kost vanaf € 9 per gebruiker per maand.\n\nRep")), want{}},
		{"en quote for their seats", in("Contact Made", fromBuyer(0, "Thanks for the call. Can you price it for us?\n\nJane"),
			fromRep(2, "Hi Jane, for your 40 users the annual total comes to £14,400 (£30 per user per month).\n\nRep")), want{stage: "Proposal Made"}},
		{"de angebot im anhang", in("Qualified", fromRep(0, "Hallo Frau Doe, im Anhang finden Sie unser Angebot für 25 Lizenzen.\n\nRep")), want{stage: "Proposal Made"}},
		{"fr devis joint", in("Demo Scheduled", fromRep(0, "Bonjour Jane, vous trouverez ci-joint notre devis pour vos trois sites.\n\nRep")), want{stage: "Proposal Made"}},
		{"es precio para sus sedes", in("Demo Scheduled", fromRep(0, "Hola Jane, tras la demo, el precio para vuestras dos sedes sería de 950 € al mes.\n\nRep")), want{stage: "Proposal Made"}},
		{"nl offerte bijgevoegd", in("Demo Scheduled", fromRep(0, "Hoi Jane, bijgevoegd de offerte voor 30 medewerkers, geldig tot eind mei.\n\nRep")), want{stage: "Proposal Made"}},
	})
}

// A buyer asking for a quote before any proposal is contact (or nothing
// more than the stage already reached), not negotiation, even when the
// proposal follows.
func TestQuoteRequestBeforeProposalIsNotNegotiation(t *testing.T) {
	proposal := fromRep(3, "Hi Jane, attached is our proposal for the 12 stores.\n\nRep")
	runEngineCases(t, []engineCase{
		{"en request then proposal", in("Demo Scheduled", fromBuyer(0, "Great session yesterday. Could you share what it would cost for 12 stores?\n\nJane"), proposal), want{stage: "Proposal Made"}},
		{"de request then proposal", in("Demo Scheduled", fromBuyer(0, "Können Sie uns die Kosten für 12 Filialen nennen?\n\nJane"), proposal), want{stage: "Proposal Made"}},
		{"fr request then proposal", in("Demo Scheduled", fromBuyer(0, "Pourriez-vous nous indiquer le tarif pour 12 magasins ?\n\nJane"), proposal), want{stage: "Proposal Made"}},
		{"es request then proposal", in("Demo Scheduled", fromBuyer(0, "¿Podríais pasarnos el precio para 12 tiendas?\n\nJane"), proposal), want{stage: "Proposal Made"}},
		{"nl request then proposal", in("Demo Scheduled", fromBuyer(0, "Kunnen jullie de prijs voor 12 winkels doorgeven?\n\nJane"), proposal), want{stage: "Proposal Made"}},
		{"request on a qualified deal", in("Qualified", fromBuyer(0, "Could you send over your rates for 15 seats?\n\nJane")), want{stage: "Contact Made"}},
		{"question after the proposal still negotiates", in("Demo Scheduled", proposal, fromBuyer(5, "Thanks. Is the price per store negotiable if we add a 13th?\n\nJane")), want{stage: "Negotiations Started"}},
	})
}

// A buyer accepting a proposed time in writing, confirmed by the rep, books
// the demo in every language.
func TestWrittenAcceptanceConfirmedBooksDemo(t *testing.T) {
	offer := func(body string) signal.Signal { s := fromRep(0, body); s.Subject = "Demo"; return s }
	cases := []struct{ name, offer, accept, confirm string }{
		{"en", "Hi Jane, I could do Tuesday at 11:00 or Wednesday at 15:00 for the demo.", "Hi, Wednesday afternoon suits us nicely, count me in.", "Great, it's in the calendar; you'll receive the invite shortly."},
		{"en pencil", "Would Monday 9am or Friday 2pm work for a walkthrough?", "Let's pencil in Friday please.", "All set for Friday, see you then."},
		{"de", "Hallo Frau Doe, ich könnte Ihnen Montag 10 Uhr oder Mittwoch 15 Uhr anbieten.", "Hallo, Mittwoch passt mir, ich nehme den zweiten Vorschlag.", "Super, Mittwoch 15 Uhr ist fest vorgemerkt. Die Kalendereinladung mit dem Zoom-Link kommt gleich."},
		{"de geht klar", "Wäre Dienstag um 9 Uhr für die Vorführung möglich?", "Dienstag geht klar bei mir.", "Prima, dann ist Dienstag gebucht, die Einladung schicke ich Ihnen heute noch."},
		{"fr", "Bonjour, je vous propose mardi à 10h ou jeudi à 14h pour la démonstration.", "Bonjour, c'est parfait pour jeudi 14h.", "Très bien, le créneau est bloqué, je vous envoie l'invitation Teams."},
		{"es", "Hola, ¿os viene bien el martes a las 10 o el jueves a las 16 para la demo?", "Hola, me quedo con el jueves a las 16.", "Perfecto, queda agendado; os mando ahora la convocatoria con el enlace."},
		{"nl", "Hoi Jane, zou dinsdag om 10 uur of donderdag om 14 uur passen voor de demo?", "Hoi, donderdag doen we, dat is prima.", "Top, donderdag om 14 uur is ingepland, de uitnodiging volgt."},
		// the buyer picks a time, the rep confirms it in other words
		{"en please", "Would Thursday 11:00 or Friday 15:00 suit for the demo?", "Friday 15:00 please.", "Done - you're booked for Friday at 15:00."},
		{"en on its way", "Could we do Monday 10:00 for the demo?", "Monday 10:00 works for me.", "Lovely, the invite is heading your way."},
		{"de unterwegs", "Passt Ihnen Dienstag 10 Uhr für die Demo?", "Dienstag 10 Uhr passt gut.", "Super, die Einladung ist unterwegs."},
		{"fr en route", "Mardi 14h pour la démo, cela vous irait ?", "Mardi 14h me convient.", "Parfait, l'invitation est en route."},
		{"es apuntado", "¿Os va bien el jueves a las 11 para la demo?", "El jueves a las 11 nos va bien.", "Genial, estáis apuntados para el jueves."},
		{"nl onderweg", "Past donderdag 10 uur voor de demo?", "Donderdag 10 uur graag.", "Top, de uitnodiging is onderweg."},
	}
	var ec []engineCase
	for _, c := range cases {
		ec = append(ec, engineCase{c.name, in("Contact Made", offer(c.offer), fromBuyer(2, c.accept), fromRep(3, c.confirm)), want{stage: "Demo Scheduled"}})
		ec = append(ec, engineCase{c.name + " without confirmation", in("Contact Made", offer(c.offer), fromBuyer(2, c.accept)), want{}})
	}
	ec = append(ec, engineCase{"en request by friday is no acceptance", in("Contact Made", offer("Shall we meet Tuesday 10:00?"),
		fromBuyer(1, "Could you send the brochure by Friday please?"), fromRep(2, "Noted.")), want{}})
	ec = append(ec, engineCase{"agreement to a document is no meeting", in("Contact Made",
		fromRep(0, "Hi Jane, here is the onboarding checklist."), fromBuyer(2, "That's fine for us."), fromRep(3, "Noted, thanks.")), want{}})
	runEngineCases(t, ec)
}
