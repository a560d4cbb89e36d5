package stagemover_test

// Checks on template.yaml that cfn-lint and `sam validate` would not make (and
// that neither is available here to make): the build wiring to the Makefile,
// the stream event sources and their filters against real item images,
// least-privilege IAM, the table's settings, logs, tracing and alarms.
//
// The template is read as raw YAML (go.yaml.in/yaml/v3 Node API): goformation
// drops FilterCriteria and does not merge Globals, and the short intrinsic
// tags (!Ref, !GetAtt, !Sub) must parse. Every check is a function returning
// the problems it finds; TestTemplateChecksCanFail mutates the template (or
// Makefile) in memory and requires each check to report the mutation.

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

type check struct {
	name string
	run  func(tp *tmpl) []string
}

var checks = []check{
	{"functions are built by the Makefile", checkBuild},
	{"functions run provided.al2023 on arm64", checkRuntime},
	{"functions are traced", checkTracing},
	{"functions get the variables their main requires", checkEnvironment},
	{"functions have explicit roles", checkRoles},
	{"stream event sources retry safely", checkStreamSources},
	{"stream filters select the right items", checkFilters},
	{"IAM is least privilege", checkIAM},
	{"table settings", checkTable},
	{"mover concurrency and lease", checkMover},
	{"function log groups have a retention", checkLogGroups},
	{"alarms on function errors and the failure queue", checkAlarms},
	{"parameters", checkParameters},
	{"provider routes are deployed only when their source is configured", checkRoutesConfigured},
	{"a conditional source's resources carry its condition", checkSourceConditions},
	{"functions that explain moves can explain them", checkExplain},
	{"sam validate passes with lint on", checkLint},
}

func TestTemplate(t *testing.T) {
	tp := parseTemplate(t)
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			for _, problem := range c.run(tp) {
				t.Error(problem)
			}
		})
	}
}

