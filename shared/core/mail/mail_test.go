package mail

import (
	"strings"
	"testing"
	"time"
)

// tc is one Read case: Text must contain every want and none of notWant;
// Machine must equal machine.
type tc struct {
	name    string
	headers map[string]string
	subject string
	body    string
	want    []string
	notWant []string
	machine string
}

func runCases(t *testing.T, cases []tc) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := Read(c.headers, c.subject, c.body)
			for _, w := range c.want {
				if !strings.Contains(m.Text, w) {
					t.Errorf("Text lacks %q:\n%s", w, m.Text)
				}
			}
			for _, w := range c.notWant {
				if strings.Contains(strings.ToLower(m.Text), strings.ToLower(w)) {
					t.Errorf("Text keeps %q:\n%s", w, m.Text)
				}
			}
			if m.Machine != c.machine {
				t.Errorf("Machine = %q (%s), want %q", m.Machine, m.MachineReason, c.machine)
			}
			if m.Machine != "" && m.MachineReason == "" {
				t.Errorf("Machine %q without MachineReason", m.Machine)
			}
		})
	}
}

func TestQuoteStripping(t *testing.T) {
	runCases(t, []tc{
		{name: "gmail attribution and > lines",
			body: "Hi Sam,\n\nTuesday works for the walkthrough.\n\nPriya\n\nOn Mon, 2 Mar 2026 at 09:00, Sam Hale <sam@vendor.example> wrote:\n> Hi Priya,\n> Here is our pricing and the contract.\n",
			want: []string{"Tuesday works"}, notWant: []string{"pricing", "contract", "wrote"}},
		{name: "attribution wrapped over two lines",
			body: "Sounds good, send the invite.\n\nOn Tue, Mar 10, 2026 at 4:00 PM Sam Hale <\nsam@vendor.example> wrote:\n> Shall we discuss the discount?",
			want: []string{"send the invite"}, notWant: []string{"discount", "wrote"}},
		{name: "attribution wrapped before wrote",
			body: "Sounds good.\n\nOn Tue, Mar 10, 2026 at 4:00 PM Sam Hale <sam@vendor.example>\nwrote:\n\nShall we discuss the discount?",
			want: []string{"Sounds good"}, notWant: []string{"discount"}},
		{name: "attribution without > quoting",
			body: "Noted, thanks.\n\nOn 3 March 2026, Sam Hale wrote:\n\nOur legal team can review the MSA redlines.",
			want: []string{"Noted"}, notWant: []string{"legal", "redlines"}},
		{name: "german Am ... schrieb",
			body: "Hallo Herr Vogel,\n\ndanke, ich melde mich.\n\nAm 17.02.2026 um 10:14 schrieb Jonas Vogel <jonas@vendor.example>:\n> anbei unser Angebot mit 10 % Rabatt.",
			want: []string{"ich melde mich"}, notWant: []string{"Rabatt", "Angebot"}},
		{name: "french Le ... a écrit",
			body: "Bonjour,\n\nJeudi me convient.\n\nLe mar. 10 févr. 2026 à 09:15, Léa Martin <lea@vendor.example> a écrit :\n> Voici le contrat et nos tarifs.",
			want: []string{"Jeudi me convient"}, notWant: []string{"contrat", "tarifs"}},
		{name: "spanish El ... escribió",
			body: "Hola Daniel,\n\nel martes nos va bien.\n\nEl vie, 20 feb 2026 a las 12:10, Daniel Ortega (<daniel@vendor.example>) escribió:\n> te adjunto la propuesta con el descuento.",
			want: []string{"el martes"}, notWant: []string{"propuesta", "descuento"}},
		{name: "dutch Op ... schreef",
			body: "Hoi Jan,\n\nDinsdag past prima.\n\nOp 3 mrt. 2026 om 10:00 schreef Jan de Vries <jan@vendor.example>:\n> Hierbij het contract en de prijzen.",
			want: []string{"Dinsdag past"}, notWant: []string{"contract", "prijzen"}},
		{name: "verb-last attribution",
			body: "Yes please.\n\nSam Hale <sam@vendor.example> wrote:\n> Want the pricing sheet?",
			want: []string{"Yes please"}, notWant: []string{"pricing"}},
		{name: "outlook english header block",
			body: "Hi Alex,\n\nWe can't commit right now.\n\nFrom: Alex Moreau <alex@vendor.example>\nSent: Tuesday, March 3, 2026 11:02 AM\nTo: Priya Nair <priya@buyer.example>\nSubject: Pricing\n\nHi Priya, our pricing and contract terms are attached.",
			want: []string{"can't commit"}, notWant: []string{"pricing", "contract", "From:"}},
		{name: "outlook german header block",
			body: "Guten Tag,\n\nwir melden uns nächste Woche.\n\nVon: Jonas Vogel <jonas@vendor.example>\nGesendet: Dienstag, 3. März 2026 11:02\nAn: Katrin Hoffmann <k@buyer.example>\nBetreff: Angebot\n\nanbei der Vertrag und die Preise.",
			want: []string{"nächste Woche"}, notWant: []string{"Vertrag", "Preise"}},
		{name: "outlook french header block",
			body: "Bonjour,\n\nMerci, nous revenons vers vous.\n\nDe : Léa Martin <lea@vendor.example>\nEnvoyé : mardi 3 mars 2026 11:02\nÀ : Élise <e@buyer.example>\nObjet : Contrat\n\nVoici le contrat avec la remise.",
			want: []string{"nous revenons"}, notWant: []string{"remise", "Objet"}},
		{name: "outlook spanish header block",
			body: "Hola,\n\nLo revisamos y te decimos.\n\nDe: Daniel Ortega <daniel@vendor.example>\nEnviado el: martes, 3 de marzo de 2026 11:02\nPara: Lucía <l@buyer.example>\nAsunto: Contrato\n\nTe envío el contrato con el descuento.",
			want: []string{"Lo revisamos"}, notWant: []string{"descuento", "Asunto"}},
		{name: "outlook dutch header block",
			body: "Hallo,\n\nWe kijken ernaar.\n\nVan: Jan de Vries <jan@vendor.example>\nVerzonden: dinsdag 3 maart 2026 11:02\nAan: Piet <p@buyer.example>\nOnderwerp: Contract\n\nHierbij het contract met korting.",
			want: []string{"We kijken ernaar"}, notWant: []string{"korting", "Onderwerp"}},
		{name: "bold outlook labels from html conversion",
			body: "Fine by me.\n\n*From:* Sam <sam@vendor.example>\n*Sent:* Monday\n*To:* Jo\n*Subject:* Quote\n\nThe quote includes a 10% discount.",
			want: []string{"Fine by me"}, notWant: []string{"discount"}},
		{name: "original message separator",
			body: "Thanks, will review.\n\n-----Original Message-----\nFrom: Sam\nSent: Monday\nSubject: Contract\n\nPlease sign the contract.",
			want: []string{"will review"}, notWant: []string{"sign the contract"}},
		{name: "localized original message separators",
			body: "Danke.\n\n-----Ursprüngliche Nachricht-----\nVertrag und Preise anbei.",
			want: []string{"Danke"}, notWant: []string{"Vertrag"}},
		{name: "french message d'origine",
			body: "Merci.\n\n-------- Message d'origine --------\nLe contrat est prêt.",
			want: []string{"Merci"}, notWant: []string{"contrat"}},
		{name: "spanish mensaje original",
			body: "Gracias.\n\n-----Mensaje original-----\nEl contrato está listo.",
			want: []string{"Gracias"}, notWant: []string{"contrato"}},
		{name: "dutch oorspronkelijk bericht",
			body: "Bedankt.\n\n-----Oorspronkelijk bericht-----\nHet contract is klaar.",
			want: []string{"Bedankt"}, notWant: []string{"contract"}},
		{name: "gmail forwarded message",
			subject: "Fwd: Proposal",
			body:    "Adding Ben for visibility.\n\n---------- Forwarded message ---------\nFrom: Mark <mark@vendor.example>\nDate: Mon, 23 Mar 2026\nSubject: Proposal\n\nWe can offer 15% off if the agreement is signed by 31 March.",
			want:    []string{"Adding Ben"}, notWant: []string{"15%", "agreement"}},
		{name: "apple begin forwarded message",
			body: "FYI\n\nBegin forwarded message:\n\nFrom: Mark <mark@vendor.example>\nSubject: Pricing\n\nPricing attached.",
			want: []string{"FYI"}, notWant: []string{"Pricing attached"}},
		{name: "german forwarded message",
			body: "Zur Info.\n\nAnfang der weitergeleiteten Nachricht:\n\nVon: Mark\nBetreff: Angebot\n\nRabatt 10 %.",
			want: []string{"Zur Info"}, notWant: []string{"Rabatt"}},
		{name: "underscore separator then header block",
			body: "Looks good to me.\n\n________________________________\nFrom: Sam Hale <sam@vendor.example>\nSent: 3 March 2026 10:00\nTo: Jo\nSubject: Order form\n\nPlease return the signed order form.",
			want: []string{"Looks good"}, notWant: []string{"signed order form", "____"}},
		{name: "inline replies keep the answers",
			body: "> Can you do Tuesday?\nYes, Tuesday at 2pm.\n> Any questions on pricing?\nCould you do 10% off for a 2-year term?",
			want: []string{"Yes, Tuesday at 2pm.", "10% off"}, notWant: []string{"Can you do Tuesday", "Any questions on pricing"}},
		{name: "bottom-posted reply under a quoted message",
			body: "On Mon, 2 Mar 2026 at 09:00, Sam Hale <sam@vendor.example> wrote:\n> Shall we send the contract?\n\nYes, and please include the SLA.\n\nJo",
			want: []string{"please include the SLA"}, notWant: []string{"Shall we send"}},
		{name: "forward without a note keeps nothing of the forwarded text",
			body:    "---------- Forwarded message ---------\nFrom: Mark <mark@vendor.example>\nSubject: Proposal\n\nWe can offer 15% off.",
			notWant: []string{"15%"}},
		{name: "person writing wrote mid sentence is kept",
			body: "As Tom wrote: we need the SSO add-on.\n\nThanks",
			want: []string{"we need the SSO add-on"}},
	})
}

