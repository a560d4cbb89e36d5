package resolve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/stagemover/stagemover/shared/store"
)

// Entry is one cached resolution: what Pipedrive said about an address,
// before any tie-breaking rule (so changing PreferMostRecentlyUpdated takes
// effect at once, without waiting for the cache to expire).
type Entry struct {
	Via      string    `json:"via"`
	PersonID int64     `json:"person_id,omitempty"`
	OrgID    int64     `json:"org_id,omitempty"`
	Reason   string    `json:"reason,omitempty"` // why nothing was found; "" when deals were
	Deals    []DealRef `json:"deals,omitempty"`  // open deals, sorted by id
	// ResolvedAt is when Pipedrive was asked; ExpiresAt when the entry must
	// no longer be used.
	ResolvedAt time.Time `json:"resolved_at"`
	ExpiresAt  time.Time `json:"expires_at"`

	fromCache bool // set by the Resolver, never stored
}

// DealRef is an open deal found for an address.
type DealRef struct {
	ID         int64  `json:"id"`
	UpdateTime string `json:"update_time,omitempty"` // as Pipedrive sent it
}

// Cache keeps resolutions by normalized email address. Get reports a miss
// as (Entry{}, false, nil); the Resolver checks ExpiresAt itself, so a
// backend whose expiry is lazy (DynamoDB TTL deletes items up to days late;
// DynamoDB Local never does) is still correct.
type Cache interface {
	Get(ctx context.Context, email string) (Entry, bool, error)
	Put(ctx context.Context, email string, e Entry) error
}

// StoreCache keeps resolutions in the stack's table, one item per address
// whose TTL DynamoDB acts on (store.Store's resolution items).
type StoreCache struct{ Store *store.Store }

// Get implements Cache.
func (c StoreCache) Get(ctx context.Context, email string) (Entry, bool, error) {
	r, found, err := c.Store.GetResolution(ctx, email)
	if err != nil {
		return Entry{}, false, fmt.Errorf("resolve cache get: %w", err)
	}
	if !found {
		return Entry{}, false, nil
	}
	e, err := decodeEntry(r.Payload)
	if err != nil {
		return Entry{}, false, fmt.Errorf("resolve cache get: %w", err)
	}
	// The item's TTL is authoritative: it is what DynamoDB acts on.
	if !r.ExpiresAt.IsZero() {
		e.ExpiresAt = r.ExpiresAt
	}
	return e, true, nil
}

// Put implements Cache. It overwrites the previous entry.
func (c StoreCache) Put(ctx context.Context, email string, e Entry) error {
	payload, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("resolve cache put: %w", err)
	}
	r := store.Resolution{Email: email, Via: e.Via, Payload: payload, StoredAt: e.ResolvedAt, ExpiresAt: e.ExpiresAt}
	if err := c.Store.PutResolution(ctx, r); err != nil {
		return fmt.Errorf("resolve cache put: %w", err)
	}
	return nil
}

// maxPayload bounds what decodeEntry accepts (an entry lists a few deals).
const maxPayload = 64 << 10

// decodeEntry parses a stored entry and checks its shape.
func decodeEntry(b []byte) (Entry, error) {
	if len(b) > maxPayload {
		return Entry{}, errors.New("cached entry too large")
	}
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil {
		return Entry{}, fmt.Errorf("cached entry: %w", err)
	}
	switch e.Via {
	case ViaPerson, ViaOrganization, ViaNone:
	default:
		return Entry{}, fmt.Errorf("cached entry: unknown via %q", e.Via)
	}
	if e.PersonID < 0 || e.OrgID < 0 {
		return Entry{}, errors.New("cached entry: negative id")
	}
	for _, d := range e.Deals {
		if d.ID <= 0 {
			return Entry{}, errors.New("cached entry: invalid deal id")
		}
	}
	if e.Via == ViaNone && len(e.Deals) > 0 {
		return Entry{}, errors.New("cached entry: deals without a person or organization")
	}
	return e, nil
}

// MemoryCache is a Cache in process memory (local mode, tests). Entries
// are dropped once expired when read. Safe for concurrent use.
type MemoryCache struct {
	mu sync.Mutex
	m  map[string]Entry
}

// Get implements Cache.
func (c *MemoryCache) Get(_ context.Context, email string) (Entry, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[email]
	return e, ok, nil
}

// Put implements Cache.
func (c *MemoryCache) Put(_ context.Context, email string, e Entry) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]Entry{}
	}
	c.m[email] = e
	return nil
}
