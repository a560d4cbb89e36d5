package streams

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// Pattern is a compiled Lambda event-filtering pattern: the subset of
// EventBridge patterns Lambda supports.
//
//   - nested objects select fields ({"dynamodb":{"NewImage":{...}}});
//   - every leaf is an array whose entries are OR-ed: exact strings, numbers
//     (compared numerically), null, true/false, or one-key operator objects
//     {"prefix":s}, {"suffix":s} (s may be {"equals-ignore-case":x}),
//     {"equals-ignore-case":s}, {"exists":true|false},
//     {"anything-but": s | n | [s|n...] | {"prefix"|"suffix":s} | {"equals-ignore-case": s|[s...]}},
//     {"numeric":[">",0,"<=",5]} (ops = < <= > >=, at most one lower and one upper bound);
//   - all fields of the pattern must match (AND).
//
// Matching follows EventBridge: the event is seen as leaf values at paths;
// an array in the event matches if any element matches; an object where the
// pattern expects a leaf is not a value (so {"exists":false} matches it and
// {"exists":true} does not); an absent field matches only {"exists":false}.
// Not supported (compile error): wildcard, cidr, $or.
type Pattern struct {
	src  string
	root *patNode
}

type patNode struct {
	fields   map[string]*patNode // nested object
	keys     []string            // sorted keys of fields (deterministic errors)
	matchers []matcher           // leaf (len > 0 iff leaf)
}

type matchKind int

const (
	mExact matchKind = iota // value: string | float64 | bool | nil
	mPrefix
	mSuffix
	mEqualsIgnoreCase
	mExists
	mAnythingBut       // set of exact values
	mAnythingButPrefix // str
	mAnythingButSuffix // str
	mAnythingButIgnoreCase
	mNumeric
)

type matcher struct {
	kind       matchKind
	value      any      // exact
	str        string   // prefix/suffix/equals-ignore-case
	ignoreCase bool     // prefix/suffix with equals-ignore-case
	set        []any    // anything-but values
	strs       []string // anything-but equals-ignore-case
	exists     bool
	conds      []numCond
}

type numCond struct {
	op string
	v  float64
}

// String is the pattern's source JSON.
func (p Pattern) String() string { return p.src }

// CompilePattern parses and validates a Lambda filter pattern (the JSON
// string of FilterCriteria.Filters[].Pattern).
func CompilePattern(src string) (Pattern, error) {
	dec := json.NewDecoder(strings.NewReader(src))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return Pattern{}, fmt.Errorf("filter pattern %s: invalid JSON: %w", src, err)
	}
	if dec.More() {
		return Pattern{}, fmt.Errorf("filter pattern %s: trailing data after the JSON object", src)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return Pattern{}, fmt.Errorf("filter pattern %s: must be a JSON object", src)
	}
	if len(obj) == 0 {
		return Pattern{}, fmt.Errorf("filter pattern %s: must not be empty", src)
	}
	root, err := compileObject(obj, "")
	if err != nil {
		return Pattern{}, fmt.Errorf("filter pattern %s: %w", src, err)
	}
	return Pattern{src: src, root: root}, nil
}

// MustCompilePattern is CompilePattern that panics on error.
func MustCompilePattern(src string) Pattern {
	p, err := CompilePattern(src)
	if err != nil {
		panic(err)
	}
	return p
}

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

// Match reports whether the record, as Lambda's JSON, matches the pattern.
func (p Pattern) Match(rec events.DynamoDBEventRecord) bool {
	doc, err := RecordDocument(rec)
	if err != nil {
		return false
	}
	return p.MatchDocument(doc)
}

// MatchJSON matches a JSON document.
func (p Pattern) MatchJSON(b []byte) (bool, error) {
	doc, err := decodeDocument(b)
	if err != nil {
		return false, err
	}
	return p.MatchDocument(doc), nil
}

// MatchDocument matches a document decoded with json.Decoder.UseNumber (as
// RecordDocument returns).
func (p Pattern) MatchDocument(doc any) bool {
	if p.root == nil {
		return false
	}
	return p.root.matchObject([]any{doc})
}

// RecordDocument is the record as Lambda's JSON, decoded for matching.
func RecordDocument(rec events.DynamoDBEventRecord) (any, error) {
	b, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	return decodeDocument(b)
}

func decodeDocument(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	return doc, nil
}

