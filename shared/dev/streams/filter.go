package streams

import (
	"encoding/json"
	"errors"
	"fmt"
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
