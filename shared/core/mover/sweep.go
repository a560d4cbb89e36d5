package mover

import (
	"context"
	"time"

	"github.com/stagemover/stagemover/shared/store"
)

// OpenDecisions lists unfinished move decisions (the store's open index).
type OpenDecisions interface {
	OpenDecisions(ctx context.Context, olderThan time.Time, limit int) (ds []store.Decision, unreadable int, err error)
}

// SweepResult counts what one sweep did.
type SweepResult struct {
	Found, Redriven, Held, Failed int
}

// Sweep re-drives move decisions still unfinished age after they were made:
// the stream's retries ran out (a long Pipedrive outage, a spent daily
// budget) or a holder crashed. Each goes through the same claim and checks
// as a stream delivery, so nothing is patched twice.
func (m *Mover) Sweep(ctx context.Context, open OpenDecisions, age time.Duration, limit int) (SweepResult, error) {
	var res SweepResult
	ds, unreadable, err := open.OpenDecisions(ctx, m.Now().Add(-age), limit)
	if err != nil {
		return res, err
	}
	res.Found, res.Failed = len(ds)+unreadable, unreadable
	for _, d := range ds {
		if d.State == store.StateInFlight && m.Now().Before(d.LeaseUntil) {
			res.Held++ // someone is on it; the next sweep looks again
			continue
		}
		if err := m.Process(ctx, d); err != nil {
			res.Failed++
			continue
		}
		res.Redriven++
	}
	m.Log.InfoContext(ctx, "sweep", "found", res.Found, "redriven", res.Redriven, "held", res.Held, "failed", res.Failed)
	return res, nil
}
