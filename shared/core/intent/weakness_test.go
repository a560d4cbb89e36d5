package intent_test

import (
	"testing"

	"github.com/stagemover/stagemover/shared/core/intent"
)

// One table per general weakness; every row is phrased afresh (none is
// taken from an evaluation set).

type wcase struct {
	name  string
	input intent.Input
	stage string // expected target stage ("" = no move)
}

func runW(t *testing.T, rows []wcase) {
	t.Helper()
	e := intent.NewEngine(nil)
	for _, c := range rows {
		t.Run(c.name, func(t *testing.T) {
			d := decide(t, e, c.input)
			if d.Stage != c.stage {
				t.Errorf("stage %q, want %q (rule %s)", d.Stage, c.stage, d.Rule)
				for _, r := range d.Reasons {
					t.Logf("  %s %q counted=%v %s", r.Cue, r.Excerpt, r.Counted, r.Note)
				}
			}
		})
	}
}

var sentProposal = doc(0, "sent", "proposal", rep, "")

// 1. cue stems match whole words, not longer words that merely start alike.
func TestWeaknessWordBoundaries(t *testing.T) {
	runW(t, []wcase{
		{"en negotiators are staff", in("Qualified", fromBuyer(1, "We have nine negotiators across two branches. Could you tell me a bit more about onboarding?")), "Contact Made"},
		{"fr negociateurs", in("Qualified", fromBuyer(1, "Nous avons six négociateurs dans l'agence, pouvez-vous nous en dire plus ?")), "Contact Made"},
		{"es negociadores", in("Qualified", fromBuyer(1, "Somos ocho negociadores en la oficina, ¿nos contáis más del producto?")), "Contact Made"},
		{"nl onderhandelaars", in("Qualified", fromBuyer(1, "We hebben vier onderhandelaars op kantoor, vertel graag meer.")), "Contact Made"},
		{"en installation is not instalments", in("Proposal Made", sentProposal, fromBuyer(1, "Your installation guide was clear, thanks. We pay attention to installation quality.")), ""},
		{"en demolition is no demo", in("Contact Made", fromBuyer(1, "Sounds good. We start the demolition on Friday 10 May.")), ""},
		{"en still negotiates", in("Proposal Made", sentProposal, fromBuyer(1, "Is the licence fee negotiable for a charity?")), "Negotiations Started"},
	})
}

// 2. past events and other vendors are history, not this offer.
func TestWeaknessPastOtherVendor(t *testing.T) {
	runW(t, []wcase{
		{"en years ago", in("Proposal Made", sentProposal, fromBuyer(1, "Some background: four years ago we haggled for weeks over discounts with a different firm. We are reading your document now.")), ""},
		{"en previous provider", in("Proposal Made", sentProposal, fromBuyer(1, "Our former provider fought us on liability caps all the time, which was painful. Still reading yours.")), ""},
		{"de frueher", in("Proposal Made", sentProposal, fromBuyer(1, "Vor drei Jahren haben wir mit einem anderen Dienstleister lange über Rabatte verhandelt. Wir lesen Ihr Angebot gerade.")), ""},
		{"fr ancien prestataire", in("Proposal Made", sentProposal, fromBuyer(1, "Avec notre ancien prestataire, les pénalités étaient un vrai sujet. Nous lisons votre document.")), ""},
		{"es proveedor anterior", in("Proposal Made", sentProposal, fromBuyer(1, "Hace dos años negociamos descuentos durante meses con otra empresa. Estamos leyendo la propuesta.")), ""},
		{"nl geleden", in("Proposal Made", sentProposal, fromBuyer(1, "Twee jaar geleden hadden we met onze vorige leverancier eindeloos gedoe over korting. We lezen uw offerte.")), ""},
		{"en this offer still counts", in("Proposal Made", sentProposal, fromBuyer(1, "Our previous supplier gave us 10% off, can you match that?")), "Negotiations Started"},
		{"de deadline is not history", in("Proposal Made", sentProposal, fromBuyer(1, "Gibt es einen Rabatt, wenn wir vor dem 20. Juni bestellen?")), "Negotiations Started"},
	})
}

// 4. "no questions" statements, in any word order, are not questions.
func TestWeaknessNoQuestions(t *testing.T) {
	runW(t, []wcase{
		{"en none", in("Proposal Made", sentProposal, fromBuyer(1, "On price and the contract length we have no questions right now; it is with the board.")), ""},
		{"de nachgestellt", in("Proposal Made", sentProposal, fromBuyer(1, "Zu den Kosten und zur Kündigungsfrist haben wir im Moment keine Rückfragen.")), ""},
		{"de einwaende", in("Proposal Made", sentProposal, fromBuyer(1, "Gegen den Preis haben wir keine Einwände, die Entscheidung fällt im Vorstand.")), ""},
		{"fr pas de questions", in("Proposal Made", sentProposal, fromBuyer(1, "Sur le tarif, pas de questions de notre côté pour l'instant.")), ""},
		{"es sin preguntas", in("Proposal Made", sentProposal, fromBuyer(1, "Sobre el precio no tenemos ninguna pregunta, lo decide la dirección.")), ""},
		{"nl geen vragen", in("Proposal Made", sentProposal, fromBuyer(1, "Over de prijs hebben we op dit moment geen vragen.")), ""},
		{"de real question", in("Proposal Made", sentProposal, fromBuyer(1, "Eine Frage zum Preis: ist die Einrichtung enthalten?")), "Negotiations Started"},
	})
}

