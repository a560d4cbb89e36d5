package streams

// Compiling a pattern's JSON into its tree of matchers.

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func compileObject(obj map[string]any, path string) (*patNode, error) {
	n := &patNode{fields: map[string]*patNode{}}
	for k := range obj {
		n.keys = append(n.keys, k)
	}
	sort.Strings(n.keys)
	for _, k := range n.keys {
		p := join(path, k)
		if strings.HasPrefix(k, "$") {
			return nil, fmt.Errorf("%s: %q is not supported by Lambda event filtering", p, k)
		}
		switch v := obj[k].(type) {
		case map[string]any:
			if len(v) == 0 {
				return nil, fmt.Errorf("%s: empty object", p)
			}
			child, err := compileObject(v, p)
			if err != nil {
				return nil, err
			}
			n.fields[k] = child
		case []any:
			if len(v) == 0 {
				return nil, fmt.Errorf("%s: empty array matches nothing", p)
			}
			leaf := &patNode{}
			for i, e := range v {
				m, err := compileMatcher(e, fmt.Sprintf("%s[%d]", p, i))
				if err != nil {
					return nil, err
				}
				leaf.matchers = append(leaf.matchers, m)
			}
			n.fields[k] = leaf
		default:
			return nil, fmt.Errorf("%s: value must be an array of match values or an object, got %s (write [%s])", p, jsonText(v), jsonText(v))
		}
	}
	return n, nil
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func literal(v any) (any, bool) {
	switch x := v.(type) {
	case string, bool, nil:
		return x, true
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return nil, false
		}
		return f, true
	}
	return nil, false
}

func compileMatcher(e any, path string) (matcher, error) {
	if lit, ok := literal(e); ok {
		return matcher{kind: mExact, value: lit}, nil
	}
	obj, ok := e.(map[string]any)
	if !ok {
		return matcher{}, fmt.Errorf("%s: match values must be strings, numbers, null, booleans or operator objects, got %s", path, jsonText(e))
	}
	if len(obj) != 1 {
		return matcher{}, fmt.Errorf("%s: an operator object must have exactly one key, got %s", path, jsonText(e))
	}
	for op, arg := range obj {
		switch op {
		case "prefix", "suffix":
			kind := mPrefix
			if op == "suffix" {
				kind = mSuffix
			}
			s, ic, err := stringOrIgnoreCase(arg, path+"."+op)
			if err != nil {
				return matcher{}, err
			}
			return matcher{kind: kind, str: s, ignoreCase: ic}, nil
		case "equals-ignore-case":
			s, ok := arg.(string)
			if !ok {
				return matcher{}, fmt.Errorf("%s: equals-ignore-case needs a string, got %s", path, jsonText(arg))
			}
			return matcher{kind: mEqualsIgnoreCase, str: s}, nil
		case "exists":
			b, ok := arg.(bool)
			if !ok {
				return matcher{}, fmt.Errorf("%s: exists needs true or false, got %s", path, jsonText(arg))
			}
			return matcher{kind: mExists, exists: b}, nil
		case "anything-but":
			return compileAnythingBut(arg, path+".anything-but")
		case "numeric":
			return compileNumeric(arg, path+".numeric")
		case "wildcard", "cidr":
			return matcher{}, fmt.Errorf("%s: %q is not supported by Lambda event filtering", path, op)
		default:
			return matcher{}, fmt.Errorf("%s: unknown operator %q", path, op)
		}
	}
	panic("unreachable")
}

func stringOrIgnoreCase(arg any, path string) (string, bool, error) {
	switch a := arg.(type) {
	case string:
		return a, false, nil
	case map[string]any:
		if s, ok := a["equals-ignore-case"].(string); ok && len(a) == 1 {
			return s, true, nil
		}
	}
	return "", false, fmt.Errorf("%s: needs a string or {\"equals-ignore-case\": string}, got %s", path, jsonText(arg))
}

