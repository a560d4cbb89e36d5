package mail

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"net/textproto"
	"strings"
	"unicode/utf8"
)

// maxPart bounds how much of one MIME part is read: intent lives in the first
// kilobytes, and a Lambda must not be made to inflate a huge attachment.
const maxPart = 1 << 20

// ParseRaw splits a raw RFC 5322 message (an .eml file) into its headers, its
// decoded Subject and its body. The body is returned as it stands (still MIME
// encoded); pass all three to Read, which decodes it using the headers.
// Header names are canonical (textproto); a repeated header keeps its first
// value. LF, CRLF and bare-CR line endings are accepted, as is a leading mbox
// "From " line.
func ParseRaw(raw []byte) (headers map[string]string, subject, body string, err error) {
	if bytes.IndexByte(raw, '\n') < 0 && bytes.IndexByte(raw, '\r') >= 0 {
		raw = bytes.ReplaceAll(raw, []byte{'\r'}, []byte{'\n'})
	}
	if bytes.HasPrefix(raw, []byte("From ")) {
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			raw = raw[i+1:]
		}
	}
	var h map[string][]string
	var rest []byte
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err == nil {
		h = msg.Header
		rest, _ = io.ReadAll(msg.Body)
	} else {
		// net/mail rejects a header block with one malformed line; mail
		// software that writes bounces is not always tidy, so read leniently.
		h, rest, err = lenientHeaders(raw)
		if err != nil {
			return nil, "", "", err
		}
	}
	headers = make(map[string]string, len(h))
	for k, vs := range h {
		if len(vs) > 0 {
			headers[k] = vs[0]
		}
	}
	return headers, DecodeHeader(headers["Subject"]), string(rest), nil
}

// lenientHeaders reads "Name: value" lines with folding up to the first blank
// line, skipping lines that are not headers.
func lenientHeaders(raw []byte) (map[string][]string, []byte, error) {
	h := map[string][]string{}
	var last string
	rest := raw
	n := 0
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		var line []byte
		if i < 0 {
			line, rest = rest, nil
		} else {
			line, rest = rest[:i], rest[i+1:]
		}
		line = bytes.TrimRight(line, "\r")
		if len(line) == 0 {
			break
		}
		if (line[0] == ' ' || line[0] == '\t') && last != "" {
			vs := h[last]
			vs[len(vs)-1] += " " + strings.TrimSpace(string(line))
			continue
		}
		c := bytes.IndexByte(line, ':')
		if c <= 0 || bytes.ContainsAny(line[:c], " \t") {
			last = ""
			continue
		}
		last = textproto.CanonicalMIMEHeaderKey(string(line[:c]))
		h[last] = append(h[last], strings.TrimSpace(string(line[c+1:])))
		n++
	}
	if n == 0 {
		return nil, nil, errors.New("mail: no headers found")
	}
	return h, rest, nil
}

var wordDecoder = &mime.WordDecoder{CharsetReader: func(charset string, in io.Reader) (io.Reader, error) {
	b, err := io.ReadAll(io.LimitReader(in, maxPart))
	if err != nil {
		return nil, err
	}
	return strings.NewReader(decodeCharset(b, charset)), nil
}}

// DecodeHeader decodes RFC 2047 encoded words ("=?UTF-8?B?...?=") in a header
// value; what cannot be decoded is returned as it stands.
func DecodeHeader(v string) string {
	if !strings.Contains(v, "=?") {
		return v
	}
	d, err := wordDecoder.DecodeHeader(v)
	if err != nil {
		return v
	}
	return d
}

// decodeCharset turns bytes in the named charset into UTF-8. UTF-8, ASCII,
// ISO-8859-1/-15 and Windows-1252 are decoded exactly (they cover the Western
// European mail this system reads); anything else is kept where it is valid
// UTF-8 and otherwise read as Windows-1252, which never fails. Hand-written so
// the Lambda does not carry golang.org/x/text's encoding tables.
func decodeCharset(b []byte, charset string) string {
	cs := strings.ToLower(strings.Trim(charset, `" `))
	switch cs {
	case "iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "iso_8859-1", "cp1252", "windows-1252", "x-cp1252", "iso-8859-15", "iso8859-15", "latin-9", "latin9":
		return decode8bit(b, cs == "iso-8859-15" || cs == "iso8859-15" || cs == "latin-9" || cs == "latin9")
	}
	if utf8.Valid(b) {
		return string(b)
	}
	return decode8bit(b, false)
}