func TestSignatureStripping(t *testing.T) {
	runCases(t, []tc{
		{name: "sig delimiter with title",
			body: "Thanks, I'll take a look.\n\nLydia\n\n--\nLydia Cross | Head of Procurement | Harrowgate",
			want: []string{"take a look"}, notWant: []string{"procurement", "Harrowgate"}},
		{name: "sign-off then title and phone",
			body: "Hi Sam,\n\nTuesday at 2pm works.\n\nBest regards,\nJane Doe\nLegal Counsel\nAcme Ltd\n+44 20 7946 0000\nwww.acme.example",
			want: []string{"Tuesday at 2pm works.", "Best regards,"}, notWant: []string{"Legal", "Counsel", "7946", "Jane Doe"}},
		{name: "sign-off with name on the same line",
			body: "Could you send the one-pager?\n\nThanks, Nina\nNina Okafor\nHead of Security Review | Harbor Foods",
			want: []string{"one-pager"}, notWant: []string{"Security Review"}},
		{name: "german sign-off",
			body: "Guten Tag,\n\nkönnen wir am Dienstag sprechen?\n\nMit freundlichen Grüßen\nKatrin Hoffmann\nLeiterin Einkauf\nBrenner Bau GmbH\nTel. +49 30 1234567",
			want: []string{"Dienstag"}, notWant: []string{"Einkauf", "GmbH"}},
		{name: "french sign-off",
			body: "Bonjour,\n\nJeudi 15h me convient.\n\nCordialement,\nThomas Girard\nDirecteur juridique et achats\nGroupe Castelnau",
			want: []string{"Jeudi 15h"}, notWant: []string{"juridique", "achats"}},
		{name: "spanish sign-off",
			body: "Hola,\n\nel martes nos va bien.\n\nSaludos,\nJavier Soto\nResponsable de Compras y Contratos\nHoteles Miramar",
			want: []string{"el martes"}, notWant: []string{"Compras", "Contratos"}},
		{name: "dutch sign-off",
			body: "Hallo,\n\nDinsdag past prima.\n\nMet vriendelijke groet,\nJan de Vries\nHoofd Inkoop\nDe Vries B.V.",
			want: []string{"Dinsdag"}, notWant: []string{"Inkoop"}},
		{name: "name and title without sign-off",
			body: "Hi Owen,\n\nTuesday at 2pm works. I'll bring Marcus.\n\nDana Mills\nProcurement Director, Oakridge School District",
			want: []string{"Tuesday at 2pm", "Dana Mills"}, notWant: []string{"Procurement", "Oakridge"}},
		{name: "short name then pipe signature",
			body: "Thursday 14:00 works for both of us.\n\nIngrid\n\nIngrid Solberg | Legal & Contracts | Halden Robotics",
			want: []string{"Thursday"}, notWant: []string{"Legal", "Contracts"}},
		{name: "title line without a name",
			body: "We'd like to proceed with the pilot.\n\nHead of Procurement\nAcme Logistics",
			want: []string{"proceed with the pilot"}, notWant: []string{"Procurement"}},
		{name: "tagline under contact line",
			body: "Not yet, it's on my list.\n\nBest,\nChris\n\nChris Osei | Account Executive | Vaultline\nQuestions about your contract, SLAs or invoices? Contact accounts@vaultline.example",
			want: []string{"on my list"}, notWant: []string{"contract", "SLAs"}},
		{name: "mobile footer",
			body: "Yes, go ahead.\n\nSent from my iPhone\n\nOn 3 Mar 2026, at 10:00, Sam <sam@vendor.example> wrote:\n> Shall I send the contract?",
			want: []string{"go ahead"}, notWant: []string{"iPhone", "contract"}},
		{name: "outlook mobile footer",
			body: "Works for me.\n\nGet Outlook for iOS<https://aka.ms/o0ukef>",
			want: []string{"Works for me"}, notWant: []string{"Outlook"}},
		{name: "localized mobile footers",
			body: "Passt.\n\nVon meinem iPhone gesendet",
			want: []string{"Passt"}, notWant: []string{"iPhone"}},
		{name: "english disclaimer with cue words",
			body: "Received, thanks.\n\nSarah\n\nThis email and any attachments are confidential and may contain legally privileged information about contract terms and pricing. If you are not the intended recipient, please notify the sender and delete it.",
			want: []string{"Received, thanks."}, notWant: []string{"contract", "pricing", "privileged"}},
		{name: "confidentiality notice after sig delimiter-less name",
			body: "I'll take a look when I can.\n\nLydia\nCONFIDENTIALITY NOTICE: This email may contain confidential information, including contract terms, pricing and legal advice subject to privilege.",
			want: []string{"take a look"}, notWant: []string{"contract", "legal"}},
		{name: "german disclaimer",
			body: "Danke, passt.\n\nGruß\nSven\n\nDiese E-Mail enthält vertrauliche und/oder rechtlich geschützte Informationen zu Verträgen und Preisen. Wenn Sie nicht der richtige Adressat sind, informieren Sie bitte sofort den Absender.",
			want: []string{"Danke, passt."}, notWant: []string{"Verträgen", "Preisen"}},
		{name: "french disclaimer",
			body: "Merci, c'est noté.\n\nCe message et toutes les pièces jointes sont confidentiels et établis à l'intention exclusive de ses destinataires (contrat, tarifs).",
			want: []string{"c'est noté"}, notWant: []string{"contrat", "tarifs"}},
		{name: "spanish disclaimer",
			body: "Gracias, lo vemos.\n\nEste mensaje y sus adjuntos contienen información confidencial sobre contratos. Si usted no es el destinatario, notifíquelo al remitente.",
			want: []string{"lo vemos"}, notWant: []string{"contratos"}},
		{name: "dutch disclaimer",
			body: "Bedankt, we kijken ernaar.\n\nDit bericht is uitsluitend bestemd voor de geadresseerde en kan vertrouwelijke informatie over contracten bevatten.",
			want: []string{"we kijken ernaar"}, notWant: []string{"contracten"}},
		{name: "cue words in the sender's prose survive",
			body: "Thanks!\n\nI'm looping in our procurement team and legal for the security review.\n\nBest,\nJo",
			want: []string{"procurement team and legal for the security review"}},
		{name: "opening thanks is not a sign-off",
			body: "Thanks,\nSee the pricing questions below\n- can you do net 60?\n\nJo",
			want: []string{"net 60"}},
		{name: "P.S. after sign-off is kept",
			body: "Looks fine.\n\nBest,\nJo\n\nP.S. Could you include the SLA in the contract?",
			want: []string{"SLA in the contract"}},
		{name: "attachment lines are kept",
			body: "Signed copy attached.\n\nGeorge Tate\nOperations Director, Hartwell Farms\n\nAttachment: Agreement_Hartwell_signed.pdf",
			want: []string{"Signed copy attached", "Attachment: Agreement_Hartwell_signed.pdf"}, notWant: []string{"Operations Director"}},
		{name: "contact paragraph in prose keeps later question",
			body: "Hi,\n\nOur PO contact:\n\nap@buyer.example\n\nAlso, can we get 10% off if we sign this month?",
			want: []string{"10% off"}},
	})
}

