package stagemover_test

// Checks on parameters and the conditional provider sources: conditions
// evaluated at the parameters' defaults, references between conditional
// resources, and the cfn-lint suppression their routes need.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

func checkParameters(tp *tmpl) []string {
	var p []string
	params := get(tp.root, "Parameters")
	for _, name := range []string{"PipedriveBaseUrl", "Mode", "IntegrationUserId"} {
		if get(params, name) == nil {
			p = append(p, "parameter "+name+" is missing")
		}
	}
	mode := get(params, "Mode")
	if av := scalars(get(mode, "AllowedValues")); mode != nil && (len(av) != 2 || !slices.Contains(av, "shadow") || !slices.Contains(av, "live")) {
		p = append(p, fmt.Sprintf("parameter Mode: AllowedValues %v, want shadow and live", av))
	}
	if mode != nil && scalar(get(mode, "Default")) != "shadow" {
		p = append(p, "parameter Mode must default to shadow (a new deploy writes nothing to Pipedrive)")
	}
	wired := map[string]string{"STAGEMOVER_MODE": "Mode", "PIPEDRIVE_BASE_URL": "PipedriveBaseUrl", "PIPEDRIVE_INTEGRATION_USER_ID": "IntegrationUserId"}
	for _, fn := range tp.functions() {
		env := tp.fnEnv(fn)
		for v, param := range wired {
			if refOf(env[v]) != param {
				p = append(p, fmt.Sprintf("%s: %s is not !Ref %s", fn.id, v, param))
			}
		}
	}
	return p
}

