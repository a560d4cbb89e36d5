// Package store keeps stagemover's state in one DynamoDB table and owns
// every key and item layout in it: signals (keyed by source and the
// sender's event id, so a redelivery is a conditional-write no-op), fetch
// records, decisions with the mover's state machine and explanation
// markers, deal mirrors, Pipedrive webhook events and the measures judged
// from them (reverts, misses, confirmed shadow moves), cached resolutions,
// and small JSON documents (the stage map, backfill progress, Gmail
// cursors). Callers get typed items; a stream image is decoded by the
// *FromItem functions. See template.yaml for the table.
package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DynamoDB is the subset of the DynamoDB client the store uses.
type DynamoDB interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// Item types, stored in the "type" attribute the stream filters select on.
const (
	TypeSignal   = "signal"
	TypeDecision = "decision"
	TypeDeal     = "deal"
	TypeDoc      = "doc"
)

// Index is the GSI that lists a deal's (or an unresolved person's) signals by time.
const Index = "gsi1"

var (
	// ErrNotFound means no item has the key.
	ErrNotFound = errors.New("not found")
	// ErrConflict means a conditional write lost: someone else holds or
	// already finished the item.
	ErrConflict = errors.New("conditional write conflict")
)

// Store reads and writes the table.
type Store struct {
	db        DynamoDB
	table     string
	now       func() time.Time
	signalTTL time.Duration
}

// Option configures a Store.
type Option func(*Store)

// WithClock replaces time.Now (tests move time to expire leases).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithSignalTTL sets how long signals and decisions are kept (default 400 days).
func WithSignalTTL(d time.Duration) Option { return func(s *Store) { s.signalTTL = d } }

// New returns a Store on table.
func New(db DynamoDB, table string, opts ...Option) *Store {
	s := &Store{db: db, table: table, now: time.Now, signalTTL: 400 * 24 * time.Hour}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Now is the store's clock, shared with callers so leases agree.
func (s *Store) Now() time.Time { return s.now() }

func (s *Store) expiresAt() types.AttributeValue {
	return num(s.now().Add(s.signalTTL).Unix())
}

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func boolean(v bool) types.AttributeValue { return &types.AttributeValueMemberBOOL{Value: v} }

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": str(pk), "sk": str(sk)}
}

func dealPK(dealID int64) string { return "DEAL#" + strconv.FormatInt(dealID, 10) }

// isConditionFailed reports a lost conditional write, from a single write or a transaction.
func isConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

func wrapCondition(err error, what string) error {
	if isConditionFailed(err) {
		return fmt.Errorf("%s: %w", what, ErrConflict)
	}
	return fmt.Errorf("%s: %w", what, err)
}
