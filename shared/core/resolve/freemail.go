package resolve

import (
	"sort"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// FreeMailDomains is the curated list of mailbox providers whose addresses
// say nothing about the sender's company. For these domains the resolver
// never looks up an organization: every gmail.com sender would otherwise
// match whichever organization has "gmail.com" as its website.
//
// An entry "name.*" matches the provider under any public suffix
// (hotmail.co.uk, yahoo.co.jp, gmx.at); any other entry matches the domain
// and its subdomains (mail.gmx.net is covered by gmx.*, privaterelay.appleid.com
// by appleid.com). Keep the groups sorted; add providers as they are reported.
var FreeMailDomains = []string{
	// Google
	"gmail.com", "googlemail.com",
	// Microsoft
	"hotmail.*", "outlook.*", "live.com", "live.co.uk", "live.fr", "live.de", "live.nl", "live.it",
	"live.ca", "live.com.au", "live.be", "live.se", "live.dk", "live.no", "live.at", "live.ie",
	"msn.com", "passport.com", "windowslive.com",
	// Yahoo / AOL / Verizon
	"yahoo.*", "ymail.com", "rocketmail.com", "aol.*", "aim.com", "verizon.net",
	// Apple (including Hide My Email relays)
	"icloud.com", "me.com", "mac.com", "appleid.com",
	// Privacy and independent providers, relays
	"proton.me", "pm.me", "protonmail.*", "passmail.net", "tutanota.*", "tuta.io", "tuta.com",
	"fastmail.com", "fastmail.fm", "hey.com", "hushmail.com", "duck.com", "mailbox.org",
	"posteo.de", "posteo.net", "simplelogin.com", "aleeas.com", "slmail.me", "anonaddy.me",
	"mail.com", "email.com", "inbox.com", "gmx.*", "zoho.com", "zohomail.com", "zohomail.eu", "zoho.eu", "zoho.in",
	// Germany, Austria, Switzerland
	"web.de", "t-online.de", "freenet.de", "arcor.de", "online.de", "bluewin.ch",
	// France
	"orange.fr", "wanadoo.fr", "free.fr", "sfr.fr", "neuf.fr", "laposte.net", "bbox.fr", "club-internet.fr",
	// Italy, Spain, Portugal
	"libero.it", "virgilio.it", "tiscali.it", "alice.it", "tin.it", "email.it", "telefonica.net", "sapo.pt",
	// Benelux, Nordics
	"skynet.be", "telenet.be", "ziggo.nl", "home.nl", "planet.nl", "kpnmail.nl", "hetnet.nl", "chello.nl",
	// Central and Eastern Europe
	"wp.pl", "o2.pl", "interia.pl", "onet.pl", "op.pl", "seznam.cz", "email.cz", "centrum.cz",
	"abv.bg", "ukr.net", "yandex.*", "ya.ru", "mail.ru", "inbox.ru", "bk.ru", "list.ru", "rambler.ru",
	// UK, North America, Oceania ISPs
	"btinternet.com", "virginmedia.com", "sky.com", "talktalk.net", "ntlworld.com",
	"comcast.net", "att.net", "sbcglobal.net", "bellsouth.net", "cox.net", "charter.net", "earthlink.net",
	"optonline.net", "shaw.ca", "rogers.com", "sympatico.ca", "bigpond.com", "optusnet.com.au", "xtra.co.nz",
	// Asia, Latin America
	"qq.com", "163.com", "126.com", "yeah.net", "sina.com", "naver.com", "daum.net", "hanmail.net",
	"rediffmail.com", "terra.com.br", "uol.com.br", "bol.com.br",
}

// DomainSet is a set of email domains (see FreeMailDomains for the entry
// syntax). It is immutable once built and safe for concurrent use.
type DomainSet struct {
	exact  map[string]bool // domain: matches itself and its subdomains
	brands map[string]bool // "hotmail" from "hotmail.*": the label before any public suffix
}

var defaultFreeMail = NewDomainSet(FreeMailDomains...)

// DefaultFreeMail returns the set built from FreeMailDomains.
func DefaultFreeMail() *DomainSet { return defaultFreeMail }

// NewDomainSet builds a set from entries like "gmail.com" or "yahoo.*".
// Empty entries are ignored; entries are not case sensitive.
func NewDomainSet(entries ...string) *DomainSet {
	s := &DomainSet{exact: map[string]bool{}, brands: map[string]bool{}}
	s.add(entries)
	return s
}

// With returns a copy of s with more entries (e.g. your own company's
// domains, which should never be matched to a customer organization).
func (s *DomainSet) With(entries ...string) *DomainSet {
	c := NewDomainSet()
	if s != nil {
		for k := range s.exact {
			c.exact[k] = true
		}
		for k := range s.brands {
			c.brands[k] = true
		}
	}
	c.add(entries)
	return c
}

func (s *DomainSet) add(entries []string) {
	for _, e := range entries {
		e = strings.Trim(strings.ToLower(strings.TrimSpace(e)), ".")
		e = strings.TrimPrefix(e, "@")
		if e == "" {
			continue
		}
		if b, ok := strings.CutSuffix(e, ".*"); ok {
			if b != "" && !strings.Contains(b, ".") {
				s.brands[b] = true
			}
			continue
		}
		s.exact[e] = true
	}
}

// Contains reports whether domain (or a parent domain) is in the set.
func (s *DomainSet) Contains(domain string) bool {
	if s == nil {
		return false
	}
	d := strings.Trim(strings.ToLower(strings.TrimSpace(domain)), ".")
	if d == "" {
		return false
	}
	for cur := d; ; {
		if s.exact[cur] {
			return true
		}
		i := strings.IndexByte(cur, '.')
		if i < 0 {
			break
		}
		cur = cur[i+1:]
	}
	if len(s.brands) == 0 {
		return false
	}
	site, err := publicsuffix.EffectiveTLDPlusOne(d)
	if err != nil {
		return false
	}
	label, _, _ := strings.Cut(site, ".")
	return s.brands[label]
}

// Entries lists the set's entries, sorted (brands as "name.*").
func (s *DomainSet) Entries() []string {
	if s == nil {
		return nil
	}
	out := make([]string, 0, len(s.exact)+len(s.brands))
	for k := range s.exact {
		out = append(out, k)
	}
	for k := range s.brands {
		out = append(out, k+".*")
	}
	sort.Strings(out)
	return out
}
