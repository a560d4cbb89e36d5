package mail

import (
	"regexp"
	"strings"
)

// Quoted history: where the part this sender wrote now ends.

// attribution lines ("On <date>, <name> wrote:" and its translations), on the
// lower-cased line (or up to three wrapped lines joined by spaces).
var (
	attrVerbs = `(?:wrote|writes|schrieb|a écrit|a ecrit|escribió|escribio|schreef|ha scritto|escreveu|skrev|napisał\(a\)|napisał|napisal|kirjoitti|írta|написал\(а\)|написал)`
	// "On ..., X wrote:", "Am ... schrieb X <x@y>:", "Le ... a écrit :", "El ... escribió:", "Op ... schreef X:".
	attrLead = regexp.MustCompile(`^(?:on|am|le|el|op|il|em|den|dne|w dniu|på|в)\s.+?\s` + attrVerbs + `(?:\s.*)?\s?:$`)
	// "Jane Doe <jane@x> wrote:" (verb last).
	attrTail = regexp.MustCompile(`^.+\s` + attrVerbs + `\s?:$`)
)

var attrVerbList = []string{"wrote", "writes", "schrieb", "crit", "escribi", "schreef", "ha scritto", "escreveu", "skrev", "napisa", "kirjoitti", "írta", "написал"}

// Lines that open a forwarded message (lower case, compared without the
// trailing colon and spaces).
var forwardIntro = []string{
	"begin forwarded message", "forwarded message", "anfang der weitergeleiteten nachricht",
	"weitergeleitete nachricht", "début du message réexpédié", "début du message transféré",
	"message transféré", "inicio del mensaje reenviado", "mensaje reenviado",
	"begin doorgestuurd bericht", "doorgestuurd bericht", "inizio messaggio inoltrato",
	"messaggio inoltrato", "início da mensagem reencaminhada", "mensagem encaminhada",
}

// Words inside a decorated separator ("-----Original Message-----",
// "---------- Forwarded message ---------") that mark history.
var separatorWords = []string{
	"original", "forward", "weitergeleitet", "ursprüngliche", "origine", "transféré",
	"réexpédié", "reenviado", "doorgestuurd", "oorspronkelijk", "origineel", "inoltrato",
	"encaminhada", "reply message", "antwort",
}

// Outlook-style header labels. 1: the first line of a block ("From:"), 2: the
// others.
var headerLabels = map[string]uint8{
	"from": 1, "von": 1, "de": 1, "van": 1, "da": 1, "fra": 1, "från": 1, "od": 1, "от": 1,
	"absender": 1, "expéditeur": 1, "remitente": 1, "afzender": 1,
	"sent": 2, "date": 2, "to": 2, "cc": 2, "bcc": 2, "subject": 2, "reply-to": 2, "importance": 2,
	"gesendet": 2, "datum": 2, "an": 2, "betreff": 2, "wichtigkeit": 2, "antwort an": 2,
	"envoyé": 2, "envoyé le": 2, "à": 2, "a": 2, "objet": 2, "répondre à": 2,
	"enviado": 2, "enviado el": 2, "fecha": 2, "para": 2, "asunto": 2, "responder a": 2,
	"verzonden": 2, "aan": 2, "onderwerp": 2, "verstuurd": 2,
	"inviato": 2, "data": 2, "oggetto": 2, "assunto": 2, "sendt": 2, "til": 2, "emne": 2,
	"skickat": 2, "till": 2, "ämne": 2,
}

// headerLabel returns the label kind of a "Label: value" line (0 if none).
func headerLabel(t string) uint8 {
	c := strings.IndexByte(t, ':')
	if c <= 0 || c > 24 {
		return 0
	}
	return headerLabels[strings.ToLower(strings.Trim(t[:c], "* \t"))]
}

// quoteCut returns the index of the first line of quoted or forwarded
// history, or len(lines).
func quoteCut(lines []string) int {
	for i := 0; i < len(lines); i++ {
		t := strings.TrimSpace(lines[i])
		if t == "" || t[0] == '>' {
			continue
		}
		switch t[0] {
		case '-', '_', '=', '*', '~':
			if isHistorySeparator(lines, i, t) {
				return i
			}
		}
		if t[len(t)-1] == ':' {
			if j, ok := attributionStart(lines, i); ok {
				return j
			}
			if isForwardIntro(t) {
				return i
			}
		}
		if headerLabel(t) == 1 && isHeaderBlock(lines, i) {
			return i
		}
	}
	return len(lines)
}

