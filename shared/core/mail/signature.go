package mail

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Signatures, sign-offs, mobile footers and legal disclaimers: words there
// ("Head of Procurement", "contract terms", "legal privilege") are not what
// the sender says now.

// Mobile and client footers (lower case prefixes); the line and all after it go.
var footerPrefixes = []string{
	"sent from my ", "sent from outlook", "sent from mail for ", "sent from yahoo mail",
	"sent from the all new aol", "sent from gmail", "sent from samsung", "sent with proton",
	"sent via ", "sent using ", "get outlook for ", "envoyé de mon ", "envoyé depuis ",
	"envoyé à partir de ", "von meinem ", "gesendet von ", "gesendet mit ", "gesendet vom ",
	"enviado desde mi ", "enviado desde ", "enviado do meu ", "verzonden vanaf mijn ",
	"verstuurd vanaf mijn ", "verzonden met ", "verzonden vanuit ", "inviato da ",
	"inviato dal mio ", "obtenir outlook pour ", "outlook für ", "obtener outlook para ",
	"download outlook for ",
}

// Sign-off phrases (lower case, without trailing punctuation).
var signOffs = map[string]bool{}

func init() {
	for _, s := range []string{
		// English
		"best", "best regards", "best wishes", "kind regards", "kindest regards", "warm regards",
		"warmest regards", "regards", "many regards", "with regards", "with best regards",
		"with kind regards", "all the best", "all best", "cheers", "thanks", "thank you",
		"thanks again", "many thanks", "thanks so much", "thank you very much", "thanks very much",
		"thanks in advance", "thank you in advance", "thx", "ta", "sincerely", "yours sincerely",
		"sincerely yours", "yours truly", "yours faithfully", "faithfully", "respectfully", "cordially",
		"talk soon", "speak soon", "br", "kr", "rgds", "best rgds", "warmly", "take care",
		"thanks and regards", "thanks & regards", "regards and thanks", "best regards and thanks",
		"looking forward", "have a great day", "have a good day", "have a nice day", "yours",
		// German
		"mit freundlichen grüßen", "mit freundlichen grüssen", "mit freundlichem gruß",
		"mit freundlichem gruss", "freundliche grüße", "freundliche grüsse", "viele grüße",
		"viele grüsse", "beste grüße", "beste grüsse", "liebe grüße", "liebe grüsse",
		"herzliche grüße", "herzliche grüsse", "schöne grüße", "schöne grüsse", "grüße", "grüsse",
		"gruß", "gruss", "mfg", "lg", "vg", "besten dank", "vielen dank", "danke", "danke schön",
		"mit besten grüßen", "mit besten grüssen", "mit herzlichen grüßen", "beste grüße aus",
		"freundliche grüße aus",
		// French
		"cordialement", "bien cordialement", "très cordialement", "bien à vous", "salutations",
		"sincères salutations", "meilleures salutations", "bonne journée", "bonne continuation",
		"à bientôt", "merci", "merci beaucoup", "merci d'avance", "amicalement", "belle journée",
		"respectueusement", "bonne fin de journée", "bien sincèrement", "cdlt", "bàv",
		// Spanish
		"saludos", "un saludo", "saludos cordiales", "un cordial saludo", "atentamente",
		"cordialmente", "muchas gracias", "gracias", "un abrazo", "quedo atento", "quedo atenta",
		"quedo a la espera", "reciba un cordial saludo", "muchos saludos",
		// Dutch
		"met vriendelijke groet", "met vriendelijke groeten", "vriendelijke groet",
		"vriendelijke groeten", "hartelijke groet", "hartelijke groeten", "met hartelijke groet",
		"groeten", "groet", "mvg", "bedankt", "dank je", "dank u", "alvast bedankt", "hgr",
		"met groet", "met een vriendelijke groet",
		// Italian, Portuguese
		"cordiali saluti", "distinti saluti", "saluti", "grazie", "un saluto", "atenciosamente",
		"cumprimentos", "obrigado", "obrigada", "abraços",
	} {
		signOffs[s] = true
	}
}

// Attachment lines are kept (file names carry evidence: "..._signed.pdf") but
// moved out of the way of signature detection.
var attachmentRe = regexp.MustCompile(`(?i)^\[?(?:attachments?|attached|anhang|anhänge|anlagen?|pièces? jointes?|adjuntos?|archivos? adjuntos?|bijlagen?|allegat[oi])\s*:\s*\S`)

