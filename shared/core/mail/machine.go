package mail

import (
	"regexp"
	"strings"
)

// Machine mail detection. Headers decide first (they are what mail software
// writes on purpose); the subject and the opening of the text decide when
// headers are missing. Text cues are positional and need strong phrasing, so a
// person writing "I was out of office last week" is not an auto-reply.

// detectMachine returns the machine kind and what gave it away.
func detectMachine(h *hdrs, subject string, c *content, opening string) (kind, reason string) {
	// 1. Reports (RFC 3462/3464/3798/5965).
	if c.reportType != "" || c.dsn || c.feedback {
		switch {
		case c.feedback || c.reportType == "feedback-report":
			return MachineFeedback, "Content-Type: multipart/report; report-type=feedback-report"
		case c.reportType == "disposition-notification":
			return MachineDeliveryReport, "Content-Type: multipart/report; report-type=disposition-notification"
		default:
			rt := c.reportType
			if rt == "" {
				rt = "delivery-status"
			}
			if k := dsnKind(c.actions); k != "" {
				return k, "Content-Type: multipart/report; report-type=" + rt + " (Action:" + c.actions + ")"
			}
			if rt == "delivery-status" {
				if deliveredSubject(subject) {
					return MachineDeliveryReport, "Content-Type: multipart/report; report-type=delivery-status"
				}
				return MachineBounce, "Content-Type: multipart/report; report-type=delivery-status"
			}
			return MachineBounce, "Content-Type: multipart/report; report-type=" + rt
		}
	}
	if feedbackSubjectRe.MatchString(strings.ToLower(strings.TrimSpace(subject))) {
		return MachineFeedback, "Subject: " + shortHeader(subject)
	}
	// 2. Bounce headers.
	if h.hasFailedRecipients {
		return MachineBounce, "X-Failed-Recipients header"
	}
	if isDaemonSender(h.from) {
		if deliveredSubject(subject) {
			return MachineDeliveryReport, "From: " + shortHeader(h.from)
		}
		return MachineBounce, "From: " + shortHeader(h.from)
	}
	if k, ok := bounceSubject(subject, opening); ok {
		return k, "Subject: " + shortHeader(subject)
	}
	// 3. Bounce text when headers are missing.
	if m := bounceText.find(opening); m != "" {
		return MachineBounce, "text: \"" + m + "\""
	}
	// 4. RFC 3834 and vendor auto-reply headers.
	if as := strings.ToLower(strings.TrimSpace(h.autoSubmitted)); as != "" && !strings.HasPrefix(as, "no") {
		return MachineAutoReply, "Auto-Submitted: " + shortHeader(h.autoSubmitted)
	}
	if h.hasXAutoreply && !isNo(h.xAutoreply) {
		return MachineAutoReply, "X-Autoreply: " + shortHeader(h.xAutoreply)
	}
	if h.hasXAutorespond && !isNo(h.xAutorespond) {
		return MachineAutoReply, "X-Autorespond: " + shortHeader(h.xAutorespond)
	}
	if rs := strings.ToLower(h.responseSuppress); rs != "" && (strings.Contains(rs, "all") || strings.Contains(rs, "oof") || strings.Contains(rs, "autoreply")) {
		return MachineAutoReply, "X-Auto-Response-Suppress: " + shortHeader(h.responseSuppress)
	}
	if strings.Contains(strings.ToLower(h.appleAction), "vacation") {
		return MachineAutoReply, "X-Apple-Action: " + shortHeader(h.appleAction)
	}
	switch p := strings.ToLower(strings.TrimSpace(h.precedence)); p {
	case "auto_reply", "auto-reply", "junk":
		return MachineAutoReply, "Precedence: " + p
	case "bulk", "list":
		return MachineBulk, "Precedence: " + p
	}
	if h.hasListID {
		return MachineBulk, "List-Id header"
	}
	if h.hasListUnsubscribe {
		return MachineBulk, "List-Unsubscribe header"
	}
	if h.listHeader != "" {
		return MachineBulk, h.listHeader + " header"
	}
	// 5. Auto-reply by subject, then by the opening of the text.
	if m := autoSubjectRe.FindString(strings.ToLower(strings.TrimSpace(subject))); m != "" {
		return MachineAutoReply, "Subject: " + shortHeader(subject)
	}
	if r := autoReplyText(opening); r != "" {
		return MachineAutoReply, "text: \"" + r + "\""
	}
	// 6. A bounce forwarded with next to no words of one's own is still a bounce.
	if fw, ok := forwardedSubject(subject); ok && len(opening) < 80 {
		if k, ok := bounceSubject(fw, ""); ok {
			return k, "forwarded report, Subject: " + shortHeader(subject)
		}
	}
	// 7. A null envelope sender (Return-Path: <>) is used only by
	// delivery reports and auto-responders (RFC 5321 4.5.5, RFC 3834 3.3).
	if strings.TrimSpace(h.returnPath) == "<>" {
		return MachineBounce, "Return-Path: <> (null sender)"
	}
	return "", ""
}

