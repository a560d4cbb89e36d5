package intent_test

import "testing"

// Second round of general weaknesses; every row is written afresh.

// 1. A buyer who already chose, signed or renewed elsewhere refuses: no
// move, a person reviews. A refusal of one item that engages on another
// still engages.
func TestWeaknessRefusalElsewhere(t *testing.T) {
	rv := want{flag: "review"}
	runEngineCases(t, []engineCase{
		{"en no thanks signed elsewhere", in("Qualified", fromBuyer(1, "Appreciate it, but no thanks. We put pen to paper on a two-year contract with a different supplier in May.")), rv},
		{"en signed elsewhere last month", in("Contact Made", fromBuyer(1, "Thanks for checking in. We signed a three-year deal with another vendor last month, so this is closed for us.")), rv},
		{"en renewed incumbent", in("Qualified", fromBuyer(1, "We have renewed with our existing provider for another two years, so there is nothing to talk about. Please do not chase.")), rv},
		{"en extended contract", in("Demo Scheduled", fromBuyer(1, "Quick note: we extended our contract with the current supplier until 2029.")), rv},
		{"en competitor", in("Contact Made", fromBuyer(1, "Thanks for the effort, we ended up going with one of your competitors.")), rv},
		{"en incumbent", in("Proposal Made", sentProposal, fromBuyer(1, "After a lot of debate we've decided to stay with our incumbent. Thanks for the demo.")), rv},
		{"de anderer anbieter", in("Qualified", fromBuyer(1, "Danke für Ihre Mühe, wir haben uns inzwischen für einen anderen Dienstleister entschieden.")), rv},
		{"de verlaengert", in("Contact Made", fromBuyer(1, "Wir haben letzten Monat beim bisherigen Anbieter um drei Jahre verlängert. Bitte sehen Sie von weiteren Nachfragen ab.")), rv},
		{"de vertrag woanders", in("Qualified", fromBuyer(1, "Wir haben bereits einen Vertrag mit einem anderen Anbieter unterschrieben.")), rv},
		{"fr autre solution", in("Qualified", fromBuyer(1, "Merci, mais nous avons finalement choisi une autre solution.")), rv},
		{"fr renouvele", in("Contact Made", fromBuyer(1, "Nous avons renouvelé le mois dernier avec notre prestataire actuel pour trois ans.")), rv},
		{"fr signe ailleurs", in("Qualified", fromBuyer(1, "Nous avons signé avec un autre fournisseur, merci de ne plus nous relancer.")), rv},
		{"es otro proveedor", in("Qualified", fromBuyer(1, "Gracias, pero ya hemos elegido otro proveedor.")), rv},
		{"es renovado", in("Contact Made", fromBuyer(1, "Hemos renovado con nuestro proveedor actual el mes pasado, así que no hay nada que hablar.")), rv},
		{"es firmado con otro", in("Qualified", fromBuyer(1, "Ya firmamos con otra empresa hace unas semanas.")), rv},
		{"nl andere leverancier", in("Qualified", fromBuyer(1, "Bedankt, maar we hebben voor een andere leverancier gekozen.")), rv},
		{"nl verlengd", in("Contact Made", fromBuyer(1, "We hebben vorige maand verlengd bij onze huidige leverancier.")), rv},
		{"nl bij huidige verlengd", in("Qualified", fromBuyer(1, "We hebben het contract bij onze huidige leverancier met drie jaar verlengd.")), rv},
		{"en partial refusal engages", in("Qualified", fromBuyer(1, "We're not interested in the reporting add-on, but I'd like to talk about the core licence.")), want{stage: "Contact Made"}},
		{"en partial refusal negotiates", in("Proposal Made", sentProposal, fromBuyer(1, "Not interested in the add-on, but can we discuss the price of the core licence?")), want{stage: "Negotiations Started"}},
		{"de partial refusal", in("Proposal Made", sentProposal, fromBuyer(1, "Am Zusatzmodul haben wir kein Interesse, aber gibt es beim Grundpaket einen Rabatt?")), want{stage: "Negotiations Started"}},
		{"en nda with someone is no refusal", in("Qualified", fromBuyer(1, "We signed the NDA with someone on your team yesterday. What are the next steps?")), want{stage: "Contact Made"}},
		{"en own renewal is no refusal", in("Qualified", fromBuyer(1, "We renewed our existing licence last week and would like to add ten seats.")), want{stage: "Contact Made"}},
		{"de signed with current figures is no refusal", in("Proposal Made", sentProposal, fromBuyer(1, "Anbei der unterschriebene Vertrag mit den aktuellen Stückzahlen, bei unserem bisherigen Standort abgeschlossen.")), want{status: "won"}},
		{"en history is no refusal", in("Qualified", fromBuyer(1, "Years ago we went with another vendor and regretted it. Could you tell me more about onboarding?")), want{stage: "Contact Made"}},
	})
}

