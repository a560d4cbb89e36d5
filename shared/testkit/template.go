package testkit

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"
)

// SampleParameters are the deploy parameters the tests deploy with: the
// sample company (acme-routing.io, its mailbox and Google project) in live
// mode with an integration user. A parameter not listed takes the
// template's Default.
var SampleParameters = map[string]string{
	"Mode":                    "live",
	"IntegrationUserId":       "1000",
	"InternalDomains":         "acme-routing.io",
	"GraphMailboxes":          SampleMailbox,
	"GmailMailboxes":          SampleMailbox,
	"GmailPubsubTopic":        "projects/acme-routing-mail/topics/stagemover-gmail",
	"GmailPushAudience":       "https://" + SampleAPIDomain + "/gmail/push",
	"GmailPushServiceAccount": "gmail-push@acme-routing-mail.iam.gserviceaccount.com",
}

// TemplateFunction is an AWS::Serverless::Function of template.yaml.
type TemplateFunction struct {
	LogicalID string
	// Dir is functions/<Dir>, which the Makefile's build-<LogicalID>
	// target builds ("" when it has none).
	Dir       string
	Condition string
	// Events maps each event source's name to its Type (HttpApi,
	// DynamoDB, Schedule).
	Events map[string]string
	// Env is Globals.Function.Environment merged with the function's own.
	Env map[string]TemplateValue
}

// TemplateValue is an environment variable's value as a deploy with
// SampleParameters gives it.
type TemplateValue struct {
	// Value is the literal, the parameter's value, or the !Sub rendered
	// for the sample HTTP API.
	Value string
	// Resource is set when the value names a resource of the stack (the
	// table, a secret): a deploy fills it in, so a test must.
	Resource string
}

var tmpl struct {
	sync.Once
	fns []TemplateFunction
	doc *yaml.Node
	err error
}

// TemplateFunctions lists the functions of template.yaml in template order.
func TemplateFunctions(t testing.TB) []TemplateFunction {
	t.Helper()
	fns, _ := loadTemplate(t)
	return fns
}

// TemplateFunctionByDir is the function built from functions/<dir>.
func TemplateFunctionByDir(t testing.TB, dir string) TemplateFunction {
	t.Helper()
	for _, fn := range TemplateFunctions(t) {
		if fn.Dir == dir {
			return fn
		}
	}
	t.Fatalf("testkit: no function of template.yaml is built from functions/%s", dir)
	return TemplateFunction{}
}

// TemplateEnv returns the environment template.yaml gives the function
// logicalID (see TemplateValue) with overrides applied. Every variable that
// names a stack resource must be in overrides; a name the template does
// not set (an endpoint of a stand-in) is added.
func TemplateEnv(t testing.TB, logicalID string, overrides map[string]string) map[string]string {
	t.Helper()
	var fn *TemplateFunction
	for _, f := range TemplateFunctions(t) {
		if f.LogicalID == logicalID {
			fn = &f
			break
		}
	}
	if fn == nil {
		t.Fatalf("testkit: template.yaml has no function %s", logicalID)
	}
	env := map[string]string{}
	for name, v := range fn.Env {
		if o, ok := overrides[name]; ok {
			env[name] = o
			continue
		}
		if v.Resource != "" {
			t.Fatalf("testkit: %s: %s is the stack's %s; give the test's own in overrides", logicalID, name, v.Resource)
		}
		env[name] = v.Value
	}
	for name, o := range overrides {
		env[name] = o
	}
	return env
}

// TemplateSecretString returns the SecretString template.yaml gives the
// AWS::SecretsManager::Secret with logical id id, as a deploy creates it.
func TemplateSecretString(t testing.TB, id string) string {
	t.Helper()
	_, doc := loadTemplate(t)
	res := mapValue(mapValue(doc, "Resources"), id)
	if typ := mapValue(res, "Type"); typ == nil || typ.Value != "AWS::SecretsManager::Secret" {
		t.Fatalf("testkit: template.yaml has no secret %s", id)
	}
	s := mapValue(mapValue(res, "Properties"), "SecretString")
	if s == nil || s.Kind != yaml.ScalarNode {
		t.Fatalf("testkit: template.yaml: %s has no literal SecretString", id)
	}
	return s.Value
}

// loadTemplate reads template.yaml (as raw YAML: its short intrinsic tags
// must parse) and the Makefile once per test binary.
func loadTemplate(t testing.TB) ([]TemplateFunction, *yaml.Node) {
	t.Helper()
	tmpl.Do(func() {
		dir, err := Root()
		if err == nil {
			tmpl.fns, tmpl.doc, err = parseTemplate(dir)
		}
		tmpl.err = err
	})
	if tmpl.err != nil {
		t.Fatalf("testkit: %v", tmpl.err)
	}
	return tmpl.fns, tmpl.doc
}

