package stagemover_test

// The template model: the parsed YAML, helpers to walk it and read the
// intrinsic functions, and the functions and stream sources it declares.

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/stagemover/stagemover"
)

type tmpl struct {
	root     *yaml.Node // the top-level mapping
	makefile string
	repo     string
}

type resource struct {
	id   string
	typ  string
	node *yaml.Node
}

func parseTemplate(t *testing.T) *tmpl {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(stagemover.Template, &doc); err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		t.Fatal("template.yaml is not a YAML mapping")
	}
	mk, err := os.ReadFile("Makefile")
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	return &tmpl{root: doc.Content[0], makefile: string(mk), repo: wd}
}

// get walks mapping keys; nil when any is missing.
func get(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		if n == nil {
			return nil
		}
		if n.Kind == yaml.AliasNode {
			n = n.Alias
		}
		if n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
				break
			}
		}
		n = next
	}
	return n
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

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

func isTrue(n *yaml.Node) bool { return scalar(n) == "true" }

func list(n *yaml.Node) []*yaml.Node {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.SequenceNode {
		return n.Content
	}
	return []*yaml.Node{n}
}

func scalars(n *yaml.Node) []string {
	var out []string
	for _, e := range list(n) {
		out = append(out, scalar(e))
	}
	return out
}

// intrinsic recognises both !Fn short tags and {"Fn::X": ...} long forms.
func intrinsic(n *yaml.Node) (fn string, arg *yaml.Node) {
	if n == nil {
		return "", nil
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		return strings.TrimPrefix(n.Tag, "!"), n
	}
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 {
		k := n.Content[0].Value
		if k == "Ref" || strings.HasPrefix(k, "Fn::") {
			return strings.TrimPrefix(k, "Fn::"), n.Content[1]
		}
	}
	return "", nil
}

func refOf(n *yaml.Node) string {
	if fn, arg := intrinsic(n); fn == "Ref" {
		return scalar(arg)
	}
	return ""
}

func getAttOf(n *yaml.Node) (res, attr string) {
	fn, arg := intrinsic(n)
	if fn != "GetAtt" {
		return "", ""
	}
	if arg.Kind == yaml.ScalarNode {
		res, attr, _ = strings.Cut(arg.Value, ".")
		return res, attr
	}
	if s := scalars(arg); len(s) == 2 {
		return s[0], s[1]
	}
	return "", ""
}

func subOf(n *yaml.Node) string {
	fn, arg := intrinsic(n)
	if fn != "Sub" {
		return ""
	}
	if arg.Kind == yaml.SequenceNode && len(arg.Content) > 0 {
		return scalar(arg.Content[0])
	}
	return scalar(arg)
}

func (tp *tmpl) resources(typ string) []resource {
	var out []resource
	for _, p := range pairs(get(tp.root, "Resources")) {
		r := resource{id: p[0].Value, typ: scalar(get(p[1], "Type")), node: p[1]}
		if typ == "" || r.typ == typ {
			out = append(out, r)
		}
	}
	return out
}

func (tp *tmpl) resource(id string) *yaml.Node { return get(tp.root, "Resources", id) }

func (tp *tmpl) functions() []resource { return tp.resources("AWS::Serverless::Function") }

// fnProp is a function property, falling back to Globals.Function.
func (tp *tmpl) fnProp(fn resource, key string) *yaml.Node {
	if v := get(fn.node, "Properties", key); v != nil {
		return v
	}
	return get(tp.root, "Globals", "Function", key)
}

// fnEnv merges Globals and function environment variables.
func (tp *tmpl) fnEnv(fn resource) map[string]*yaml.Node {
	env := map[string]*yaml.Node{}
	for _, src := range []*yaml.Node{
		get(tp.root, "Globals", "Function", "Environment", "Variables"),
		get(fn.node, "Properties", "Environment", "Variables"),
	} {
		for _, p := range pairs(src) {
			env[p[0].Value] = p[1]
		}
	}
	return env
}

var buildTarget = regexp.MustCompile(`\$\(call lambda,\s*([^)\s]+)\s*\)`)

// fnDir is the functions/<dir> the Makefile builds fn from ("" if none).
func (tp *tmpl) fnDir(fn resource) string {
	lines := strings.Split(tp.makefile, "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, "build-"+fn.id+":") {
			continue
		}
		for _, r := range lines[i+1:] {
			if !strings.HasPrefix(r, "\t") {
				break
			}
			if m := buildTarget.FindStringSubmatch(r); m != nil {
				return m[1]
			}
		}
	}
	return ""
}

func (tp *tmpl) functionByDir(dir string) (resource, bool) {
	for _, fn := range tp.functions() {
		if tp.fnDir(fn) == dir {
			return fn, true
		}
	}
	return resource{}, false
}

type streamSource struct {
	fn    resource
	name  string
	props *yaml.Node
}

func (tp *tmpl) streamSources() []streamSource {
	var out []streamSource
	for _, fn := range tp.functions() {
		for _, p := range pairs(get(fn.node, "Properties", "Events")) {
			if scalar(get(p[1], "Type")) == "DynamoDB" {
				out = append(out, streamSource{fn: fn, name: p[0].Value, props: get(p[1], "Properties")})
			}
		}
	}
	return out
}

func (s streamSource) patterns() []string {
	var out []string
	for _, f := range list(get(s.props, "FilterCriteria", "Filters")) {
		out = append(out, scalar(get(f, "Pattern")))
	}
	return out
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