// matchObject: the pattern object matches if some object among candidates
// (array elements are flattened) satisfies every field. With no object at
// all, an empty object stands in, so only {"exists":false} can match.
func (n *patNode) matchObject(candidates []any) bool {
	var objs []map[string]any
	var collect func(v any)
	collect = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			objs = append(objs, x)
		case []any:
			for _, e := range x {
				collect(e)
			}
		}
	}
	for _, c := range candidates {
		collect(c)
	}
	if len(objs) == 0 {
		objs = []map[string]any{{}}
	}
	for _, o := range objs {
		if n.matchFields(o) {
			return true
		}
	}
	return false
}

func (n *patNode) matchFields(o map[string]any) bool {
	for _, k := range n.keys {
		child := n.fields[k]
		v, present := o[k]
		var vals []any
		if present {
			vals = []any{v}
		}
		if child.matchers != nil {
			if !child.matchLeaf(leaves(vals)) {
				return false
			}
		} else if !child.matchObject(vals) {
			return false
		}
	}
	return true
}

// leaves flattens arrays and drops objects: what remains are leaf values
// (string, json.Number, bool, nil).
func leaves(vals []any) []any {
	var out []any
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
		case []any:
			for _, e := range x {
				walk(e)
			}
		default:
			out = append(out, x)
		}
	}
	for _, v := range vals {
		walk(v)
	}
	return out
}

func (n *patNode) matchLeaf(vals []any) bool {
	for _, m := range n.matchers {
		if m.kind == mExists {
			if m.exists == (len(vals) > 0) {
				return true
			}
			continue
		}
		for _, v := range vals {
			if m.match(v) {
				return true
			}
		}
	}
	return false
}

func number(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(n), 64)
	return f, err == nil
}

func equalValue(lit, v any) bool {
	switch l := lit.(type) {
	case nil:
		return v == nil
	case string:
		s, ok := v.(string)
		return ok && s == l
	case bool:
		b, ok := v.(bool)
		return ok && b == l
	case float64:
		f, ok := number(v)
		return ok && f == l
	}
	return false
}

func (m matcher) match(v any) bool {
	switch m.kind {
	case mExact:
		return equalValue(m.value, v)
	case mPrefix, mSuffix, mEqualsIgnoreCase:
		s, ok := v.(string)
		if !ok {
			return false
		}
		want := m.str
		if m.ignoreCase || m.kind == mEqualsIgnoreCase {
			s, want = strings.ToLower(s), strings.ToLower(want)
		}
		switch m.kind {
		case mPrefix:
			return strings.HasPrefix(s, want)
		case mSuffix:
			return strings.HasSuffix(s, want)
		}
		return s == want
	case mAnythingBut:
		for _, l := range m.set {
			if equalValue(l, v) {
				return false
			}
		}
		return true
	case mAnythingButPrefix, mAnythingButSuffix:
		s, ok := v.(string)
		if !ok {
			return false
		}
		if m.kind == mAnythingButPrefix {
			return !strings.HasPrefix(s, m.str)
		}
		return !strings.HasSuffix(s, m.str)
	case mAnythingButIgnoreCase:
		s, ok := v.(string)
		if !ok {
			return false
		}
		for _, x := range m.strs {
			if strings.EqualFold(s, x) {
				return false
			}
		}
		return true
	case mNumeric:
		f, ok := number(v)
		if !ok {
			return false
		}
		for _, c := range m.conds {
			var r bool
			switch c.op {
			case "=":
				r = f == c.v
			case "<":
				r = f < c.v
			case "<=":
				r = f <= c.v
			case ">":
				r = f > c.v
			case ">=":
				r = f >= c.v
			}
			if !r {
				return false
			}
		}
		return true
	}
	return false
}

// Filter is the FilterCriteria of one event source: a record passes if any
// pattern matches; no patterns means every record passes.
type Filter []Pattern

// CompileFilter compiles FilterCriteria patterns.
func CompileFilter(patterns []string) (Filter, error) {
	var f Filter
	var errs []error
	for i, s := range patterns {
		p, err := CompilePattern(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("Filters[%d]: %w", i, err))
			continue
		}
		f = append(f, p)
	}
	return f, errors.Join(errs...)
}

// Match reports whether the record passes the filter.
func (f Filter) Match(rec events.DynamoDBEventRecord) bool {
	if len(f) == 0 {
		return true
	}
	doc, err := RecordDocument(rec)
	if err != nil {
		return false
	}
	for _, p := range f {
		if p.MatchDocument(doc) {
			return true
		}
	}
	return false
}