func TestHTML(t *testing.T) {
	runCases(t, []tc{
		{name: "plain html with entities, style and script",
			headers: map[string]string{"Content-Type": "text/html; charset=utf-8"},
			body:    `<html><head><style>p{color:red}</style><title>x</title></head><body><p>Hi&nbsp;Sam,</p><p>Terms look fine &amp; we&#39;d like to sign by Friday.</p><script>var pricing=1</script></body></html>`,
			want:    []string{"Hi Sam,", "Terms look fine & we'd like to sign by Friday."}, notWant: []string{"color", "var pricing", "<p>"}},
		{name: "gmail quote container",
			body: `<div dir="ltr">Tuesday works.<br></div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Mon, Sam wrote:<br></div><blockquote class="gmail_quote">Our pricing and contract.</blockquote></div>`,
			want: []string{"Tuesday works."}, notWant: []string{"pricing", "wrote"}},
		{name: "outlook divRplyFwdMsg",
			body: `<html><body><div>Sounds good, send the invite.</div><div id="appendonsend"></div><hr><div id="divRplyFwdMsg"><b>From:</b> Sam<br><b>Sent:</b> Monday<br><b>Subject:</b> Contract</div><div>Please sign the contract.</div></body></html>`,
			want: []string{"Sounds good"}, notWant: []string{"contract"}},
		{name: "blockquote type cite",
			body: `<p>Agreed.</p><blockquote type="cite">We offer a 10% discount.</blockquote><p>Jo</p>`,
			want: []string{"Agreed."}, notWant: []string{"discount"}},
		{name: "outlook desktop header block in html",
			headers: map[string]string{"content-type": "text/html"},
			body:    `<div class=WordSection1><p class=MsoNormal>Thanks, noted.<o:p></o:p></p><div style='border:none;border-top:solid #E1E1E1 1.0pt'><p class=MsoNormal><b>From:</b> Sam Hale &lt;sam@vendor.example&gt;<br><b>Sent:</b> Monday, March 2, 2026<br><b>To:</b> Jo<br><b>Subject:</b> Quote</p></div><p class=MsoNormal>The quote has our pricing.</p></div>`,
			want:    []string{"Thanks, noted."}, notWant: []string{"pricing"}},
		{name: "signature container and list items",
			body: `<div>We need:</div><ul><li>SSO</li><li>Audit logs</li></ul><div id="Signature"><p>Jo Bloggs<br>Head of Procurement</p></div>`,
			want: []string{"- SSO", "- Audit logs"}, notWant: []string{"Procurement"}},
	})
}