// refs collects the logical ids n refers to: Ref, GetAtt, ${X} and
// ${X.Attr} in Sub, and DependsOn (parameters and pseudo parameters too;
// callers look the ids up among the resources).
func refs(n *yaml.Node, out map[string]bool) {
	if n == nil {
		return
	}
	switch fn, arg := intrinsic(n); fn {
	case "Ref":
		out[scalar(arg)] = true
		return
	case "GetAtt":
		res, _ := getAttOf(n)
		out[res] = true
		return
	case "Sub":
		for _, m := range subVar.FindAllStringSubmatch(subOf(n), -1) {
			out[m[1]] = true
		}
		if arg.Kind == yaml.SequenceNode && len(arg.Content) > 1 {
			refs(arg.Content[1], out)
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		refs(n.Alias, out)
		return
	}
	for i, c := range n.Content {
		if n.Kind == yaml.MappingNode && i%2 == 0 {
			if c.Value == "DependsOn" {
				for _, d := range scalars(n.Content[i+1]) {
					out[d] = true
				}
			}
			continue
		}
		refs(c, out)
	}
}

var subVar = regexp.MustCompile(`\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}`)

// condition is the Condition a resource or output carries ("" for none).
func condition(n *yaml.Node) string { return scalar(get(n, "Condition")) }

// evalCondition evaluates a template condition with every parameter at its
// default (the deploy nobody configured).
func (tp *tmpl) evalCondition(name string) (bool, error) {
	n := get(tp.root, "Conditions", name)
	if n == nil {
		return false, fmt.Errorf("no condition %s", name)
	}
	return tp.evalCond(n)
}

func (tp *tmpl) evalCond(n *yaml.Node) (bool, error) {
	fn, arg := intrinsic(n)
	args := list(arg)
	if fn == "Condition" {
		return tp.evalCondition(scalar(arg))
	}
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 && n.Content[0].Value == "Condition" {
		return tp.evalCondition(scalar(n.Content[1]))
	}
	switch fn {
	case "Equals":
		if len(args) != 2 {
			return false, fmt.Errorf("Equals takes two values")
		}
		a, err := tp.defaultValue(args[0])
		if err != nil {
			return false, err
		}
		b, err := tp.defaultValue(args[1])
		return a == b, err
	case "Not":
		if len(args) != 1 {
			return false, fmt.Errorf("Not takes one condition")
		}
		v, err := tp.evalCond(args[0])
		return !v, err
	case "And", "Or":
		all, anyTrue := true, false
		for _, a := range args {
			v, err := tp.evalCond(a)
			if err != nil {
				return false, err
			}
			all, anyTrue = all && v, anyTrue || v
		}
		if fn == "And" {
			return all, nil
		}
		return anyTrue, nil
	}
	return false, fmt.Errorf("condition function %q is not known to this test", fn)
}

func (tp *tmpl) defaultValue(n *yaml.Node) (string, error) {
	if ref := refOf(n); ref != "" {
		p := get(tp.root, "Parameters", ref)
		if p == nil {
			return "", fmt.Errorf("!Ref %s is not a parameter", ref)
		}
		return scalar(get(p, "Default")), nil
	}
	if n.Kind != yaml.ScalarNode {
		return "", fmt.Errorf("value is neither a literal nor !Ref of a parameter")
	}
	return n.Value, nil
}

func (tp *tmpl) httpAPIEvents(fn resource) []*yaml.Node {
	var out []*yaml.Node
	for _, p := range pairs(get(fn.node, "Properties", "Events")) {
		if scalar(get(p[1], "Type")) == "HttpApi" {
			out = append(out, get(p[1], "Properties"))
		}
	}
	return out
}

// A route of a provider (every route but our own POST /signals) verifies
// deliveries with something the operator must configure first; until then
// it must not exist, so a deploy with the defaults has none.
func checkRoutesConfigured(tp *tmpl) []string {
	var p []string
	for _, fn := range tp.functions() {
		if len(tp.httpAPIEvents(fn)) == 0 || tp.fnDir(fn) == "ingest-generic" {
			continue
		}
		c := condition(fn.node)
		if c == "" {
			p = append(p, fn.id+": a provider route without a Condition (deployed even when its source is not configured)")
			continue
		}
		on, err := tp.evalCondition(c)
		if err != nil {
			p = append(p, fmt.Sprintf("%s: Condition %s: %v", fn.id, c, err))
		} else if on {
			p = append(p, fmt.Sprintf("%s: Condition %s holds with the parameters' defaults (the route is deployed unconfigured)", fn.id, c))
		}
	}
	return p
}

// A conditional function's role, log group and alarms, and a secret the
// template fills with a placeholder that only that source reads, exist only
// with it; and whatever refers to a conditional resource carries the same
// condition (else CloudFormation cannot deploy the template with it false).
func checkSourceConditions(tp *tmpl) []string {
	var p []string
	type referrer struct{ id, cond string }
	var all []referrer
	refersTo := map[string][]referrer{}
	add := func(id string, n *yaml.Node) {
		r := referrer{id, condition(n)}
		all = append(all, r)
		found := map[string]bool{}
		refs(n, found)
		for target := range found {
			if target != id {
				refersTo[target] = append(refersTo[target], r)
			}
		}
	}
	for _, r := range tp.resources("") {
		add(r.id, r.node)
	}
	for _, o := range pairs(get(tp.root, "Outputs")) {
		add("Outputs."+o[0].Value, o[1])
	}
	for _, r := range tp.resources("") {
		c := condition(r.node)
		if c == "" {
			continue
		}
		for _, from := range refersTo[r.id] {
			if from.cond != c {
				p = append(p, fmt.Sprintf("%s refers to %s (Condition %s) but has Condition %q", from.id, r.id, c, from.cond))
			}
		}
	}
	for _, fn := range tp.functions() {
		c := condition(fn.node)
		if c == "" {
			continue
		}
		own := map[string]string{}
		role, _ := getAttOf(get(fn.node, "Properties", "Role"))
		own[role] = "role"
		own[refOf(get(fn.node, "Properties", "LoggingConfig", "LogGroup"))] = "log group"
		for _, a := range tp.resources("AWS::CloudWatch::Alarm") {
			for _, d := range list(get(a.node, "Properties", "Dimensions")) {
				if refOf(get(d, "Value")) == fn.id {
					own[a.id] = "alarm"
				}
			}
		}
		delete(own, "")
		for id, what := range own {
			if n := tp.resource(id); n != nil && condition(n) != c {
				p = append(p, fmt.Sprintf("%s: its %s %s has Condition %q, want %s", fn.id, what, id, condition(n), c))
			}
		}
	}
	for _, s := range tp.resources("AWS::SecretsManager::Secret") {
		if get(s.node, "Properties", "SecretString") == nil || condition(s.node) != "" {
			continue
		}
		users := refersTo[s.id]
		if len(users) == 0 {
			continue
		}
		c := users[0].cond
		for _, u := range users {
			if u.cond != c {
				c = ""
			}
		}
		if c != "" {
			p = append(p, fmt.Sprintf("%s: a placeholder secret only %s resources read has no Condition %s", s.id, c, c))
		}
	}
	return p
}

// samconfig.toml runs cfn-lint on `sam validate`. The SAM transform turns a
// conditional function's HttpApi event into a route whose integration
// refers to the function under Fn::If, which cfn-lint reports as W1028 on
// the API; the API must suppress exactly that warning.
func checkLint(tp *tmpl) []string {
	cfg, err := os.ReadFile(filepath.Join(tp.repo, "samconfig.toml"))
	if err != nil {
		return []string{err.Error()}
	}
	section := string(cfg)
	if i := strings.Index(section, "[default.validate.parameters]"); i >= 0 {
		section = section[i+len("[default.validate.parameters]"):]
		if j := strings.Index(section, "\n["); j >= 0 {
			section = section[:j]
		}
	} else {
		section = ""
	}
	if !regexp.MustCompile(`(?m)^\s*lint\s*=\s*true\s*$`).MatchString(section) {
		return nil
	}
	var p []string
	for _, fn := range tp.functions() {
		if condition(fn.node) == "" {
			continue
		}
		for _, ev := range tp.httpAPIEvents(fn) {
			api := refOf(get(ev, "ApiId"))
			ignored := scalars(get(tp.resource(api), "Metadata", "cfn-lint", "config", "ignore_checks"))
			if !slices.Contains(ignored, "W1028") {
				p = append(p, fmt.Sprintf("%s: conditional route %s on %s, which does not ignore cfn-lint W1028 (sam validate fails with lint = true)", fn.id, scalar(get(ev, "Path")), api))
			}
		}
	}
	return p
}