// Feedback (abuse complaint) report subjects from providers that do not send
// ARF: Microsoft JMRP "complaint about message from <ip>", abuse desks.
var feedbackSubjectRe = regexp.MustCompile(`^(?:complaint about message from \d|abuse report\b|email feedback report|dmarc (?:forensic|failure) report|spam complaint|abuse complaint|spamtraphit)`)

// forwardedSubject strips one "Fwd:"-style prefix.
func forwardedSubject(s string) (string, bool) {
	t := strings.TrimSpace(s)
	if c := strings.IndexByte(t, ':'); c > 0 && c <= 12 {
		switch strings.ToLower(strings.TrimSpace(t[:c])) {
		case "fwd", "fw", "wg", "tr", "rv", "doorgestuurd", "i", "enc", "fwd fwd":
			return strings.TrimSpace(t[c+1:]), true
		}
	}
	return "", false
}

func isNo(v string) bool {
	v = strings.ToLower(strings.TrimSpace(v))
	return v == "no" || v == "false" || v == "0"
}

func shortHeader(v string) string {
	v = strings.TrimSpace(DecodeHeader(v))
	if len(v) > 80 {
		v = v[:80]
		for len(v) > 0 && v[len(v)-1]&0xC0 == 0x80 {
			v = v[:len(v)-1]
		}
		if len(v) > 0 && v[len(v)-1] >= 0xC0 {
			v = v[:len(v)-1]
		}
		v += "..."
	}
	return v
}

// dsnKind maps DSN Action values to a kind: any failure is a bounce; delays
// and successes are delivery reports.
func dsnKind(actions string) string {
	switch {
	case actions == "":
		return ""
	case strings.Contains(actions, "failed"):
		return MachineBounce
	case strings.Contains(actions, "delayed"), strings.Contains(actions, "delivered"),
		strings.Contains(actions, "relayed"), strings.Contains(actions, "expanded"):
		return MachineDeliveryReport
	}
	return ""
}

func isDaemonSender(from string) bool {
	if from == "" {
		return false
	}
	f := strings.ToLower(from)
	for _, s := range []string{"mailer-daemon", "postmaster", "post_master", "mail delivery system",
		"mail delivery subsystem", "mail administrator", "mail system", "maildelivery", "mailerdaemon",
		"bounce@", "bounces@", "mail.delivery.system", "mdaemon@"} {
		if strings.Contains(f, s) {
			return true
		}
	}
	return false
}