func TestHTMLToTextLayout(t *testing.T) {
	got := htmlToText("<p>One</p><p>Two<br>Three</p><table><tr><td>a</td><td>b</td></tr></table><pre>x  y\nz</pre>")
	for _, w := range []string{"One\n\nTwo\nThree", "a b", "x  y\nz"} {
		if !strings.Contains(got, w) {
			t.Errorf("htmlToText lacks %q in %q", w, got)
		}
	}
}

const mimeAlternative = "MIME-Version: 1.0\r\n" +
	"From: Katrin <k@buyer.example>\r\n" +
	"Subject: =?ISO-8859-1?Q?Angebot_f=FCr_Br=FCcke?=\r\n" +
	"Content-Type: multipart/alternative; boundary=\"b1\"\r\n" +
	"\r\n" +
	"--b1\r\n" +
	"Content-Type: text/plain; charset=ISO-8859-1\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"K=F6nnen wir den Preis f=FCr 24 Monate besprechen?\r\n" +
	"\r\n" +
	"Viele Gr=FC=DFe\r\n" +
	"Katrin\r\n" +
	"--b1\r\n" +
	"Content-Type: text/html; charset=utf-8\r\n" +
	"\r\n" +
	"<p>HTML VARIANT</p>\r\n" +
	"--b1--\r\n"