// Legal disclaimers: a strong cue alone marks one; otherwise three weak ones.
var disclaimerStrong = []string{
	"confidentiality notice", "confidentiality note", "confidentiality statement",
	"confidentiality warning", "disclaimer:", "intended recipient", "intended solely for",
	"intended only for", "intended exclusively for", "solely for the use of",
	"received this email in error", "received this e-mail in error", "received this message in error",
	"received this communication in error", "received this in error", "notify the sender",
	"notify us immediately", "not the addressee", "consider the environment before printing",
	"before printing this", "legally privileged", "subject to legal privilege",
	// German
	"vertrauliche und/oder rechtlich", "vertrauliche informationen", "irrtümlich erhalten",
	"irrtümlich zugegangen", "nicht der richtige adressat", "nicht der beabsichtigte empfänger",
	"benachrichtigen sie bitte sofort den absender", "informieren sie bitte sofort den absender",
	"unbefugte weitergabe", "diese e-mail enthält vertrauliche", "diese nachricht enthält vertrauliche",
	// French
	"destinataire désigné", "destinataires désignés", "à l'intention exclusive", "à l'usage exclusif",
	"reçu ce message par erreur", "reçu ce courriel par erreur", "reçu cet e-mail par erreur",
	"strictement confidentiel", "sont confidentiels et", "est confidentiel et",
	// Spanish
	"destinatario indicado", "si usted no es el destinatario", "recibido este mensaje por error",
	"recibido este correo por error", "recibido este correo electrónico por error",
	"información confidencial", "aviso de confidencialidad", "aviso legal:",
	// Dutch
	"uitsluitend bestemd voor", "niet de geadresseerde", "niet de beoogde ontvanger",
	"ten onrechte ontvangen", "per vergissing ontvangen", "vertrouwelijke informatie",
	// Italian
	"destinatario indicato", "informazioni riservate", "ricevuto questo messaggio per errore",
}

var disclaimerWeak = []string{
	"confidential", "privileged", "prohibited", "unauthori", "dissemination", "virus",
	"addressee", "vertraulich", "confidentiel", "confidencial", "vertrouwelijk", "riservat",
	"intended", "disclosure", "in error",
}

// "This email and any attachments are confidential", "Ce message ... est confidentiel".
var disclaimerRe = regexp.MustCompile(`(?:this|the|ce|cet|diese|dieser|este|esta|dit|deze|questo|il presente)\s+(?:e-?mail|message|communication|transmission|nachricht|courriel|mensaje|correo|bericht|messaggio)[^.]*?\s(?:is|are|may|might|contains?|enthält|enthalten|kann|können|ist|sind|est|sont|peut|peuvent|contient|es|son|puede|pueden|contiene|bevat|kan|è|sono|può|possono)\s[^.]*?(?:confidential|vertraulich|confidentiel|confidencial|vertrouwelijk|riservat|privileged)`)

// disclaimerHints: every strong or weak cue contains one of these, so a
// paragraph without any is skipped cheaply.
var disclaimerHints = []string{"confiden", "vertraul", "vertrouw", "privileg", "intended", "recipient",
	"error", "irrtüm", "adressat", "addressee", "destinat", "environment", "disclaimer", "aviso",
	"riservat", "geadresseerde", "bestemd", "empfänger", "prohibited", "unauthori", "virus",
	"notify", "absender", "exclusi", "usage", "dissemination", "disclosure", "erreur", "ontvang",
	"beoogde", "unbefugt", "informazioni", "notice", "printing", "solely"}

func disclaimerScore(lc string) int {
	hint := false
	for _, h := range disclaimerHints {
		if strings.Contains(lc, h) {
			hint = true
			break
		}
	}
	if !hint {
		return 0
	}
	for _, s := range disclaimerStrong {
		if strings.Contains(lc, s) {
			return 3
		}
	}
	n := 0
	for _, s := range disclaimerWeak {
		if strings.Contains(lc, s) {
			n++
		}
	}
	if n > 0 && disclaimerRe.MatchString(lc) {
		return 3
	}
	if n >= 4 {
		return 3
	}
	return min(n, 2)
}