// Bounce and delivery-report subjects. Matched on the subject start (after an
// optional "[tag]"), never after "Re:". Mail-specific wording is enough on its
// own; wording a logistics customer might use for a parcel ("Delivery failure
// at the depot") needs mail evidence in the text as well.
var bounceSubjectRe = regexp.MustCompile(`^(?:\[[^\]]*\]\s*)?(?:` +
	`undelivered mail|undeliverable|undelivered message|undeliverd|delivery status notification|` +
	`mail delivery failed|mail delivery failure|mail delivery error|mail delivery status|mail delivery problem|` +
	`mail failure|mail system error|returned mail|mail returned|return(?:ed)? to sender|failure notice|` +
	`non[- ]?delivery|nondeliverable|non[- ]?remis|message not delivered|message delivery failure|` +
	`message could not be delivered|mail could not be delivered|mail not delivered|message undeliverable|` +
	`undeliverable mail|could not send message|warning: could not send|warning: message [^\n]* delayed|` +
	`postmaster notif|there was an error sending your mail|notice: mail delivery|error sending message|` +
	`unzustellbar|nicht zustellbar|zustellungsfehler|unzustellbare|non distribuibile|mancata consegna|` +
	`impossible de remettre|échec de (?:la )?remise|no se puede entregar|error de entrega del mensaje|` +
	`onbestelbaar|niet afgeleverd|aws notification message|bounced mail|bounce notification|` +
	`your message (?:was|could) not be delivered|permanent delivery failure|delayed mail|ndn:|ndr:|dsn:)`)

var weakBounceSubjectRe = regexp.MustCompile(`^(?:\[[^\]]*\]\s*)?(?:` +
	`delivery notification|delivery status|delivery report|delivery failure|delivery failed|` +
	`delivery has failed|delivery problem|delivery delayed|delivery notice|delivery delay|` +
	`message delayed|sending failed|unable to deliver|undelivered|mail delivery)`)

// mailEvidence: the opening talks about mail transport, not parcels.
var mailEvidence = []string{"recipient", "mailbox", "smtp", "email address", "e-mail address",
	"mail server", "mail system", "postmaster", "mailer-daemon", "dsn", "@"}

var deliveredSubjectRe = regexp.MustCompile(`(?:\(delay\)|delayed|delay |relayed|\(success\)|successful|: delivered|^read:|^gelesen:|^lu :|^leído:|^gelezen:|^read receipt|^return receipt|^delivered:|^relayed:)`)

func deliveredSubject(s string) bool {
	return deliveredSubjectRe.MatchString(strings.ToLower(s))
}

func bounceSubject(subject, opening string) (string, bool) {
	s := strings.ToLower(strings.TrimSpace(subject))
	if s == "" {
		return "", false
	}
	if strings.HasPrefix(s, "read:") || strings.HasPrefix(s, "read receipt") || strings.HasPrefix(s, "return receipt") ||
		strings.HasPrefix(s, "gelesen:") || strings.HasPrefix(s, "lu :") || strings.HasPrefix(s, "lu:") ||
		strings.HasPrefix(s, "leído:") || strings.HasPrefix(s, "gelezen:") {
		return MachineDeliveryReport, true
	}
	if !bounceSubjectRe.MatchString(s) && !(weakBounceSubjectRe.MatchString(s) && (hasAnyWord(opening, mailEvidence) || strings.Contains(opening, "@"))) {
		return "", false
	}
	if strings.Contains(s, "delay") || strings.Contains(s, "(success)") || strings.HasPrefix(s, "delivered:") || strings.HasPrefix(s, "relayed:") {
		return MachineDeliveryReport, true
	}
	return MachineBounce, true
}

// bounceText: phrases that open a non-delivery report's human-readable part
// (on the lower-cased opening of the text).
var bounceText = newPhrases(
	`this is the mail system at host`,
	`this message was created automatically by mail delivery software`,
	`i'm sorry to have to inform you that your message could not`,
	`delivery has failed to these recipients`,
	`delivery to the following recipients? (?:failed|has been delayed)`,
	`your message (?:could ?n[o']t|wasn't|was not|cannot) (?:be )?delivered`,
	`the following message to [^\n]+ was undeliverable`,
	`message (?:delivery )?(?:has )?failed to (?:deliver|the following)`,
	`mail (?:delivery )?(?:has )?failed to (?:deliver|the following)`,
	`could not be delivered to one or more recipients`,
	`could not be delivered to:?\s*<[^>\s]+@`,
	`the original message was received at`,
	`----- the following addresses had permanent fatal errors`,
	`this is an automatically generated delivery status notification`,
	`hi\. this is the qmail-send program`,
	`diese nachricht wurde automatisch von der mail-software erstellt`,
	`ihre nachricht konnte nicht (?:zugestellt|übermittelt) werden`,
	`votre message n'a pas pu être remis`,
	`la remise [^\n]* a échoué`,
	`su mensaje no (?:pudo|se pudo) (?:ser )?entregar`,
	`no se ha podido entregar`,
	`uw bericht kon niet worden (?:afgeleverd|bezorgd)`,
	`remote server returned '5\d\d`,
	`smtp error from remote mail server`,
	`the email account that you tried to reach does not exist`,
	`address not found\b`,
	`requested action not taken`,
	`user unknown`,
	`no such user`,
	`mailbox unavailable`,
)

