package mail

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// The second pass of [Reader]: a conservative safety net on top of the first
// (Read by default), so quoted history, signatures and auto-replies never
// count even when the first pass lets one through. The checks below are
// idempotent on text that is already clean.

var quoteSeparators = []string{
	"original message", "forwarded message", "ursprungliche nachricht", "weitergeleitete nachricht",
	"message d origine", "message transfere", "mensaje original", "mensaje reenviado",
	"oorspronkelijk bericht", "doorgestuurd bericht", "begin forwarded message", "anfang der weitergeleiteten",
	"messaggio originale", "messaggio inoltrato",
}

var wroteVerbs = []string{"wrote", "a ecrit", "escribio", "schrieb", "schreef", "ha scritto", "skrev"}

var headerStarts = []string{"from:", "von:", "de:", "de :", "van:", "da:"}
var headerNext = []string{"sent:", "date:", "gesendet:", "datum:", "envoye:", "envoye :", "date :", "enviado:", "fecha:",
	"verzonden:", "subject:", "betreff:", "objet:", "objet :", "asunto:", "onderwerp:", "to:", "an:", "a:", "a :", "para:", "aan:", "cc:"}

var attachmentPrefixes = []string{"attachment", "attachments", "attached file", "anhang", "anlage", "anlagen", "piece jointe", "pieces jointes", "pj",
	"adjunto", "adjuntos", "archivo adjunto", "bijlage", "bijlagen"}

func isAttachmentLine(fl string) bool {
	for _, p := range attachmentPrefixes {
		if strings.HasPrefix(fl, p) {
			rest := strings.TrimSpace(fl[len(p):])
			if strings.HasPrefix(rest, ":") {
				return true
			}
		}
	}
	return false
}

// isQuoteStart reports whether line i starts quoted or forwarded history.
func isQuoteStart(lines, folded []string, i int) bool {
	fl := strings.TrimSpace(folded[i])
	if fl == "" {
		return false
	}
	trimmed := strings.Trim(fl, "-_=* ")
	if strings.HasPrefix(fl, "--") || strings.HasPrefix(fl, "__") || strings.HasPrefix(fl, "==") {
		for _, s := range quoteSeparators {
			if strings.Contains(trimmed, s) {
				return true
			}
		}
		if strings.HasPrefix(fl, "________") {
			return true
		}
	}
	for _, s := range quoteSeparators[len(quoteSeparators)-4:] {
		if strings.HasPrefix(trimmed, s) {
			return true
		}
	}
	// "On <date>, <name> wrote:" possibly over two lines
	joined := fl
	if i+1 < len(folded) {
		joined = fl + " " + strings.TrimSpace(folded[i+1])
	}
	if strings.HasSuffix(fl, ":") || strings.HasSuffix(joined, ":") {
		for _, v := range wroteVerbs {
			if strings.Contains(fl, v) || (len(fl) < 120 && strings.Contains(joined, v) && strings.HasSuffix(joined, ":")) {
				// must look like a header line, not a sentence
				if len(fl) < 200 && (strings.ContainsAny(fl, "0123456789@<") || strings.HasPrefix(fl, "on ") || strings.HasPrefix(fl, "le ") || strings.HasPrefix(fl, "el ") || strings.HasPrefix(fl, "am ") || strings.HasPrefix(fl, "op ")) {
					return true
				}
			}
		}
	}
	for _, h := range headerStarts {
		if strings.HasPrefix(fl, h) {
			for j := i + 1; j < len(folded) && j <= i+4; j++ {
				n := strings.TrimSpace(folded[j])
				for _, x := range headerNext {
					if strings.HasPrefix(n, x) {
						return true
					}
				}
			}
		}
	}
	return false
}

var closings = setOf(
	"thanks", "thank you", "many thanks", "thanks again", "thanks a lot", "thanks so much", "thank you very much", "thx", "ta",
	"cheers", "best", "best regards", "kind regards", "warm regards", "warmest regards", "regards", "all the best", "best wishes",
	"sincerely", "yours sincerely", "yours faithfully", "yours", "talk soon", "speak soon", "br", "kr", "rgds", "many regards",
	"with thanks", "with best regards", "with kind regards", "thanks and regards", "thanks & regards", "best,", "respectfully",
	"mit freundlichen grussen", "mit freundlichen gruessen", "freundliche grusse", "beste grusse", "viele grusse", "liebe grusse",
	"herzliche grusse", "schone grusse", "gruss", "grusse", "lg", "vg", "mfg", "danke", "vielen dank", "besten dank", "danke und gruss",
	"bien cordialement", "cordialement", "bien a vous", "salutations", "meilleures salutations", "sincerement", "bonne journee",
	"bonne continuation", "merci", "merci beaucoup", "merci d avance", "a bientot", "bien amicalement", "amicalement",
	"un saludo", "saludos", "saludos cordiales", "un cordial saludo", "atentamente", "un abrazo", "gracias", "muchas gracias",
	"met vriendelijke groet", "met vriendelijke groeten", "vriendelijke groet", "vriendelijke groeten", "groeten", "groet",
	"hartelijke groet", "hartelijke groeten", "mvg", "bedankt", "alvast bedankt", "dank je wel", "dank u wel", "fijne dag",
)

