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
	totals map[string]float64 // by name
	byDims map[string]float64 // by name and dimensions (dimsKey)
}

// New writes EMF lines to w (os.Stdout in Lambda; nil keeps totals only).
func New(w io.Writer, namespace, function string) *Recorder {
	return &Recorder{w: w, namespace: namespace, function: function, now: time.Now, totals: map[string]float64{}, byDims: map[string]float64{}}
}

// Add counts value under name and writes one EMF line.
func (r *Recorder) Add(name string, value float64) { r.AddWith(name, value) }

// Dim is a dimension a count is broken down by, besides Function (for
// example the ingest source, or a rejection's status).
type Dim struct{ Name, Value string }

// AddWith counts value under name broken down by dims and writes one EMF
// line. Its dimension sets are Function followed by each leading run of
// dims ([Function], [Function d1], [Function d1 d2], ...), so a count
// broken down by source and status also adds up per source and in total.
func (r *Recorder) AddWith(name string, value float64, dims ...Dim) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.totals[name] += value
	r.byDims[dimsKey(name, dims)] += value
	if r.w == nil {
		return
	}
	set := []string{"Function"}
	sets := [][]string{set}
	line := map[string]any{"Function": r.function, name: value}
	for _, d := range dims {
		set = append(set[:len(set):len(set)], d.Name)
		sets = append(sets, set)
		line[d.Name] = d.Value
	}
	line["_aws"] = map[string]any{
		"Timestamp": r.now().UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  r.namespace,
			"Dimensions": sets,
			"Metrics":    []any{map[string]string{"Name": name, "Unit": "Count"}},
		}},
	}
	b, _ := json.Marshal(line)
	_, _ = r.w.Write(append(b, '\n'))
}

// Inc adds one.
func (r *Recorder) Inc(name string) { r.Add(name, 1) }

// IncWith adds one, broken down by dims (AddWith).
func (r *Recorder) IncWith(name string, dims ...Dim) { r.AddWith(name, 1, dims...) }

// Total returns what was counted under name in this process, whatever its
// dimensions.
func (r *Recorder) Total(name string) float64 {
	if r == nil {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.totals[name]
}

// TotalWith returns what was counted under name with exactly dims.
func (r *Recorder) TotalWith(name string, dims ...Dim) float64 {
	if r == nil {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byDims[dimsKey(name, dims)]
}

func dimsKey(name string, dims []Dim) string {
	k := name
	for _, d := range dims {
		k += "\x00" + d.Name + "=" + d.Value
	}
	return k
}