// stripSignature removes from the sender's own lines the signature, footers
// and disclaimers. Attachment lines are returned separately.
func stripSignature(lines []string) (kept, attachments []string) {
	kept = lines[:0]
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if len(t) > 9 && len(t) < 300 && attachmentRe.MatchString(t) {
			attachments = append(attachments, t)
			continue
		}
		kept = append(kept, strings.TrimRightFunc(l, unicode.IsSpace))
	}
	lines = kept

	// "-- " delimiter and client footers.
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if t == "--" || t == "—" || t == "-- --" {
			lines = lines[:i]
			break
		}
		if len(t) >= 8 && len(t) < 80 && isFooter(t) {
			lines = lines[:i]
			break
		}
	}

	lines = cutDisclaimer(lines)
	lines = trimBlank(lines)
	lines = cutSignOff(lines)
	lines = cutSignatureBlock(lines)
	return trimBlank(lines), attachments
}

func isFooter(t string) bool {
	c := t[0] | 0x20
	if c != 's' && c != 'g' && c != 'e' && c != 'v' && c != 'i' && c != 'o' && c != 'd' {
		return false
	}
	lc := strings.ToLower(t)
	for _, p := range footerPrefixes {
		if strings.HasPrefix(lc, p) {
			return true
		}
	}
	return false
}

// cutDisclaimer cuts at the first line of a disclaimer paragraph. In the
// first paragraph only a line with a strong cue of its own counts.
func cutDisclaimer(lines []string) []string {
	para, start := 0, 0
	for i := 0; i <= len(lines); i++ {
		if i < len(lines) && strings.TrimSpace(lines[i]) != "" {
			continue
		}
		if i > start {
			if disclaimerScore(strings.ToLower(strings.Join(lines[start:i], " "))) >= 3 {
				for k := start; k < i; k++ {
					sc := disclaimerScore(strings.ToLower(lines[k]))
					if para == 0 {
						if sc >= 3 {
							return lines[:k]
						}
						continue
					}
					if sc > 0 || isHeading(lines[k]) {
						return lines[:k]
					}
				}
			}
			para++
		}
		start = i + 1
	}
	return lines
}

// isHeading: a short all-caps or punctuation line ("DISCLAIMER", "*****").
func isHeading(l string) bool {
	t := strings.TrimSpace(l)
	if t == "" || len(t) > 40 {
		return false
	}
	for _, r := range t {
		if unicode.IsLower(r) {
			return false
		}
	}
	return true
}

func trimBlank(lines []string) []string {
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// isSignOff: "Best,", "Kind regards", "Mit freundlichen Grüßen", "Thanks, Nina".
func isSignOff(t string) bool {
	if len(t) > 48 || len(t) < 2 {
		return false
	}
	lc := strings.ToLower(strings.TrimRight(t, ",.!;:-– "))
	if signOffs[lc] {
		return true
	}
	// phrase, name
	if c := strings.IndexByte(lc, ','); c > 0 && signOffs[strings.TrimSpace(lc[:c])] {
		return isNameLike(strings.TrimSpace(strings.TrimRight(t, ",.! "))[c+1:])
	}
	return false
}

// cutSignOff: after a sign-off line, a block of short non-prose lines
// (name, title, company, phone, address) is the signature: cut after the
// sign-off. The first sign-off that is followed only by such lines wins.
func cutSignOff(lines []string) []string {
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if !isSignOff(t) {
			continue
		}
		if i == 0 {
			continue // an opening "Thanks," or "Merci !" is not a closing
		}
		if signatureTail(lines[i+1:], true, true) {
			return lines[:i+1]
		}
	}
	return lines
}

// cutSignatureBlock handles a signature with no sign-off: a name line after
// a paragraph break followed by title/company/contact lines.
func cutSignatureBlock(lines []string) []string {
	for i := 1; i < len(lines); i++ {
		t := strings.TrimSpace(lines[i])
		if t == "" {
			continue
		}
		prev := strings.TrimSpace(lines[i-1])
		if !(prev == "" || endsSentence(prev)) {
			continue
		}
		if isNameLike(t) {
			if hasContent(lines[i+1:]) && signatureTail(lines[i+1:], false, true) && hasSignatureLine(lines[i+1:]) {
				return lines[:i+1]
			}
			continue
		}
		if prev == "" && (isContactLine(t) || isJobTitleLine(t)) && signatureTail(lines[i:], false, false) {
			return lines[:i]
		}
	}
	return lines
}

func hasContent(lines []string) bool {
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			return true
		}
	}
	return false
}

// signatureTail: every remaining line is short and not prose; at most 14.
// With first set, the first non-empty line must look like a name or a
// signature line.
func signatureTail(lines []string, first, taglines bool) bool {
	n := 0
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" {
			continue
		}
		n++
		if n > 14 {
			return false
		}
		if isProse(t) {
			// Taglines and notices under a contact line belong to the
			// signature ("Questions about your invoice? Contact ...").
			return taglines && n > 1 && strongSignatureAbove(lines, l)
		}
		if first && n == 1 && !isNameLike(t) && !isSignatureLine(t) {
			return false
		}
	}
	return true
}

