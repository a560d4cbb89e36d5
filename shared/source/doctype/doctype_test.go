package doctype_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/source/doctype"
)

func TestDefaultRules(t *testing.T) {
	r := doctype.Default()
	cases := map[string]string{
		"Northwind Logistics - Route Optimisation Proposal": "proposal",
		"Angebot Routenplanung 2026":                        "proposal",
		"Preisangebot Nordwind":                             "proposal",
		"Offre commerciale - Brightwater":                   "proposal",
		"Propuesta comercial":                               "proposal",
		"Offerte Brightwater BV":                            "proposal",
		"Quote Q-1042":                                      "quote",
		"Quotation for 40 seats":                            "quote",
		"Devis n°2026-118":                                  "quote",
		"Cotización 2026":                                   "quote",
		"Cotizacion 2026":                                   "quote",
		"Please DocuSign: Master Services Agreement":        "contract",
		"Northwind_MSA_v3.pdf":                              "contract",
		"Order Form - Northwind":                            "contract",
		"Rahmenvertrag Nordwind":                            "contract",
		"Contrat de service":                                "contract",
		"Contrato de servicios":                             "contract",
		"Overeenkomst dienstverlening":                      "contract",
		"Mutual Non-Disclosure Agreement":                   "other",
		"NDA - Northwind":                                   "other",
		"Onboarding checklist":                              "other",
		"Compromise notes":                                  "other", // "msa" only as a word
		"":                                                  "other",
	}
	for name, want := range cases {
		if got := r.Classify(name); got != want {
			t.Errorf("Classify(%q) = %q, want %q", name, got, want)
		}
	}
	// the first name any rule matches decides; empty names are skipped
	if got := r.Classify("", "Northwind 2026", "Order Form (EU)"); got != "contract" {
		t.Errorf("template fallback = %q", got)
	}
	if got := r.Classify("Proposal", "Order Form"); got != "proposal" {
		t.Errorf("name before template = %q", got)
	}
	var none *doctype.Rules
	if none.Classify("Proposal") != "other" {
		t.Error("nil rules must classify as other")
	}
}

func TestCustomRulesInOrder(t *testing.T) {
	r, err := doctype.Parse("custom.yaml", []byte("rules:\n  - match: 'order form'\n    type: quote\n  - match: 'form'\n    type: other\n"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Classify("Order Form") != "quote" || r.Classify("Signup form") != "other" || r.Classify("Proposal") != "other" {
		t.Fatal("custom rules not applied in order")
	}
	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, doctype.DefaultYAML(), 0o644); err != nil {
		t.Fatal(err)
	}
	if r, err := doctype.Load(path); err != nil || r.Classify("MSA") != "contract" {
		t.Fatalf("Load: %v", err)
	}
}

func TestRulesErrorsNameFileAndLine(t *testing.T) {
	for name, tc := range map[string]struct{ yaml, want string }{
		"bad type":    {"rules:\n  - match: 'x'\n    type: invoice\n", "bad.yaml:2: type \"invoice\""},
		"bad regexp":  {"rules:\n  - match: 'x'\n    type: quote\n  - match: '(unclosed'\n    type: quote\n", "bad.yaml:4: match is not a valid regular expression"},
		"matches all": {"rules:\n  - match: '.*'\n    type: quote\n", "bad.yaml:2: match \".*\" matches every name"},
		"no match":    {"rules:\n  - type: quote\n", "bad.yaml:2: match must be"},
		"unknown key": {"rules:\n  - match: 'x'\n    typ: quote\n", "bad.yaml"},
		"empty":       {"rules: []\n", "no rules"},
		"not yaml":    {"rules: [\n", "bad.yaml"},
	} {
		_, err := doctype.Parse("bad.yaml", []byte(tc.yaml))
		if !errors.Is(err, doctype.ErrRules) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrRules saying %q", name, err, tc.want)
		}
	}
	if _, err := doctype.Load("/no/such/rules.yaml"); !errors.Is(err, doctype.ErrRules) {
		t.Errorf("missing file: %v", err)
	}
}

func TestInternal(t *testing.T) {
	in := doctype.NewInternal([]string{" Acme-Routing.io ", ""})
	in.Add("partner@freelance.example")
	for addr, want := range map[string]bool{
		"sam.ortega@acme-routing.io":             true,
		"SAM@ACME-ROUTING.IO":                    true,
		"ops@eu.acme-routing.io":                 true,
		"x@notacme-routing.io":                   false,
		"dana.whitfield@northwind-logistics.com": false,
		"partner@freelance.example":              true,
		"other@freelance.example":                false,
		"Sam <sam@acme-routing.io>":              false, // not a bare address
		"":                                       false,
	} {
		if got := in.Is(addr); got != want {
			t.Errorf("Is(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestSessionAndKeys(t *testing.T) {
	at := time.Date(2026, 3, 6, 23, 59, 0, 0, time.FixedZone("x", -3600))
	if got := doctype.Session("docusign", "env-1", "Dana@X.com", at); got != "docusign:env-1:dana@x.com:2026-03-07" {
		t.Errorf("Session = %q (UTC day, lowercased actor)", got)
	}
	keys := doctype.SplitKeys([]byte(" a,b\n\nc ,"), 2)
	if len(keys) != 2 || string(keys[0]) != "a" || string(keys[1]) != "b" {
		t.Errorf("SplitKeys = %q", keys)
	}
	if doctype.Clip("cotización", 9) != "cotizaci" {
		t.Errorf("Clip cut a rune")
	}
}
