package streams

// Matching a compiled pattern against a record, seen as the JSON document
// Lambda filters (RecordDocument).

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

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