// strongSignatureAbove: a contact line ("a | b", e-mail, phone, web) occurs
// before the line stop.
func strongSignatureAbove(lines []string, stop string) bool {
	for _, l := range lines {
		if l == stop {
			return false
		}
		if t := strings.TrimSpace(l); t != "" && isContactLine(t) {
			return true
		}
	}
	return false
}

func hasSignatureLine(lines []string) bool {
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t != "" && isSignatureLine(t) {
			return true
		}
	}
	return false
}

func endsSentence(t string) bool {
	switch t[len(t)-1] {
	case '.', '!', '?', ')':
		return true
	}
	return false
}

// isProse: a line a person writes in a message, not a signature line.
func isProse(t string) bool {
	if len(t) > 160 {
		return true
	}
	if strings.IndexByte(t, '?') >= 0 && !strings.Contains(t, "://") {
		return true
	}
	words := strings.Fields(t)
	if len(words) > 14 {
		return true
	}
	last := t[len(t)-1]
	if (last == '.' || last == '!') && len(words) >= 6 {
		return true
	}
	if (last == '.' || last == '!') && len(words) >= 4 {
		w := strings.Trim(words[len(words)-1], ".!")
		if last == '!' || utf8.RuneCountInString(w) > 4 {
			return true
		}
	}
	return false
}

var nameParticles = map[string]bool{
	"van": true, "de": true, "der": true, "den": true, "von": true, "la": true, "le": true,
	"da": true, "di": true, "del": true, "du": true, "dos": true, "das": true, "y": true,
	"bin": true, "al": true, "ten": true, "ter": true, "zu": true, "st.": true, "mc": true,
}

var greetingWords = map[string]bool{
	"hi": true, "hello": true, "hey": true, "dear": true, "hallo": true, "bonjour": true,
	"hola": true, "beste": true, "dag": true, "guten": true, "liebe": true, "lieber": true,
	"sehr": true, "estimado": true, "estimada": true, "ciao": true, "salut": true, "goedemorgen": true,
	"goedemiddag": true, "morning": true, "good": true, "thanks": true, "thank": true, "yes": true,
	"no": true, "ok": true, "okay": true, "sure": true, "great": true, "perfect": true, "done": true,
	"agreed": true, "noted": true, "sounds": true, "merci": true, "danke": true, "gracias": true,
	"bedankt": true, "super": true, "fine": true, "excellent": true, "cool": true,
}

// isNameLike: "Dana", "Dana Mills", "J. R. de la Cruz", "JD" (1 to 5 words,
// each capitalised or a name particle, letters only).
func isNameLike(t string) bool {
	t = strings.TrimSpace(strings.TrimRight(t, ", "))
	if t == "" || len(t) > 50 {
		return false
	}
	words := strings.Fields(t)
	if len(words) > 5 {
		return false
	}
	if greetingWords[strings.ToLower(strings.Trim(words[0], ",.!"))] {
		return false
	}
	caps := 0
	for _, w := range words {
		if nameParticles[strings.ToLower(w)] {
			continue
		}
		r, _ := utf8.DecodeRuneInString(w)
		if !unicode.IsUpper(r) {
			return false
		}
		for _, c := range w {
			if !(unicode.IsLetter(c) || c == '.' || c == '-' || c == '\'' || c == '’') {
				return false
			}
		}
		caps++
	}
	return caps > 0
}

