package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Measure item types: what people did after our decisions
// (shared/source/pdhooks judges them). No stream filter selects them.
const (
	TypeRevert    = "revert"           // pk DEAL#<id>, sk REVERT#<meta.id>
	TypeMiss      = "miss"             // pk DEAL#<id>, sk MISS#<meta.id>
	TypeConfirmed = "shadow_confirmed" // pk DEAL#<id>, sk CONFIRM#<decision sk>
)

// MeasureTTL is how long measures are kept (as long as the decisions they judge).
const MeasureTTL = 400 * 24 * time.Hour

// Measure is a revert, a miss or a confirmed shadow move.
type Measure struct {
	Type        string // TypeRevert | TypeMiss | TypeConfirmed
	DealID      int64
	EventID     string // the webhook meta.id that showed it
	DecisionKey string // the judged decision's sort key (DEC#...)
	Rule        string
	Pipeline    string // pipeline name ("" if unknown)
	PipelineID  int64
	Kind        string // revert: backward | lost; miss: stay | skipped | failed
	FromStageID int64  // the stage before the person's change
	ToStageID   int64  // the stage after it
	UserID      int64  // who made the change
	At          time.Time
	DecidedAt   time.Time // the decision's updated_at (the move)
}

func (m Measure) sortKey() string {
	switch m.Type {
	case TypeRevert:
		return "REVERT#" + m.EventID
	case TypeMiss:
		return "MISS#" + m.EventID
	default:
		return "CONFIRM#" + m.DecisionKey
	}
}

// measurePrefixes are the sort key prefixes of a deal's measures.
var measurePrefixes = []string{"CONFIRM#", "MISS#", "REVERT#"}

// PutMeasure stores m once, expiring MeasureTTL after now: a redelivered
// event (or a second confirmation of the same shadow decision) stores
// nothing; created reports which.
func (s *Store) PutMeasure(ctx context.Context, m Measure, now time.Time) (created bool, err error) {
	item := key(dealPK(m.DealID), m.sortKey())
	item["type"] = str(m.Type)
	item["deal_id"] = num(m.DealID)
	item["event_id"] = str(m.EventID)
	item["decision_sk"] = str(m.DecisionKey)
	item["rule"] = str(m.Rule)
	item["pipeline"] = str(m.Pipeline)
	item["pipeline_id"] = num(m.PipelineID)
	item["kind"] = str(m.Kind)
	item["from_stage"] = num(m.FromStageID)
	item["to_stage"] = num(m.ToStageID)
	item["user_id"] = num(m.UserID)
	item["at"] = str(m.At.UTC().Format(time.RFC3339Nano))
	item["decided_at"] = str(m.DecidedAt.UTC().Format(time.RFC3339Nano))
	item["recorded_at"] = str(now.UTC().Format(time.RFC3339Nano))
	item["expires_at"] = num(now.Add(MeasureTTL).Unix())
	return s.putNew(ctx, item, fmt.Sprintf("put %s deal %d", m.Type, m.DealID))
}

func measureFromItem(item map[string]types.AttributeValue) Measure {
	m := Measure{
		Type: getS(item, "type"), DealID: getN(item, "deal_id"), EventID: getS(item, "event_id"),
		DecisionKey: getS(item, "decision_sk"), Rule: getS(item, "rule"), Pipeline: getS(item, "pipeline"),
		PipelineID: getN(item, "pipeline_id"), Kind: getS(item, "kind"), FromStageID: getN(item, "from_stage"),
		ToStageID: getN(item, "to_stage"), UserID: getN(item, "user_id"),
	}
	m.At, _ = time.Parse(time.RFC3339Nano, getS(item, "at"))
	m.DecidedAt, _ = time.Parse(time.RFC3339Nano, getS(item, "decided_at"))
	return m
}

// MeasuresForDeal lists a deal's confirmations, misses and reverts, in that order.
func (s *Store) MeasuresForDeal(ctx context.Context, dealID int64) ([]Measure, error) {
	var out []Measure
	for _, prefix := range measurePrefixes {
		err := s.queryDeal(ctx, dealID, prefix, func(item map[string]types.AttributeValue) error {
			out = append(out, measureFromItem(item))
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("measures for deal %d: %w", dealID, err)
		}
	}
	return out, nil
}

// queryDeal hands fn every item of the deal whose sort key starts with
// prefix, page by page (strongly consistent).
func (s *Store) queryDeal(ctx context.Context, dealID int64, prefix string, fn func(map[string]types.AttributeValue) error) error {
	var start map[string]types.AttributeValue
	for {
		out, err := s.db.Query(ctx, &dynamodb.QueryInput{
			TableName:              &s.table,
			KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :p)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":pk": str(dealPK(dealID)), ":p": str(prefix),
			},
			ConsistentRead:    aws.Bool(true),
			ExclusiveStartKey: start,
		})
		if err != nil {
			return err
		}
		for _, item := range out.Items {
			if err := fn(item); err != nil {
				return err
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		start = out.LastEvaluatedKey
	}
}