// 2. Legal, procurement, security or pricing mentioned only for a
// hypothetical future purchase is not negotiation; with a far-off timeline
// it is a deferral.
func TestWeaknessHypotheticalTerms(t *testing.T) {
	fu := want{flag: "follow_up"}
	runEngineCases(t, []engineCase{
		{"en if go ahead next year", in("Proposal Made", sentProposal, fromBuyer(1, "This is more of a next-year project. If we do go ahead then, our lawyers would want to go through your data handling terms.")), fu},
		{"en should we proceed", in("Demo Scheduled", fromBuyer(1, "Should we proceed at some point, procurement will need a supplier form from you. We are nowhere near that yet.")), fu},
		{"en in case we decide", in("Proposal Made", sentProposal, fromBuyer(1, "In case we decide to buy, our security team would run a questionnaire. For now nothing is planned.")), want{}},
		{"de falls", in("Proposal Made", sentProposal, fromBuyer(1, "Falls wir weitermachen, würde sich unsere Rechtsabteilung die Haftungsklauseln ansehen. Das ist aber ein Thema für nächstes Jahr.")), fu},
		{"fr si", in("Proposal Made", sentProposal, fromBuyer(1, "Si nous allons plus loin, notre service juridique voudra relire le contrat. Mais ce sera pour l'année prochaine.")), fu},
		{"es si", in("Proposal Made", sentProposal, fromBuyer(1, "Si seguimos adelante, el departamento de compras tendría que darles de alta. Pero eso será el año que viene.")), fu},
		{"nl als", in("Proposal Made", sentProposal, fromBuyer(1, "Als we doorgaan, wil onze jurist naar de aansprakelijkheid kijken. Dat is pas volgend jaar aan de orde.")), fu},
		{"en once is not hypothetical", in("Proposal Made", sentProposal, fromBuyer(1, "Once we sign, our procurement team will raise the PO.")), want{stage: "Negotiations Started"}},
		{"en real legal review", in("Proposal Made", sentProposal, fromBuyer(1, "Our legal team has started reviewing the agreement and will send comments.")), want{stage: "Negotiations Started"}},
		{"en conditional question still asks", in("Proposal Made", sentProposal, fromBuyer(1, "If we go ahead, could procurement pay in quarterly instalments?")), want{stage: "Negotiations Started"}},
	})
}

// 3. A rep promising to send the proposal later has not sent it.
func TestWeaknessProposalPromised(t *testing.T) {
	runW(t, []wcase{
		{"en next week", in("Demo Scheduled", fromRep(1, "Great talking today. Next week I'll send over the proposal with the prices for your team.")), ""},
		{"en tomorrow", in("Demo Scheduled", fromRep(1, "I'm sending you the quote with the pricing tomorrow morning.")), ""},
		{"de naechste woche", in("Demo Scheduled", fromRep(1, "Vielen Dank für das Gespräch. Ich schicke Ihnen nächste Woche das Angebot mit den Preisen.")), ""},
		{"fr semaine prochaine", in("Demo Scheduled", fromRep(1, "Merci pour l'échange, je vous envoie la proposition tarifaire la semaine prochaine.")), ""},
		{"es semana que viene", in("Demo Scheduled", fromRep(1, "Gracias por la reunión. La semana que viene te mando la propuesta con los precios.")), ""},
		{"nl volgende week", in("Demo Scheduled", fromRep(1, "Dank voor het gesprek, volgende week stuur ik je de offerte met de prijzen.")), ""},
		{"en attached now", in("Demo Scheduled", fromRep(1, "As promised, please find attached the proposal with prices; happy to walk through it next week.")), "Proposal Made"},
		{"es adjunto now", in("Demo Scheduled", fromRep(1, "Te adjunto la propuesta con los precios, la revisamos la semana que viene.")), "Proposal Made"},
	})
}

// 4. Written questions on the SLA or contract sections of an order form after
// a proposal are terms engagement.
func TestWeaknessSLAQuestions(t *testing.T) {
	runW(t, []wcase{
		{"en sla section", in("Proposal Made", sentProposal, fromBuyer(1, "We went through the order form and have a couple of points on the support levels section.")), "Negotiations Started"},
		{"en service credits", in("Proposal Made", sentProposal, fromBuyer(1, "Would you be willing to include credits for downtime beyond four hours a month?")), "Negotiations Started"},
		{"en uptime", in("Proposal Made", sentProposal, fromBuyer(1, "What uptime do you commit to, and what happens if you miss it?")), "Negotiations Started"},
		{"en penalty clause", in("Proposal Made", sentProposal, fromBuyer(1, "We need a penalty for missed response times written into the agreement.")), "Negotiations Started"},
		{"de gutschrift", in("Proposal Made", sentProposal, fromBuyer(1, "Können Sie Gutschriften bei Ausfallzeiten in den Vertrag aufnehmen?")), "Negotiations Started"},
		{"de verfuegbarkeit", in("Proposal Made", sentProposal, fromBuyer(1, "Welche Verfügbarkeit garantieren Sie im Bestellformular?")), "Negotiations Started"},
		{"fr penalites", in("Proposal Made", sentProposal, fromBuyer(1, "Pourriez-vous prévoir des pénalités en cas d'indisponibilité du service ?")), "Negotiations Started"},
		{"fr engagement de disponibilite", in("Proposal Made", sentProposal, fromBuyer(1, "Nous avons des questions sur l'engagement de disponibilité dans le bon de commande.")), "Negotiations Started"},
		{"es creditos", in("Proposal Made", sentProposal, fromBuyer(1, "¿Podéis añadir créditos de servicio por caídas del sistema?")), "Negotiations Started"},
		{"es acuerdo de nivel", in("Proposal Made", sentProposal, fromBuyer(1, "Tenemos dudas sobre el acuerdo de nivel de servicio del pedido.")), "Negotiations Started"},
		{"nl servicecredits", in("Proposal Made", sentProposal, fromBuyer(1, "Kunnen jullie servicecredits opnemen voor storingen?")), "Negotiations Started"},
		{"nl uptime", in("Proposal Made", sentProposal, fromBuyer(1, "Welke uptimegarantie geven jullie in het orderformulier?")), "Negotiations Started"},
		{"en before proposal is contact", in("Contact Made", fromBuyer(1, "What uptime do you usually commit to?")), ""},
	})
}
