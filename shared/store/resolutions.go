package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TypeResolve marks a cached resolution of an email address to deals (pk
// RESOLVE#<email>, sk CURRENT); no stream filter selects it.
const TypeResolve = "resolve"

// Resolution is a cached answer to "whose deals are these for this address"
// (shared/core/resolve keeps its entry as JSON in Payload).
type Resolution struct {
	Email     string // normalised by the caller
	Via       string
	Payload   []byte    // the entry, JSON
	StoredAt  time.Time // when Pipedrive was asked
	ExpiresAt time.Time // the item's TTL (epoch seconds, rounded up): DynamoDB deletes it after
}

func resolutionKey(email string) map[string]types.AttributeValue {
	return key("RESOLVE#"+email, "CURRENT")
}

// GetResolution reads email's cached resolution; found is false when none
// is stored. ExpiresAt comes from the TTL attribute, which is what
// DynamoDB acts on (zero when the item has none).
func (s *Store) GetResolution(ctx context.Context, email string) (r Resolution, found bool, err error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: resolutionKey(email)})
	if err != nil {
		return Resolution{}, false, fmt.Errorf("get resolution: %w", err)
	}
	if len(out.Item) == 0 {
		return Resolution{}, false, nil
	}
	payload, ok := out.Item["payload"].(*types.AttributeValueMemberS)
	if !ok {
		return Resolution{}, false, errors.New("resolution item has no payload")
	}
	r = Resolution{Email: email, Via: getS(out.Item, "via"), Payload: []byte(payload.Value)}
	r.StoredAt, _ = time.Parse(time.RFC3339Nano, getS(out.Item, "stored_at"))
	if _, ok := out.Item["expires_at"]; ok {
		r.ExpiresAt = time.Unix(getN(out.Item, "expires_at"), 0).UTC()
	}
	return r, true, nil
}

// PutResolution stores r, replacing the address's previous resolution. The
// TTL is rounded up to the second, so the item never expires before r does.
func (s *Store) PutResolution(ctx context.Context, r Resolution) error {
	item := resolutionKey(r.Email)
	item["type"] = str(TypeResolve)
	item["payload"] = str(string(r.Payload))
	item["via"] = str(r.Via)
	item["stored_at"] = str(r.StoredAt.UTC().Format(time.RFC3339Nano))
	exp := r.ExpiresAt.Unix()
	if r.ExpiresAt.Nanosecond() > 0 {
		exp++
	}
	item["expires_at"] = num(exp)
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: item}); err != nil {
		return fmt.Errorf("put resolution: %w", err)
	}
	return nil
}
