// Package ddbevent converts between the attribute values of DynamoDB stream
// events as Lambda delivers them (github.com/aws/aws-lambda-go/events) and
// the AWS SDK v2 types.
//
// The stream handlers read NewImage through shared/platform/stream, which
// converts it with ToAttributeValueMap and decodes it with the store's
// *FromItem functions; the local stream poller uses FromStreamRecord to
// build exactly the record Lambda would deliver.
// The package is small on purpose: it is linked into the Lambda binaries.
package ddbevent

import (
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// EventSource is the eventSource of every DynamoDB stream record.
const EventSource = "aws:dynamodb"

// ToAttributeValue converts one Lambda event attribute value into the SDK v2
// DynamoDB attribute value. A zero events.DynamoDBAttributeValue (never
// produced by Lambda) is reported as an error.
func ToAttributeValue(av events.DynamoDBAttributeValue) (out types.AttributeValue, err error) {
	defer func() {
		// The accessors of events.DynamoDBAttributeValue panic on a zero
		// value (its dataType says Binary but it holds nothing).
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("ddbevent: invalid attribute value: %v", r)
		}
	}()
	switch av.DataType() {
	case events.DataTypeString:
		return &types.AttributeValueMemberS{Value: av.String()}, nil
	case events.DataTypeNumber:
		return &types.AttributeValueMemberN{Value: av.Number()}, nil
	case events.DataTypeBinary:
		return &types.AttributeValueMemberB{Value: av.Binary()}, nil
	case events.DataTypeBoolean:
		return &types.AttributeValueMemberBOOL{Value: av.Boolean()}, nil
	case events.DataTypeNull:
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case events.DataTypeStringSet:
		return &types.AttributeValueMemberSS{Value: av.StringSet()}, nil
	case events.DataTypeNumberSet:
		return &types.AttributeValueMemberNS{Value: av.NumberSet()}, nil
	case events.DataTypeBinarySet:
		return &types.AttributeValueMemberBS{Value: av.BinarySet()}, nil
	case events.DataTypeList:
		in := av.List()
		l := make([]types.AttributeValue, len(in))
		for i, v := range in {
			if l[i], err = ToAttributeValue(v); err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
		}
		return &types.AttributeValueMemberL{Value: l}, nil
	case events.DataTypeMap:
		m, err := ToAttributeValueMap(av.Map())
		if err != nil {
			return nil, err
		}
		if m == nil {
			m = map[string]types.AttributeValue{}
		}
		return &types.AttributeValueMemberM{Value: m}, nil
	}
	return nil, fmt.Errorf("ddbevent: unsupported attribute data type %d", av.DataType())
}

// ToAttributeValueMap converts a Lambda stream image (Keys, NewImage,
// OldImage) into an SDK v2 item. A nil map gives a nil map.
func ToAttributeValueMap(m map[string]events.DynamoDBAttributeValue) (map[string]types.AttributeValue, error) {
	if m == nil {
		return nil, nil
	}
	out := make(map[string]types.AttributeValue, len(m))
	for k, v := range m {
		av, err := ToAttributeValue(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", k, err)
		}
		out[k] = av
	}
	return out, nil
}

// UnmarshalImage decodes a Lambda stream image into out with
// attributevalue.UnmarshalMap (struct tags `dynamodbav`).
func UnmarshalImage(m map[string]events.DynamoDBAttributeValue, out any) error {
	item, err := ToAttributeValueMap(m)
	if err != nil {
		return err
	}
	return attributevalue.UnmarshalMap(item, out)
}

// FromAttributeValue converts an SDK v2 DynamoDB attribute value into the
// Lambda event representation.
func FromAttributeValue(av types.AttributeValue) (events.DynamoDBAttributeValue, error) {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return events.NewStringAttribute(v.Value), nil
	case *types.AttributeValueMemberN:
		return events.NewNumberAttribute(v.Value), nil
	case *types.AttributeValueMemberB:
		return events.NewBinaryAttribute(v.Value), nil
	case *types.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(v.Value), nil
	case *types.AttributeValueMemberNULL:
		return events.NewNullAttribute(), nil
	case *types.AttributeValueMemberSS:
		return events.NewStringSetAttribute(v.Value), nil
	case *types.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(v.Value), nil
	case *types.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(v.Value), nil
	case *types.AttributeValueMemberL:
		l := make([]events.DynamoDBAttributeValue, len(v.Value))
		for i, e := range v.Value {
			var err error
			if l[i], err = FromAttributeValue(e); err != nil {
				return events.DynamoDBAttributeValue{}, fmt.Errorf("[%d]: %w", i, err)
			}
		}
		return events.NewListAttribute(l), nil
	case *types.AttributeValueMemberM:
		m, err := FromAttributeValueMap(v.Value)
		if err != nil {
			return events.DynamoDBAttributeValue{}, err
		}
		if m == nil {
			m = map[string]events.DynamoDBAttributeValue{}
		}
		return events.NewMapAttribute(m), nil
	}
	return events.DynamoDBAttributeValue{}, fmt.Errorf("ddbevent: unsupported attribute value %T", av)
}

