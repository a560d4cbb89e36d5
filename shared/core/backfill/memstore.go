package backfill

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/stagemover/stagemover/shared/store"
)

// memStore keeps a dry run's decisions in memory with the store's state
// machine (pending -> in_flight under a lease -> done|skipped|failed). A dry
// run must not put move decisions in the table: the deployed mover, which
// may be live, would take them from the stream.
type memStore struct {
	now func() time.Time
	mu  sync.Mutex
	ds  map[string]store.Decision
}

func newMemStore(now func() time.Time) *memStore {
	return &memStore{now: now, ds: map[string]store.Decision{}}
}

func memKey(dealID int64, sk string) string { return fmt.Sprintf("%d/%s", dealID, sk) }

func (m *memStore) PutDecision(_ context.Context, d store.Decision) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := memKey(d.DealID, d.SortKey())
	if _, ok := m.ds[k]; ok {
		return false, nil
	}
	d.State = store.StateRecorded
	if d.Action == store.ActionMove {
		d.State = store.StatePending
	}
	d.CreatedAt, d.UpdatedAt = m.now(), m.now()
	m.ds[k] = d
	return true, nil
}

func (m *memStore) GetDecision(_ context.Context, dealID int64, sk string) (store.Decision, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.ds[memKey(dealID, sk)]
	if !ok {
		return d, fmt.Errorf("decision deal %d %s: %w", dealID, sk, store.ErrNotFound)
	}
	return d, nil
}

func (m *memStore) Claim(_ context.Context, dealID int64, sk, owner string, lease time.Duration) (store.Decision, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := memKey(dealID, sk)
	d, ok := m.ds[k]
	if !ok {
		return d, fmt.Errorf("claim deal %d %s: %w", dealID, sk, store.ErrNotFound)
	}
	now := m.now()
	if !(d.State == store.StatePending || (d.State == store.StateInFlight && d.LeaseUntil.Before(now))) {
		return d, fmt.Errorf("claim deal %d %s: %w", dealID, sk, store.ErrConflict)
	}
	d.State, d.LeaseOwner, d.LeaseUntil, d.UpdatedAt = store.StateInFlight, owner, now.Add(lease), now
	d.Attempts++
	m.ds[k] = d
	return d, nil
}

func (m *memStore) Finish(_ context.Context, dealID int64, sk, owner string, o store.Outcome) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := memKey(dealID, sk)
	d, ok := m.ds[k]
	if !ok || d.State != store.StateInFlight || d.LeaseOwner != owner {
		return fmt.Errorf("finish deal %d %s: %w", dealID, sk, store.ErrConflict)
	}
	d.State, d.StateReason, d.FromStageID, d.ToStageID, d.Shadow = o.State, o.Reason, o.FromStageID, o.ToStageID, o.Shadow
	d.LeaseUntil, d.UpdatedAt = time.Time{}, m.now()
	m.ds[k] = d
	return nil
}

// MarkPatchSent is never reached in a dry run (the mover is shadow); it
// refuses, so a wiring mistake cannot patch.
func (m *memStore) MarkPatchSent(_ context.Context, dealID int64, sk, _ string) error {
	return fmt.Errorf("mark patch sent deal %d %s: a dry run never patches: %w", dealID, sk, store.ErrConflict)
}

// PutDealState is a no-op: a dry run leaves the table's deal mirror alone.
func (m *memStore) PutDealState(context.Context, store.DealState) error { return nil }
