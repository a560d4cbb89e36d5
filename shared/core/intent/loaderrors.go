package intent

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// loadErrors collects problems as "file:line: problem".
type loadErrors struct {
	name  string
	errs  []string
	lines []int
}

func (e *loadErrors) add(line int, format string, args ...any) {
	e.errs = append(e.errs, fmt.Sprintf("%s:%d: %s", e.name, line, fmt.Sprintf(format, args...)))
	e.lines = append(e.lines, line)
}

func (e *loadErrors) Len() int { return len(e.errs) }

func (e *loadErrors) Less(i, j int) bool { return e.lines[i] < e.lines[j] }

func (e *loadErrors) Swap(i, j int) {
	e.errs[i], e.errs[j] = e.errs[j], e.errs[i]
	e.lines[i], e.lines[j] = e.lines[j], e.lines[i]
}

func (e *loadErrors) err() error {
	if len(e.errs) == 0 {
		return nil
	}
	sort.Stable(e)
	if len(e.errs) > 20 {
		e.errs = append(e.errs[:20], fmt.Sprintf("%s: ... and %d more problems", e.name, len(e.errs)-20))
	}
	return errors.New(strings.Join(e.errs, "\n"))
}

// fields walks a mapping node, reporting unknown and duplicate keys.
func (e *loadErrors) fields(n *yaml.Node, what string, known ...string) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	if n.Kind != yaml.MappingNode {
		e.add(n.Line, "%s must be a mapping", what)
		return out
	}
	ok := setOf(known...)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !ok[k.Value] {
			e.add(k.Line, "unknown key %q in %s (known: %s)", k.Value, what, strings.Join(known, ", "))
			continue
		}
		if _, dup := out[k.Value]; dup {
			e.add(k.Line, "duplicate key %q in %s", k.Value, what)
			continue
		}
		out[k.Value] = v
	}
	return out
}

func (e *loadErrors) str(n *yaml.Node, what string) string {
	if n.Kind != yaml.ScalarNode {
		e.add(n.Line, "%s must be a string", what)
		return ""
	}
	return n.Value
}

func (e *loadErrors) strs(n *yaml.Node, what string) []string {
	if n.Kind == yaml.ScalarNode && n.Value != "" {
		return []string{n.Value}
	}
	if n.Kind != yaml.SequenceNode {
		e.add(n.Line, "%s must be a list of strings", what)
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		if c.Kind != yaml.ScalarNode {
			e.add(c.Line, "%s must be a list of strings", what)
			continue
		}
		out = append(out, c.Value)
	}
	return out
}

func (e *loadErrors) integer(n *yaml.Node, what string, lo, hi int) (int, bool) {
	v, err := strconv.Atoi(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		e.add(n.Line, "%s must be a whole number, got %q", what, n.Value)
		return 0, false
	}
	if v < lo || v > hi {
		e.add(n.Line, "%s must be between %d and %d, got %d", what, lo, hi, v)
		return 0, false
	}
	return v, true
}

func (e *loadErrors) boolean(n *yaml.Node, what string) (bool, bool) {
	if n.Kind == yaml.ScalarNode {
		switch strings.ToLower(n.Value) {
		case "true", "yes", "on":
			return true, true
		case "false", "no", "off":
			return false, true
		}
	}
	e.add(n.Line, "%s must be true or false, got %q", what, n.Value)
	return false, false
}

func (e *loadErrors) oneOf(n *yaml.Node, what string, allowed ...string) (string, bool) {
	v := e.str(n, what)
	for _, a := range allowed {
		if v == a {
			return v, true
		}
	}
	e.add(n.Line, "%s must be one of %s, got %q", what, strings.Join(allowed, ", "), v)
	return "", false
}

func setOf(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}
