package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TypeFetch marks a provider notification stored before its content is
// fetched: the provider gets its 2xx once this item is durable, and the
// fetcher function (on the stream) fetches the message or event after.
const TypeFetch = "fetch"

// FetchRecord is a notification awaiting its fetch.
type FetchRecord struct {
	Source         string    // "graph", "gmail"
	NotificationID string    // the provider's id for this notification: redeliveries reuse it
	Mailbox        string    // the mailbox or user the notification is about
	Resource       string    // what to fetch (Graph resource path, Gmail history id, ...)
	Payload        string    // the notification as received (JSON), for the fetcher
	ReceivedAt     time.Time //
}

// Key is the fetch item's primary key.
func (r FetchRecord) Key() string { return "FETCH#" + r.Source + "#" + r.NotificationID }

// PutFetch stores r unless the same notification was stored before;
// created is false for a redelivery.
func (s *Store) PutFetch(ctx context.Context, r FetchRecord) (created bool, err error) {
	if r.Source == "" || r.NotificationID == "" {
		return false, fmt.Errorf("put fetch: source and notification id are required")
	}
	item := key(r.Key(), "FETCH")
	item["type"] = str(TypeFetch)
	item["source"] = str(r.Source)
	item["notification_id"] = str(r.NotificationID)
	item["mailbox"] = str(r.Mailbox)
	item["resource"] = str(r.Resource)
	item["payload"] = str(r.Payload)
	item["received_at"] = str(r.ReceivedAt.UTC().Format(time.RFC3339Nano))
	item["expires_at"] = num(s.now().Add(30 * 24 * time.Hour).Unix())
	return s.putNew(ctx, item, "put fetch "+r.Key())
}

// FetchFromItem decodes a fetch item (GetItem or a stream image).
func FetchFromItem(item map[string]types.AttributeValue) (FetchRecord, error) {
	if getS(item, "type") != TypeFetch {
		return FetchRecord{}, fmt.Errorf("item %q is not a fetch", getS(item, "pk"))
	}
	r := FetchRecord{
		Source:         getS(item, "source"),
		NotificationID: getS(item, "notification_id"),
		Mailbox:        getS(item, "mailbox"),
		Resource:       getS(item, "resource"),
		Payload:        getS(item, "payload"),
	}
	r.ReceivedAt, _ = time.Parse(time.RFC3339Nano, getS(item, "received_at"))
	if r.Source == "" || r.NotificationID == "" {
		return r, fmt.Errorf("fetch item %q lacks source or notification id", getS(item, "pk"))
	}
	return r, nil
}

// CountFetchAttempt adds one to the fetch's failed attempts and returns the
// new count, so the fetcher can count a notification that keeps failing.
func (s *Store) CountFetchAttempt(ctx context.Context, r FetchRecord, lastError string) (int, error) {
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.table,
		Key:                       key(r.Key(), "FETCH"),
		UpdateExpression:          aws.String("SET failed_attempts = if_not_exists(failed_attempts, :zero) + :one, last_error = :err"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":zero": num(0), ":one": num(1), ":err": str(lastError)},
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	if err != nil {
		return 0, fmt.Errorf("count fetch attempt %s: %w", r.Key(), err)
	}
	return int(getN(out.Attributes, "failed_attempts")), nil
}