func normLine(fl string) string {
	// letters, digits and single spaces only
	var b strings.Builder
	space := false
	for _, r := range fl {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '&' {
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(r)
		} else {
			space = true
		}
	}
	return b.String()
}

// isClosing: "Kind regards," or "Thanks, Tom" or "Best - Irene".
func isClosing(fl string) bool {
	n := normLine(fl)
	if closings[n] {
		return true
	}
	if i := strings.IndexAny(fl, ",-–"); i > 0 {
		head := normLine(fl[:i])
		tail := strings.Fields(normLine(fl[i+1:]))
		if closings[head] && len(tail) <= 3 {
			return true
		}
	}
	return false
}

func senderNames(from string) map[string]bool {
	from = strings.ToLower(from)
	if i := strings.IndexByte(from, '<'); i >= 0 {
		from = from[i+1:]
	}
	if i := strings.IndexByte(from, '@'); i >= 0 {
		from = from[:i]
	}
	out := map[string]bool{}
	for _, p := range strings.FieldsFunc(from, func(r rune) bool { return r == '.' || r == '_' || r == '-' || r == '+' }) {
		if len(p) >= 2 {
			out[Fold(p)] = true
		}
	}
	return out
}

// isNameLine: a short line of capitalised words naming the sender.
func isNameLine(line string, names map[string]bool) bool {
	words := strings.Fields(strings.TrimSpace(line))
	if len(words) == 0 || len(words) > 4 {
		return false
	}
	hit := false
	for _, w := range words {
		w = strings.Trim(w, ",.;:!")
		r, _ := utf8.DecodeRuneInString(w)
		if r == utf8.RuneError || !unicode.IsUpper(r) {
			return false
		}
		if names[Fold(strings.ToLower(w))] {
			hit = true
		}
	}
	return hit
}

func isDisclaimerStart(fl string) bool {
	for _, p := range []string{"confidentiality notice", "confidentiality", "disclaimer", "this email and any", "this e mail and any", "this e-mail and any",
		"this message and any", "this email is confidential", "this message is confidential", "this email may contain", "this e-mail may contain",
		"diese e mail", "diese e-mail", "diese nachricht", "ce message", "ce courriel", "este mensaje", "este correo", "dit bericht", "deze e-mail", "deze e mail",
		"sent from my", "von meinem", "envoye de mon", "enviado desde mi", "verzonden vanaf mijn", "verstuurd vanaf mijn", "get outlook for"} {
		if strings.HasPrefix(fl, p) {
			return true
		}
	}
	return false
}

// isSignatureish: a line that may sit under a sign-off.
func isSignatureish(line, fl string) bool {
	if strings.ContainsAny(line, "@|") || strings.Contains(fl, "http") || strings.Contains(fl, "www.") {
		return true
	}
	if isDisclaimerStart(fl) || strings.Contains(fl, "confidential") || strings.Contains(fl, "registered") || strings.Contains(fl, "vertraulich") || strings.Contains(fl, "intended recipient") {
		return true
	}
	if isAttachmentLine(fl) {
		return true
	}
	return len(strings.Fields(line)) <= 12
}

// ownText returns what the sender wrote now (no quoted history, no
// signature) and the attachment lines of the message.
func ownText(text, from string) (string, []string) {
	if strings.IndexByte(text, '\r') >= 0 {
		text = strings.ReplaceAll(text, "\r\n", "\n")
	}
	lines := strings.Split(text, "\n")
	folded := make([]string, len(lines))
	for i, l := range lines {
		if len(l) > 300 {
			l = l[:300]
		}
		folded[i] = Fold(strings.ToLower(l))
	}
	var kept []int
	var atts []string
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, ">") {
			continue
		}
		if isQuoteStart(lines, folded, i) {
			break
		}
		if isAttachmentLine(strings.TrimSpace(folded[i])) {
			atts = append(atts, t)
			continue
		}
		kept = append(kept, i)
	}
	// signature: the first sign-off, name line, "--" or disclaimer after
	// some content, when everything below it looks like a signature
	names := senderNames(from)
	firstContent := -1
	cut := len(kept)
	for k, i := range kept {
		t := strings.TrimSpace(lines[i])
		if t == "" {
			continue
		}
		fl := strings.TrimSpace(folded[i])
		if firstContent < 0 {
			firstContent = k
			if !(t == "--" || t == "-- ") {
				continue
			}
		}
		candidate := t == "--" || t == "—" || strings.HasPrefix(t, "-- ") || isDisclaimerStart(fl)
		if !candidate && (isClosing(fl) || isNameLine(t, names)) {
			candidate = true
			for _, j := range kept[k+1:] {
				lt := strings.TrimSpace(lines[j])
				if lt != "" && !isSignatureish(lt, strings.TrimSpace(folded[j])) {
					candidate = false
					break
				}
			}
		}
		if candidate {
			cut = k
			break
		}
	}
	var b strings.Builder
	for _, i := range kept[:cut] {
		b.WriteString(lines[i])
		b.WriteByte('\n')
	}
	return strings.TrimSpace(b.String()), atts
}

