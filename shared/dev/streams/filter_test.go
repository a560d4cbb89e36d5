package streams

import (
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

const (
	evaluatorPattern = `{"eventName":["INSERT"],"dynamodb":{"NewImage":{"type":{"S":["signal"]}}}}`
	moverPattern     = `{"eventName":["INSERT"],"dynamodb":{"NewImage":{"type":{"S":["decision"]},"action":{"S":["move"]}}}}`
)

// rec builds a stream record as Lambda delivers it.
func rec(name string, newImage, oldImage map[string]events.DynamoDBAttributeValue) events.DynamoDBEventRecord {
	r := events.DynamoDBEventRecord{
		AWSRegion: "us-east-1", EventID: "1", EventName: name, EventSource: "aws:dynamodb", EventVersion: "1.1",
		EventSourceArn: "arn:aws:dynamodb:us-east-1:1:table/t/stream/x",
	}
	r.Change.Keys = map[string]events.DynamoDBAttributeValue{"pk": events.NewStringAttribute("p"), "sk": events.NewStringAttribute("s")}
	r.Change.NewImage, r.Change.OldImage = newImage, oldImage
	r.Change.SequenceNumber = "100"
	r.Change.SizeBytes = 42
	r.Change.StreamViewType = "NEW_AND_OLD_IMAGES"
	return r
}

func img(kv ...string) map[string]events.DynamoDBAttributeValue {
	m := map[string]events.DynamoDBAttributeValue{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = events.NewStringAttribute(kv[i+1])
	}
	return m
}

func TestTemplatePatterns(t *testing.T) {
	signal := img("type", "signal", "pk", "p")
	decisionMove := img("type", "decision", "action", "move")
	decisionHold := img("type", "decision", "action", "hold")
	cases := []struct {
		name          string
		r             events.DynamoDBEventRecord
		evaluator, mv bool
	}{
		{"insert signal", rec("INSERT", signal, nil), true, false},
		{"modify signal", rec("MODIFY", signal, signal), false, false},
		{"remove signal", rec("REMOVE", nil, signal), false, false},
		{"insert decision move", rec("INSERT", decisionMove, nil), false, true},
		{"insert decision hold", rec("INSERT", decisionHold, nil), false, false},
		{"modify decision move", rec("MODIFY", decisionMove, decisionHold), false, false},
		{"insert signal with action move", rec("INSERT", img("type", "signal", "action", "move"), nil), true, false},
		{"insert without type", rec("INSERT", img("action", "move"), nil), false, false},
		{"type is a number", rec("INSERT", map[string]events.DynamoDBAttributeValue{"type": events.NewNumberAttribute("1")}, nil), false, false},
		{"old image has the type", rec("INSERT", img("x", "y"), signal), false, false},
	}
	ev, mv := MustCompilePattern(evaluatorPattern), MustCompilePattern(moverPattern)
	for _, c := range cases {
		if got := ev.Match(c.r); got != c.evaluator {
			t.Errorf("%s: evaluator match = %v, want %v", c.name, got, c.evaluator)
		}
		if got := mv.Match(c.r); got != c.mv {
			t.Errorf("%s: mover match = %v, want %v", c.name, got, c.mv)
		}
	}
}

func TestPatternOperators(t *testing.T) {
	doc := `{"eventName":"INSERT","n":5,"f":2.5,"neg":-3,"s":"Hello-World","z":null,"b":true,"empty":"",
		"arr":["a","b",7],"objs":[{"k":"x","v":1},{"k":"y","v":2}],"obj":{"S":"deal#42"},"nums":"5"}`
	cases := []struct {
		pattern string
		want    bool
	}{
		{`{"eventName":["INSERT","MODIFY"]}`, true},
		{`{"eventName":["REMOVE","MODIFY"]}`, false},
		{`{"eventName":["insert"]}`, false},
		{`{"eventName":[{"equals-ignore-case":"insert"}]}`, true},
		{`{"s":[{"prefix":"Hello"}]}`, true},
		{`{"s":[{"prefix":"hello"}]}`, false},
		{`{"s":[{"prefix":{"equals-ignore-case":"hello"}}]}`, true},
		{`{"s":[{"suffix":"World"}]}`, true},
		{`{"s":[{"suffix":{"equals-ignore-case":"WORLD"}}]}`, true},
		{`{"s":[{"suffix":"world"}]}`, false},
		{`{"n":[5]}`, true},
		{`{"n":[5.0]}`, true},
		{`{"n":["5"]}`, false},
		{`{"nums":[5]}`, false},
		{`{"nums":["5"]}`, true},
		{`{"n":[{"numeric":[">",0,"<=",5]}]}`, true},
		{`{"n":[{"numeric":[">",5]}]}`, false},
		{`{"n":[{"numeric":["=",5]}]}`, true},
		{`{"f":[{"numeric":[">=",2.5,"<",3]}]}`, true},
		{`{"neg":[{"numeric":["<",0]}]}`, true},
		{`{"nums":[{"numeric":[">",0]}]}`, false},
		{`{"z":[null]}`, true},
		{`{"missing":[null]}`, false},
		{`{"b":[true]}`, true},
		{`{"b":[false]}`, false},
		{`{"empty":[""]}`, true},
		{`{"s":[{"exists":true}]}`, true},
		{`{"s":[{"exists":false}]}`, false},
		{`{"missing":[{"exists":false}]}`, true},
		{`{"missing":[{"exists":true}]}`, false},
		{`{"obj":[{"exists":true}]}`, false},           // an object is not a leaf value
		{`{"obj":[{"exists":false}]}`, true},           // ... as in EventBridge
		{`{"missing":{"S":[{"exists":false}]}}`, true}, // absent parent
		{`{"missing":{"S":[{"exists":true}]}}`, false}, // absent parent
		{`{"obj":{"S":[{"prefix":"deal#"}]}}`, true},   // nested
		{`{"obj":{"N":[{"exists":true}]}}`, false},     // nested, other type
		{`{"eventName":[{"anything-but":"REMOVE"}]}`, true},
		{`{"eventName":[{"anything-but":["INSERT","MODIFY"]}]}`, false},
		{`{"n":[{"anything-but":[1,2]}]}`, true},
		{`{"n":[{"anything-but":5}]}`, false},
		{`{"s":[{"anything-but":{"prefix":"Hello"}}]}`, false},
		{`{"s":[{"anything-but":{"prefix":"Bye"}}]}`, true},
		{`{"s":[{"anything-but":{"suffix":"World"}}]}`, false},
		{`{"s":[{"anything-but":{"equals-ignore-case":["hello-world"]}}]}`, false},
		{`{"s":[{"anything-but":{"equals-ignore-case":"x"}}]}`, true},
		{`{"missing":[{"anything-but":"x"}]}`, false},
		{`{"arr":["b"]}`, true},                                 // any element
		{`{"arr":[7]}`, true},                                   // numbers in arrays
		{`{"arr":["c"]}`, false},                                // no element
		{`{"objs":{"k":["y"],"v":[2]}}`, true},                  // same element
		{`{"objs":{"k":["x"],"v":[2]}}`, false},                 // fields of different elements
		{`{"eventName":["INSERT"],"n":[6]}`, false},             // AND
		{`{"eventName":["INSERT"],"s":[{"prefix":"H"}]}`, true}, // AND
		{`{"n":[1,{"numeric":[">",4]}]}`, true},                 // OR inside a leaf
		{`{"missing":["x",{"exists":false}]}`, true},            // OR with exists
	}
	for _, c := range cases {
		p, err := CompilePattern(c.pattern)
		if err != nil {
			t.Errorf("%s: %v", c.pattern, err)
			continue
		}
		got, err := p.MatchJSON([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("%s: match = %v, want %v", c.pattern, got, c.want)
		}
	}
}

func TestCompilePatternErrors(t *testing.T) {
	cases := []struct{ pattern, want string }{
		{`{"eventName":["INSERT"]`, "invalid JSON"},
		{`["INSERT"]`, "must be a JSON object"},
		{`{}`, "must not be empty"},
		{`{"a":["x"]} {"b":["y"]}`, "trailing data"},
		{`{"eventName":"INSERT"}`, `eventName: value must be an array`},
		{`{"eventName":[]}`, "eventName: empty array"},
		{`{"dynamodb":{}}`, "dynamodb: empty object"},
		{`{"a":[["x"]]}`, "a[0]: match values must be"},
		{`{"a":[{"prefix":"x","suffix":"y"}]}`, "exactly one key"},
		{`{"a":[{"begins-with":"x"}]}`, `unknown operator "begins-with"`},
		{`{"a":[{"wildcard":"x*"}]}`, "not supported"},
		{`{"a":[{"cidr":"10.0.0.0/8"}]}`, "not supported"},
		{`{"$or":[{"a":["x"]},{"b":["y"]}]}`, "not supported"},
		{`{"a":[{"prefix":5}]}`, "a[0].prefix: needs a string"},
		{`{"a":[{"equals-ignore-case":1}]}`, "equals-ignore-case needs a string"},
		{`{"a":[{"exists":"yes"}]}`, "exists needs true or false"},
		{`{"a":[{"numeric":[">"]}]}`, "needs [op, number]"},
		{`{"a":[{"numeric":[">","5"]}]}`, `needs a number after ">"`},
		{`{"a":[{"numeric":["~",5]}]}`, `unknown numeric operator "~"`},
		{`{"a":[{"numeric":[">",1,">",2]}]}`, "one lower bound"},
		{`{"a":[{"numeric":["=",1,"<",2]}]}`, `"=" cannot be combined`},
		{`{"a":[{"anything-but":true}]}`, "anything-but: needs a string, a number"},
		{`{"a":[{"anything-but":[]}]}`, "anything-but: empty list"},
		{`{"a":[{"anything-but":[null]}]}`, "anything-but[0]: needs strings or numbers"},
		{`{"a":[{"anything-but":{"wildcard":"x"}}]}`, `unsupported operator "wildcard"`},
		{`{"a":{"b":[{"exists":true}],"c":"x"}}`, "a.c: value must be an array"},
	}
	for _, c := range cases {
		_, err := CompilePattern(c.pattern)
		if err == nil {
			t.Errorf("%s: want error containing %q, got none", c.pattern, c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not contain %q", c.pattern, err, c.want)
		}
	}
}

func TestFilterIsAnyPattern(t *testing.T) {
	f, err := CompileFilter([]string{evaluatorPattern, moverPattern})
	if err != nil {
		t.Fatal(err)
	}
	if !f.Match(rec("INSERT", img("type", "signal"), nil)) || !f.Match(rec("INSERT", img("type", "decision", "action", "move"), nil)) {
		t.Fatal("filter should pass records matching either pattern")
	}
	if f.Match(rec("MODIFY", img("type", "signal"), nil)) {
		t.Fatal("filter should drop records matching no pattern")
	}
	if !(Filter(nil)).Match(rec("REMOVE", nil, nil)) {
		t.Fatal("no patterns should pass everything")
	}
	if _, err := CompileFilter([]string{evaluatorPattern, `{"x":1}`}); err == nil || !strings.Contains(err.Error(), "Filters[1]") {
		t.Fatalf("want error naming Filters[1], got %v", err)
	}
}