func TestMIME(t *testing.T) {
	runCases(t, []tc{
		{name: "whole message with alternative parts, latin-1 quoted-printable",
			body: mimeAlternative,
			want: []string{"Können wir den Preis für 24 Monate besprechen?", "Viele Grüße"}, notWant: []string{"HTML VARIANT", "MIME-Version"}},
		{name: "headers given, base64 text and an attachment",
			headers: map[string]string{"Content-Type": `multipart/mixed; boundary="xx"`},
			body: "--xx\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n" +
				"V2UgYWNjZXB0IHRoZSByZWRsaW5lcy4gU2lnbmVkIGNvcHkgYXR0YWNoZWQu\n" +
				"--xx\nContent-Type: application/pdf; name=\"MSA_signed.pdf\"\nContent-Disposition: attachment; filename=\"MSA_signed.pdf\"\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--xx--\n",
			want: []string{"We accept the redlines. Signed copy attached.", "Attachment: MSA_signed.pdf"}},
		{name: "html only part, base64",
			headers: map[string]string{"Content-Type": `multipart/alternative; boundary=zz`},
			body:    "--zz\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\nPHA+TGV0J3MgbWVldCBvbiBUaHVyc2RheS48L3A+\r\n--zz--\r\n",
			want:    []string{"Let's meet on Thursday."}, notWant: []string{"<p>"}},
		{name: "whole message carrying an auto-reply header",
			body:    "MIME-Version: 1.0\nAuto-Submitted: auto-replied\nContent-Type: text/plain\n\nThanks for your message.\n",
			machine: MachineAutoReply},
		{name: "single part quoted-printable from headers",
			headers: map[string]string{"Content-Transfer-Encoding": "quoted-printable", "Content-Type": "text/plain; charset=utf-8"},
			body:    "Wir unterschreiben bis Freitag, Gr=C3=BC=C3=9Fe.",
			want:    []string{"Wir unterschreiben bis Freitag"}},
		{name: "declared multipart without framing reads as text",
			headers: map[string]string{"Content-Type": `multipart/mixed; boundary="nope"`},
			body:    "Just text, no parts.",
			want:    []string{"Just text, no parts."}},
		{name: "text that starts like a header is not a message",
			body: "Subject: pricing\nWe'd like a 3-year term.",
			want: []string{"3-year term"}},
	})
}

