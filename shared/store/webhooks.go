package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TypeWebhook marks a delivered Pipedrive webhook event (pk PDHOOK#<meta.id>,
// sk EVENT), the redelivery guard of shared/source/pdhooks. No stream filter
// of template.yaml selects it, so writing one triggers nothing.
const TypeWebhook = "pd_webhook"

// WebhookTTL is how long webhook event records are kept. Pipedrive retries
// for minutes; 30 days also serves the audit.
const WebhookTTL = 30 * 24 * time.Hour

// WebhookEvent is what is kept of a delivered Pipedrive webhook event.
type WebhookEvent struct {
	ID            string // meta.id: the same on every redelivery
	Action        string // create | change | delete
	Entity        string // deal | stage | pipeline | ...
	EntityID      int64
	UserID        int64 // who made the change
	ChangeSource  string
	Bulk          bool
	Own           bool   // made by the integration user
	Outcome       string // what processing it did (shared/source/pdhooks)
	CorrelationID string // "" when the event had none
	EventAt       time.Time
	ReceivedAt    time.Time // also starts the WebhookTTL
}

func webhookKey(eventID string) map[string]types.AttributeValue {
	return key("PDHOOK#"+eventID, "EVENT")
}

// WebhookEventSeen reports whether the event was recorded (strongly consistent).
func (s *Store) WebhookEventSeen(ctx context.Context, eventID string) (bool, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: webhookKey(eventID), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return false, fmt.Errorf("get webhook event %s: %w", eventID, err)
	}
	return len(out.Item) > 0, nil
}

// PutWebhookEvent records e unless the same event was recorded before;
// created is false when another delivery got there first.
func (s *Store) PutWebhookEvent(ctx context.Context, e WebhookEvent) (created bool, err error) {
	item := webhookKey(e.ID)
	item["type"] = str(TypeWebhook)
	item["action"] = str(e.Action)
	item["entity"] = str(e.Entity)
	item["entity_id"] = num(e.EntityID)
	item["user_id"] = num(e.UserID)
	item["change_source"] = str(e.ChangeSource)
	item["bulk"] = boolean(e.Bulk)
	item["own"] = boolean(e.Own)
	item["outcome"] = str(e.Outcome)
	item["event_at"] = str(e.EventAt.UTC().Format(time.RFC3339Nano))
	item["received_at"] = str(e.ReceivedAt.UTC().Format(time.RFC3339Nano))
	item["expires_at"] = num(e.ReceivedAt.Add(WebhookTTL).Unix())
	if e.CorrelationID != "" {
		item["correlation_id"] = str(e.CorrelationID)
	}
	return s.putNew(ctx, item, "put webhook event "+e.ID)
}

// putNew writes item unless its key exists; created is false when it did.
func (s *Store) putNew(ctx context.Context, item map[string]types.AttributeValue, what string) (created bool, err error) {
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           &s.table,
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	if isConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s: %w", what, err)
	}
	return true, nil
}