// fallbackMachine recognises machine mail the first pass did not flag.
func fallbackMachine(headers map[string]string, from, subject, text string) (string, string) {
	for k, v := range headers {
		lk := strings.ToLower(strings.TrimSpace(k))
		lv := strings.ToLower(strings.TrimSpace(v))
		switch lk {
		case "auto-submitted":
			if lv != "" && lv != "no" {
				return "auto_reply", k + ": " + v
			}
		case "x-autoreply", "x-autorespond", "x-auto-reply", "x-autogenerated":
			if lv != "" && lv != "no" && lv != "false" {
				return "auto_reply", k + ": " + v
			}
		case "precedence":
			switch lv {
			case "auto_reply", "auto-reply":
				return "auto_reply", k + ": " + v
			case "bulk", "list", "junk":
				return "bulk", k + ": " + v
			}
		case "x-failed-recipients":
			return "bounce", k + ": " + v
		case "content-type":
			if strings.Contains(lv, "multipart/report") {
				switch {
				case strings.Contains(lv, "feedback-report"):
					return "feedback_report", k + ": " + v
				case strings.Contains(lv, "disposition-notification"):
					return "delivery_report", k + ": " + v
				default:
					return "bounce", k + ": " + v
				}
			}
		case "list-id", "list-unsubscribe":
			return "bulk", k + ": " + v
		}
	}
	local := strings.ToLower(from)
	if i := strings.IndexByte(local, '<'); i >= 0 {
		local = local[i+1:]
		if j := strings.IndexByte(local, '>'); j >= 0 {
			local = local[:j]
		}
	}
	if i := strings.IndexByte(local, '@'); i >= 0 {
		local = local[:i]
	}
	if strings.TrimSpace(local) == "" && strings.Contains(from, "<>") {
		return "bounce", "empty sender <>"
	}
	switch local {
	case "mailer-daemon", "postmaster", "post_master", "mail-daemon", "mailerdaemon":
		return "bounce", "sender " + from
	case "noreply", "no-reply", "donotreply", "do-not-reply", "do_not_reply", "no_reply", "notifications", "notification":
		return "auto_reply", "sender " + from
	}
	fs := Fold(strings.ToLower(strings.TrimSpace(subject)))
	for _, p := range []string{"automatic reply", "auto reply", "autoreply", "auto-reply", "auto response", "autoresponse", "out of office", "out of the office", "ooo:",
		"abwesenheit", "automatische antwort", "reponse automatique", "absence du bureau", "absent du bureau", "absence:", "respuesta automatica", "fuera de la oficina", "fuera de oficina",
		"automatisch antwoord", "afwezig", "afwezigheid", "undeliverable", "undelivered", "delivery status notification", "mail delivery failed", "delivery failure",
		"returned mail", "failure notice", "complaint about message", "abuse report", "delivery notification", "unzustellbar", "nicht zustellbar", "non remis", "echec de la remise", "no se puede entregar", "onbestelbaar", "niet bezorgd"} {
		if strings.HasPrefix(fs, p) || strings.Contains(fs, ": "+p) {
			kind := "auto_reply"
			if strings.Contains(p, "deliver") || strings.Contains(p, "zustell") || strings.Contains(p, "remis") || strings.Contains(p, "entregar") || strings.Contains(p, "bestel") || strings.Contains(p, "bezorgd") || p == "returned mail" || p == "echec de la remise" || p == "failure notice" {
				kind = "bounce"
			}
			if p == "complaint about message" || p == "abuse report" {
				kind = "feedback_report"
			}
			return kind, "subject " + subject
		}
	}
	open := text
	if len(open) > 800 {
		open = open[:800]
	}
	fo := strings.Join(strings.Fields(Fold(strings.ToLower(strings.ReplaceAll(open, "’", "'")))), " ")
	for _, p := range []string{"i am out of the office", "i'm out of the office", "i am currently out of", "i'm currently out of", "out of the office until",
		"out of office until", "i am on annual leave", "i'm on annual leave", "i am on leave", "i'm on leave", "on annual leave until", "on holiday until",
		"on vacation until", "away from the office until", "i am away until", "i'm away until", "will reply on my return", "will respond on my return", "back in the office on", "limited access to email", "limited access to my email", "limited access to e-mail", "checking email only occasionally",
		"checking my email only occasionally", "no access to email", "no access to my email", "will respond to your email when i return", "when i return on",
		"a member of our team will get back", "a member of our team will respond", "a member of our team will be in touch", "thank you for your enquiry", "thank you for your inquiry", "thanks for your enquiry", "we've received your message", "we have received your message", "we have received your email", "we've received your email", "your request has been logged",
		"your ticket has been", "this is an automated", "this is an automatic", "do not reply to this", "please do not reply",
		"nicht im buro", "ich bin bis", "bin derzeit nicht", "eingeschranktem zugriff", "eingeschrankten zugriff", "keinen zugriff auf meine e-mails",
		"je suis absent", "je suis actuellement absent", "je serai absent", "je suis en conge", "acces limite a mes", "ne lirai pas",
		"estoy fuera de la oficina", "estare fuera", "estoy de vacaciones", "acceso limitado a mi correo", "ausente hasta",
		"ik ben afwezig", "ik ben momenteel afwezig", "niet op kantoor", "beperkt toegang tot", "ik ben met vakantie", "afwezig tot",
		"this is the mail system at host", "mail delivery subsystem", "message could not be delivered", "undelivered mail returned to sender",
		"delivery to the following recipient", "permanent error", "delayed mail", "delivery status notification",
		"delivery has failed", "could not be delivered", "couldn't be delivered", "recipient not found", "address not found", "mailbox unavailable", "550 5.1.1"} {
		if strings.Contains(fo, p) {
			kind := "auto_reply"
			if strings.Contains(p, "deliver") || strings.Contains(p, "not found") || strings.Contains(p, "mailbox") || strings.HasPrefix(p, "550") || strings.Contains(p, "mail system") || strings.Contains(p, "error") || strings.Contains(p, "delayed") {
				kind = "bounce"
			}
			return kind, "text: " + p
		}
	}
	return "", ""
}

