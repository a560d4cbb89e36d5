package intent_test

import (
	"strings"
	"testing"

	"github.com/stagemover/stagemover/shared/core/intent"
)

func TestDefaultRulesLoad(t *testing.T) {
	r := intent.DefaultRules()
	sales := r.Pipeline("Sales")
	if sales == nil || sales.Name != "Sales" {
		t.Fatal("the default rules must name the Sales pipeline")
	}
	want := []string{"Qualified", "Contact Made", "Demo Scheduled", "Proposal Made", "Negotiations Started"}
	if strings.Join(sales.Stages, "|") != strings.Join(want, "|") {
		t.Errorf("Sales stages %v, want %v", sales.Stages, want)
	}
	if p := r.Pipeline("Some other pipeline"); p == nil || p.Name != "*" {
		t.Error("pipelines not named must fall back to the \"*\" pipeline")
	}
	if _, err := intent.LoadRules("copy.yaml", intent.DefaultRulesYAML()); err != nil {
		t.Errorf("the default rules must load from bytes: %v", err)
	}
}

const minimal = `version: 1
pipelines:
  - name: "*"
    stages: [Qualified, Contact Made, Demo Scheduled, Proposal Made, Negotiations Started]
    rules:
      - id: contact
        when: [buyer_reply]
        stage: Contact Made
`

