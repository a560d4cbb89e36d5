package mail

import (
	"bytes"
	"strings"

	// golang.org/x/net/html: the Go team's HTML5 tokenizer. Only the
	// streaming Tokenizer is used (no DOM is built), which is small, fast and
	// allocation-light, and it already decodes entities and copes with the
	// malformed markup mail clients write. No other dependency is pulled in.
	"golang.org/x/net/html"
)

// htmlToText renders HTML mail as the plain text a reader sees, leaving out
// style and script, quoted history containers (blockquote, Gmail's
// gmail_quote, Yahoo's yahoo_quoted, Outlook's divRplyFwdMsg /
// OutlookMessageHeader / appendonsend, Thunderbird's moz-cite-prefix) and
// signature containers that mark themselves as such.
func htmlToText(s string) string {
	z := html.NewTokenizer(strings.NewReader(s))
	var b strings.Builder
	b.Grow(len(s) / 2)
	skipTag := ""  // tag whose element is being skipped
	skipDepth := 0 // nesting of skipTag inside the skipped element
	pre := 0
	lastNL := 2 // pending newlines already written at the end of b (0, 1 or 2+)
	space := false

	nl := func(n int) {
		for lastNL < n {
			b.WriteByte('\n')
			lastNL++
		}
		space = false
	}
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return b.String()
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			tag := string(name) // the compiler does not allocate for short switch keys below
			if skipTag != "" {
				if tt == html.StartTagToken && tag == skipTag {
					skipDepth++
				}
				continue
			}
			if tt == html.StartTagToken {
				switch tag {
				case "style", "script", "title", "blockquote", "xml":
					skipTag, skipDepth = tag, 1
					continue
				}
			}
			if hasAttr {
				stop, skip := quotedContainer(z)
				if stop {
					return b.String()
				}
				if skip && tt == html.StartTagToken && !voidElement(tag) {
					skipTag, skipDepth = tag, 1
					continue
				}
			}
			switch tag {
			case "br":
				b.WriteByte('\n')
				lastNL++
				space = false
			case "p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "hr", "pre":
				nl(2)
				if tag == "pre" {
					pre++
				}
			case "div", "tr", "section", "article", "header", "footer", "dl", "dt", "dd", "address", "center":
				nl(1)
			case "li":
				nl(1)
				b.WriteString("- ")
				lastNL = 0
			case "td", "th":
				space = true
			case "img":
				// alt text of images is decoration, never the sender's words
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			tag := string(name)
			if skipTag != "" {
				if tag == skipTag {
					skipDepth--
					if skipDepth == 0 {
						skipTag = ""
					}
				}
				continue
			}
			switch tag {
			case "p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "pre":
				nl(2)
				if tag == "pre" && pre > 0 {
					pre--
				}
			case "div", "tr", "li", "section", "article", "header", "footer", "dl", "dt", "dd", "address", "center":
				nl(1)
			}
		case html.TextToken:
			if skipTag != "" {
				continue
			}
			t := z.Text()
			if pre > 0 {
				if len(t) > 0 {
					b.Write(t)
					if t[len(t)-1] == '\n' {
						lastNL = 1
					} else {
						lastNL = 0
					}
				}
				continue
			}
			writeCollapsed(&b, t, &lastNL, &space)
		}
	}
}

// writeCollapsed writes text with HTML whitespace collapsing.
func writeCollapsed(b *strings.Builder, t []byte, lastNL *int, space *bool) {
	for len(t) > 0 {
		i := 0
		for i < len(t) && isHTMLSpace(t, i) {
			i += spaceLen(t, i)
		}
		if i > 0 {
			t = t[i:]
			*space = true
			continue
		}
		j := 0
		for j < len(t) && !isHTMLSpace(t, j) {
			j++
		}
		if *space && *lastNL == 0 {
			b.WriteByte(' ')
		}
		b.Write(t[:j])
		*lastNL = 0
		*space = false
		t = t[j:]
	}
}

// isHTMLSpace: ASCII whitespace or a no-break space (U+00A0, "\xc2\xa0").
func isHTMLSpace(t []byte, i int) bool {
	switch t[i] {
	case ' ', '\t', '\n', '\r', '\f':
		return true
	case 0xc2:
		return i+1 < len(t) && t[i+1] == 0xa0
	}
	return false
}

func spaceLen(t []byte, i int) int {
	if t[i] == 0xc2 {
		return 2
	}
	return 1
}

func voidElement(tag string) bool {
	switch tag {
	case "br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed", "source", "wbr":
		return true
	}
	return false
}

var (
	attrClass = []byte("class")
	attrID    = []byte("id")
	attrType  = []byte("type")
)

// quotedContainer inspects the current tag's attributes. stop: everything
// from here on is quoted history (Outlook's reply header). skip: this element
// holds quoted history or a signature.
func quotedContainer(z *html.Tokenizer) (stop, skip bool) {
	for {
		k, v, more := z.TagAttr()
		switch {
		case bytes.Equal(k, attrID):
			switch {
			case containsFoldB(v, "divRplyFwdMsg"), containsFoldB(v, "appendonsend"), containsFoldB(v, "OutlookMessageHeader"), containsFoldB(v, "mail-editor-reference-message-container"):
				return true, false
			case containsFoldB(v, "Signature"), containsFoldB(v, "gmail_quote"):
				skip = true
			}
		case bytes.Equal(k, attrClass):
			switch {
			case containsFoldB(v, "OutlookMessageHeader"), containsFoldB(v, "moz-cite-prefix"), containsFoldB(v, "gmail_quote_container"):
				return true, false
			case containsFoldB(v, "gmail_quote"), containsFoldB(v, "gmail_attr"), containsFoldB(v, "yahoo_quoted"),
				containsFoldB(v, "protonmail_quote"), containsFoldB(v, "zmail_extra"), containsFoldB(v, "gmail_signature"),
				containsFoldB(v, "moz-signature"):
				skip = true
			}
		case bytes.Equal(k, attrType):
			if bytes.EqualFold(v, []byte("cite")) {
				skip = true
			}
		}
		if !more {
			return stop, skip
		}
	}
}

// containsFoldB reports whether ASCII needle occurs in v, ignoring ASCII case.
func containsFoldB(v []byte, needle string) bool {
	n := len(needle)
	for i := 0; i+n <= len(v); i++ {
		if asciiEqualFold(v[i:i+n], needle) {
			return true
		}
	}
	return false
}

func asciiEqualFold(a []byte, b string) bool {
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
