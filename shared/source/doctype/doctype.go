// Package doctype holds what the document sources (shared/source/pandadoc,
// shared/source/docusign) have in common: the configurable rules that turn a
// document's name or template name into a document type (proposal, quote,
// contract, other), the vendor/buyer split of recipients by internal
// domains, the viewing-session id for providers that report none, and the
// splitting of a secret into several signing keys.
package doctype

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"net/mail"
	"os"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Document types (signal.Signal.DocType).
const (
	Proposal = "proposal"
	Quote    = "quote"
	Contract = "contract"
	Other    = "other"
)

//go:embed default.yaml
var defaultYAML []byte

// DefaultYAML returns the embedded default rules file, a starting point for
// a custom DOC_TYPE_RULES_FILE.
func DefaultYAML() []byte { return bytes.Clone(defaultYAML) }

// Rule maps names matching Match to Type.
type Rule struct {
	Match string `yaml:"match"` // RE2 regular expression, matched case-insensitively
	Type  string `yaml:"type"`  // proposal|quote|contract|other
	re    *regexp.Regexp
}

// Rules is an ordered rule list; the zero value classifies everything as
// "other".
type Rules struct {
	list []Rule
}

// ErrRules marks a rules file that cannot be used; the message names the
// file, the line and the problem.
var ErrRules = errors.New("invalid document type rules")

const (
	maxRules   = 200
	maxPattern = 1000
	maxName    = 1000 // longer names are classified on their first 1000 bytes
)

var types = map[string]bool{Proposal: true, Quote: true, Contract: true, Other: true}

// Default returns the embedded default rules.
func Default() *Rules {
	r, err := Parse("default.yaml", defaultYAML)
	if err != nil {
		panic(err) // the embedded file is tested
	}
	return r
}

// Load reads a rules file.
func Load(path string) (*Rules, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRules, err)
	}
	return Parse(path, b)
}

// Parse reads rules YAML ({"rules": [{"match": RE, "type": T}, ...]}); file
// names the source in errors.
func Parse(file string, data []byte) (*Rules, error) {
	var doc struct {
		Rules []yaml.Node `yaml:"rules"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrRules, file, err)
	}
	if len(doc.Rules) == 0 {
		return nil, fmt.Errorf("%w: %s: no rules (want rules: [{match: ..., type: ...}])", ErrRules, file)
	}
	if len(doc.Rules) > maxRules {
		return nil, fmt.Errorf("%w: %s: more than %d rules", ErrRules, file, maxRules)
	}
	out := &Rules{}
	for _, n := range doc.Rules {
		var r Rule
		if err := n.Decode(&r); err != nil {
			return nil, fmt.Errorf("%w: %s:%d: %v", ErrRules, file, n.Line, err)
		}
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if k := n.Content[i].Value; k != "match" && k != "type" {
					return nil, fmt.Errorf("%w: %s:%d: unknown field %q (want match and type)", ErrRules, file, n.Content[i].Line, k)
				}
			}
		}
		if strings.TrimSpace(r.Match) == "" || len(r.Match) > maxPattern {
			return nil, fmt.Errorf("%w: %s:%d: match must be a regular expression of 1-%d characters", ErrRules, file, n.Line, maxPattern)
		}
		if !types[r.Type] {
			return nil, fmt.Errorf("%w: %s:%d: type %q must be one of proposal, quote, contract, other", ErrRules, file, n.Line, r.Type)
		}
		re, err := regexp.Compile("(?i)" + r.Match)
		if err != nil {
			return nil, fmt.Errorf("%w: %s:%d: match is not a valid regular expression: %v", ErrRules, file, n.Line, err)
		}
		if re.MatchString("") {
			return nil, fmt.Errorf("%w: %s:%d: match %q matches every name", ErrRules, file, n.Line, r.Match)
		}
		r.re = re
		out.list = append(out.list, r)
	}
	return out, nil
}

// Classify returns the type of the first rule that matches the first name
// any rule matches (names in priority order; empty names are skipped), or
// "other".
func (r *Rules) Classify(names ...string) string {
	if r == nil {
		return Other
	}
	for _, name := range names {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if len(name) > maxName {
			name = name[:maxName]
		}
		// "Acme_Order_Form.pdf": underscores and dots separate words too
		name = strings.NewReplacer("_", " ", ".", " ").Replace(name)
		for _, rule := range r.list {
			if rule.re.MatchString(name) {
				return rule.Type
			}
		}
	}
	return Other
}

// Internal tells vendor-side (internal) addresses from the others: an
// address is internal when its domain is one of the configured domains or a
// subdomain of one, or when it is one of the addresses added with Add (the
// document's sender, for example).
type Internal struct {
	domains []string
	addrs   map[string]bool
}

// NewInternal builds the split from INTERNAL_DOMAINS.
func NewInternal(domains []string) *Internal {
	in := &Internal{addrs: map[string]bool{}}
	for _, d := range domains {
		d = strings.ToLower(strings.Trim(strings.TrimSpace(d), "@."))
		if d != "" {
			in.domains = append(in.domains, d)
		}
	}
	return in
}

// Add marks one address as internal (the sender of a document always is).
func (in *Internal) Add(addr string) {
	if a, ok := Address(addr); ok {
		in.addrs[a] = true
	}
}

// Is reports whether addr is vendor side.
func (in *Internal) Is(addr string) bool {
	a, ok := Address(addr)
	if !ok {
		return false
	}
	if in.addrs[a] {
		return true
	}
	domain := a[strings.LastIndexByte(a, '@')+1:]
	for _, d := range in.domains {
		if domain == d || strings.HasSuffix(domain, "."+d) {
			return true
		}
	}
	return false
}

// Address returns a lowercased bare email address, or false.
func Address(a string) (string, bool) {
	a = strings.TrimSpace(a)
	if a == "" || len(a) > 254 {
		return "", false
	}
	p, err := mail.ParseAddress(a)
	if err != nil || p.Name != "" || !strings.Contains(p.Address, "@") || p.Address != a {
		return "", false
	}
	return strings.ToLower(p.Address), true
}

// Session is the viewing-session id for a provider that reports none: one
// session per document, viewer and UTC day. The intent engine counts views
// with the same actor and session once, so a viewer re-opening a document
// the same day (or the provider reporting one view as both an envelope and
// a recipient event) is one view, and a return on another day is a new one.
func Session(source, docID, actor string, at time.Time) string {
	return source + ":" + docID + ":" + strings.ToLower(actor) + ":" + at.UTC().Format("2006-01-02")
}

// SplitKeys splits a secret value holding one or more signing keys,
// separated by commas or whitespace (newlines), as during a key rotation.
// Empty parts are dropped; at most max keys are returned.
func SplitKeys(secret []byte, max int) [][]byte {
	var keys [][]byte
	for _, f := range bytes.FieldsFunc(secret, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }) {
		if len(keys) == max {
			break
		}
		keys = append(keys, f)
	}
	return keys
}

// Clip cuts s to at most n bytes on a rune boundary.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
