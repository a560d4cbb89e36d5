package mail

import "strings"

// hdrs holds the few headers Read looks at, found case-insensitively in one
// pass over the caller's map (header maps are small; no per-key lowercasing).
type hdrs struct {
	contentType, cte, from, subject             string
	autoSubmitted, precedence, responseSuppress string
	appleAction, failedRecipients               string
	listID, listUnsubscribe                     string
	xAutoreply, xAutorespond                    string
	returnPath                                  string
	listHeader                                  string // name of a List-* or list-server header seen

	hasXAutoreply, hasXAutorespond, hasListID, hasListUnsubscribe bool
	hasFailedRecipients                                           bool
}

// eqFold is strings.EqualFold with a cheap length check first.
func eqFold(a, b string) bool { return len(a) == len(b) && strings.EqualFold(a, b) }

func scanHeaders(m map[string]string) hdrs {
	var h hdrs
	for k, v := range m {
		k = strings.TrimSpace(k)
		if len(k) > 5 && h.listHeader == "" && eqFold(k[:5], "list-") && !eqFold(k, "list-id") && !eqFold(k, "list-unsubscribe") {
			h.listHeader = k // RFC 2369 List-Subscribe, List-Post, List-Help...
		}
		switch len(k) {
		case 4:
			if eqFold(k, "from") {
				h.from = v
			}
		case 7:
			if eqFold(k, "subject") {
				h.subject = v
			} else if eqFold(k, "list-id") {
				h.listID, h.hasListID = v, true
			}
		case 10:
			if eqFold(k, "precedence") {
				h.precedence = v
			} else if eqFold(k, "x-mlserver") || eqFold(k, "x-ml-name") {
				h.listHeader = k
			}
		case 11:
			if eqFold(k, "x-autoreply") {
				h.xAutoreply, h.hasXAutoreply = v, true
			} else if eqFold(k, "return-path") {
				h.returnPath = v
			} else if eqFold(k, "x-ml-server") {
				h.listHeader = k
			}
		case 12:
			if eqFold(k, "content-type") {
				h.contentType = v
			} else if eqFold(k, "mailing-list") {
				h.listHeader = k
			}
		case 13:
			if eqFold(k, "x-autorespond") {
				h.xAutorespond, h.hasXAutorespond = v, true
			}
		case 14:
			if eqFold(k, "auto-submitted") {
				h.autoSubmitted = v
			} else if eqFold(k, "x-apple-action") {
				h.appleAction = v
			}
		case 16:
			if eqFold(k, "list-unsubscribe") {
				h.listUnsubscribe, h.hasListUnsubscribe = v, true
			}
		case 19:
			if eqFold(k, "x-failed-recipients") {
				h.failedRecipients, h.hasFailedRecipients = v, true
			}
		case 24:
			if eqFold(k, "x-auto-response-suppress") {
				h.responseSuppress = v
			}
		case 25:
			if eqFold(k, "content-transfer-encoding") {
				h.cte = v
			}
		}
	}
	return h
}

// fill copies into h what h lacks and o has (headers of an embedded message).
func (h *hdrs) fill(o hdrs) {
	set := func(dst *string, src string) {
		if *dst == "" {
			*dst = src
		}
	}
	set(&h.contentType, o.contentType)
	set(&h.cte, o.cte)
	set(&h.from, o.from)
	set(&h.subject, o.subject)
	set(&h.autoSubmitted, o.autoSubmitted)
	set(&h.precedence, o.precedence)
	set(&h.responseSuppress, o.responseSuppress)
	set(&h.appleAction, o.appleAction)
	set(&h.failedRecipients, o.failedRecipients)
	set(&h.listID, o.listID)
	set(&h.listUnsubscribe, o.listUnsubscribe)
	set(&h.xAutoreply, o.xAutoreply)
	set(&h.xAutorespond, o.xAutorespond)
	set(&h.returnPath, o.returnPath)
	set(&h.listHeader, o.listHeader)
	h.hasXAutoreply = h.hasXAutoreply || o.hasXAutoreply
	h.hasXAutorespond = h.hasXAutorespond || o.hasXAutorespond
	h.hasListID = h.hasListID || o.hasListID
	h.hasListUnsubscribe = h.hasListUnsubscribe || o.hasListUnsubscribe
	h.hasFailedRecipients = h.hasFailedRecipients || o.hasFailedRecipients
}
