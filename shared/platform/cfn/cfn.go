// Package cfn reads literal values out of a raw CloudFormation/SAM template.
//
// It works on the yaml.v3 node tree, so CloudFormation short-form intrinsics
// (!Ref, !GetAtt, !Sub, ...) anywhere in the template never fail parsing;
// only reading an intrinsic where a literal is needed is an error. Errors name
// the path and the template line.
package cfn

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Template is a parsed template.
type Template struct {
	root Node
}

// Resource is one entry of the template's Resources section.
type Resource struct {
	LogicalID  string
	Type       string
	Properties Node // may be a missing Node (Present() == false)
}

// Node is a position in the template. The zero Node is "missing".
type Node struct {
	n    *yaml.Node
	path string
}

// Parse parses a template.
func Parse(templateYAML []byte) (*Template, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(templateYAML, &doc); err != nil {
		return nil, fmt.Errorf("cfn: parse template: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, errors.New("cfn: empty template")
	}
	root := Node{n: doc.Content[0]}
	if root.resolve().Kind != yaml.MappingNode {
		return nil, errors.New("cfn: template is not a mapping")
	}
	return &Template{root: root}, nil
}

// Root is the template's top-level mapping.
func (t *Template) Root() Node { return t.root }

// Resources lists the resources in template order.
func (t *Template) Resources() ([]Resource, error) {
	res, ok := t.root.Get("Resources")
	if !ok {
		return nil, errors.New("cfn: template has no Resources")
	}
	var out []Resource
	err := res.Each(func(id string, v Node) error {
		r := Resource{LogicalID: id}
		typ, ok := v.Get("Type")
		if !ok {
			return fmt.Errorf("cfn: %s has no Type", v.Path())
		}
		var err error
		if r.Type, err = typ.String(); err != nil {
			return err
		}
		r.Properties, _ = v.Get("Properties")
		out = append(out, r)
		return nil
	})
	return out, err
}

// Resource returns the resource with the given logical id.
func (t *Template) Resource(logicalID string) (Resource, error) {
	all, err := t.Resources()
	if err != nil {
		return Resource{}, err
	}
	for _, r := range all {
		if r.LogicalID == logicalID {
			return r, nil
		}
	}
	return Resource{}, fmt.Errorf("cfn: template has no resource %q", logicalID)
}

func (n Node) resolve() *yaml.Node {
	y := n.n
	for y != nil && y.Kind == yaml.AliasNode {
		y = y.Alias
	}
	return y
}

// Present reports whether the node exists.
func (n Node) Present() bool { return n.n != nil }

// Path is the dotted path of the node, e.g. Resources.Table.Properties.KeySchema[0].
func (n Node) Path() string { return n.path }

// Line is the template line of the node (0 if missing).
func (n Node) Line() int {
	if n.n == nil {
		return 0
	}
	return n.n.Line
}

func (n Node) where() string {
	return fmt.Sprintf("%s (line %d)", n.path, n.Line())
}

func (n Node) child(key string) string {
	if n.path == "" {
		return key
	}
	return n.path + "." + key
}

// Tag is the node's YAML tag: "!Ref", "!GetAtt", ... for CloudFormation
// short forms, "!!str", "!!int", ... for plain values.
func (n Node) Tag() string {
	if y := n.resolve(); y != nil {
		return y.Tag
	}
	return ""
}

// Untagged returns the node with its tag dropped, to read the argument of a
// short-form intrinsic (e.g. the "Table.StreamArn" of !GetAtt Table.StreamArn).
func (n Node) Untagged() Node {
	y := n.resolve()
	if y == nil {
		return n
	}
	c := *y
	c.Tag = ""
	return Node{n: &c, path: n.path}
}

// IsMap reports whether the node is a mapping (and not an intrinsic).
func (n Node) IsMap() bool {
	y := n.resolve()
	return y != nil && y.Kind == yaml.MappingNode && !isIntrinsicTag(y.Tag)
}

// Get returns the value of key in a mapping node.
func (n Node) Get(key string) (Node, bool) {
	y := n.resolve()
	if y == nil || y.Kind != yaml.MappingNode {
		return Node{}, false
	}
	for i := 0; i+1 < len(y.Content); i += 2 {
		if y.Content[i].Value == key {
			return Node{n: y.Content[i+1], path: n.child(key)}, true
		}
	}
	return Node{}, false
}

// Each calls fn for every key of a mapping node, in order.
func (n Node) Each(fn func(key string, v Node) error) error {
	y := n.resolve()
	if y == nil || y.Kind != yaml.MappingNode || isIntrinsicTag(y.Tag) {
		return fmt.Errorf("cfn: %s must be a mapping", n.where())
	}
	for i := 0; i+1 < len(y.Content); i += 2 {
		k := y.Content[i].Value
		if err := fn(k, Node{n: y.Content[i+1], path: n.child(k)}); err != nil {
			return err
		}
	}
	return nil
}

// List returns the items of a sequence node.
func (n Node) List() ([]Node, error) {
	y := n.resolve()
	if y == nil || y.Kind != yaml.SequenceNode || isIntrinsicTag(y.Tag) {
		return nil, fmt.Errorf("cfn: %s must be a list", n.where())
	}
	out := make([]Node, len(y.Content))
	for i, c := range y.Content {
		out[i] = Node{n: c, path: fmt.Sprintf("%s[%d]", n.path, i)}
	}
	return out, nil
}

// String returns a literal scalar. Intrinsic functions (short form such as
// !Ref, or long form such as {"Ref": ...}) are errors: the caller needs a
// value known without deploying.
func (n Node) String() (string, error) {
	y := n.resolve()
	if y == nil {
		return "", fmt.Errorf("cfn: %s is missing", n.path)
	}
	if isIntrinsicTag(y.Tag) {
		return "", fmt.Errorf("cfn: %s is %s, need a literal value", n.where(), y.Tag)
	}
	if y.Kind == yaml.MappingNode && len(y.Content) == 2 &&
		(y.Content[0].Value == "Ref" || strings.HasPrefix(y.Content[0].Value, "Fn::")) {
		return "", fmt.Errorf("cfn: %s is %s, need a literal value", n.where(), y.Content[0].Value)
	}
	if y.Kind != yaml.ScalarNode {
		return "", fmt.Errorf("cfn: %s must be a scalar", n.where())
	}
	return y.Value, nil
}

// Int returns a literal integer ("25" and 25 are both accepted, as in
// CloudFormation).
func (n Node) Int() (int, error) {
	s, err := n.String()
	if err != nil {
		return 0, err
	}
	v, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("cfn: %s must be an integer, got %q", n.where(), s)
	}
	return v, nil
}

// Bool returns a literal boolean (true/false, also quoted).
func (n Node) Bool() (bool, error) {
	s, err := n.String()
	if err != nil {
		return false, err
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("cfn: %s must be true or false, got %q", n.where(), s)
}

// Strings returns a list of literal scalars.
func (n Node) Strings() ([]string, error) {
	items, err := n.List()
	if err != nil {
		return nil, err
	}
	out := make([]string, len(items))
	for i, it := range items {
		if out[i], err = it.String(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func isIntrinsicTag(tag string) bool {
	// Standard YAML tags start with "!!"; CloudFormation's short forms are
	// local tags such as !Ref, !GetAtt, !Sub, !If, !Join.
	return strings.HasPrefix(tag, "!") && !strings.HasPrefix(tag, "!!")
}
