package resolve

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/mail"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/publicsuffix"
)

// ErrInvalidEmail is returned by NormalizeEmail for input that is not one
// email address.
var ErrInvalidEmail = errors.New("not a valid email address")

// NormalizeEmail returns the lower-cased address and its domain. It accepts
// a bare address or one mailbox in header form ("Jane <jane@acme.example>").
// Pipedrive's exact email search is not case sensitive, so the lower-cased
// address is also the cache key. IP-literal domains are refused.
func NormalizeEmail(s string) (addr, domain string, err error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 512 || !utf8.ValidString(s) {
		return "", "", ErrInvalidEmail
	}
	if strings.ContainsAny(s, "<>\"") {
		a, perr := mail.ParseAddress(s)
		if perr != nil {
			return "", "", ErrInvalidEmail
		}
		s = a.Address
	}
	s = strings.ToLower(s)
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || len(s) > 254 {
		return "", "", ErrInvalidEmail
	}
	local, dom := s[:at], strings.TrimSuffix(s[at+1:], ".")
	for _, r := range local {
		if r <= ' ' || r == 0x7f || unicode.IsSpace(r) || r == '<' || r == '>' || r == '(' || r == ')' || r == ',' || r == ';' || r == '\\' {
			return "", "", ErrInvalidEmail
		}
	}
	if !validDomain(dom) {
		return "", "", ErrInvalidEmail
	}
	return local + "@" + dom, dom, nil
}

// validDomain accepts dotted host names of letters, digits and hyphens
// (Unicode letters allowed) with at least two labels.
func validDomain(d string) bool {
	if len(d) < 3 || len(d) > 253 {
		return false
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r == '-' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
				return false
			}
		}
	}
	// the last label of an IPv4 address is numeric; no TLD is
	last := labels[len(labels)-1]
	return strings.IndexFunc(last, func(r rune) bool { return !unicode.IsDigit(r) }) >= 0
}

// Site returns the registrable domain (eTLD+1 per the Public Suffix List)
// of a host: "eu.acme.co.uk" → "acme.co.uk". Organizations are matched on
// it, so mail from a subdomain finds the company's organization.
func Site(host string) (string, bool) {
	h := strings.Trim(strings.ToLower(strings.TrimSpace(host)), ".")
	if !validDomain(h) {
		return "", false
	}
	site, err := publicsuffix.EffectiveTLDPlusOne(h)
	if err != nil {
		return "", false
	}
	return site, true
}

// hostOf extracts the host of a website or domain value as users type it
// into Pipedrive: "https://www.acme.example/de", "www.acme.example",
// "acme.example", "@acme.example".
func hostOf(v string) string {
	v = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), "@"))
	if v == "" {
		return ""
	}
	if !strings.Contains(v, "://") {
		v = "http://" + v
	}
	u, err := url.Parse(v)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}

// sameSite reports whether a website or domain value belongs to site.
func sameSite(value, site string) bool {
	h := hostOf(value)
	if h == "" {
		return false
	}
	s, ok := Site(h)
	return ok && s == site
}

// emailHash identifies an address in logs without revealing it.
func emailHash(addr string) string {
	sum := sha256.Sum256([]byte(addr))
	return hex.EncodeToString(sum[:6])
}
