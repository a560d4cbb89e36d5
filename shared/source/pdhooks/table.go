package pdhooks

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/stagemover/stagemover/shared/store"
)

// DynamoDB is the subset of the client this package uses, on the stack's
// one table (the store's layout).
type DynamoDB interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// Item types this package adds. None matches a stream filter of
// template.yaml (signal, fetch, decision), so writing them triggers nothing.
const (
	TypeWebhook   = "pd_webhook"       // pk PDHOOK#<meta.id>, sk EVENT: one per delivered event
	TypeRevert    = "revert"           // pk DEAL#<id>, sk REVERT#<meta.id>
	TypeMiss      = "miss"             // pk DEAL#<id>, sk MISS#<meta.id>
	TypeConfirmed = "shadow_confirmed" // pk DEAL#<id>, sk CONFIRM#<decision sk>
)

// WebhookTTL is how long event records (the redelivery guard) are kept.
// Pipedrive retries for minutes; 30 days also serves the audit.
const WebhookTTL = 30 * 24 * time.Hour

// MeasureTTL is how long reverts, misses and confirmations are kept (as
// long as the decisions they judge).
const MeasureTTL = 400 * 24 * time.Hour

// Table reads decisions and writes this package's items.
type Table struct {
	DB   DynamoDB
	Name string
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}
func b(v bool) types.AttributeValue { return &types.AttributeValueMemberBOOL{Value: v} }

func getS(item map[string]types.AttributeValue, k string) string {
	if v, ok := item[k].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func getN(item map[string]types.AttributeValue, k string) int64 {
	if v, ok := item[k].(*types.AttributeValueMemberN); ok {
		x, _ := strconv.ParseInt(v.Value, 10, 64)
		return x
	}
	return 0
}

func getB(item map[string]types.AttributeValue, k string) bool {
	v, ok := item[k].(*types.AttributeValueMemberBOOL)
	return ok && v.Value
}

func dealPK(id int64) string { return "DEAL#" + strconv.FormatInt(id, 10) }

func webhookKey(eventID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": s("PDHOOK#" + eventID), "sk": s("EVENT")}
}

// Seen reports whether the event was fully processed before.
func (t Table) Seen(ctx context.Context, eventID string) (bool, error) {
	out, err := t.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &t.Name, Key: webhookKey(eventID), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return false, fmt.Errorf("get webhook event %s: %w", eventID, err)
	}
	return len(out.Item) > 0, nil
}

// EventRecord is what is kept of a delivered event.
type EventRecord struct {
	Meta    Meta
	Own     bool   // made by the integration user
	Outcome string // mirrored | own | bulk | revert | miss | confirmed | stagemap | ignored
	Now     time.Time
}

// PutEvent records the event last, once its effects are stored: created is
// false when another delivery of the same event got there first.
func (t Table) PutEvent(ctx context.Context, r EventRecord) (created bool, err error) {
	item := webhookKey(r.Meta.ID)
	item["type"] = s(TypeWebhook)
	item["action"] = s(r.Meta.Action)
	item["entity"] = s(r.Meta.Entity)
	item["entity_id"] = n(r.Meta.EntityID)
	item["user_id"] = n(r.Meta.UserID)
	item["change_source"] = s(r.Meta.ChangeSource)
	item["bulk"] = b(r.Meta.IsBulkEdit)
	item["own"] = b(r.Own)
	item["outcome"] = s(r.Outcome)
	item["event_at"] = s(r.Meta.Timestamp.UTC().Format(time.RFC3339Nano))
	item["received_at"] = s(r.Now.UTC().Format(time.RFC3339Nano))
	item["expires_at"] = n(r.Now.Add(WebhookTTL).Unix())
	if r.Meta.CorrelationID != "" {
		item["correlation_id"] = s(r.Meta.CorrelationID)
	}
	_, err = t.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &t.Name, Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("put webhook event %s: %w", r.Meta.ID, err)
	}
	return true, nil
}

// Decisions lists a deal's decisions (strongly consistent), newest update first.
func (t Table) Decisions(ctx context.Context, dealID int64) ([]store.Decision, error) {
	var out []store.Decision
	var start map[string]types.AttributeValue
	for {
		res, err := t.DB.Query(ctx, &dynamodb.QueryInput{
			TableName:              &t.Name,
			KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :dec)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":pk": s(dealPK(dealID)), ":dec": s("DEC#"),
			},
			ConsistentRead:    aws.Bool(true),
			ExclusiveStartKey: start,
		})
		if err != nil {
			return nil, fmt.Errorf("decisions for deal %d: %w", dealID, err)
		}
		for _, item := range res.Items {
			d, err := store.DecisionFromItem(item)
			if err != nil {
				return nil, err
			}
			out = append(out, d)
		}
		if len(res.LastEvaluatedKey) == 0 {
			break
		}
		start = res.LastEvaluatedKey
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].UpdatedAt.After(out[j].UpdatedAt) })
	return out, nil
}

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

// PutMeasure stores m once: a redelivered event (or a second confirmation
// of the same shadow decision) stores nothing; created reports which.
func (t Table) PutMeasure(ctx context.Context, m Measure, now time.Time) (created bool, err error) {
	item := map[string]types.AttributeValue{
		"pk":          s(dealPK(m.DealID)),
		"sk":          s(m.sortKey()),
		"type":        s(m.Type),
		"deal_id":     n(m.DealID),
		"event_id":    s(m.EventID),
		"decision_sk": s(m.DecisionKey),
		"rule":        s(m.Rule),
		"pipeline":    s(m.Pipeline),
		"pipeline_id": n(m.PipelineID),
		"kind":        s(m.Kind),
		"from_stage":  n(m.FromStageID),
		"to_stage":    n(m.ToStageID),
		"user_id":     n(m.UserID),
		"at":          s(m.At.UTC().Format(time.RFC3339Nano)),
		"decided_at":  s(m.DecidedAt.UTC().Format(time.RFC3339Nano)),
		"recorded_at": s(now.UTC().Format(time.RFC3339Nano)),
		"expires_at":  n(now.Add(MeasureTTL).Unix()),
	}
	_, err = t.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &t.Name, Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("put %s deal %d: %w", m.Type, m.DealID, err)
	}
	return true, nil
}

// MeasureFromItem decodes a revert, miss or confirmation item.
func MeasureFromItem(item map[string]types.AttributeValue) Measure {
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

// Measures lists a deal's reverts, misses and confirmations.
func (t Table) Measures(ctx context.Context, dealID int64) ([]Measure, error) {
	var out []Measure
	for _, prefix := range []string{"CONFIRM#", "MISS#", "REVERT#"} {
		res, err := t.DB.Query(ctx, &dynamodb.QueryInput{
			TableName:              &t.Name,
			KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :p)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":pk": s(dealPK(dealID)), ":p": s(prefix),
			},
			ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			return nil, fmt.Errorf("measures for deal %d: %w", dealID, err)
		}
		for _, item := range res.Items {
			out = append(out, MeasureFromItem(item))
		}
	}
	return out, nil
}
