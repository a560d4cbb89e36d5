//go:build ignore

// trim.go writes the part of a Pipedrive OpenAPI spec that the sandbox
// serves: the named paths and every component they reference, nothing else.
// It keeps the repository's copy of the large v1 spec small. Usage:
//
//	go run trim.go -in openapi-v1.yaml -out openapi-v1-subset.yaml -paths /webhooks,/webhooks/{id},/notes
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

func main() {
	in := flag.String("in", "", "the full spec (YAML)")
	out := flag.String("out", "", "where to write the subset")
	paths := flag.String("paths", "", "comma-separated paths to keep")
	flag.Parse()
	if *in == "" || *out == "" || *paths == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*in, *out, strings.Split(*paths, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "trim:", err)
		os.Exit(1)
	}
}

func run(in, out string, keep []string) error {
	data, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return err
	}
	root := doc.Content[0]
	pathsNode := child(root, "paths")
	comps := child(root, "components")
	if pathsNode.Kind != yaml.MappingNode || comps.Kind != yaml.MappingNode {
		return fmt.Errorf("%s has no paths or components", in)
	}
	want := map[string]bool{}
	for _, p := range keep {
		want[p] = true
	}
	var kept []*yaml.Node
	for i := 0; i+1 < len(pathsNode.Content); i += 2 {
		if want[pathsNode.Content[i].Value] {
			kept = append(kept, pathsNode.Content[i], pathsNode.Content[i+1])
			delete(want, pathsNode.Content[i].Value)
		}
	}
	if len(want) > 0 {
		return fmt.Errorf("paths not in %s: %v", in, want)
	}
	pathsNode.Content = kept

	// Follow $refs from the kept paths to a fixed point.
	used := map[string]bool{} // "schemas/Name"
	queue := []*yaml.Node{pathsNode}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		walkRefs(n, func(ref string) {
			const prefix = "#/components/"
			if !strings.HasPrefix(ref, prefix) || used[ref[len(prefix):]] {
				return
			}
			key := ref[len(prefix):]
			used[key] = true
			section, name, _ := strings.Cut(key, "/")
			queue = append(queue, child(child(comps, section), name))
		})
	}
	for i := 0; i+1 < len(comps.Content); i += 2 {
		section, body := comps.Content[i].Value, comps.Content[i+1]
		if section == "securitySchemes" {
			continue // referenced by name from security requirements, not by $ref
		}
		var k []*yaml.Node
		for j := 0; j+1 < len(body.Content); j += 2 {
			if used[section+"/"+body.Content[j].Value] {
				k = append(k, body.Content[j], body.Content[j+1])
			}
		}
		body.Content = k
	}
	// Keep only the tags the kept operations name.
	usedTags := map[string]bool{}
	for i := 1; i < len(pathsNode.Content); i += 2 {
		for j := 1; j < len(pathsNode.Content[i].Content); j += 2 {
			for _, t := range child(pathsNode.Content[i].Content[j], "tags").Content {
				usedTags[t.Value] = true
			}
		}
	}
	if tags := child(root, "tags"); tags.Kind == yaml.SequenceNode {
		var k []*yaml.Node
		for _, t := range tags.Content {
			if usedTags[child(t, "name").Value] {
				k = append(k, t)
			}
		}
		tags.Content = k
	}
	b, err := yaml.Marshal(&doc)
	if err != nil {
		return err
	}
	return os.WriteFile(out, b, 0o644)
}

// child is m's value for key, or an empty node.
func child(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return &yaml.Node{}
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return &yaml.Node{}
}

func walkRefs(n *yaml.Node, f func(string)) {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "$ref" && n.Content[i+1].Kind == yaml.ScalarNode {
				f(n.Content[i+1].Value)
			}
		}
	}
	for _, c := range n.Content {
		walkRefs(c, f)
	}
}