func TestParseRaw(t *testing.T) {
	h, subj, body, err := ParseRaw([]byte(mimeAlternative))
	if err != nil {
		t.Fatal(err)
	}
	if subj != "Angebot für Brücke" {
		t.Errorf("subject = %q", subj)
	}
	if !strings.HasPrefix(h["Content-Type"], "multipart/alternative") {
		t.Errorf("Content-Type = %q", h["Content-Type"])
	}
	if m := Read(h, subj, body); !strings.Contains(m.Text, "Können wir") {
		t.Errorf("Read(ParseRaw) = %q", m.Text)
	}
	// bare CR line endings and an mbox From line
	raw := "From MAILER-DAEMON Thu Apr 29 23:34:45 2016\rFrom: a@b.example\rSubject: hi\r\rBody line\r"
	h, subj, body, err = ParseRaw([]byte(raw))
	if err != nil || subj != "hi" || !strings.Contains(body, "Body line") || h["From"] != "a@b.example" {
		t.Errorf("bare CR: %v %q %q %v", err, subj, body, h)
	}
	// a malformed header line is skipped, not fatal
	h, _, body, err = ParseRaw([]byte("From: a@b.example\nthis is not a header\nSubject: x\n\nbody\n"))
	if err != nil || h["Subject"] != "x" || !strings.Contains(body, "body") {
		t.Errorf("lenient: %v %v %q", err, h, body)
	}
	if _, _, _, err := ParseRaw([]byte("no headers at all")); err == nil {
		t.Error("want an error for a message without headers")
	}
}

func TestMachineHeaders(t *testing.T) {
	body := "Thanks for your message."
	hc := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	runCases(t, []tc{
		{name: "Auto-Submitted auto-replied", headers: hc("Auto-Submitted", "auto-replied"), body: body, machine: MachineAutoReply},
		{name: "auto-submitted lower case key", headers: hc("auto-submitted", "auto-generated"), body: body, machine: MachineAutoReply},
		{name: "Auto-Submitted no is a person", headers: hc("Auto-Submitted", "no"), body: body, machine: ""},
		{name: "X-Autoreply", headers: hc("X-Autoreply", "yes"), body: body, machine: MachineAutoReply},
		{name: "X-Autorespond", headers: hc("X-AUTORESPOND", "vacation"), body: body, machine: MachineAutoReply},
		{name: "X-Auto-Response-Suppress", headers: hc("X-Auto-Response-Suppress", "All"), body: body, machine: MachineAutoReply},
		{name: "Precedence auto_reply", headers: hc("Precedence", "auto_reply"), body: body, machine: MachineAutoReply},
		{name: "Precedence junk", headers: hc("precedence", "junk"), body: body, machine: MachineAutoReply},
		{name: "Precedence bulk", headers: hc("Precedence", "bulk"), body: body, machine: MachineBulk},
		{name: "Precedence list", headers: hc("Precedence", "list"), body: body, machine: MachineBulk},
		{name: "List-Id", headers: hc("List-Id", "<news.vendor.example>"), body: body, machine: MachineBulk},
		{name: "List-Unsubscribe", headers: hc("List-Unsubscribe", "<mailto:u@x.example>"), body: body, machine: MachineBulk},
		{name: "X-Failed-Recipients", headers: hc("X-Failed-Recipients", "a@b.example"), body: body, machine: MachineBounce},
		{name: "From mailer-daemon", headers: hc("From", "Mail Delivery System <MAILER-DAEMON@mx.example>"), body: body, machine: MachineBounce},
		{name: "From postmaster delay", headers: hc("From", "postmaster@mx.example"), subject: "Delivery Status Notification (Delay)", body: body, machine: MachineDeliveryReport},
		{name: "report delivery-status", headers: hc("Content-Type", "multipart/report; report-type=delivery-status; boundary=x"), body: body, machine: MachineBounce},
		{name: "report read receipt", headers: hc("Content-Type", "multipart/report; report-type=disposition-notification"), body: body, machine: MachineDeliveryReport},
		{name: "report feedback", headers: hc("Content-Type", `multipart/report; report-type="feedback-report"`), body: body, machine: MachineFeedback},
		{name: "report with DSN part action delivered",
			headers: hc("Content-Type", `multipart/report; report-type=delivery-status; boundary="r"`),
			body:    "--r\nContent-Type: text/plain\n\nYour message was delivered.\n--r\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example\n\nFinal-Recipient: rfc822; a@b.example\nAction: delivered\nStatus: 2.0.0\n--r--\n",
			machine: MachineDeliveryReport},
		{name: "report with DSN part action failed",
			headers: hc("Content-Type", `multipart/report; report-type=delivery-status; boundary="r"`),
			body:    "--r\nContent-Type: text/plain\n\nFailed.\n--r\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822; a@b.example\nAction: failed\nStatus: 5.1.1\n--r--\n",
			machine: MachineBounce},
		{name: "bounce subject", subject: "Undelivered Mail Returned to Sender", body: "This is the mail system.", machine: MachineBounce},
		{name: "undeliverable subject", subject: "Undeliverable: Proposal", body: "x", machine: MachineBounce},
		{name: "failure notice subject", subject: "failure notice", body: "x", machine: MachineBounce},
		{name: "mail delivery failed subject", subject: "Mail delivery failed: returning message to sender", body: "x", machine: MachineBounce},
		{name: "read receipt subject", subject: "Read: Proposal", body: "Your message was read.", machine: MachineDeliveryReport},
		{name: "logistics subject is not a bounce", subject: "Delivery failure at the Leeds depot", body: "Our pallets were late again; can your routing fix that?", machine: ""},
		{name: "bounce text without headers", body: "Delivery has failed to these recipients or groups:\n\njo@buyer.example", machine: MachineBounce},
		{name: "smtp code in text", body: "Error: invalid user\n550 5.1.1 <jo@buyer.example>... User unknown", machine: MachineBounce},
		{name: "null sender", headers: hc("Return-Path", "<>"), body: "Notice.", machine: MachineBounce},
		{name: "apple vacation", headers: hc("X-Apple-Action", "VACATION"), body: body, machine: MachineAutoReply},
	})
}

