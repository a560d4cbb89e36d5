package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DealState mirrors what we last saw of a deal in Pipedrive, so the
// evaluator can judge "forward only" without spending a Pipedrive request.
type DealState struct {
	DealID     int64
	PipelineID int64
	Pipeline   string
	StageID    int64
	Stage      string
	Status     string
	PersonID   int64
	SeenAt     time.Time
}

// DealDeleted is the mirror's status of a deal deleted in Pipedrive (the
// webhooks v2 delete event): nothing evaluates or moves it.
const DealDeleted = "deleted"

// Deleted reports whether the mirror has the deal as deleted in Pipedrive.
func (d DealState) Deleted() bool { return d.Status == DealDeleted }

// PutDealState stores the mirror; a later observation replaces an earlier one.
func (s *Store) PutDealState(ctx context.Context, d DealState) error {
	item := key(dealPK(d.DealID), "STATE")
	item["type"] = str(TypeDeal)
	item["deal_id"] = num(d.DealID)
	item["pipeline_id"] = num(d.PipelineID)
	item["pipeline"] = str(d.Pipeline)
	item["stage_id"] = num(d.StageID)
	item["stage"] = str(d.Stage)
	item["status"] = str(d.Status)
	item["person_id"] = num(d.PersonID)
	item["seen_at"] = num(d.SeenAt.UnixMilli()) // a number, so "newer" compares correctly
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           &s.table,
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(seen_at) OR seen_at <= :seen"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":seen": item["seen_at"],
		},
	})
	if isConditionFailed(err) {
		return nil // an observation newer than ours is already stored
	}
	if err != nil {
		return fmt.Errorf("put deal state %d: %w", d.DealID, err)
	}
	return nil
}

// GetDealState returns the mirror, or ErrNotFound.
func (s *Store) GetDealState(ctx context.Context, dealID int64) (DealState, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: key(dealPK(dealID), "STATE")})
	if err != nil {
		return DealState{}, fmt.Errorf("get deal state %d: %w", dealID, err)
	}
	if len(out.Item) == 0 {
		return DealState{}, fmt.Errorf("deal state %d: %w", dealID, ErrNotFound)
	}
	d := DealState{
		DealID:     getN(out.Item, "deal_id"),
		PipelineID: getN(out.Item, "pipeline_id"),
		Pipeline:   getS(out.Item, "pipeline"),
		StageID:    getN(out.Item, "stage_id"),
		Stage:      getS(out.Item, "stage"),
		Status:     getS(out.Item, "status"),
		PersonID:   getN(out.Item, "person_id"),
	}
	d.SeenAt = time.UnixMilli(getN(out.Item, "seen_at"))
	return d, nil
}

// stageMapDoc is the document the stage map (shared/core/stagemap) is cached under.
const stageMapDoc = "stagemap"

// GetStageMap reads the cached stage map into v (ErrNotFound when none is cached).
func (s *Store) GetStageMap(ctx context.Context, v any) (storedAt time.Time, err error) {
	return s.GetJSON(ctx, stageMapDoc, v)
}

// PutStageMap caches v as the stage map, expiring after ttl.
func (s *Store) PutStageMap(ctx context.Context, v any, ttl time.Duration) error {
	return s.PutJSON(ctx, stageMapDoc, v, ttl)
}

// GetJSON and PutJSON keep small documents (backfill progress, Gmail
// cursors, the cached stage map) under a fixed key, with the time they
// were stored.
func (s *Store) GetJSON(ctx context.Context, name string, v any) (storedAt time.Time, err error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: key("DOC#"+name, "CURRENT")})
	if err != nil {
		return time.Time{}, fmt.Errorf("get %s: %w", name, err)
	}
	if len(out.Item) == 0 {
		return time.Time{}, fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	if err := json.Unmarshal([]byte(getS(out.Item, "payload")), v); err != nil {
		return time.Time{}, fmt.Errorf("%s: %w", name, err)
	}
	storedAt, _ = time.Parse(time.RFC3339Nano, getS(out.Item, "stored_at"))
	return storedAt, nil
}

// PutJSON stores v under name, expiring after ttl.
func (s *Store) PutJSON(ctx context.Context, name string, v any, ttl time.Duration) error {
	payload, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("put %s: %w", name, err)
	}
	item := key("DOC#"+name, "CURRENT")
	item["type"] = str(TypeDoc)
	item["payload"] = str(string(payload))
	item["stored_at"] = str(s.now().UTC().Format(time.RFC3339Nano))
	item["expires_at"] = num(s.now().Add(ttl).Unix())
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: item}); err != nil {
		return fmt.Errorf("put %s: %w", name, err)
	}
	return nil
}