// FromAttributeValueMap converts an SDK v2 item into a Lambda stream image.
func FromAttributeValueMap(m map[string]types.AttributeValue) (map[string]events.DynamoDBAttributeValue, error) {
	if m == nil {
		return nil, nil
	}
	out := make(map[string]events.DynamoDBAttributeValue, len(m))
	for k, v := range m {
		av, err := FromAttributeValue(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", k, err)
		}
		out[k] = av
	}
	return out, nil
}

// FromStreamAttributeValue converts a DynamoDB Streams API attribute value
// into the Lambda event representation.
func FromStreamAttributeValue(av streamtypes.AttributeValue) (events.DynamoDBAttributeValue, error) {
	switch v := av.(type) {
	case *streamtypes.AttributeValueMemberS:
		return events.NewStringAttribute(v.Value), nil
	case *streamtypes.AttributeValueMemberN:
		return events.NewNumberAttribute(v.Value), nil
	case *streamtypes.AttributeValueMemberB:
		return events.NewBinaryAttribute(v.Value), nil
	case *streamtypes.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(v.Value), nil
	case *streamtypes.AttributeValueMemberNULL:
		return events.NewNullAttribute(), nil
	case *streamtypes.AttributeValueMemberSS:
		return events.NewStringSetAttribute(v.Value), nil
	case *streamtypes.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(v.Value), nil
	case *streamtypes.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(v.Value), nil
	case *streamtypes.AttributeValueMemberL:
		l := make([]events.DynamoDBAttributeValue, len(v.Value))
		for i, e := range v.Value {
			var err error
			if l[i], err = FromStreamAttributeValue(e); err != nil {
				return events.DynamoDBAttributeValue{}, fmt.Errorf("[%d]: %w", i, err)
			}
		}
		return events.NewListAttribute(l), nil
	case *streamtypes.AttributeValueMemberM:
		m, err := FromStreamAttributeValueMap(v.Value)
		if err != nil {
			return events.DynamoDBAttributeValue{}, err
		}
		if m == nil {
			m = map[string]events.DynamoDBAttributeValue{}
		}
		return events.NewMapAttribute(m), nil
	}
	return events.DynamoDBAttributeValue{}, fmt.Errorf("ddbevent: unsupported stream attribute value %T", av)
}

// FromStreamAttributeValueMap converts a DynamoDB Streams API image.
func FromStreamAttributeValueMap(m map[string]streamtypes.AttributeValue) (map[string]events.DynamoDBAttributeValue, error) {
	if m == nil {
		return nil, nil
	}
	out := make(map[string]events.DynamoDBAttributeValue, len(m))
	for k, v := range m {
		av, err := FromStreamAttributeValue(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", k, err)
		}
		out[k] = av
	}
	return out, nil
}

// FromStreamRecord builds the record Lambda delivers for a DynamoDB Streams
// GetRecords record: eventSourceARN is the stream ARN, eventSource is
// "aws:dynamodb", ApproximateCreationDateTime has whole seconds (Lambda sends
// an integer epoch), and userIdentity is kept (set for TTL deletions).
func FromStreamRecord(rec streamtypes.Record, streamARN string) (events.DynamoDBEventRecord, error) {
	out := events.DynamoDBEventRecord{
		AWSRegion:      deref(rec.AwsRegion),
		EventID:        deref(rec.EventID),
		EventName:      string(rec.EventName),
		EventSource:    deref(rec.EventSource),
		EventVersion:   deref(rec.EventVersion),
		EventSourceArn: streamARN,
	}
	if out.EventSource == "" {
		out.EventSource = EventSource
	}
	if rec.UserIdentity != nil {
		out.UserIdentity = &events.DynamoDBUserIdentity{
			Type:        deref(rec.UserIdentity.Type),
			PrincipalID: deref(rec.UserIdentity.PrincipalId),
		}
	}
	if d := rec.Dynamodb; d != nil {
		var err error
		if d.ApproximateCreationDateTime != nil {
			out.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: d.ApproximateCreationDateTime.Truncate(time.Second)}
		}
		if out.Change.Keys, err = FromStreamAttributeValueMap(d.Keys); err != nil {
			return out, fmt.Errorf("Keys: %w", err)
		}
		if out.Change.NewImage, err = FromStreamAttributeValueMap(d.NewImage); err != nil {
			return out, fmt.Errorf("NewImage: %w", err)
		}
		if out.Change.OldImage, err = FromStreamAttributeValueMap(d.OldImage); err != nil {
			return out, fmt.Errorf("OldImage: %w", err)
		}
		out.Change.SequenceNumber = deref(d.SequenceNumber)
		if d.SizeBytes != nil {
			out.Change.SizeBytes = *d.SizeBytes
		}
		out.Change.StreamViewType = string(d.StreamViewType)
	}
	return out, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