// Auto-reply subjects (lower case): "Automatic reply:", "Auto:", "Out of
// Office:", "Abwesend:", "Réponse automatique :" and the like.
var autoSubjectRe = regexp.MustCompile(`^(?:` +
	`auto(?:matic|mated)?[- ]?(?:reply|response|answer|antwort)\b|auto:|autoreply|autoresponse|` +
	`out of (?:the )?office|ooo[: ]|away from (?:the |my )?office|on vacation:|vacation reply|` +
	`i am out of the office|i'm out of the office|.+ is out of the office|` +
	`automatische antwort|abwesenheitsnotiz|außer haus|ausser haus|nicht im büro|urlaub:|` +
	`réponse automatique|reponse automatique|message d'absence|hors du bureau|absen(?:t|te|ce) du bureau|` +
	`respuesta automática|respuesta automatica|fuera de la oficina|fuera de oficina|` +
	`automatisch antwoord|automatisch bericht|niet op kantoor|afwezigheidsmelding|` +
	`risposta automatica|fuori ufficio|resposta automática|` +
	`autosvar|automatisk svar|automaattinen vastaus|` +
	`(?:abwesend|abwesenheit|absent|absente|absence|ausente|assente|afwezig|fr[aå]nvaro|ausência|vacation|urlaub)\s*(?::|$|\())`)

// Sentences that only an auto-responder writes, anywhere in the opening.
var autoStrong = newPhrases(
	`this is an? (?:automatic|automated|auto-generated|automatically generated|auto)[- ]?(?:reply|response|message|e-?mail|notification|acknowledge?ment|answer)`,
	`this (?:message|e-?mail|reply|response) (?:is|was|has been) (?:sent |generated )?automatic`,
	`out of (?:the )?office (?:auto[- ]?)?(?:reply|message|notice|notification)`,
	`out-of-office (?:auto[- ]?)?(?:reply|message|notice|notification)`,
	`this (?:mailbox|inbox|e-?mail address) is (?:not monitored|unmonitored)`,
	`your (?:request|ticket|case|enquiry|inquiry|message) (?:has been|was|is) (?:received and )?(?:logged|created|opened|registered|assigned)`,
	`(?:we've|we have|we’ve) received your (?:message|e-?mail|request|enquiry|inquiry|note)[^.]*(?:will (?:get back|respond|reply|be in touch|contact)|within \d)`,
	`a member of (?:our|the) (?:\w+ )?team will (?:get back|respond|reply|be in touch|contact)[^.]*(?:within|as soon as|shortly)`,
	`dies ist eine automatische (?:antwort|nachricht|e-mail|benachrichtigung|abwesenheitsnotiz)`,
	`dies ist eine automatisch (?:generierte|erstellte|versandte)`,
	`automatische abwesenheitsnotiz`,
	`ceci est (?:une|un) (?:réponse|message|courriel|e-mail) automatique`,
	`ceci est un message d'absence`,
	`esta es una (?:respuesta|mensaje|correo) (?:automática|automático|generad[oa] automáticamente)`,
	`este es un (?:respuesta|mensaje|correo) (?:automática|automático|generad[oa] automáticamente)`,
	`dit is een automatisch (?:antwoord|bericht|gegenereerd)`,
	`questa è una risposta automatica`,
)