// cp1252 maps 0x80-0x9F in Windows-1252 (a superset of ISO-8859-1's printable range).
var cp1252 = [32]rune{
	'€', 0x81, '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', 0x8D, 'Ž', 0x8F,
	0x90, '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', 0x9D, 'ž', 'Ÿ',
}

func decode8bit(b []byte, latin9 bool) string {
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/8)
	for _, c := range b {
		switch {
		case c < 0x80:
			sb.WriteByte(c)
		case c < 0xA0:
			sb.WriteRune(cp1252[c-0x80])
		default:
			r := rune(c)
			if latin9 {
				switch c {
				case 0xA4:
					r = '€'
				case 0xA6:
					r = 'Š'
				case 0xA8:
					r = 'š'
				case 0xB4:
					r = 'Ž'
				case 0xB8:
					r = 'ž'
				case 0xBC:
					r = 'Œ'
				case 0xBD:
					r = 'œ'
				case 0xBE:
					r = 'Ÿ'
				}
			}
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

// decodeTransfer undoes a Content-Transfer-Encoding. Undecodable input is
// returned as it stands.
func decodeTransfer(b []byte, cte string) []byte {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "quoted-printable":
		out, err := io.ReadAll(io.LimitReader(quotedprintable.NewReader(bytes.NewReader(b)), maxPart))
		if err != nil && len(out) == 0 {
			return b
		}
		return out
	case "base64":
		clean := make([]byte, 0, len(b))
		for _, c := range b {
			if c != '\r' && c != '\n' && c != ' ' && c != '\t' {
				clean = append(clean, c)
			}
		}
		clean = bytes.TrimRight(clean, "=")
		out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
		n, err := base64.RawStdEncoding.Decode(out, clean)
		if err != nil && n == 0 {
			return b
		}
		return out[:n]
	}
	return b
}

// content is what the body of a message holds for reading.
type content struct {
	text        string
	html        bool
	attachments []string // file names of attached files
	reportType  string   // multipart/report report-type, lower case
	actions     string   // DSN Action values seen, lower case, space separated
	feedback    bool     // a message/feedback-report part was seen
	dsn         bool     // a message/delivery-status part was seen
}

// extract finds the readable text of a body given its Content-Type and
// Content-Transfer-Encoding.
func extract(h *hdrs, body string) content {
	var c content
	if h.contentType == "" {
		c.text = string(decodeTransfer([]byte(body), h.cte))
		c.html = looksHTML(c.text)
		return c
	}
	mt, params, err := mime.ParseMediaType(h.contentType)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(strings.SplitN(h.contentType, ";", 2)[0]))
	}
	if strings.HasPrefix(mt, "multipart/") {
		if mt == "multipart/report" {
			c.reportType = strings.ToLower(params["report-type"])
		}
		b := params["boundary"]
		if b != "" && strings.Contains(body, "--"+b) {
			w := walker{c: &c}
			w.multipart(mt, b, strings.NewReader(body), 0)
			if w.plain != "" && strings.TrimSpace(w.plain) != "" {
				c.text = w.plain
			} else if w.htmlText != "" {
				c.text, c.html = w.htmlText, true
			}
			return c
		}
		// Declared multipart but not framed as such: read it as text.
		c.text = body
		c.html = looksHTML(body)
		return c
	}
	raw := decodeTransfer([]byte(body), h.cte)
	c.text = decodeCharset(raw, params["charset"])
	c.html = mt == "text/html" || (mt != "text/plain" && looksHTML(c.text))
	return c
}

type walker struct {
	c             *content
	plain         string
	htmlText      string
	plainN, htmlN int
}

func (w *walker) multipart(mt, boundary string, r io.Reader, depth int) {
	if depth > 8 {
		return
	}
	mr := multipart.NewReader(r, boundary)
	for {
		p, err := mr.NextPart()
		if err != nil {
			return
		}
		w.part(p, depth)
	}
}

