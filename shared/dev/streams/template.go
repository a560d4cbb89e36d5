// Package streams delivers DynamoDB stream records locally the way Lambda's
// event source mappings do: it reads the event-source settings and
// FilterCriteria of the SAM template, matches Lambda filter patterns, and
// polls a stream (DynamoDB Local) delivering filtered batches with Lambda's
// retry, bisect, partial-batch-response and on-failure semantics.
package streams

import (
	"fmt"
	"strings"

	"github.com/stagemover/stagemover/shared/platform/cfn"
)

// EventSource is one `Type: DynamoDB` event of an AWS::Serverless::Function.
type EventSource struct {
	Function string // logical id of the function, e.g. EvaluatorFunction
	Event    string // key under Events, e.g. Signals
	// Table is the logical id X of `Stream: !GetAtt X.StreamArn` ("" if the
	// stream is given some other way).
	Table string

	Patterns                   []string // FilterCriteria.Filters[].Pattern, raw JSON
	BatchSize                  int      // default 100
	MaximumRetryAttempts       int      // default -1 = retry until the record expires (forever here)
	BisectBatchOnFunctionError bool
	ReportBatchItemFailures    bool   // FunctionResponseTypes contains ReportBatchItemFailures
	StartingPosition           string // TRIM_HORIZON (default) or LATEST

	// Read but not applied locally: records are delivered as soon as they
	// are read, and never expire.
	MaximumBatchingWindowInSeconds int
	MaximumRecordAgeInSeconds      int // default -1

	Disabled bool // Enabled: false
}

// Name is "Function/Event".
func (s EventSource) Name() string { return s.Function + "/" + s.Event }

// FromTemplate returns the DynamoDB event sources of every
// AWS::Serverless::Function in the raw SAM template, in template order. It
// reads the YAML itself (goformation drops FilterCriteria) and compiles every
// filter pattern, so a malformed pattern is an error here.
func FromTemplate(templateYAML []byte) ([]EventSource, error) {
	t, err := cfn.Parse(templateYAML)
	if err != nil {
		return nil, err
	}
	res, err := t.Resources()
	if err != nil {
		return nil, err
	}
	var out []EventSource
	for _, r := range res {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		evs, ok := r.Properties.Get("Events")
		if !ok {
			continue
		}
		err := evs.Each(func(name string, ev cfn.Node) error {
			typ, ok := ev.Get("Type")
			if !ok {
				return nil
			}
			if s, err := typ.String(); err != nil || s != "DynamoDB" {
				return err
			}
			src, err := eventSource(r.LogicalID, name, ev)
			if err != nil {
				return err
			}
			out = append(out, src)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func eventSource(fn, name string, ev cfn.Node) (EventSource, error) {
	src := EventSource{
		Function: fn, Event: name,
		BatchSize: 100, MaximumRetryAttempts: -1, MaximumRecordAgeInSeconds: -1,
		StartingPosition: "TRIM_HORIZON",
	}
	p, ok := ev.Get("Properties")
	if !ok {
		return src, fmt.Errorf("streams: %s has no Properties", ev.Path())
	}
	if s, ok := p.Get("Stream"); ok {
		src.Table = getAttTable(s)
	}
	ints := []struct {
		key string
		dst *int
	}{
		{"BatchSize", &src.BatchSize},
		{"MaximumRetryAttempts", &src.MaximumRetryAttempts},
		{"MaximumBatchingWindowInSeconds", &src.MaximumBatchingWindowInSeconds},
		{"MaximumRecordAgeInSeconds", &src.MaximumRecordAgeInSeconds},
	}
	for _, f := range ints {
		if n, ok := p.Get(f.key); ok {
			v, err := n.Int()
			if err != nil {
				return src, err
			}
			*f.dst = v
		}
	}
	if src.BatchSize < 1 {
		return src, fmt.Errorf("streams: %s.BatchSize must be at least 1", p.Path())
	}
	if src.MaximumRetryAttempts < -1 {
		return src, fmt.Errorf("streams: %s.MaximumRetryAttempts must be -1 or more", p.Path())
	}
	if n, ok := p.Get("BisectBatchOnFunctionError"); ok {
		v, err := n.Bool()
		if err != nil {
			return src, err
		}
		src.BisectBatchOnFunctionError = v
	}
	if n, ok := p.Get("Enabled"); ok {
		v, err := n.Bool()
		if err != nil {
			return src, err
		}
		src.Disabled = !v
	}
	if n, ok := p.Get("StartingPosition"); ok {
		v, err := n.String()
		if err != nil {
			return src, err
		}
		if v != "TRIM_HORIZON" && v != "LATEST" {
			return src, fmt.Errorf("streams: %s.StartingPosition %q is not supported locally (TRIM_HORIZON or LATEST)", p.Path(), v)
		}
		src.StartingPosition = v
	}
	if n, ok := p.Get("FunctionResponseTypes"); ok {
		types, err := n.Strings()
		if err != nil {
			return src, err
		}
		for _, t := range types {
			if t == "ReportBatchItemFailures" {
				src.ReportBatchItemFailures = true
			}
		}
	}
	if fc, ok := p.Get("FilterCriteria"); ok {
		filters, ok := fc.Get("Filters")
		if !ok {
			return src, fmt.Errorf("streams: %s has no Filters", fc.Path())
		}
		items, err := filters.List()
		if err != nil {
			return src, err
		}
		for _, it := range items {
			pn, ok := it.Get("Pattern")
			if !ok {
				return src, fmt.Errorf("streams: %s has no Pattern", it.Path())
			}
			pat, err := pn.String()
			if err != nil {
				return src, err
			}
			if _, err := CompilePattern(pat); err != nil {
				return src, fmt.Errorf("streams: %s (line %d): %w", pn.Path(), pn.Line(), err)
			}
			src.Patterns = append(src.Patterns, pat)
		}
	}
	return src, nil
}

// getAttTable returns X for !GetAtt X.StreamArn, !GetAtt [X, StreamArn] or
// {"Fn::GetAtt": ...}; "" otherwise.
func getAttTable(n cfn.Node) string {
	switch {
	case n.Tag() == "!GetAtt":
		n = n.Untagged()
	case n.IsMap():
		g, ok := n.Get("Fn::GetAtt")
		if !ok {
			return ""
		}
		n = g
	default:
		return ""
	}
	if s, err := n.String(); err == nil {
		if table, attr, found := strings.Cut(s, "."); found && attr == "StreamArn" {
			return table
		}
	}
	if parts, err := n.Strings(); err == nil && len(parts) == 2 && parts[1] == "StreamArn" {
		return parts[0]
	}
	return ""
}