func compileAnythingBut(arg any, path string) (matcher, error) {
	if lit, ok := literal(arg); ok {
		switch lit.(type) {
		case string, float64:
			return matcher{kind: mAnythingBut, set: []any{lit}}, nil
		}
		return matcher{}, fmt.Errorf("%s: needs a string, a number or a list of them, got %s", path, jsonText(arg))
	}
	switch a := arg.(type) {
	case []any:
		if len(a) == 0 {
			return matcher{}, fmt.Errorf("%s: empty list", path)
		}
		m := matcher{kind: mAnythingBut}
		for i, e := range a {
			lit, ok := literal(e)
			_, isStr := lit.(string)
			_, isNum := lit.(float64)
			if !ok || (!isStr && !isNum) {
				return matcher{}, fmt.Errorf("%s[%d]: needs strings or numbers, got %s", path, i, jsonText(e))
			}
			m.set = append(m.set, lit)
		}
		return m, nil
	case map[string]any:
		if len(a) != 1 {
			return matcher{}, fmt.Errorf("%s: operator object must have exactly one key, got %s", path, jsonText(arg))
		}
		for op, v := range a {
			switch op {
			case "prefix", "suffix":
				s, ok := v.(string)
				if !ok {
					return matcher{}, fmt.Errorf("%s.%s: needs a string, got %s", path, op, jsonText(v))
				}
				if op == "prefix" {
					return matcher{kind: mAnythingButPrefix, str: s}, nil
				}
				return matcher{kind: mAnythingButSuffix, str: s}, nil
			case "equals-ignore-case":
				m := matcher{kind: mAnythingButIgnoreCase}
				switch x := v.(type) {
				case string:
					m.strs = []string{x}
				case []any:
					for _, e := range x {
						s, ok := e.(string)
						if !ok {
							return matcher{}, fmt.Errorf("%s.equals-ignore-case: needs strings, got %s", path, jsonText(e))
						}
						m.strs = append(m.strs, s)
					}
				}
				if len(m.strs) == 0 {
					return matcher{}, fmt.Errorf("%s.equals-ignore-case: needs a string or a list of strings, got %s", path, jsonText(v))
				}
				return m, nil
			}
			return matcher{}, fmt.Errorf("%s: unsupported operator %q", path, op)
		}
	}
	return matcher{}, fmt.Errorf("%s: needs a string, a number, a list or {prefix|suffix|equals-ignore-case}, got %s", path, jsonText(arg))
}

func compileNumeric(arg any, path string) (matcher, error) {
	a, ok := arg.([]any)
	if !ok || len(a) == 0 || len(a)%2 != 0 || len(a) > 4 {
		return matcher{}, fmt.Errorf("%s: needs [op, number] or [op, number, op, number], got %s", path, jsonText(arg))
	}
	m := matcher{kind: mNumeric}
	lower, upper := 0, 0
	for i := 0; i < len(a); i += 2 {
		op, ok := a[i].(string)
		if !ok {
			return matcher{}, fmt.Errorf("%s[%d]: operator must be a string, got %s", path, i, jsonText(a[i]))
		}
		num, ok := a[i+1].(json.Number)
		if !ok {
			return matcher{}, fmt.Errorf("%s[%d]: needs a number after %q, got %s", path, i+1, op, jsonText(a[i+1]))
		}
		f, err := num.Float64()
		if err != nil {
			return matcher{}, fmt.Errorf("%s[%d]: %w", path, i+1, err)
		}
		switch op {
		case ">", ">=":
			lower++
		case "<", "<=":
			upper++
		case "=":
			if len(a) != 2 {
				return matcher{}, fmt.Errorf("%s: \"=\" cannot be combined with another comparison", path)
			}
		default:
			return matcher{}, fmt.Errorf("%s[%d]: unknown numeric operator %q (use =, <, <=, >, >=)", path, i, op)
		}
		m.conds = append(m.conds, numCond{op: op, v: f})
	}
	if lower > 1 || upper > 1 {
		return matcher{}, fmt.Errorf("%s: a range needs one lower bound (> or >=) and one upper bound (< or <=)", path)
	}
	return m, nil
}
