package mail

import (
	"strings"
	"testing"
)

// Realistic 1-3 KB emails: a reply with quoted history, a signature and a
// disclaimer; the same as Outlook-style HTML; and as a MIME message.
var benchPlain = "Hi Alex,\n\n" +
	"Thanks for sending the revised order form. We've been through it with finance and the team is broadly happy. " +
	"Two things before we can sign: could you confirm the payment terms are net 45 rather than net 30, and that the " +
	"price is fixed for the full 24 months? If so we'd aim to have it signed by the end of next week.\n\n" +
	"Best regards,\nPriya Nair\nHead of Procurement\nStonebridge Insurance Ltd\n+44 20 7946 0018 | www.stonebridge.example\n\n" +
	"This email and any attachments are confidential and may be legally privileged. If you are not the intended " +
	"recipient, please notify the sender and delete it. Contract terms are binding only when signed.\n\n" +
	"On Tue, 3 Mar 2026 at 11:02, Alex Moreau <alex.moreau@quantaflow.example> wrote:\n" +
	strings.Repeat("> Hi Priya, attached is the revised order form with the discount we discussed and the SLA schedule.\n", 6) +
	">\n> -----Original Message-----\n> From: Priya Nair <priya.nair@stonebridge-ins.example>\n> Sent: Monday, March 2, 2026 09:15 AM\n" +
	"> To: Alex Moreau <alex.moreau@quantaflow.example>\n> Subject: Order form\n>\n" +
	strings.Repeat("> Could you send the order form with the changes to the liability clause?\n", 4)

var benchHTML = `<html xmlns:o="urn:schemas-microsoft-com:office:office"><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">` +
	`<style><!-- p.MsoNormal {margin:0cm; font-size:11.0pt; font-family:"Calibri",sans-serif;} --></style></head>` +
	`<body lang="EN-GB"><div class="WordSection1"><p class="MsoNormal">Hi Alex,<o:p></o:p></p><p class="MsoNormal"><o:p>&nbsp;</o:p></p>` +
	`<p class="MsoNormal">Thanks for sending the revised order form. We&#8217;ve been through it with finance and the team is broadly happy. ` +
	`Two things before we can sign: could you confirm the payment terms are net 45 rather than net 30, and that the price is fixed for the full 24 months?<o:p></o:p></p>` +
	`<p class="MsoNormal"><o:p>&nbsp;</o:p></p><p class="MsoNormal">Best regards,<br>Priya Nair<br>Head of Procurement<br>Stonebridge Insurance Ltd<o:p></o:p></p>` +
	`<div id="appendonsend"></div><hr style="display:inline-block;width:98%"><div id="divRplyFwdMsg" dir="ltr"><font face="Calibri" style="font-size:11pt">` +
	`<b>From:</b> Alex Moreau &lt;alex.moreau@quantaflow.example&gt;<br><b>Sent:</b> Tuesday, March 3, 2026 11:02<br><b>To:</b> Priya Nair<br><b>Subject:</b> Order form</font></div>` +
	strings.Repeat(`<div><p>Hi Priya, attached is the revised order form with the discount we discussed and the SLA schedule.</p></div>`, 8) +
	`</div></body></html>`

var benchMIME = "MIME-Version: 1.0\r\nFrom: Priya Nair <priya.nair@stonebridge-ins.example>\r\nSubject: RE: Order form\r\n" +
	"Content-Type: multipart/alternative; boundary=\"_000_b\"\r\n\r\n--_000_b\r\nContent-Type: text/plain; charset=\"utf-8\"\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + strings.ReplaceAll(benchPlain[:1200], "=", "=3D") +
	"\r\n--_000_b\r\nContent-Type: text/html; charset=\"utf-8\"\r\n\r\n" + benchHTML[:1200] + "\r\n--_000_b--\r\n"

func BenchmarkRead(b *testing.B) {
	for _, c := range []struct {
		name    string
		headers map[string]string
		body    string
	}{
		{"plain_quoted", map[string]string{"From": "priya.nair@stonebridge-ins.example", "Message-ID": "<a@b>"}, benchPlain},
		{"html_outlook", map[string]string{"Content-Type": "text/html; charset=utf-8"}, benchHTML},
		{"mime_alternative", nil, benchMIME},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.body)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				m := Read(c.headers, "RE: Order form", c.body)
				if m.Machine != "" || !strings.Contains(m.Text, "net 45") {
					b.Fatalf("unexpected read: %+v", m)
				}
			}
		})
	}
}
