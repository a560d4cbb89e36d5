package lambdatest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TemplateSecretString returns the SecretString template.yaml gives the
// AWS::SecretsManager::Secret with logical id id, as a deploy creates it
// (the template is read as raw YAML: its short intrinsic tags must parse).
func TemplateSecretString(t testing.TB, id string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(mustRoot(t), "template.yaml"))
	if err != nil {
		t.Fatalf("lambdatest: %v", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil || len(doc.Content) != 1 {
		t.Fatalf("lambdatest: template.yaml: %v", err)
	}
	res := mapValue(mapValue(doc.Content[0], "Resources"), id)
	if typ := mapValue(res, "Type"); typ == nil || typ.Value != "AWS::SecretsManager::Secret" {
		t.Fatalf("lambdatest: template.yaml has no secret %s", id)
	}
	s := mapValue(mapValue(res, "Properties"), "SecretString")
	if s == nil || s.Kind != yaml.ScalarNode {
		t.Fatalf("lambdatest: template.yaml: %s has no literal SecretString", id)
	}
	return s.Value
}

// SecretField is field of a JSON secret value ({"shared_key":"..."}), as
// the functions read it.
func SecretField(t testing.TB, secret, field string) string {
	t.Helper()
	var obj map[string]string
	if err := json.Unmarshal([]byte(secret), &obj); err != nil {
		t.Fatalf("lambdatest: secret is not a JSON object of strings")
	}
	return obj[field]
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
