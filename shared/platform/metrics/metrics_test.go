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

func TestEMFLineWithDimensions(t *testing.T) {
	var buf bytes.Buffer
	r := New(&buf, "StageMover", "ingest-calendly")
	r.IncWith("IngestRejected", Dim{"Source", "calendly"}, Dim{"Status", "401"})
	r.Inc("IngestRejected")
	if got := r.Total("IngestRejected"); got != 2 {
		t.Fatalf("total = %v, want 2 (dimensions do not split the total)", got)
	}
	if got := r.TotalWith("IngestRejected", Dim{"Source", "calendly"}, Dim{"Status", "401"}); got != 1 {
		t.Fatalf("total with source and status = %v, want 1", got)
	}
	if got := r.TotalWith("IngestRejected", Dim{"Source", "calendly"}, Dim{"Status", "400"}); got != 0 {
		t.Fatalf("total with another status = %v, want 0", got)
	}
	var doc struct {
		AWS struct {
			CloudWatchMetrics []struct {
				Dimensions [][]string
				Metrics    []struct{ Name string }
			}
		} `json:"_aws"`
		Function, Source, Status string
		IngestRejected           float64
	}
	line, _, _ := bytes.Cut(buf.Bytes(), []byte("\n"))
	if err := json.Unmarshal(line, &doc); err != nil {
		t.Fatal(err)
	}
	m := doc.AWS.CloudWatchMetrics
	want := `[["Function"],["Function","Source"],["Function","Source","Status"]]`
	got, _ := json.Marshal(m[0].Dimensions)
	if string(got) != want || doc.Function != "ingest-calendly" || doc.Source != "calendly" || doc.Status != "401" || doc.IngestRejected != 1 {
		t.Fatalf("unexpected EMF line %s (dimension sets %s, want %s)", line, got, want)
	}
}