var buildTarget = regexp.MustCompile(`(?m)^build-(\w+):\s*\n\t.*\$\(call lambda,\s*([^)\s]+)\s*\)`)

func parseTemplate(root string) ([]TemplateFunction, *yaml.Node, error) {
	b, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		return nil, nil, err
	}
	var file yaml.Node
	if err := yaml.Unmarshal(b, &file); err != nil || len(file.Content) != 1 {
		return nil, nil, fmt.Errorf("template.yaml: %v", err)
	}
	doc := file.Content[0]
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		return nil, nil, err
	}
	dirs := map[string]string{}
	for _, m := range buildTarget.FindAllStringSubmatch(string(mk), -1) {
		dirs[m[1]] = m[2]
	}
	params := map[string]string{}
	for _, p := range pairs(mapValue(doc, "Parameters")) {
		if v, ok := SampleParameters[p[0].Value]; ok {
			params[p[0].Value] = v
		} else if d := mapValue(p[1], "Default"); d != nil {
			params[p[0].Value] = d.Value
		} else {
			params[p[0].Value] = ""
		}
	}
	resources := mapValue(doc, "Resources")
	globals := mapValue(mapValue(mapValue(mapValue(doc, "Globals"), "Function"), "Environment"), "Variables")
	var fns []TemplateFunction
	for _, r := range pairs(resources) {
		if typ := mapValue(r[1], "Type"); typ == nil || typ.Value != "AWS::Serverless::Function" {
			continue
		}
		fn := TemplateFunction{LogicalID: r[0].Value, Dir: dirs[r[0].Value], Events: map[string]string{}, Env: map[string]TemplateValue{}}
		if c := mapValue(r[1], "Condition"); c != nil {
			fn.Condition = c.Value
		}
		props := mapValue(r[1], "Properties")
		for _, e := range pairs(mapValue(props, "Events")) {
			if typ := mapValue(e[1], "Type"); typ != nil {
				fn.Events[e[0].Value] = typ.Value
			}
		}
		own := mapValue(mapValue(props, "Environment"), "Variables")
		for _, src := range []*yaml.Node{globals, own} {
			for _, p := range pairs(src) {
				v, err := resolve(p[1], params)
				if err != nil {
					return nil, nil, fmt.Errorf("template.yaml: %s: %s: %w", fn.LogicalID, p[0].Value, err)
				}
				fn.Env[p[0].Value] = v
			}
		}
		fns = append(fns, fn)
	}
	return fns, doc, nil
}

var subVar = regexp.MustCompile(`\$\{([^}!]+)\}`)

// pseudo are the pseudo parameters and the HTTP API id as the sample
// deployment has them.
var pseudo = map[string]string{
	"AWS::Region": SampleRegion, "AWS::AccountId": SampleAccount, "AWS::URLSuffix": SampleURLSuffix,
	"AWS::Partition": "aws", "HttpApi": SampleAPIID,
}

func resolve(n *yaml.Node, params map[string]string) (TemplateValue, error) {
	tag, arg := n.Tag, n
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 {
		tag, arg = "!"+strings.TrimPrefix(n.Content[0].Value, "Fn::"), n.Content[1]
	}
	switch tag {
	case "", "!!str", "!!int", "!!bool", "!!float":
		return TemplateValue{Value: n.Value}, nil
	case "!Ref":
		if v, ok := params[arg.Value]; ok {
			return TemplateValue{Value: v}, nil
		}
		if v, ok := pseudo[arg.Value]; ok {
			return TemplateValue{Value: v}, nil
		}
		return TemplateValue{Resource: arg.Value}, nil
	case "!GetAtt":
		return TemplateValue{Resource: arg.Value}, nil
	case "!Sub":
		var missing []string
		out := subVar.ReplaceAllStringFunc(arg.Value, func(m string) string {
			name := m[2 : len(m)-1]
			if v, ok := pseudo[name]; ok {
				return v
			}
			if v, ok := params[name]; ok {
				return v
			}
			missing = append(missing, name)
			return m
		})
		if len(missing) > 0 {
			sort.Strings(missing)
			return TemplateValue{Resource: strings.Join(missing, ",")}, nil
		}
		return TemplateValue{Value: out}, nil
	}
	return TemplateValue{}, fmt.Errorf("intrinsic %s is not resolved by testkit", tag)
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func pairs(n *yaml.Node) [][2]*yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	var out [][2]*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		out = append(out, [2]*yaml.Node{n.Content[i], n.Content[i+1]})
	}
	return out
}