// Every check must be able to fail: each mutation breaks the real template
// (or Makefile) in one way, and the named check must report it.
func TestTemplateChecksCanFail(t *testing.T) {
	setScalar := func(keys ...string) func(tp *tmpl, v string) {
		return func(tp *tmpl, v string) {
			n := get(tp.root, keys...)
			if n == nil {
				panic(fmt.Sprint("no ", keys))
			}
			*n = yaml.Node{Kind: yaml.ScalarNode, Value: v}
		}
	}
	del := func(tp *tmpl, keys ...string) {
		parent := get(tp.root, keys[:len(keys)-1]...)
		if parent == nil {
			panic(fmt.Sprint("no ", keys))
		}
		k := keys[len(keys)-1]
		for i := 0; i+1 < len(parent.Content); i += 2 {
			if parent.Content[i].Value == k {
				parent.Content = append(parent.Content[:i], parent.Content[i+2:]...)
				return
			}
		}
		panic(fmt.Sprint("no ", keys))
	}
	fnProps := func(tp *tmpl, dir string) []string {
		fn, ok := tp.functionByDir(dir)
		if !ok {
			panic("no function for " + dir)
		}
		return []string{"Resources", fn.id, "Properties"}
	}
	event := func(tp *tmpl, dir string) []string {
		for _, s := range tp.streamSources() {
			if tp.fnDir(s.fn) == dir {
				return []string{"Resources", s.fn.id, "Properties", "Events", s.name, "Properties"}
			}
		}
		panic("no stream source for " + dir)
	}
	k := func(base []string, more ...string) []string { return append(append([]string{}, base...), more...) }
	firstPattern := func(tp *tmpl, dir string) *yaml.Node {
		return get(tp.root, k(event(tp, dir), "FilterCriteria", "Filters")...).Content[0]
	}
	statement := func(tp *tmpl, role string, i int) *yaml.Node {
		policy := get(tp.root, "Resources", role, "Properties", "Policies").Content[0]
		return get(policy, "PolicyDocument", "Statement").Content[i]
	}

	mutations := []struct {
		check  string
		what   string
		mutate func(tp *tmpl)
	}{
		{"functions are built by the Makefile", "BuildMethod go1.x", func(tp *tmpl) {
			setScalar("Resources", tp.functions()[0].id, "Metadata", "BuildMethod")(tp, "go1.x")
		}},
		{"functions are built by the Makefile", "build target renamed", func(tp *tmpl) {
			tp.makefile = strings.Replace(tp.makefile, "build-MoverFunction:", "build-Mover:", 1)
		}},
		{"functions are built by the Makefile", "target builds a missing dir", func(tp *tmpl) {
			tp.makefile = strings.Replace(tp.makefile, "$(call lambda,mover)", "$(call lambda,movr)", 1)
		}},
		{"functions are built by the Makefile", "amd64 build", func(tp *tmpl) {
			tp.makefile = strings.Replace(tp.makefile, "GOARCH=arm64", "GOARCH=amd64", 1)
		}},
		{"functions run provided.al2023 on arm64", "old runtime", func(tp *tmpl) {
			setScalar("Globals", "Function", "Runtime")(tp, "provided.al2")
		}},
		{"functions run provided.al2023 on arm64", "x86 function", func(tp *tmpl) {
			get(tp.root, k(fnProps(tp, "mover"))...).Content = append(get(tp.root, k(fnProps(tp, "mover"))...).Content,
				&yaml.Node{Kind: yaml.ScalarNode, Value: "Architectures"},
				&yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Value: "x86_64"}}})
		}},
		{"functions are traced", "tracing off", func(tp *tmpl) { setScalar("Globals", "Function", "Tracing")(tp, "PassThrough") }},
		{"functions get the variables their main requires", "ingest secret unset", func(tp *tmpl) {
			del(tp, k(fnProps(tp, "ingest-generic"), "Environment", "Variables", "INGEST_SECRET_ARN")...)
		}},
		{"functions get the variables their main requires", "base URL unset", func(tp *tmpl) {
			del(tp, "Globals", "Function", "Environment", "Variables", "PIPEDRIVE_BASE_URL")
		}},
		{"functions have explicit roles", "generated role", func(tp *tmpl) { del(tp, k(fnProps(tp, "evaluator"), "Role")...) }},
		{"stream event sources retry safely", "no bisect", func(tp *tmpl) { del(tp, k(event(tp, "mover"), "BisectBatchOnFunctionError")...) }},
		{"stream event sources retry safely", "infinite retries", func(tp *tmpl) {
			setScalar(k(event(tp, "evaluator"), "MaximumRetryAttempts")...)(tp, "-1")
		}},
		{"stream event sources retry safely", "no partial batch response", func(tp *tmpl) {
			del(tp, k(event(tp, "mover"), "FunctionResponseTypes")...)
		}},
		{"stream event sources retry safely", "no failure destination", func(tp *tmpl) {
			del(tp, k(event(tp, "evaluator"), "DestinationConfig")...)
		}},
		{"stream event sources retry safely", "invalid pattern JSON", func(tp *tmpl) {
			*get(firstPattern(tp, "mover"), "Pattern") = yaml.Node{Kind: yaml.ScalarNode, Value: `{"eventName":["INSERT"]`}
		}},
		{"stream event sources retry safely", "no filter", func(tp *tmpl) { del(tp, k(event(tp, "evaluator"), "FilterCriteria")...) }},
		{"stream filters select the right items", "mover filter ignores the action", func(tp *tmpl) {
			*get(firstPattern(tp, "mover"), "Pattern") = yaml.Node{Kind: yaml.ScalarNode, Value: `{"eventName":["INSERT"],"dynamodb":{"NewImage":{"type":{"S":["decision"]}}}}`}
		}},
		{"stream filters select the right items", "evaluator filter takes MODIFY", func(tp *tmpl) {
			*get(firstPattern(tp, "evaluator"), "Pattern") = yaml.Node{Kind: yaml.ScalarNode, Value: `{"dynamodb":{"NewImage":{"type":{"S":["signal"]}}}}`}
		}},
		{"stream filters select the right items", "filters swapped", func(tp *tmpl) {
			a, b := get(firstPattern(tp, "evaluator"), "Pattern"), get(firstPattern(tp, "mover"), "Pattern")
			*a, *b = *b, *a
		}},
		{"IAM is least privilege", "service wildcard", func(tp *tmpl) {
			*get(statement(tp, "MoverRole", 0), "Action") = yaml.Node{Kind: yaml.ScalarNode, Value: "dynamodb:*"}
		}},
		{"IAM is least privilege", "Action *", func(tp *tmpl) {
			*get(statement(tp, "IngestGenericRole", 1), "Action") = yaml.Node{Kind: yaml.ScalarNode, Value: "*"}
		}},
		{"IAM is least privilege", "Resource * on DynamoDB", func(tp *tmpl) {
			*get(statement(tp, "EvaluatorRole", 0), "Resource") = yaml.Node{Kind: yaml.ScalarNode, Value: "*", Style: yaml.DoubleQuotedStyle}
		}},
		{"table settings", "provisioned", func(tp *tmpl) { setScalar("Resources", "Table", "Properties", "BillingMode")(tp, "PROVISIONED") }},
		{"table settings", "keys-only stream", func(tp *tmpl) {
			setScalar("Resources", "Table", "Properties", "StreamSpecification", "StreamViewType")(tp, "KEYS_ONLY")
		}},
		{"table settings", "TTL off", func(tp *tmpl) {
			setScalar("Resources", "Table", "Properties", "TimeToLiveSpecification", "Enabled")(tp, "false")
		}},
		{"table settings", "no PITR", func(tp *tmpl) { del(tp, "Resources", "Table", "Properties", "PointInTimeRecoverySpecification") }},
		{"mover concurrency and lease", "unreserved", func(tp *tmpl) { del(tp, k(fnProps(tp, "mover"), "ReservedConcurrentExecutions")...) }},
		{"mover concurrency and lease", "lease shorter than timeout", func(tp *tmpl) {
			setScalar(k(fnProps(tp, "mover"), "Environment", "Variables", "MOVER_LEASE_SECONDS")...)(tp, "30")
		}},
		{"function log groups have a retention", "no retention", func(tp *tmpl) { del(tp, "Resources", "MoverLogs", "Properties", "RetentionInDays") }},
		{"function log groups have a retention", "no log group", func(tp *tmpl) { del(tp, "Resources", "EvaluatorLogs") }},
		{"alarms on function errors and the failure queue", "no mover alarm", func(tp *tmpl) { del(tp, "Resources", "MoverErrorsAlarm") }},
		{"alarms on function errors and the failure queue", "no queue alarm", func(tp *tmpl) { del(tp, "Resources", "FailureQueueAlarm") }},
		{"alarms on function errors and the failure queue", "alarm without actions", func(tp *tmpl) {
			del(tp, "Resources", "IngestGenericErrorsAlarm", "Properties", "AlarmActions")
		}},
		{"parameters", "no Mode", func(tp *tmpl) { del(tp, "Parameters", "Mode") }},
		{"parameters", "Mode defaults to live", func(tp *tmpl) { setScalar("Parameters", "Mode", "Default")(tp, "live") }},
		{"parameters", "integration user not wired", func(tp *tmpl) {
			del(tp, "Globals", "Function", "Environment", "Variables", "PIPEDRIVE_INTEGRATION_USER_ID")
		}},
		{"provider routes are deployed only when their source is configured", "PandaDoc route always deployed", func(tp *tmpl) {
			del(tp, "Resources", "IngestPandaDocFunction", "Condition")
		}},
		{"provider routes are deployed only when their source is configured", "DocuSign on by default", func(tp *tmpl) {
			setScalar("Parameters", "EnableDocuSign", "Default")(tp, "true")
		}},
		{"a conditional source's resources carry its condition", "placeholder secret always created", func(tp *tmpl) {
			del(tp, "Resources", "PandaDocSharedKeySecret", "Condition")
		}},
		{"a conditional source's resources carry its condition", "log group always created", func(tp *tmpl) {
			del(tp, "Resources", "IngestDocuSignLogs", "Condition")
		}},
		{"a conditional source's resources carry its condition", "alarm on a function that may not exist", func(tp *tmpl) {
			del(tp, "Resources", "IngestDocuSignErrorsAlarm", "Condition")
		}},
		{"a conditional source's resources carry its condition", "output of a secret that may not exist", func(tp *tmpl) {
			del(tp, "Outputs", "PandaDocSharedKeySecretArn", "Condition")
		}},
		{"functions that explain moves can explain them", "sweeper without EXPLAIN_NOTES", func(tp *tmpl) {
			del(tp, k(fnProps(tp, "mover-sweeper"), "Environment", "Variables", "EXPLAIN_NOTES")...)
		}},
		{"functions that explain moves can explain them", "mover cannot query the index", func(tp *tmpl) {
			sts := get(tp.root, "Resources", "MoverRole", "Properties", "Policies").Content[0]
			seq := get(sts, "PolicyDocument", "Statement")
			for i, st := range seq.Content {
				if slices.Contains(scalars(get(st, "Action")), "dynamodb:Query") {
					seq.Content = append(seq.Content[:i], seq.Content[i+1:]...)
					return
				}
			}
			panic("no dynamodb:Query statement in MoverRole")
		}},
		{"sam validate passes with lint on", "W1028 not suppressed", func(tp *tmpl) { del(tp, "Resources", "HttpApi", "Metadata") }},
	}
	byName := map[string]check{}
	for _, c := range checks {
		byName[c.name] = c
	}
	covered := map[string]bool{}
	for _, m := range mutations {
		t.Run(m.check+"/"+m.what, func(t *testing.T) {
			c, ok := byName[m.check]
			if !ok {
				t.Fatalf("no check %q", m.check)
			}
			tp := parseTemplate(t)
			if problems := c.run(tp); len(problems) != 0 {
				t.Fatalf("the unmutated template already fails: %v", problems)
			}
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("mutation does not apply to the template any more: %v", r)
					}
				}()
				m.mutate(tp)
			}()
			problems := c.run(tp)
			if len(problems) == 0 {
				t.Errorf("check %q passed a template with %s", m.check, m.what)
			}
			t.Logf("reported: %v", problems)
		})
		covered[m.check] = true
	}
	for _, c := range checks {
		if !covered[c.name] {
			t.Errorf("check %q has no mutation that makes it fail", c.name)
		}
	}
}