func TestAutoReplyText(t *testing.T) {
	runCases(t, []tc{
		// by subject
		{name: "subject automatic reply", subject: "Automatic reply: Proposal", body: "I will be back soon.", machine: MachineAutoReply},
		{name: "subject auto:", subject: "Auto: Demo", body: "x", machine: MachineAutoReply},
		{name: "subject out of office", subject: "Out of Office: Pricing", body: "x", machine: MachineAutoReply},
		{name: "subject abwesend", subject: "Abwesend: Angebot", body: "x", machine: MachineAutoReply},
		{name: "subject automatische antwort", subject: "Automatische Antwort: Angebot", body: "x", machine: MachineAutoReply},
		{name: "subject reponse automatique", subject: "Réponse automatique : Contrat", body: "x", machine: MachineAutoReply},
		{name: "subject respuesta automatica", subject: "Respuesta automática: Propuesta", body: "x", machine: MachineAutoReply},
		{name: "subject automatisch antwoord", subject: "Automatisch antwoord: Offerte", body: "x", machine: MachineAutoReply},
		// by text
		{name: "english ooo", subject: "Re: Proposal", body: "Hello,\n\nI am currently out of the office until 3 March with limited access to email. For urgent matters contact ops@buyer.example.\n\nKind regards,\nTina",
			machine: MachineAutoReply, want: []string{"out of the office"}},
		{name: "english annual leave", subject: "Re: Proposal", body: "I'm on annual leave until 30 March. For questions about contracts please contact procurement@buyer.example.",
			machine: MachineAutoReply},
		{name: "english automated response", subject: "Re: Demo", body: "Thank you for your email, this is an automated response. We will reply within 2 business days.", machine: MachineAutoReply},
		{name: "english ticket acknowledgement", body: "Thanks for contacting us! We've received your message and a member of our team will get back to you within 2 business days.", machine: MachineAutoReply},
		{name: "german ooo", subject: "AW: Angebot", body: "Vielen Dank für Ihre Nachricht. Ich bin bis zum 17.04.2026 nicht im Büro. In dringenden Fällen wenden Sie sich bitte an Frau Schulz.", machine: MachineAutoReply},
		{name: "german automatic", body: "Dies ist eine automatische Antwort. Ich bin ab dem 3. März wieder erreichbar.", machine: MachineAutoReply},
		{name: "german first line", body: "Abwesenheitsnotiz\n\nIch bin im Urlaub bis 12. März.", machine: MachineAutoReply},
		{name: "french ooo", subject: "RE: Contrat", body: "Bonjour,\n\nJe suis absente du bureau jusqu'au 15 mars. En cas d'urgence, contactez Paul.", machine: MachineAutoReply},
		{name: "french automatic", body: "Ceci est une réponse automatique. Je serai de retour le 3 mars.", machine: MachineAutoReply},
		{name: "spanish ooo", subject: "RE: Propuesta", body: "Hola,\n\nEstoy fuera de la oficina hasta el 10 de marzo. Para asuntos urgentes, contacte con Ana.", machine: MachineAutoReply},
		{name: "spanish automatic", body: "Esta es una respuesta automática. Volveré el lunes.", machine: MachineAutoReply},
		{name: "dutch ooo", subject: "RE: Offerte", body: "Beste,\n\nIk ben afwezig tot en met 12 maart. Voor dringende zaken kunt u contact opnemen met Piet.", machine: MachineAutoReply},
		{name: "dutch niet op kantoor", body: "Ik ben tot maandag niet op kantoor en lees mijn mail niet. Voor spoed: bel 020 123 4567.", machine: MachineAutoReply},
		{name: "dutch automatic", body: "Dit is een automatisch antwoord. Ik ben terug op 4 maart.", machine: MachineAutoReply},
	})
}

