package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/stagemover/stagemover/shared/core/signal"
)

// SignalRecord is a stored signal with where it came from and whom it is about.
type SignalRecord struct {
	Source      string        // "generic", "gmail", ...
	EventID     string        // the sender's id for this delivery: the idempotency key
	DealID      int64         // 0 until resolved
	PersonEmail string        // set when the sender named a person rather than a deal
	ReceivedAt  time.Time     //
	Signal      signal.Signal //
}

// Key is the signal's primary key: one item per source and event id.
func (r SignalRecord) Key() string { return "SIG#" + r.Source + "#" + r.EventID }

// MaxPayload keeps a signal item well under DynamoDB's 400 KB item limit.
const MaxPayload = 350 << 10

// ErrTooLarge means the signal cannot be stored in one item.
var ErrTooLarge = errors.New("signal too large to store")

// marshalPayload encodes without HTML escaping: an HTML email would
// otherwise grow by up to six bytes for each <, > and &.
func marshalPayload(sig signal.Signal) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(sig); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// sortTime orders evidence lexically in the index; fixed width, UTC.
const sortTime = "2006-01-02T15:04:05.000000000Z"

func evidencePK(dealID int64, personEmail string) string {
	if dealID > 0 {
		return dealPK(dealID)
	}
	return "PERSON#" + strings.ToLower(personEmail)
}

// PutSignal stores rec unless a signal with the same source and event id
// exists. created is false for a redelivery, which is not an error.
func (s *Store) PutSignal(ctx context.Context, rec SignalRecord) (created bool, err error) {
	if rec.Source == "" || rec.EventID == "" {
		return false, fmt.Errorf("put signal: source and event id are required")
	}
	if rec.DealID <= 0 && rec.PersonEmail == "" {
		return false, fmt.Errorf("put signal %s: a deal id or a person email is required", rec.Key())
	}
	payload, err := marshalPayload(rec.Signal)
	if err != nil {
		return false, fmt.Errorf("put signal %s: %w", rec.Key(), err)
	}
	if len(payload) > MaxPayload {
		return false, fmt.Errorf("put signal %s: payload of %d bytes: %w", rec.Key(), len(payload), ErrTooLarge)
	}
	item := key(rec.Key(), "SIG")
	item["type"] = str(TypeSignal)
	item["source"] = str(rec.Source)
	item["event_id"] = str(rec.EventID)
	item["kind"] = str(string(rec.Signal.Kind))
	item["at"] = str(rec.Signal.At.UTC().Format(time.RFC3339Nano))
	item["received_at"] = str(rec.ReceivedAt.UTC().Format(time.RFC3339Nano))
	item["payload"] = str(string(payload))
	item["gsi1pk"] = str(evidencePK(rec.DealID, rec.PersonEmail))
	item["gsi1sk"] = str(rec.Signal.At.UTC().Format(sortTime) + "#" + rec.Key())
	item["expires_at"] = s.expiresAt()
	if rec.DealID > 0 {
		item["deal_id"] = num(rec.DealID)
	}
	if rec.PersonEmail != "" {
		item["person_email"] = str(strings.ToLower(rec.PersonEmail))
	}
	return s.putNew(ctx, item, "put signal "+rec.Key())
}

// SignalFromItem decodes a stored signal item (from GetItem, Query or a
// stream image converted to SDK attribute values).
func SignalFromItem(item map[string]types.AttributeValue) (SignalRecord, error) {
	var rec SignalRecord
	if getS(item, "type") != TypeSignal {
		return rec, fmt.Errorf("item %q is not a signal", getS(item, "pk"))
	}
	rec.Source = getS(item, "source")
	rec.EventID = getS(item, "event_id")
	rec.PersonEmail = getS(item, "person_email")
	rec.DealID = getN(item, "deal_id")
	rec.ReceivedAt, _ = time.Parse(time.RFC3339Nano, getS(item, "received_at"))
	if err := json.Unmarshal([]byte(getS(item, "payload")), &rec.Signal); err != nil {
		return rec, fmt.Errorf("signal %s: payload: %w", rec.Key(), err)
	}
	return rec, nil
}

// SignalsForDeal returns the deal's signals at or after since, oldest first,
// at most limit (the newest ones when there are more).
func (s *Store) SignalsForDeal(ctx context.Context, dealID int64, since time.Time, limit int) ([]SignalRecord, error) {
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:              &s.table,
		IndexName:              aws.String(Index),
		KeyConditionExpression: aws.String("gsi1pk = :pk AND gsi1sk >= :since"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk":    str(dealPK(dealID)),
			":since": str(since.UTC().Format(sortTime)),
		},
		ScanIndexForward: aws.Bool(false), // newest first, so limit keeps the newest
		Limit:            aws.Int32(int32(limit)),
	})
	if err != nil {
		return nil, fmt.Errorf("signals for deal %d: %w", dealID, err)
	}
	recs := make([]SignalRecord, 0, len(out.Items))
	for i := len(out.Items) - 1; i >= 0; i-- {
		rec, err := SignalFromItem(out.Items[i])
		if err != nil {
			return nil, err
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

// AssignSignal files a person's signal under the deal it was resolved to, so
// it counts as that deal's evidence from now on. It is an update (a stream
// MODIFY), so it does not trigger a second evaluation.
func (s *Store) AssignSignal(ctx context.Context, rec SignalRecord, dealID int64) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           &s.table,
		Key:                 key(rec.Key(), "SIG"),
		UpdateExpression:    aws.String("SET deal_id = :d, gsi1pk = :pk"),
		ConditionExpression: aws.String("attribute_exists(pk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":d":  num(dealID),
			":pk": str(dealPK(dealID)),
		},
	})
	if err != nil {
		return wrapCondition(err, "assign signal "+rec.Key())
	}
	return nil
}

// MarkSignalUnresolved records why a person's signal has no deal (no person,
// no open deal, or several candidates to review).
func (s *Store) MarkSignalUnresolved(ctx context.Context, rec SignalRecord, reason string, candidates []int64) error {
	cands := make([]string, len(candidates))
	for i, c := range candidates {
		cands[i] = strconv.FormatInt(c, 10)
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           &s.table,
		Key:                 key(rec.Key(), "SIG"),
		UpdateExpression:    aws.String("SET unresolved = :r, candidates = :c"),
		ConditionExpression: aws.String("attribute_exists(pk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":r": str(reason),
			":c": str(strings.Join(cands, ",")),
		},
	})
	if err != nil {
		return wrapCondition(err, "mark signal unresolved "+rec.Key())
	}
	return nil
}

func getS(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func getN(item map[string]types.AttributeValue, name string) int64 {
	if v, ok := item[name].(*types.AttributeValueMemberN); ok {
		n, _ := strconv.ParseInt(v.Value, 10, 64)
		return n
	}
	return 0
}

func getBool(item map[string]types.AttributeValue, name string) bool {
	v, ok := item[name].(*types.AttributeValueMemberBOOL)
	return ok && v.Value
}
