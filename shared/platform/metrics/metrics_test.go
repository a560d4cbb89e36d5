package metrics

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestEMFLine(t *testing.T) {
	var buf bytes.Buffer
	r := New(&buf, "StageMover", "mover")
	r.Inc(MoveFailed)
	r.Add(MoveFailed, 2)
	if got := r.Total(MoveFailed); got != 3 {
		t.Fatalf("total = %v, want 3", got)
	}
	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	if len(lines) != 2 {
		t.Fatalf("lines = %d, want 2", len(lines))
	}
	var doc struct {
		AWS struct {
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
		Function   string
		MoveFailed float64
	}
	if err := json.Unmarshal(lines[1], &doc); err != nil {
		t.Fatal(err)
	}
	m := doc.AWS.CloudWatchMetrics
	if len(m) != 1 || m[0].Namespace != "StageMover" || m[0].Metrics[0].Name != MoveFailed || doc.Function != "mover" || doc.MoveFailed != 2 {
		t.Fatalf("unexpected EMF line %s", lines[1])
	}
	var nilRec *Recorder
	nilRec.Inc(MoveDone) // a nil recorder is a no-op, not a panic
}