func TestNotAutoReply(t *testing.T) {
	runCases(t, []tc{
		{name: "past out of office", subject: "Re: Demo", body: "I was out of office last week, but yes let's meet Tuesday.", want: []string{"let's meet Tuesday"}},
		{name: "slow reply after conference", subject: "RE: Timesheets", body: "Hi Jordan,\n\nSorry for the slow reply, I was out of office all last week at a conference. Yes, this is relevant. Who should I talk to about integrations?\n\nSam"},
		{name: "ooo tomorrow with a question", body: "I'm out of office tomorrow, can we do Thursday instead?"},
		{name: "travelling, pick up later", body: "Thanks Ravi. I'm travelling this week, let's pick this up when I'm back.\n\nMaya"},
		{name: "german past", body: "Ich war letzte Woche nicht im Büro, aber Dienstag passt gut."},
		{name: "french past", body: "J'étais absent la semaine dernière, mais mardi me convient."},
		{name: "spanish past", body: "Estuve fuera de la oficina la semana pasada, pero el martes me va bien."},
		{name: "dutch past", body: "Ik was vorige week afwezig tot maandag, maar dinsdag past prima."},
		{name: "mentions an automatic reply", body: "I got your automatic reply earlier, glad you're back. Can we talk pricing?"},
		{name: "subject about absence software", subject: "Absence management demo", body: "Could we see the leave approval flow next week?"},
		{name: "reply to an out of office subject", subject: "Re: Out of Office: Pricing", body: "Welcome back! Any update on the contract?"},
		{name: "back from vacation", body: "I'm back from vacation. The redlines look fine, let's sign by Friday."},
		{name: "unsubscribe request", body: "unsubscribe"},
	})
}

func TestReadNilAndEmpty(t *testing.T) {
	if m := Read(nil, "", ""); m.Text != "" || m.Machine != "" {
		t.Errorf("empty: %+v", m)
	}
	if m := Read(map[string]string{}, "Hello", "  \n\n "); m.Text != "" {
		t.Errorf("blank: %+v", m)
	}
}

func FuzzRead(f *testing.F) {
	f.Add("", "", "")
	f.Add("text/html", "Re: x", "<div class=gmail_quote><blockquote>hi</blockquote></div>")
	f.Add(`multipart/alternative; boundary="b1"`, "x", mimeAlternative[strings.Index(mimeAlternative, "--b1"):])
	f.Add("", "Automatic reply: x", "I am currently out of the office until Monday.")
	f.Add("multipart/report; report-type=delivery-status; boundary=r", "", "--r\nContent-Type: message/delivery-status\n\nAction: failed\n--r--")
	f.Add("", "", mimeAlternative)
	f.Add("", "", "On Mon,\nX\nwrote:\n> y\n-- \nsig")
	f.Fuzz(func(t *testing.T, ct, subject, body string) {
		h := map[string]string{"Content-Type": ct, "Content-Transfer-Encoding": "quoted-printable"}
		if len(ct)%2 == 0 {
			h["Content-Transfer-Encoding"] = "base64"
		}
		m := Read(h, subject, body)
		_ = Read(nil, subject, body)
		_, _, _, _ = ParseRaw([]byte(body))
		if m.Machine != "" && m.MachineReason == "" {
			t.Fatalf("machine %q without reason", m.Machine)
		}
	})
}

// TestLargeInputsStayLinear guards against quadratic scans over many lines.
func TestLargeInputsStayLinear(t *testing.T) {
	for name, body := range map[string]string{
		"blank lines and from lines": strings.Repeat("From: x\n\n\n\n", 20000),
		"sign-offs":                  strings.Repeat("Thanks,\n\n", 20000) + "Jo",
		"names":                      strings.Repeat("\nJo Bloggs\n\n", 20000),
		"wrote lines":                strings.Repeat("x wrote:\n\n", 20000),
		"separators":                 strings.Repeat("______________\n\n\n", 20000),
		"html":                       "<html><body>" + strings.Repeat("<div><blockquote>", 20000) + "x",
	} {
		start := time.Now()
		Read(nil, "", body)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: Read took %v on %d bytes", name, d, len(body))
		}
	}
}