// Present-tense absence statements; they count only with a return cue
// ("until", "back on", "limited access", "contact X instead") and no question.
var absence = newPhrases(
	`i am (?:currently |now |presently )?(?:out of (?:the )?office|ooo\b|away from (?:the |my )?(?:office|desk|email)|out on|on (?:annual |parental |maternity |paternity |sick |medical |study |holiday |vacation )?leave|on (?:vacation|holiday|holidays|a business trip|business travel|pto)|away|travell?ing|out\b|off\b|not in the office|unavailable)`,
	`i'm (?:currently |now |presently )?(?:out of (?:the )?office|ooo\b|away from (?:the |my )?(?:office|desk|email)|out on|on (?:annual |parental |maternity |paternity |sick |medical |study |holiday |vacation )?leave|on (?:vacation|holiday|holidays|a business trip|business travel|pto)|away|travell?ing|out\b|off\b|not in the office|unavailable)`,
	`i’m (?:currently |now |presently )?(?:out of (?:the )?office|ooo\b|away|on (?:annual |parental |maternity |paternity |sick )?leave|on (?:vacation|holiday|holidays|a business trip)|travell?ing|unavailable)`,
	`i will be (?:currently |now )?(?:out of (?:the )?office|ooo\b|away|on (?:annual |parental |maternity |paternity |sick )?leave|on (?:vacation|holiday|holidays|a business trip)|travell?ing|out\b|off\b|unavailable)`,
	`i'll be (?:out of (?:the )?office|ooo\b|away|on (?:annual |parental |maternity |paternity |sick )?leave|on (?:vacation|holiday|holidays|a business trip)|travell?ing|out\b|off\b|unavailable)`,
	`ich bin\b(?:[^.!?\n]|\.\d)*?(?:nicht im (?:büro|office|hause|haus)|außer haus|ausser haus|abwesend|im urlaub|in urlaub|nicht erreichbar|auf (?:dienst|geschäfts)reise|out of office|nicht am arbeitsplatz)`,
	`je suis\b(?:[^.!?\n]|\.\d)*?(?:absente?|en congés?|en vacances|en déplacement|hors du bureau|en dehors du bureau)`,
	`absente? du bureau`,
	`je serai absente?`,
	`estoy\b(?:[^.!?\n]|\.\d)*?(?:fuera de la oficina|fuera de oficina|de vacaciones|ausente|fuera)`,
	`estaré\b(?:[^.!?\n]|\.\d)*?(?:fuera de la oficina|fuera de oficina|de vacaciones|ausente|fuera)`,
	`me encuentro\b(?:[^.!?\n]|\.\d)*?(?:fuera de la oficina|fuera de oficina|de vacaciones|ausente|fuera)`,
	`fuera de la oficina`,
	`ik ben\b(?:[^.!?\n]|\.\d)*?(?:afwezig|niet op kantoor|op vakantie|met vakantie|niet aanwezig|niet bereikbaar|vrij)`,
	`niet op kantoor`,
	`afwezig\b`,
	`sono\b(?:[^.!?\n]|\.\d)*?(?:fuori (?:ufficio|sede)|in ferie|assente)`,
)

// Words that say when the absent person is back or whom to contact instead.
var returnCues = []string{
	"until", "till", "through", "thru", "returning", "return", "back on", "back in", "back at",
	"back from", "back by", "back to", "be back", "limited access", "no access", "without access",
	"intermittent", "occasional", "urgent", "contact", "reach out to", "in my absence",
	"bis", "zurück", "wieder im büro", "wieder erreichbar", "wieder da", "wieder für sie",
	"dringend", "vertretung", "wenden sie sich", "jusqu'au", "jusqu'à", "jusqu’au", "jusqu’à",
	"retour", "urgence", "contacter", "hasta", "regreso", "vuelta", "urgente", "urgencia",
	"póngase", "tot en met", "t/m", "tot", "terug", "weer aanwezig", "dringende", "spoed",
	"fino al", "rientro", "ritorno",
}

