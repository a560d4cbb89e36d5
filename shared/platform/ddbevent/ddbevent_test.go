package ddbevent

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

type attrCase struct {
	name   string
	event  events.DynamoDBAttributeValue
	sdk    types.AttributeValue
	stream streamtypes.AttributeValue
	json   string // Lambda's JSON for the value
}

func attrCases() []attrCase {
	return []attrCase{
		{"S", events.NewStringAttribute("signal"), &types.AttributeValueMemberS{Value: "signal"},
			&streamtypes.AttributeValueMemberS{Value: "signal"}, `{"S":"signal"}`},
		{"S empty", events.NewStringAttribute(""), &types.AttributeValueMemberS{Value: ""},
			&streamtypes.AttributeValueMemberS{Value: ""}, `{"S":""}`},
		{"N", events.NewNumberAttribute("-12.50"), &types.AttributeValueMemberN{Value: "-12.50"},
			&streamtypes.AttributeValueMemberN{Value: "-12.50"}, `{"N":"-12.50"}`},
		{"B", events.NewBinaryAttribute([]byte{0, 1, 2, 255}), &types.AttributeValueMemberB{Value: []byte{0, 1, 2, 255}},
			&streamtypes.AttributeValueMemberB{Value: []byte{0, 1, 2, 255}}, `{"B":"AAEC/w=="}`},
		{"BOOL true", events.NewBooleanAttribute(true), &types.AttributeValueMemberBOOL{Value: true},
			&streamtypes.AttributeValueMemberBOOL{Value: true}, `{"BOOL":true}`},
		{"BOOL false", events.NewBooleanAttribute(false), &types.AttributeValueMemberBOOL{Value: false},
			&streamtypes.AttributeValueMemberBOOL{Value: false}, `{"BOOL":false}`},
		{"NULL", events.NewNullAttribute(), &types.AttributeValueMemberNULL{Value: true},
			&streamtypes.AttributeValueMemberNULL{Value: true}, `{"NULL":true}`},
		{"SS", events.NewStringSetAttribute([]string{"a", "b"}), &types.AttributeValueMemberSS{Value: []string{"a", "b"}},
			&streamtypes.AttributeValueMemberSS{Value: []string{"a", "b"}}, `{"SS":["a","b"]}`},
		{"NS", events.NewNumberSetAttribute([]string{"1", "2.5"}), &types.AttributeValueMemberNS{Value: []string{"1", "2.5"}},
			&streamtypes.AttributeValueMemberNS{Value: []string{"1", "2.5"}}, `{"NS":["1","2.5"]}`},
		{"BS", events.NewBinarySetAttribute([][]byte{{1}, {2, 3}}), &types.AttributeValueMemberBS{Value: [][]byte{{1}, {2, 3}}},
			&streamtypes.AttributeValueMemberBS{Value: [][]byte{{1}, {2, 3}}}, `{"BS":["AQ==","AgM="]}`},
		{"L", events.NewListAttribute([]events.DynamoDBAttributeValue{
			events.NewStringAttribute("x"), events.NewNumberAttribute("1"), events.NewNullAttribute(),
			events.NewListAttribute([]events.DynamoDBAttributeValue{events.NewBooleanAttribute(true)}),
		}), &types.AttributeValueMemberL{Value: []types.AttributeValue{
			&types.AttributeValueMemberS{Value: "x"}, &types.AttributeValueMemberN{Value: "1"}, &types.AttributeValueMemberNULL{Value: true},
			&types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberBOOL{Value: true}}},
		}}, &streamtypes.AttributeValueMemberL{Value: []streamtypes.AttributeValue{
			&streamtypes.AttributeValueMemberS{Value: "x"}, &streamtypes.AttributeValueMemberN{Value: "1"}, &streamtypes.AttributeValueMemberNULL{Value: true},
			&streamtypes.AttributeValueMemberL{Value: []streamtypes.AttributeValue{&streamtypes.AttributeValueMemberBOOL{Value: true}}},
		}}, `{"L":[{"S":"x"},{"N":"1"},{"NULL":true},{"L":[{"BOOL":true}]}]}`},
		{"L empty", events.NewListAttribute([]events.DynamoDBAttributeValue{}), &types.AttributeValueMemberL{Value: []types.AttributeValue{}},
			&streamtypes.AttributeValueMemberL{Value: []streamtypes.AttributeValue{}}, `{"L":[]}`},
		{"M", events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{
			"a": events.NewStringAttribute("x"),
			"m": events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{"n": events.NewNumberAttribute("7")}),
		}), &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"a": &types.AttributeValueMemberS{Value: "x"},
			"m": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"n": &types.AttributeValueMemberN{Value: "7"}}},
		}}, &streamtypes.AttributeValueMemberM{Value: map[string]streamtypes.AttributeValue{
			"a": &streamtypes.AttributeValueMemberS{Value: "x"},
			"m": &streamtypes.AttributeValueMemberM{Value: map[string]streamtypes.AttributeValue{"n": &streamtypes.AttributeValueMemberN{Value: "7"}}},
		}}, `{"M":{"a":{"S":"x"},"m":{"M":{"n":{"N":"7"}}}}}`},
		{"M empty", events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{}), &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}},
			&streamtypes.AttributeValueMemberM{Value: map[string]streamtypes.AttributeValue{}}, `{"M":{}}`},
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAttributeConversions(t *testing.T) {
	for _, c := range attrCases() {
		t.Run(c.name, func(t *testing.T) {
			if got := mustJSON(t, c.event); got != c.json {
				t.Fatalf("fixture JSON = %s, want %s", got, c.json)
			}
			// events -> SDK
			sdk, err := ToAttributeValue(c.event)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(sdk, c.sdk) {
				t.Fatalf("ToAttributeValue = %#v, want %#v", sdk, c.sdk)
			}
			// SDK -> events (round trip)
			back, err := FromAttributeValue(sdk)
			if err != nil {
				t.Fatal(err)
			}
			if got := mustJSON(t, back); got != c.json {
				t.Fatalf("round trip JSON = %s, want %s", got, c.json)
			}
			// streams -> events
			ev, err := FromStreamAttributeValue(c.stream)
			if err != nil {
				t.Fatal(err)
			}
			if got := mustJSON(t, ev); got != c.json {
				t.Fatalf("FromStreamAttributeValue JSON = %s, want %s", got, c.json)
			}
			// Lambda JSON -> events -> SDK
			var decoded events.DynamoDBAttributeValue
			if err := json.Unmarshal([]byte(c.json), &decoded); err != nil {
				t.Fatal(err)
			}
			sdk2, err := ToAttributeValue(decoded)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(sdk2, c.sdk) {
				t.Fatalf("from JSON = %#v, want %#v", sdk2, c.sdk)
			}
		})
	}
}

