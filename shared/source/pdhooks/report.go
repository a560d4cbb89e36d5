package pdhooks

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stagemover/stagemover/shared/store"
)

// EMF metric names, with Pipeline and Rule dimensions.
const (
	MetricReverts    = "Reverts"
	MetricMisses     = "Misses"
	MetricConfirmed  = "ConfirmedShadowMoves"
	MetricRevertRate = "RevertRate"
)

// Row is one pipeline and rule.
type Row struct {
	Pipeline    string
	Rule        string
	Moves       int // done, live
	ShadowMoves int // done in shadow mode: would have moved
	Reverts     int
	Misses      int
	Confirmed   int // shadow moves people later made by hand
	RevertRate  float64
	// Evidence (the triggering signal's at) to move (the decision's
	// updated_at when done), over moves and shadow moves.
	EvidenceToMoveP50 time.Duration
	EvidenceToMoveP90 time.Duration
	lat               []time.Duration
}

// Report is the whole table's measurement.
type Report struct {
	Rows []Row
	// Totals over all rows (latency fields unset).
	Total Row
}

// Report reads the table (store.ReportItems: a paginated scan, fine for
// the CLI and an hourly job on a small table) and aggregates per pipeline
// and rule.
func (t Table) Report(ctx context.Context) (Report, error) {
	items, err := t.Store.ReportItems(ctx)
	if err != nil {
		return Report{}, err
	}
	rows := map[[2]string]*Row{}
	row := func(pipeline, rule string) *Row {
		if pipeline == "" {
			pipeline = "(unknown)"
		}
		if rule == "" {
			rule = "(none)"
		}
		k := [2]string{pipeline, rule}
		if rows[k] == nil {
			rows[k] = &Row{Pipeline: pipeline, Rule: rule}
		}
		return rows[k]
	}
	for _, d := range items.Decisions {
		if d.Action != store.ActionMove || d.State != store.StateDone {
			continue
		}
		pipeline := d.TargetPipeline
		if p := items.DealPipeline[d.DealID]; p != "" {
			pipeline = p
		}
		r := row(pipeline, d.Rule)
		if d.Shadow {
			r.ShadowMoves++
		} else {
			r.Moves++
		}
		if at, ok := items.SignalAt[d.SignalKey]; ok && !d.UpdatedAt.Before(at) {
			r.lat = append(r.lat, d.UpdatedAt.Sub(at))
		}
	}
	for _, m := range items.Measures {
		pipeline := m.Pipeline
		if pipeline == "" {
			pipeline = items.DealPipeline[m.DealID]
		}
		r := row(pipeline, m.Rule)
		switch m.Type {
		case store.TypeRevert:
			r.Reverts++
		case store.TypeMiss:
			r.Misses++
		case store.TypeConfirmed:
			r.Confirmed++
		}
	}
	var rep Report
	rep.Total = Row{Pipeline: "all", Rule: "all"}
	for _, r := range rows {
		r.RevertRate = rate(r.Reverts, r.Moves)
		r.EvidenceToMoveP50, r.EvidenceToMoveP90 = percentile(r.lat, 0.5), percentile(r.lat, 0.9)
		r.lat = nil
		rep.Rows = append(rep.Rows, *r)
		rep.Total.Moves += r.Moves
		rep.Total.ShadowMoves += r.ShadowMoves
		rep.Total.Reverts += r.Reverts
		rep.Total.Misses += r.Misses
		rep.Total.Confirmed += r.Confirmed
	}
	rep.Total.RevertRate = rate(rep.Total.Reverts, rep.Total.Moves)
	sort.Slice(rep.Rows, func(i, j int) bool {
		if rep.Rows[i].Pipeline != rep.Rows[j].Pipeline {
			return rep.Rows[i].Pipeline < rep.Rows[j].Pipeline
		}
		return rep.Rows[i].Rule < rep.Rows[j].Rule
	})
	return rep, nil
}

func rate(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// percentile by the nearest-rank method; 0 for no samples.
func percentile(xs []time.Duration, p float64) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	c := append([]time.Duration(nil), xs...)
	sort.Slice(c, func(i, j int) bool { return c[i] < c[j] })
	k := int(math.Ceil(p*float64(len(c)))) - 1
	if k < 0 {
		k = 0
	}
	return c[k]
}