// 5. target signature dates written indirectly.
func TestWeaknessSignatureDates(t *testing.T) {
	runW(t, []wcase{
		{"en before then", in("Proposal Made", sentProposal, fromBuyer(1, "The board meets on 12 June and our COO would like the paperwork signed before then.")), "Negotiations Started"},
		{"en by end of quarter", in("Proposal Made", sentProposal, fromBuyer(1, "Finance want the order form executed by the end of Q3.")), "Negotiations Started"},
		{"de bis mitte", in("Proposal Made", sentProposal, fromBuyer(1, "Wir möchten den Vertrag bis zum 15. Juli unterschrieben haben.")), "Negotiations Started"},
		{"fr signe avant", in("Proposal Made", sentProposal, fromBuyer(1, "Nous voulons le contrat signé avant le 3 juillet.")), "Negotiations Started"},
		{"es firmado antes", in("Proposal Made", sentProposal, fromBuyer(1, "Necesitamos el contrato firmado antes del 12 de julio.")), "Negotiations Started"},
		{"nl voor datum", in("Proposal Made", sentProposal, fromBuyer(1, "Wij willen graag voor 15 juni tekenen.")), "Negotiations Started"},
		{"es antes de firmar is not a date", in("Proposal Made", sentProposal, fromBuyer(1, "Gracias, lo leeremos antes de firmar nada.")), ""},
	})
}

// 7. a generic price list plus a promised tailored proposal is no proposal.
func TestWeaknessGenericPriceList(t *testing.T) {
	runW(t, []wcase{
		{"en rate card", in("Contact Made", fromRep(1, "Thanks for your time. I've attached our current price sheet for reference; a tailored proposal will follow after the site visit.")), ""},
		{"de preisliste", in("Contact Made", fromRep(1, "Anbei unsere allgemeine Preisliste zur Orientierung. Ein individuelles Angebot folgt nach dem Termin.")), ""},
		{"fr grille", in("Contact Made", fromRep(1, "Vous trouverez ci-joint nos tarifs en vigueur. Une proposition personnalisée suivra.")), ""},
		{"es tarifa", in("Contact Made", fromRep(1, "Os adjunto la tarifa vigente para que tengáis una referencia. Prepararemos una propuesta a medida.")), ""},
		{"nl prijslijst", in("Contact Made", fromRep(1, "Bijgaand onze algemene tarieven ter indicatie. Een offerte op maat volgt.")), ""},
		{"en real proposal", in("Contact Made", fromRep(1, "As discussed, attached is the proposal for your 40 seats: £9,600 per year in total.")), "Proposal Made"},
	})
}

// 8. haggling before any offer exists is contact, not negotiation.
func TestWeaknessNoOfferYet(t *testing.T) {
	runW(t, []wcase{
		{"en call discount", in("Qualified", call(1, "connected", 600, "Spoke with the ops lead. She wondered if multi-year deals get a discount.")), "Contact Made"},
		{"de call rabatt", in("Qualified", call(1, "connected", 600, "Gespräch mit der IT-Leitung, fragt nach Rabatt bei drei Jahren Laufzeit.")), "Contact Made"},
		{"en after demo no proposal", in("Demo Scheduled", call(1, "connected", 500, "Asked whether a discount is possible for two sites.")), ""},
		{"en after proposal", in("Proposal Made", sentProposal, call(1, "connected", 500, "They asked for a discount for two sites.")), "Negotiations Started"},
	})
}

// 3. inline answers between quoted lines count; quoted vendor lines do not.
func TestWeaknessInlineReplies(t *testing.T) {
	outlook := "Replies inline, see [KM].\n\n-----Original Message-----\nFrom: Rep <rep@vendor.example>\nSent: 3 March 2026 09:00\nSubject: Proposal\n\n> a) Term: 24 months\n[KM] We can only commit to 12 months.\n> b) Invoicing yearly up front\n[KM] Quarterly invoicing please.\n\nKay Moss\nHead of Facilities"
	quotedOnly := "Thanks, noted.\n\n-----Original Message-----\nFrom: Rep <rep@vendor.example>\nSent: 3 March 2026 09:00\nSubject: Proposal\n\n> Term: 24 months, we can offer a 5% discount\n> if you sign by 30 April.\n\nKay Moss\nHead of Facilities"
	arrows := "Hi, my notes below.\n\nOn Tue, 3 Mar 2026 at 09:00, Rep <rep@vendor.example> wrote:\n> Support hours are 9-5 weekdays.\n--> we need a 24/7 SLA for outages\n> Price is fixed for the first year.\n\nThanks"
	wrapped := "Thanks, will read.\n\nOn Tue, 3 Mar 2026 at 09:00, Rep <rep@vendor.example> wrote:\n> We are happy to offer a discount of 8% on the licence fees if the order is\nplaced this month.\n> Best, Rep"
	forwarded := "Sharing for visibility.\n\n---------- Forwarded message ---------\nFrom: Rep <rep@vendor.example>\nDate: 3 March 2026\nSubject: Proposal\n\n> your question\nWe can offer a 10% discount and net 60 payment terms.\n> another question\n"
	runW(t, []wcase{
		{"outlook tagged", in("Proposal Made", sentProposal, fromBuyer(1, outlook)), "Negotiations Started"},
		{"quoted only", in("Proposal Made", sentProposal, fromBuyer(1, quotedOnly)), ""},
		{"arrow after attribution", in("Proposal Made", sentProposal, fromBuyer(1, arrows)), "Negotiations Started"},
		{"wrapped quote line", in("Proposal Made", sentProposal, fromBuyer(1, wrapped)), ""},
		{"forwarded vendor text", in("Proposal Made", sentProposal, fromBuyer(1, forwarded)), ""},
	})
}
