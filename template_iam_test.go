package stagemover_test

// Checks on IAM: explicit roles and least-privilege statements.

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// SAM's generated roles attach managed policies with Resource "*"
// (AWSLambdaDynamoDBExecutionRole, AWSXrayWriteOnlyAccess...).
func checkRoles(tp *tmpl) []string {
	var p []string
	for _, fn := range tp.functions() {
		role, _ := getAttOf(get(fn.node, "Properties", "Role"))
		if scalar(get(tp.resource(role), "Type")) != "AWS::IAM::Role" {
			p = append(p, fmt.Sprintf("%s: Role is not !GetAtt <an AWS::IAM::Role in this template>.Arn", fn.id))
		}
		if get(fn.node, "Properties", "Policies") != nil {
			p = append(p, fmt.Sprintf("%s: Policies would be attached to a generated role; grant them in the explicit role", fn.id))
		}
	}
	return p
}

// statements finds every IAM policy statement anywhere in the template.
func statements(n *yaml.Node, path string, out *[]struct {
	path string
	node *yaml.Node
}) {
	if n == nil {
		return
	}
	if n.Kind == yaml.MappingNode && get(n, "Effect") != nil && (get(n, "Action") != nil || get(n, "NotAction") != nil) {
		*out = append(*out, struct {
			path string
			node *yaml.Node
		}{path, n})
		return
	}
	switch n.Kind {
	case yaml.MappingNode:
		for _, p := range pairs(n) {
			statements(p[1], path+"."+p[0].Value, out)
		}
	case yaml.SequenceNode, yaml.DocumentNode:
		for i, c := range n.Content {
			statements(c, fmt.Sprintf("%s[%d]", path, i), out)
		}
	}
}

func checkIAM(tp *tmpl) []string {
	var sts []struct {
		path string
		node *yaml.Node
	}
	statements(get(tp.root, "Resources"), "Resources", &sts)
	if len(sts) == 0 {
		return []string{"no IAM statements found"}
	}
	var p []string
	for _, s := range sts {
		if get(s.node, "NotAction") != nil || get(s.node, "NotResource") != nil {
			p = append(p, s.path+": NotAction/NotResource grant everything else")
		}
		actions := list(get(s.node, "Action"))
		allXRay := len(actions) > 0
		for _, a := range actions {
			v := scalar(a)
			if v == "" {
				p = append(p, fmt.Sprintf("%s: Action %q is not a literal", s.path, a.Value))
				allXRay = false
				continue
			}
			if v == "*" || strings.HasSuffix(v, ":*") {
				p = append(p, fmt.Sprintf("%s: wildcard Action %q", s.path, v))
			}
			if !strings.HasPrefix(v, "xray:") {
				allXRay = false
			}
		}
		for _, r := range list(get(s.node, "Resource")) {
			if scalar(r) == "*" && !allXRay {
				p = append(p, fmt.Sprintf("%s: Resource \"*\" for %v (only X-Ray actions may use it)", s.path, scalars(get(s.node, "Action"))))
			}
		}
	}
	return p
}