// WriteText renders the report for `stagemover report`.
func (r Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PIPELINE\tRULE\tMOVES\tREVERTS\tREVERT RATE\tMISSES\tSHADOW MOVES\tCONFIRMED\tEVIDENCE→MOVE p50\tp90")
	for _, x := range append(r.Rows, r.Total) {
		p50, p90 := "-", "-"
		if x.EvidenceToMoveP50 > 0 || x.EvidenceToMoveP90 > 0 {
			p50, p90 = human(x.EvidenceToMoveP50), human(x.EvidenceToMoveP90)
		}
		if x.Pipeline == "all" {
			p50, p90 = "", ""
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.1f%%\t%d\t%d\t%d\t%s\t%s\n", x.Pipeline, x.Rule, x.Moves, x.Reverts,
			100*x.RevertRate, x.Misses, x.ShadowMoves, x.Confirmed, p50, p90)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.Total.ShadowMoves > 0 {
		_, err := fmt.Fprintf(w, "\nshadow mode: %d moves recorded, %d later made by hand (%.1f%%)\n",
			r.Total.ShadowMoves, r.Total.Confirmed, 100*rate(r.Total.Confirmed, r.Total.ShadowMoves))
		return err
	}
	return nil
}

func human(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%.1fd", d.Hours()/24)
	case d >= time.Hour:
		return fmt.Sprintf("%.1fh", d.Hours())
	case d >= time.Minute:
		return fmt.Sprintf("%.0fm", d.Minutes())
	default:
		return d.Round(time.Second).String()
	}
}

// emfLine writes one CloudWatch Embedded Metric Format line with Pipeline
// and Rule dimensions (the shared/platform/metrics shape with other dimensions).
func emfLine(w io.Writer, namespace, pipeline, rule string, at time.Time, values map[string]float64, units map[string]string) {
	if w == nil {
		return
	}
	if namespace == "" {
		namespace = "StageMover"
	}
	names := make([]string, 0, len(values))
	for k := range values {
		names = append(names, k)
	}
	sort.Strings(names)
	var defs []any
	line := map[string]any{"Pipeline": orNone(pipeline), "Rule": orNone(rule)}
	for _, k := range names {
		unit := units[k]
		if unit == "" {
			unit = "Count"
		}
		defs = append(defs, map[string]string{"Name": k, "Unit": unit})
		line[k] = values[k]
	}
	line["_aws"] = map[string]any{
		"Timestamp": at.UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  namespace,
			"Dimensions": [][]string{{"Pipeline", "Rule"}},
			"Metrics":    defs,
		}},
	}
	bs, _ := json.Marshal(line)
	_, _ = w.Write(append(bs, '\n'))
}

func orNone(v string) string {
	if strings.TrimSpace(v) == "" {
		return "(none)"
	}
	return v
}

// EmitMetrics writes one EMF line per row: Moves, Reverts, Misses,
// ConfirmedShadowMoves and RevertRate (percent), for a scheduled report job
// whose RevertRate an alarm watches. The totals go out with Pipeline "all"
// and Rule "all", a fixed dimension pair an alarm can name.
func (r Report) EmitMetrics(w io.Writer, namespace string, at time.Time) {
	for _, x := range append(append([]Row(nil), r.Rows...), r.Total) {
		emfLine(w, namespace, x.Pipeline, x.Rule, at, map[string]float64{
			"Moves": float64(x.Moves), MetricReverts: float64(x.Reverts), MetricMisses: float64(x.Misses),
			MetricConfirmed: float64(x.Confirmed), MetricRevertRate: 100 * x.RevertRate,
		}, map[string]string{MetricRevertRate: "Percent"})
	}
}

// emit counts one new measure as it is recorded.
func (w *Webhook) emit(m store.Measure) {
	name := map[string]string{store.TypeRevert: MetricReverts, store.TypeMiss: MetricMisses, store.TypeConfirmed: MetricConfirmed}[m.Type]
	w.Metrics.Inc(name)
	emfLine(w.EMF, w.Namespace, m.Pipeline, m.Rule, w.now(), map[string]float64{name: 1}, nil)
}
