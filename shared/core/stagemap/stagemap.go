// Package stagemap resolves stage names to ids per pipeline at run time.
// Rules name stages by pipeline and name, so renaming or reordering stages in
// Pipedrive breaks nothing: the map is fetched, cached, and refreshed when
// Pipedrive says a stage is unknown.
package stagemap

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/stagemover/stagemover/shared/store"
)

// Stage is one stage of a pipeline.
type Stage struct {
	ID      int64  `json:"id"`
	Name    string `json:"name"`
	OrderNr int    `json:"order_nr"`
}

// Pipeline is a pipeline with its stages in order.
type Pipeline struct {
	ID     int64   `json:"id"`
	Name   string  `json:"name"`
	Stages []Stage `json:"stages"`
}

// Snapshot is the whole map at one time.
type Snapshot struct {
	FetchedAt time.Time  `json:"fetched_at"`
	Pipelines []Pipeline `json:"pipelines"`
}

// ErrUnknown means a pipeline or stage is not in the map.
var ErrUnknown = errors.New("unknown pipeline or stage")

// Pipeline returns the pipeline with id.
func (s *Snapshot) Pipeline(id int64) (Pipeline, error) {
	for _, p := range s.Pipelines {
		if p.ID == id {
			return p, nil
		}
	}
	return Pipeline{}, fmt.Errorf("pipeline %d: %w", id, ErrUnknown)
}

// StageByID returns a stage and its position (0-based) in its pipeline.
func (p Pipeline) StageByID(id int64) (Stage, int, error) {
	for i, st := range p.Stages {
		if st.ID == id {
			return st, i, nil
		}
	}
	return Stage{}, -1, fmt.Errorf("stage %d in pipeline %q: %w", id, p.Name, ErrUnknown)
}

// StageByName finds a stage by name, ignoring case and surrounding space.
func (p Pipeline) StageByName(name string) (Stage, int, error) {
	want := normalise(name)
	for i, st := range p.Stages {
		if normalise(st.Name) == want {
			return st, i, nil
		}
	}
	return Stage{}, -1, fmt.Errorf("stage %q in pipeline %q: %w", name, p.Name, ErrUnknown)
}

// SameName compares pipeline or stage names the way the map does.
func SameName(a, b string) bool { return normalise(a) == normalise(b) }

func normalise(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }

// Source fetches the current map (from Pipedrive).
type Source interface {
	Fetch(ctx context.Context) (Snapshot, error)
}

// Cache persists a snapshot between cold starts and instances (a
// *store.Store: the store owns the document's key).
type Cache interface {
	GetStageMap(ctx context.Context, v any) (storedAt time.Time, err error)
	PutStageMap(ctx context.Context, v any, ttl time.Duration) error
}

// staleTTL is how long a map marked stale stays cached: a Map reading it
// refetches anyway, the stale copy only shows what was there.
const staleTTL = 24 * time.Hour

// Invalidate marks the cached map stale (fetched_at zero), so every Map
// sharing the cache refetches on its next Get. With nothing cached there is
// nothing to mark. Pipedrive's stage and pipeline webhooks call it.
func Invalidate(ctx context.Context, cache Cache) error {
	var snap Snapshot
	_, err := cache.GetStageMap(ctx, &snap)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("read stage map: %w", err)
	}
	snap.FetchedAt = time.Time{}
	if err := cache.PutStageMap(ctx, snap, staleTTL); err != nil {
		return fmt.Errorf("mark stage map stale: %w", err)
	}
	return nil
}

// Map caches the snapshot in memory and in Cache for TTL.
type Map struct {
	src   Source
	cache Cache // may be nil
	ttl   time.Duration
	now   func() time.Time

	mu   sync.Mutex
	snap *Snapshot
}

// New returns a Map that fetches from src, shares snapshots through cache
// (nil for memory only) and trusts them for ttl.
func New(src Source, cache Cache, ttl time.Duration, now func() time.Time) *Map {
	if now == nil {
		now = time.Now
	}
	return &Map{src: src, cache: cache, ttl: ttl, now: now}
}

// Get returns a fresh enough snapshot: memory, then the cache, then the source.
func (m *Map) Get(ctx context.Context) (*Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.snap != nil && m.now().Sub(m.snap.FetchedAt) < m.ttl {
		return m.snap, nil
	}
	if m.cache != nil {
		var snap Snapshot
		if _, err := m.cache.GetStageMap(ctx, &snap); err == nil && m.now().Sub(snap.FetchedAt) < m.ttl {
			m.snap = &snap
			return m.snap, nil
		}
	}
	return m.refreshLocked(ctx)
}

// Refresh fetches from the source now, e.g. after Pipedrive rejected a stage id.
func (m *Map) Refresh(ctx context.Context) (*Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.refreshLocked(ctx)
}

func (m *Map) refreshLocked(ctx context.Context) (*Snapshot, error) {
	snap, err := m.src.Fetch(ctx)
	if err != nil {
		return nil, fmt.Errorf("fetch stage map: %w", err)
	}
	if snap.FetchedAt.IsZero() {
		snap.FetchedAt = m.now()
	}
	m.snap = &snap
	if m.cache != nil {
		// A cache write failure costs a later fetch, not correctness.
		_ = m.cache.PutStageMap(ctx, snap, m.ttl)
	}
	return m.snap, nil
}
