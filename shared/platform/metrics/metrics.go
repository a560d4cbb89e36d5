// Package metrics writes CloudWatch Embedded Metric Format lines: a JSON log
// line that CloudWatch turns into metrics, so Lambdas need no PutMetricData
// permission or call. It also keeps in-process totals for the local mode and
// tests.
package metrics

import (
	"encoding/json"
	"io"
	"sync"
	"time"
)

// Names of the counters the functions emit.
const (
	SignalStored      = "SignalStored"
	SignalDuplicate   = "SignalDuplicate"
	SignalRejected    = "SignalRejected"
	DecisionRecorded  = "DecisionRecorded"
	DealUnresolved    = "DealUnresolved"
	MoveDone          = "MoveDone"
	MoveShadow        = "MoveShadow"
	MoveSkipped       = "MoveSkipped"
	MoveFailed        = "MoveFailed" // alarmed in template.yaml
	MoveRetried       = "MoveRetried"
	FetchFailed       = "FetchFailed" // alarmed in template.yaml
	PipedriveRequests = "PipedriveRequests"
	PipedriveTokens   = "PipedriveTokenCost"
)

// Recorder emits counts with a Function dimension.
type Recorder struct {
	w         io.Writer
	namespace string
	function  string
	now       func() time.Time

	mu     sync.Mutex
	totals map[string]float64
}

// New writes EMF lines to w (os.Stdout in Lambda; nil keeps totals only).
func New(w io.Writer, namespace, function string) *Recorder {
	return &Recorder{w: w, namespace: namespace, function: function, now: time.Now, totals: map[string]float64{}}
}

// Add counts value under name and writes one EMF line.
func (r *Recorder) Add(name string, value float64) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.totals[name] += value
	if r.w == nil {
		return
	}
	line := map[string]any{
		"_aws": map[string]any{
			"Timestamp": r.now().UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  r.namespace,
				"Dimensions": [][]string{{"Function"}},
				"Metrics":    []any{map[string]string{"Name": name, "Unit": "Count"}},
			}},
		},
		"Function": r.function,
		name:       value,
	}
	b, _ := json.Marshal(line)
	_, _ = r.w.Write(append(b, '\n'))
}

// Inc adds one.
func (r *Recorder) Inc(name string) { r.Add(name, 1) }

// Total returns what was counted under name in this process.
func (r *Recorder) Total(name string) float64 {
	if r == nil {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.totals[name]
}
