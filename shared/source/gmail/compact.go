package gmail

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/textproto"
	"strings"
	"unicode/utf8"
)

// A signal keeps the message body as the message carries it (still MIME
// encoded, with its Content-Type and Content-Transfer-Encoding headers), so
// the intent engine's mail.Read decodes it exactly as it decodes any email.
// Two things must hold for it to be stored, which prepareBody ensures:
//
//   - it fits well inside a DynamoDB item (400 KB): attachments are dropped
//     (their headers and file names stay, mail.Read lists them) and text
//     parts are cut;
//   - it is valid UTF-8, because the signal is stored as JSON: 8bit text in
//     another charset is re-encoded as quoted-printable, which mail.Read
//     undoes before applying the part's charset.
const (
	maxSignalBody = 96 << 10
	maxTextPart   = 32 << 10
	maxDepth      = 6
)

// prepareBody returns the body to store and its top-level
// Content-Transfer-Encoding (changed only when the body was re-encoded).
func prepareBody(contentType, cte, body string) (string, string) {
	if len(body) <= maxSignalBody && utf8.ValidString(body) {
		return body, cte
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err == nil && strings.HasPrefix(mt, "multipart/") && params["boundary"] != "" {
		if out, ok := compactMultipart([]byte(body), params["boundary"], 0); ok {
			body = string(out)
			if len(body) <= maxSignalBody && utf8.ValidString(body) {
				return body, cte
			}
		}
		return cutText(toValidUTF8(body), maxSignalBody), cte
	}
	enc := strings.ToLower(strings.TrimSpace(cte))
	if enc == "base64" || enc == "quoted-printable" {
		// ASCII already; only the length can be wrong.
		return cutText(toValidUTF8(body), maxSignalBody), cte
	}
	if !utf8.ValidString(body) {
		return cutText(qpEncode(cutText(body, maxSignalBody/3)), maxSignalBody), "quoted-printable"
	}
	return cutText(body, maxSignalBody), cte
}

// compactMultipart rewrites a multipart body with the same boundary,
// keeping readable parts (text, delivery and feedback reports) and only the
// headers of the others.
func compactMultipart(body []byte, boundary string, depth int) ([]byte, bool) {
	if depth > maxDepth {
		return nil, false
	}
	var out bytes.Buffer
	w := multipart.NewWriter(&out)
	if err := w.SetBoundary(boundary); err != nil {
		return nil, false
	}
	r := multipart.NewReader(bytes.NewReader(body), boundary)
	parts := 0
	for {
		p, err := r.NextRawPart() // raw: no quoted-printable decoding
		if err != nil {
			break
		}
		parts++
		h := textproto.MIMEHeader{}
		for k, v := range p.Header {
			h[k] = v
		}
		data, _ := io.ReadAll(io.LimitReader(p, maxSignalBody+1))
		mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
		if err != nil {
			mt = "text/plain" // RFC 2046 default
		}
		disp, _, _ := mime.ParseMediaType(h.Get("Content-Disposition"))
		switch {
		case strings.HasPrefix(mt, "multipart/") && params["boundary"] != "":
			inner, ok := compactMultipart(data, params["boundary"], depth+1)
			if !ok {
				inner = nil
			}
			data = inner
		case disp == "attachment" && !strings.HasPrefix(mt, "message/delivery-status"):
			data = nil
		case strings.HasPrefix(mt, "text/") || mt == "message/delivery-status" ||
			mt == "message/global-delivery-status" || mt == "message/feedback-report":
			enc := strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding")))
			if enc != "base64" && enc != "quoted-printable" && !utf8.Valid(data) {
				data = []byte(qpEncode(cutText(string(data), maxTextPart/3)))
				h.Set("Content-Transfer-Encoding", "quoted-printable")
			}
			data = []byte(cutText(string(data), maxTextPart))
		default:
			data = nil // images, documents, embedded messages: headers only
		}
		pw, err := w.CreatePart(h)
		if err != nil {
			return nil, false
		}
		_, _ = pw.Write(data)
	}
	if parts == 0 {
		return nil, false
	}
	if err := w.Close(); err != nil {
		return nil, false
	}
	return out.Bytes(), true
}

// cutText keeps at most n bytes, ending at a line break when there is one in
// the last quarter (which keeps base64 and quoted-printable lines whole),
// and never inside a UTF-8 sequence.
func cutText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	if i := strings.LastIndexByte(s, '\n'); i >= n*3/4 {
		return s[:i+1]
	}
	for i := 0; i < utf8.UTFMax-1 && len(s) > 0; i++ { // drop a cut rune's first bytes
		if r, size := utf8.DecodeLastRuneInString(s); r != utf8.RuneError || size != 1 {
			break
		}
		s = s[:len(s)-1]
	}
	return s
}

func toValidUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

func qpEncode(s string) string {
	var b bytes.Buffer
	w := quotedprintable.NewWriter(&b)
	_, _ = w.Write([]byte(s))
	_ = w.Close()
	return b.String()
}