func TestMapsAndUnmarshalImage(t *testing.T) {
	image := map[string]events.DynamoDBAttributeValue{}
	for _, c := range attrCases() {
		image[strings.ReplaceAll(c.name, " ", "_")] = c.event
	}
	item, err := ToAttributeValueMap(image)
	if err != nil {
		t.Fatal(err)
	}
	back, err := FromAttributeValueMap(item)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := mustJSON(t, image), mustJSON(t, back); a != b {
		t.Fatalf("map round trip:\n%s\n%s", a, b)
	}
	if m, _ := ToAttributeValueMap(nil); m != nil {
		t.Fatal("nil map should stay nil")
	}

	var out struct {
		S    string            `dynamodbav:"S"`
		N    float64           `dynamodbav:"N"`
		B    []byte            `dynamodbav:"B"`
		BOOL bool              `dynamodbav:"BOOL_true"`
		SS   []string          `dynamodbav:"SS,stringset"`
		NS   []float64         `dynamodbav:"NS,numberset"`
		L    []any             `dynamodbav:"L"`
		M    map[string]any    `dynamodbav:"M"`
		ME   map[string]string `dynamodbav:"M_empty"`
		Null *string           `dynamodbav:"NULL"`
	}
	if err := UnmarshalImage(image, &out); err != nil {
		t.Fatal(err)
	}
	if out.S != "signal" || out.N != -12.5 || string(out.B) != "\x00\x01\x02\xff" || !out.BOOL ||
		len(out.SS) != 2 || out.NS[1] != 2.5 || len(out.L) != 4 || out.M["a"] != "x" || out.Null != nil || out.ME == nil {
		t.Fatalf("unexpected unmarshal: %+v", out)
	}
}