func isHistorySeparator(lines []string, i int, t string) bool {
	core := strings.Trim(t, "-_=*~— \t")
	if core == "" {
		if len(t) < 5 {
			return false // "--" is a signature delimiter, handled elsewhere
		}
		// A rule followed by a header block (Outlook's "____" then "From:").
		for k, seen := i+1, 0; k < len(lines) && k < i+12 && seen < 3; k++ {
			n := strings.TrimSpace(lines[k])
			if n == "" {
				continue
			}
			seen++
			if headerLabel(n) == 1 {
				return isHeaderBlock(lines, k)
			}
			return false
		}
		return false
	}
	if len(t)-len(core) < 4 || len(core) > 60 {
		return false
	}
	lc := strings.ToLower(core)
	for _, w := range separatorWords {
		if strings.Contains(lc, w) {
			return true
		}
	}
	return false
}

// isHeaderBlock: a "From:" line at i followed closely by at least two other
// header lines (Sent:, To:, Subject: and translations).
func isHeaderBlock(lines []string, i int) bool {
	n := 0
	for k, seen := i+1, 0; k < len(lines) && k < i+20 && seen < 7; k++ {
		t := strings.TrimSpace(lines[k])
		if t == "" {
			continue
		}
		seen++
		if headerLabel(t) == 2 {
			n++
			if n >= 2 {
				return true
			}
		}
	}
	return false
}

func isForwardIntro(t string) bool {
	if len(t) > 60 {
		return false
	}
	lc := strings.ToLower(strings.TrimRight(t, ": \t"))
	lc = strings.Trim(lc, "-_=* ")
	for _, f := range forwardIntro {
		if lc == f {
			return true
		}
	}
	return false
}

// attributionStart checks whether line i (ending in ':') ends an attribution
// that may have wrapped over up to three lines; it returns the first line.
func attributionStart(lines []string, i int) (int, bool) {
	last := strings.ToLower(strings.TrimSpace(lines[i]))
	verb := false
	for _, v := range attrVerbList {
		if strings.Contains(last, v) {
			verb = true
			break
		}
	}
	if !verb {
		return 0, false
	}
	for j := max(0, i-2); j <= i; j++ {
		ok := true
		for k := j; k < i; k++ {
			t := strings.TrimSpace(lines[k])
			if t == "" || t[0] == '>' {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		s := last
		if j < i {
			parts := make([]string, 0, i-j+1)
			for k := j; k <= i; k++ {
				parts = append(parts, strings.TrimSpace(lines[k]))
			}
			s = strings.ToLower(strings.Join(parts, " "))
		}
		if len(s) > 500 {
			continue
		}
		if attrLead.MatchString(s) {
			return j, true
		}
		if j == i && attrTail.MatchString(s) && (strings.ContainsAny(s, "@0123456789") || nextIsQuoteOrEnd(lines, i)) {
			return j, true
		}
	}
	return 0, false
}

func nextIsQuoteOrEnd(lines []string, i int) bool {
	for k := i + 1; k < len(lines) && k < i+20; k++ {
		t := strings.TrimSpace(lines[k])
		if t == "" {
			continue
		}
		return t[0] == '>'
	}
	return true
}

// ownLines returns the lines this sender wrote: everything before the quoted
// history, without '>'-quoted lines (inline replies keep their answers). A
// reply written below a '>'-quoted message (bottom-posting) is found too.
func ownLines(lines []string) []string {
	for {
		cut := quoteCut(lines)
		out := make([]string, 0, cut)
		for _, l := range lines[:cut] {
			t := strings.TrimLeft(l, " \t")
			if t != "" && t[0] == '>' {
				continue
			}
			out = append(out, l)
		}
		if hasContent(out) || cut >= len(lines) {
			return out
		}
		// Nothing above the history: if it is an attribution followed by
		// '>'-quoted lines, read on below them.
		end := cut
		for end < len(lines) && end < cut+3 && !strings.HasSuffix(strings.TrimSpace(lines[end]), ":") {
			end++
		}
		if end >= len(lines) || end >= cut+3 {
			return out
		}
		k := end + 1
		for k < len(lines) && strings.TrimSpace(lines[k]) == "" {
			k++
		}
		if k >= len(lines) || strings.TrimSpace(lines[k])[0] != '>' {
			return out
		}
		lines = lines[k:]
	}
}