func TestRulesValidation(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string // substrings of the error, including file:line
	}{
		{"unknown stage", strings.Replace(minimal, "stage: Contact Made", "stage: Contact Mad", 1),
			[]string{"custom.yaml:8:", `"Contact Mad" is not a stage of pipeline "*"`}},
		{"unknown cue", strings.Replace(minimal, "[buyer_reply]", "[buyer_replied]", 1),
			[]string{"custom.yaml:7:", `unknown cue "buyer_replied"`}},
		{"bad threshold", "thresholds:\n  min_call_seconds: -5\n" + minimal,
			[]string{"custom.yaml:2:", "min_call_seconds must be between 0 and 86400"}},
		{"bad threshold kind", "thresholds:\n  proposal_view_counts: maybe\n" + minimal,
			[]string{"custom.yaml:2:", "proposal_view_counts must be true or false"}},
		{"bad enum", "thresholds:\n  third_party_sender: sometimes\n" + minimal,
			[]string{"custom.yaml:2:", "third_party_sender must be one of"}},
		{"duplicate rule id", minimal + "      - id: contact\n        when: [call_connected]\n        stage: Contact Made\n",
			[]string{"custom.yaml:9:", `duplicate rule id "contact"`}},
		{"unknown key", strings.Replace(minimal, "    stages:", "    stagez: []\n    stages:", 1),
			[]string{"custom.yaml:4:", `unknown key "stagez"`}},
		{"unknown top-level key", "colour: blue\n" + minimal,
			[]string{"custom.yaml:1:", `unknown key "colour"`}},
		{"cue mapped twice", minimal + "      - id: contact2\n        when: [buyer_reply]\n        stage: Demo Scheduled\n",
			[]string{"custom.yaml:9:", `cue "buyer_reply" is already mapped by rule "contact"`}},
		{"rules_from unknown pipeline", minimal + "  - name: Sales\n    stages: [A]\n    rules_from: Nope\n",
			[]string{"custom.yaml:11:", `unknown pipeline "Nope"`}},
		{"inherited rule names a missing stage", minimal + "  - name: Sales\n    stages: [Qualified]\n    rules_from: \"*\"\n",
			[]string{"custom.yaml:8:", `"Contact Made" is not a stage of pipeline "Sales"`, "rules_from"}},
		{"bad phrase", "phrases:\n  pricing_negotiation: [\"..2 discount\"]\n" + minimal,
			[]string{"custom.yaml:2:", "must start with a word"}},
		{"phrase for an unknown cue", "phrases:\n  haggling: [\"haggle*\"]\n" + minimal,
			[]string{"custom.yaml:2:", `unknown text cue "haggling"`}},
		{"status other than won", strings.Replace(minimal, "stage: Contact Made", "status: lost", 1),
			[]string{"custom.yaml:8:", `rule status must be one of won, got "lost"`}},
		{"not yaml", "pipelines: [\n", []string{"custom.yaml"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := intent.LoadRules("custom.yaml", []byte(c.yaml))
			if err == nil {
				t.Fatal("expected an error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	if _, err := intent.LoadRules("ok.yaml", []byte(minimal)); err != nil {
		t.Errorf("minimal rules must load: %v", err)
	}
}

// RevOps changes which evidence maps to which stage, and thresholds, in YAML.
func TestCustomRulesChangeDecisions(t *testing.T) {
	contractIsProposal := strings.Replace(string(intent.DefaultRulesYAML()),
		"when: [proposal_sent, proposal_viewed, proposal_delivered]",
		"when: [proposal_sent, proposal_viewed, proposal_delivered, contract_sent]", 1)
	r, err := intent.LoadRules("contract.yaml", []byte(contractIsProposal))
	if err != nil {
		t.Fatal(err)
	}
	input := in("Demo Scheduled", doc(1, "sent", "contract", rep, ""))
	if d := decide(t, intent.NewEngine(nil), input); d.Stage != "" {
		t.Errorf("default: a contract sent alone moves nothing, got %q", d.Stage)
	}
	if d := decide(t, intent.NewEngine(r), input); d.Stage != "Proposal Made" || d.Rule != "proposal-sent" {
		t.Errorf("custom: contract sent should be Proposal Made, got %q (%s)", d.Stage, d.Rule)
	}

	longCalls := strings.Replace(string(intent.DefaultRulesYAML()), "min_call_seconds: 60", "min_call_seconds: 600", 1)
	r2, err := intent.LoadRules("calls.yaml", []byte(longCalls))
	if err != nil {
		t.Fatal(err)
	}
	c := in("Qualified", call(1, "connected", 300, "Discussed their process."))
	if d := decide(t, intent.NewEngine(nil), c); d.Stage != "Contact Made" {
		t.Errorf("default: a 5-minute call is contact, got %q", d.Stage)
	}
	if d := decide(t, intent.NewEngine(r2), c); d.Stage != "" {
		t.Errorf("custom: a 5-minute call is under 10 minutes, got %q", d.Stage)
	}

	noSkip := strings.Replace(string(intent.DefaultRulesYAML()), "stage_request_may_skip: true", "stage_request_may_skip: false", 1)
	r3, err := intent.LoadRules("noskip.yaml", []byte(noSkip))
	if err != nil {
		t.Fatal(err)
	}
	sr := in("Qualified", stageRequest("Proposal Made"))
	if d := decide(t, intent.NewEngine(r3), sr); d.Stage != "" || d.Flag != intent.FlagReview {
		t.Errorf("no-skip rules must hold a skipping stage request for review, got %+v", d)
	}
	if d := decide(t, intent.NewEngine(r3), in("Qualified", stageRequest("Contact Made"))); d.Stage != "Contact Made" {
		t.Errorf("the next stage is allowed, got %q", d.Stage)
	}

	extra := "phrases:\n  pricing_negotiation: [\"haggle*\"]\n" + string(intent.DefaultRulesYAML())
	r4, err := intent.LoadRules("phrases.yaml", []byte(extra))
	if err != nil {
		t.Fatal(err)
	}
	h := in("Proposal Made", fromBuyer(1, "Our CFO will want to haggle a bit."))
	if d := decide(t, intent.NewEngine(nil), h); d.Stage != "" {
		t.Errorf("default lexicon has no 'haggle', got %q", d.Stage)
	}
	if d := decide(t, intent.NewEngine(r4), h); d.Stage != "Negotiations Started" {
		t.Errorf("added phrase must count, got %q", d.Stage)
	}
}

func TestPerPipelineRules(t *testing.T) {
	y := minimal + `  - name: Renewals
    stages: [Up for renewal, Talking, Agreed]
    thresholds:
      min_call_seconds: 30
    rules:
      - id: talking
        when: [buyer_reply, call_connected]
        stage: Talking
`
	r, err := intent.LoadRules("pipes.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	c := in("Up for renewal", call(1, "connected", 45, "Renewal chat."))
	c.Deal.Pipeline = "Renewals"
	if d := decide(t, intent.NewEngine(r), c); d.Stage != "Talking" || d.Rule != "talking" {
		t.Errorf("renewals pipeline: got %+v", d)
	}
}