func TestZeroValueIsError(t *testing.T) {
	if _, err := ToAttributeValue(events.DynamoDBAttributeValue{}); err == nil {
		t.Fatal("want error for zero attribute value")
	}
	_, err := ToAttributeValueMap(map[string]events.DynamoDBAttributeValue{"x": {}})
	if err == nil || !strings.Contains(err.Error(), `"x"`) {
		t.Fatalf("want error naming the attribute, got %v", err)
	}
	if _, err := FromAttributeValue(nil); err == nil {
		t.Fatal("want error for nil SDK attribute value")
	}
}

func TestFromStreamRecord(t *testing.T) {
	created := time.Date(2026, 3, 1, 12, 0, 5, 700_000_000, time.UTC)
	rec := streamtypes.Record{
		AwsRegion:    aws.String("us-east-1"),
		EventID:      aws.String("c81e728d9d4c2f636f067f89cc14862c"),
		EventName:    streamtypes.OperationTypeModify,
		EventSource:  aws.String("aws:dynamodb"),
		EventVersion: aws.String("1.1"),
		Dynamodb: &streamtypes.StreamRecord{
			ApproximateCreationDateTime: &created,
			Keys: map[string]streamtypes.AttributeValue{
				"pk": &streamtypes.AttributeValueMemberS{Value: "deal#1"},
				"sk": &streamtypes.AttributeValueMemberS{Value: "decision#1"},
			},
			NewImage: map[string]streamtypes.AttributeValue{
				"pk":     &streamtypes.AttributeValueMemberS{Value: "deal#1"},
				"sk":     &streamtypes.AttributeValueMemberS{Value: "decision#1"},
				"action": &streamtypes.AttributeValueMemberS{Value: "move"},
			},
			OldImage: map[string]streamtypes.AttributeValue{
				"pk": &streamtypes.AttributeValueMemberS{Value: "deal#1"},
				"sk": &streamtypes.AttributeValueMemberS{Value: "decision#1"},
			},
			SequenceNumber: aws.String("000000000000000000042"),
			SizeBytes:      aws.Int64(77),
			StreamViewType: streamtypes.StreamViewTypeNewAndOldImages,
		},
	}
	arn := "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026-03-01T00:00:00.000"
	got, err := FromStreamRecord(rec, arn)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"awsRegion":"us-east-1","dynamodb":{"ApproximateCreationDateTime":1772366405,` +
		`"Keys":{"pk":{"S":"deal#1"},"sk":{"S":"decision#1"}},` +
		`"NewImage":{"action":{"S":"move"},"pk":{"S":"deal#1"},"sk":{"S":"decision#1"}},` +
		`"OldImage":{"pk":{"S":"deal#1"},"sk":{"S":"decision#1"}},` +
		`"SequenceNumber":"000000000000000000042","SizeBytes":77,"StreamViewType":"NEW_AND_OLD_IMAGES"},` +
		`"eventID":"c81e728d9d4c2f636f067f89cc14862c","eventName":"MODIFY","eventSource":"aws:dynamodb",` +
		`"eventVersion":"1.1","eventSourceARN":"` + arn + `"}`
	if j := mustJSON(t, got); j != want {
		t.Fatalf("record JSON\n got %s\nwant %s", j, want)
	}

	// A TTL deletion keeps userIdentity; a missing eventSource is filled in.
	rec.EventSource = nil
	rec.EventName = streamtypes.OperationTypeRemove
	rec.UserIdentity = &streamtypes.Identity{Type: aws.String("Service"), PrincipalId: aws.String("dynamodb.amazonaws.com")}
	got, err = FromStreamRecord(rec, arn)
	if err != nil {
		t.Fatal(err)
	}
	if got.EventSource != EventSource || got.UserIdentity == nil || got.UserIdentity.PrincipalID != "dynamodb.amazonaws.com" {
		t.Fatalf("unexpected %+v", got)
	}
	// Handlers read the images back as SDK items.
	item, err := ToAttributeValueMap(got.Change.NewImage)
	if err != nil {
		t.Fatal(err)
	}
	if item["action"].(*types.AttributeValueMemberS).Value != "move" {
		t.Fatal("NewImage action lost")
	}
}