func (w *walker) part(p *multipart.Part, depth int) {
	ct := p.Header.Get("Content-Type")
	mt, params := "text/plain", map[string]string{}
	if ct != "" {
		var err error
		mt, params, err = mime.ParseMediaType(ct)
		if err != nil {
			mt = strings.ToLower(strings.TrimSpace(strings.SplitN(ct, ";", 2)[0]))
		}
	}
	disp, dparams, _ := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
	fname := dparams["filename"]
	if fname == "" {
		fname = params["name"]
	}
	switch {
	case strings.HasPrefix(mt, "multipart/"):
		if mt == "multipart/report" && w.c.reportType == "" {
			w.c.reportType = strings.ToLower(params["report-type"])
		}
		if b := params["boundary"]; b != "" {
			w.multipart(mt, b, p, depth+1)
		}
		return
	case mt == "message/delivery-status" || mt == "message/global-delivery-status":
		w.c.dsn = true
		b, _ := io.ReadAll(io.LimitReader(p, 64<<10))
		w.c.actions += dsnActions(string(decodeTransfer(b, p.Header.Get("Content-Transfer-Encoding"))))
		return
	case mt == "message/feedback-report":
		w.c.feedback = true
		return
	case strings.HasPrefix(mt, "message/") || mt == "text/rfc822-headers":
		return // the original message: not what this sender wrote
	}
	if disp == "attachment" || (fname != "" && !strings.HasPrefix(mt, "text/")) || (disp != "inline" && fname != "") {
		if fname != "" && len(w.c.attachments) < 20 {
			w.c.attachments = append(w.c.attachments, DecodeHeader(fname))
		}
		return
	}
	if mt != "text/plain" && mt != "text/html" {
		return
	}
	if (mt == "text/plain" && w.plainN > 0) || (mt == "text/html" && w.htmlN > 0) {
		return
	}
	b, _ := io.ReadAll(io.LimitReader(p, maxPart))
	// multipart.Part already undoes quoted-printable; base64 is left to us.
	b = decodeTransfer(b, p.Header.Get("Content-Transfer-Encoding"))
	s := decodeCharset(b, params["charset"])
	if mt == "text/plain" {
		w.plain, w.plainN = s, 1
	} else {
		w.htmlText, w.htmlN = s, 1
	}
}

// dsnActions returns the Action: values of a delivery-status part.
func dsnActions(s string) string {
	var out string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		l := sc.Text()
		if len(l) > 7 && eqFold(l[:7], "action:") {
			out += " " + strings.ToLower(strings.TrimSpace(l[7:]))
		}
	}
	return out
}

// looksMIMEMessage reports whether body is a whole message (headers, blank
// line, body) rather than just a body: it must open with header lines among
// which is one that only a transport or MIME writer adds.
func looksMIMEMessage(body string) bool {
	n := 0
	strong := false
	for n < 60 && body != "" {
		i := strings.IndexByte(body, '\n')
		var line string
		if i < 0 {
			line, body = body, ""
		} else {
			line, body = body[:i], body[i+1:]
		}
		line = strings.TrimRight(line, "\r")
		if line == "" {
			return strong && n >= 2
		}
		if line[0] == ' ' || line[0] == '\t' {
			if n == 0 {
				return false
			}
			continue
		}
		c := strings.IndexByte(line, ':')
		if c <= 0 || strings.ContainsAny(line[:c], " \t") {
			if n == 0 && strings.HasPrefix(line, "From ") {
				continue // mbox separator
			}
			return false
		}
		switch strings.ToLower(line[:c]) {
		case "mime-version", "content-type", "received", "return-path", "message-id", "dkim-signature", "delivered-to", "x-mailer", "content-transfer-encoding":
			strong = true
		}
		n++
	}
	return false
}

// looksHTML sniffs an HTML body that came without a Content-Type.
func looksHTML(s string) bool {
	t := strings.TrimLeft(s, " \t\r\n\ufeff")
	if len(t) == 0 || t[0] != '<' {
		return false
	}
	head := t
	if len(head) > 512 {
		head = head[:512]
	}
	head = strings.ToLower(head)
	for _, m := range []string{"<html", "<!doctype html", "<body", "<div", "<p>", "<p ", "<br", "<table", "<span", "<head", "<meta", "<style", "<blockquote", "<font", "<o:p"} {
		if strings.Contains(head, m) {
			return true
		}
	}
	return false
}