// Job title and company words that make a line a signature line. They count
// only capitalised, as signatures write them ("Head of IT", "Senior Counsel").
var titleWords = map[string]bool{
	"director": true, "directora": true, "directeur": true, "directrice": true, "direktor": true,
	"direktorin": true, "manager": true, "managerin": true, "head": true, "officer": true,
	"counsel": true, "lead": true, "president": true, "founder": true, "co-founder": true, "cofounder": true,
	"partner": true, "consultant": true, "specialist": true, "coordinator": true, "analyst": true,
	"executive": true, "administrator": true, "assistant": true, "owner": true, "engineer": true,
	"architect": true, "controller": true, "accountant": true, "buyer": true, "attorney": true,
	"solicitor": true, "paralegal": true, "secretary": true, "chairman": true, "principal": true,
	"associate": true, "representative": true, "advisor": true, "adviser": true,
	"supervisor": true, "geschäftsführer": true, "geschäftsführerin": true, "leiter": true,
	"leiterin": true, "abteilungsleiter": true, "abteilungsleiterin": true, "prokurist": true,
	"responsable": true, "gérant": true, "gérante": true, "chargé": true, "chargée": true,
	"gerente": true, "jefe": true, "jefa": true, "hoofd": true, "bedrijfsleider": true,
	"eigenaar": true, "bauleitung": true, "einkäufer": true, "einkäuferin": true,
	"juriste": true, "abogado": true, "abogada": true, "jurist": true, "advocaat": true,
	"avocat": true, "avocate": true, "vice": true, "ltd": true, "limited": true, "gmbh": true,
	"inc": true, "llc": true, "llp": true, "plc": true, "corp": true, "sarl": true, "srl": true,
	"s.a": true, "s.l": true, "b.v": true, "n.v": true,
}

// Acronyms that count only in capitals (they are common words otherwise).
var titleAcronyms = map[string]bool{
	"CEO": true, "CTO": true, "COO": true, "CFO": true, "CIO": true, "CISO": true, "CMO": true,
	"CRO": true, "CPO": true, "VP": true, "SVP": true, "EVP": true, "MD": true, "GM": true,
	"IT": true, "HR": true, "DRH": true, "DAF": true, "PDG": true, "DG": true, "AG": true,
	"SA": true, "SAS": true, "BV": true, "NV": true, "KG": true, "SL": true, "OY": true,
	"AB": true, "SPA": true, "RR.HH": true, "HH": true,
}

var smallWords = map[string]bool{
	"of": true, "and": true, "&": true, "for": true, "the": true, "de": true, "des": true,
	"du": true, "la": true, "le": true, "y": true, "e": true, "und": true, "für": true,
	"van": true, "der": true, "het": true, "en": true, "di": true, "del": true, "et": true,
	"-": true, "–": true, "|": true, "at": true, "à": true, "bei": true, "da": true,
}

// isTitleCaseLine: "Director of Operations, Oakridge School District",
// "Acme Legal": every word capitalised (or a small joining word).
func isTitleCaseLine(t string) bool {
	if len(t) > 90 || endsSentence(t) && !strings.HasSuffix(t, ".") {
		return false
	}
	words := strings.Fields(t)
	if len(words) < 1 || len(words) > 9 {
		return false
	}
	caps := 0
	for _, w := range words {
		w = strings.Trim(w, ",;:()")
		if w == "" || smallWords[strings.ToLower(w)] {
			continue
		}
		r, _ := utf8.DecodeRuneInString(w)
		if !unicode.IsUpper(r) && !unicode.IsDigit(r) {
			return false
		}
		caps++
	}
	return caps > 0
}

// isJobTitleLine: a short line naming a job title ("Head of Procurement",
// "Legal Counsel, Acme"), which can open a signature that has no name line.
func isJobTitleLine(t string) bool {
	if len(strings.Fields(t)) > 8 || isProse(t) || endsSentence(t) {
		return false
	}
	return hasTitleWord(t)
}

// isSignatureLine: title, company, contact or "a | b | c" line.
func isSignatureLine(t string) bool {
	if isContactLine(t) || isTitleCaseLine(t) {
		return true
	}
	return hasTitleWord(t)
}

func hasTitleWord(t string) bool {
	for _, w := range strings.FieldsFunc(t, func(r rune) bool {
		return unicode.IsSpace(r) || r == ',' || r == '|' || r == '/' || r == '(' || r == ')' || r == '&' || r == '·' || r == '•'
	}) {
		w = strings.Trim(w, ".:;-")
		if w == "" {
			continue
		}
		if titleAcronyms[w] {
			return true
		}
		if r, _ := utf8.DecodeRuneInString(w); unicode.IsUpper(r) && titleWords[strings.ToLower(w)] {
			return true
		}
	}
	return false
}

var phoneRe = regexp.MustCompile(`\+?\(?\d[\d\s().\-/]{6,}\d`)

// isContactLine: phone, e-mail, web address or a pipe-separated line.
func isContactLine(t string) bool {
	if strings.Contains(t, " | ") || strings.Contains(t, "@") || strings.Contains(t, "www.") || strings.Contains(t, "://") {
		return true
	}
	digits := 0
	for i := 0; i < len(t); i++ {
		if t[i] >= '0' && t[i] <= '9' {
			digits++
		}
	}
	return digits >= 7 && phoneRe.MatchString(t)
}