// autoReplyText looks at the opening of the text (already lower-cased by the
// caller) and returns the phrase that marks an auto-reply, or "".
func autoReplyText(opening string) string {
	if opening == "" {
		return ""
	}
	if m := autoStrong.find(opening); m != "" {
		return strings.TrimSpace(m)
	}
	// A first line that reads like an auto-reply subject ("Automatische
	// Antwort", "Out of office", "Réponse automatique :").
	first := strings.TrimLeft(opening, " \t\n")
	if i := strings.IndexByte(first, '\n'); i >= 0 {
		first = first[:i]
	}
	if len(first) <= 50 && len(strings.Fields(first)) <= 6 {
		if m := autoSubjectRe.FindString(strings.TrimSpace(first)); m != "" {
			return strings.TrimSpace(m)
		}
	}
	// Absence statements must open the message (first ~2 sentences) ...
	head := opening
	if len(head) > 240 {
		head = head[:240]
	}
	loc := absence.findIndex(head)
	if loc == nil {
		return ""
	}
	// ... within the first two sentences after an optional greeting,
	if sentencesBefore(head[:loc[0]]) > 1 {
		return ""
	}
	// ... in the present tense ("I was out of office last week" is a person),
	if hasAnyWord(sentenceAt(head, loc[0]), pastTense) {
		return ""
	}
	// ... with a return or redirect cue, and no question to the reader.
	if strings.IndexByte(opening, '?') >= 0 || !hasAnyWord(opening[loc[0]:], returnCues) {
		return ""
	}
	return strings.TrimSpace(head[loc[0]:loc[1]])
}

// Past-tense markers: "I was out of office last week" is a person talking.
var pastTense = []string{
	"was", "were", "war", "waren", "hatte", "été", "étais", "était", "estuve", "estaba", "estuvo",
	"geweest", "ero", "sono stato", "sono stata", "last week", "yesterday", "letzte woche",
	"gestern", "la semaine dernière", "la semana pasada", "ayer", "vorige week", "gisteren",
}

// sentenceAt returns the sentence of s around byte offset i.
func sentenceAt(s string, i int) string {
	start := strings.LastIndexAny(s[:i], ".!?\n") + 1
	end := strings.IndexAny(s[i:], ".!?\n")
	if end < 0 {
		return s[start:]
	}
	return s[start : i+end]
}

// sentencesBefore counts sentence ends in s, not counting a greeting line.
func sentencesBefore(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '.', '!':
			if i+1 == len(s) || s[i+1] == ' ' || s[i+1] == '\n' {
				n++
			}
		}
	}
	return n
}

// phrases is a list of small regexps searched one by one. Go's regexp scans
// a large unanchored alternation byte by byte through every branch; a small
// regexp that opens with a literal is instead found with a fast substring
// search, which keeps Read at tens of microseconds.
type phrases []phrase

type phrase struct {
	lit string // literal every match starts with
	re  *regexp.Regexp
}

func newPhrases(patterns ...string) phrases {
	ps := make(phrases, len(patterns))
	for i, p := range patterns {
		re := regexp.MustCompile(p)
		lit, _ := re.LiteralPrefix()
		ps[i] = phrase{lit: lit, re: re}
	}
	return ps
}

// find returns the first pattern's match (in list order), or "".
func (ps phrases) find(s string) string {
	for _, p := range ps {
		if p.lit != "" && !strings.Contains(s, p.lit) {
			continue
		}
		if m := p.re.FindString(s); m != "" {
			return m
		}
	}
	return ""
}

// findIndex returns the leftmost match of any pattern, or nil.
func (ps phrases) findIndex(s string) []int {
	var best []int
	for _, p := range ps {
		if p.lit != "" && !strings.Contains(s, p.lit) {
			continue
		}
		if loc := p.re.FindStringIndex(s); loc != nil && (best == nil || loc[0] < best[0]) {
			best = loc
		}
	}
	return best
}

// hasAnyWord reports whether s contains one of words as a whole word
// (letters on either side do not count; non-ASCII bytes count as letters).
func hasAnyWord(s string, words []string) bool {
	for _, w := range words {
		for off := 0; ; {
			i := strings.Index(s[off:], w)
			if i < 0 {
				break
			}
			i += off
			j := i + len(w)
			if (i == 0 || !isWordByte(s[i-1])) && (j == len(s) || !isWordByte(s[j])) {
				return true
			}
			off = i + 1
		}
	}
	return false
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}