// embeddedHeaders reads a header block at the top of text (a raw message
// the mail reader could not take apart): "Key: value" lines, with folded
// continuation lines, up to the first blank line. ok is false unless the
// block has at least three header lines.
func embeddedHeaders(text string) (h map[string]string, rest string, ok bool) {
	s := strings.TrimLeft(text, "\r\n")
	if strings.HasPrefix(s, "From ") { // mbox separator line
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		}
	}
	h = map[string]string{}
	last := ""
	n := 0
	for len(s) > 0 {
		i := strings.IndexByte(s, '\n')
		line := s
		if i >= 0 {
			line, s = s[:i], s[i+1:]
		} else {
			s = ""
		}
		line = strings.TrimRight(line, "\r")
		if line == "" {
			break
		}
		if (line[0] == ' ' || line[0] == '\t') && last != "" {
			h[last] += " " + strings.TrimSpace(line)
			continue
		}
		c := strings.IndexByte(line, ':')
		if c <= 0 || strings.ContainsAny(line[:c], " \t") {
			return nil, text, false
		}
		last = line[:c]
		if _, dup := h[last]; !dup {
			h[last] = strings.TrimSpace(line[c+1:])
		}
		n++
	}
	if n < 3 {
		return nil, text, false
	}
	return h, s, true
}

// rawReportMarkers recognise delivery and feedback reports inside a raw
// MIME message (the report is a part of its own).
var rawReportMarkers = []string{"message/delivery-status", "message/feedback-report", "report-type=delivery-status", "report-type=feedback-report",
	"report-type=disposition-notification", "feedback-type:", "x-failed-recipients:", "diagnostic-code:", "action: failed", "action: delayed",
	"final-recipient:", "original-recipient: rfc822", "mailing-list:", "list-id:", "list-unsubscribe:", "auto-submitted: auto-"}

// rawMachine checks a raw message (header block found) for report parts.
func rawMachine(h map[string]string, rest string) (string, string) {
	for k := range h {
		switch strings.ToLower(k) {
		case "mailing-list", "list-id", "list-post":
			return "bulk", k + " header"
		}
	}
	if len(rest) > 20000 {
		rest = rest[:20000]
	}
	l := strings.ToLower(rest)
	for _, m := range rawReportMarkers {
		if strings.Contains(l, m) {
			kind := "bounce"
			switch {
			case strings.Contains(m, "feedback"):
				kind = "feedback_report"
			case strings.Contains(m, "disposition"):
				kind = "delivery_report"
			case strings.Contains(m, "list"):
				kind = "bulk"
			case strings.Contains(m, "auto-submitted"):
				kind = "auto_reply"
			}
			return kind, "raw message part: " + m
		}
	}
	return "", ""
}

func setOf(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}
