package resolve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
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

// DynamoDB is the subset of the DynamoDB client DynamoCache uses
// (*dynamodb.Client satisfies it; so does the store's client).
type DynamoDB interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// Item layout in the stack's table.
const (
	cachePKPrefix = "RESOLVE#"
	cacheSK       = "CURRENT"
	// TypeResolve is the item's "type" attribute; no stream filter selects it.
	TypeResolve = "resolve"
)

// DynamoCache stores resolutions in the stack's table: pk "RESOLVE#<email>",
// sk "CURRENT", type "resolve", the entry as JSON in "payload", and
// "expires_at" (epoch seconds, the table's TTL attribute) so DynamoDB
// deletes old entries.
type DynamoCache struct {
	DB    DynamoDB
	Table string
}

// CacheKey returns the item key of an address's resolution.
func CacheKey(email string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: cachePKPrefix + email},
		"sk": &types.AttributeValueMemberS{Value: cacheSK},
	}
}

// Get implements Cache.
func (c DynamoCache) Get(ctx context.Context, email string) (Entry, bool, error) {
	out, err := c.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &c.Table, Key: CacheKey(email)})
	if err != nil {
		return Entry{}, false, fmt.Errorf("resolve cache get: %w", err)
	}
	if len(out.Item) == 0 {
		return Entry{}, false, nil
	}
	payload, _ := out.Item["payload"].(*types.AttributeValueMemberS)
	if payload == nil {
		return Entry{}, false, errors.New("resolve cache get: item has no payload")
	}
	e, err := decodeEntry([]byte(payload.Value))
	if err != nil {
		return Entry{}, false, fmt.Errorf("resolve cache get: %w", err)
	}
	// expires_at is authoritative: it is what DynamoDB's TTL acts on.
	if n, ok := out.Item["expires_at"].(*types.AttributeValueMemberN); ok {
		if sec, perr := strconv.ParseInt(n.Value, 10, 64); perr == nil {
			e.ExpiresAt = time.Unix(sec, 0).UTC()
		}
	}
	return e, true, nil
}

// Put implements Cache. It overwrites the previous entry.
func (c DynamoCache) Put(ctx context.Context, email string, e Entry) error {
	payload, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("resolve cache put: %w", err)
	}
	item := CacheKey(email)
	item["type"] = &types.AttributeValueMemberS{Value: TypeResolve}
	item["payload"] = &types.AttributeValueMemberS{Value: string(payload)}
	item["via"] = &types.AttributeValueMemberS{Value: e.Via}
	item["stored_at"] = &types.AttributeValueMemberS{Value: e.ResolvedAt.UTC().Format(time.RFC3339Nano)}
	// Round up so the item never expires before the entry does.
	exp := e.ExpiresAt.Unix()
	if e.ExpiresAt.Nanosecond() > 0 {
		exp++
	}
	item["expires_at"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(exp, 10)}
	if _, err := c.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &c.Table, Item: item}); err != nil {
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
