package stagemover_test

// Checks on the table, its stream event sources and their filters (run
// against real item images).

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stagemover/stagemover"
	"github.com/stagemover/stagemover/shared/dev/streams"
)

func checkTable(tp *tmpl) []string {
	tables := tp.resources("AWS::DynamoDB::Table")
	if len(tables) == 0 {
		return []string{"no AWS::DynamoDB::Table"}
	}
	var p []string
	for _, tb := range tables {
		props := get(tb.node, "Properties")
		if v := scalar(get(props, "BillingMode")); v != "PAY_PER_REQUEST" {
			p = append(p, fmt.Sprintf("%s: BillingMode %q, want PAY_PER_REQUEST", tb.id, v))
		}
		if v := scalar(get(props, "StreamSpecification", "StreamViewType")); v != "NEW_AND_OLD_IMAGES" {
			p = append(p, fmt.Sprintf("%s: StreamViewType %q, want NEW_AND_OLD_IMAGES", tb.id, v))
		}
		ttl := get(props, "TimeToLiveSpecification")
		if !isTrue(get(ttl, "Enabled")) || scalar(get(ttl, "AttributeName")) != "expires_at" {
			p = append(p, tb.id+": TTL must be enabled on expires_at (the attribute shared/store writes)")
		}
		if !isTrue(get(props, "PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled")) {
			p = append(p, tb.id+": point-in-time recovery is not enabled")
		}
	}
	return p
}

func checkStreamSources(tp *tmpl) []string {
	var p []string
	srcs := tp.streamSources()
	if len(srcs) == 0 {
		return []string{"no DynamoDB event sources"}
	}
	for _, s := range srcs {
		where := s.fn.id + "/" + s.name
		if res, attr := getAttOf(get(s.props, "Stream")); attr != "StreamArn" || scalar(get(tp.resource(res), "Type")) != "AWS::DynamoDB::Table" {
			p = append(p, where+": Stream is not !GetAtt <table>.StreamArn")
		}
		pats := s.patterns()
		if len(pats) == 0 {
			p = append(p, where+": no FilterCriteria.Filters (every item change would invoke it)")
		}
		for i, pat := range pats {
			if !json.Valid([]byte(pat)) {
				p = append(p, fmt.Sprintf("%s: Filters[%d].Pattern is not valid JSON: %s", where, i, pat))
			} else if _, err := streams.CompilePattern(pat); err != nil {
				p = append(p, fmt.Sprintf("%s: Filters[%d]: %v", where, i, err))
			}
		}
		if !slices.Contains(scalars(get(s.props, "FunctionResponseTypes")), "ReportBatchItemFailures") {
			p = append(p, where+": FunctionResponseTypes lacks ReportBatchItemFailures")
		}
		if !isTrue(get(s.props, "BisectBatchOnFunctionError")) {
			p = append(p, where+": BisectBatchOnFunctionError is not true")
		}
		if n, err := strconv.Atoi(scalar(get(s.props, "MaximumRetryAttempts"))); err != nil || n < 0 || n > 10 {
			p = append(p, where+": MaximumRetryAttempts must be set to 0..10 (the default -1 retries until the record expires)")
		}
		if n, err := strconv.Atoi(scalar(get(s.props, "MaximumRecordAgeInSeconds"))); err != nil || n < 60 {
			p = append(p, where+": MaximumRecordAgeInSeconds must be set (the default -1 never gives up)")
		}
		if scalar(get(s.props, "StartingPosition")) == "" {
			p = append(p, where+": no StartingPosition")
		}
		of := get(s.props, "DestinationConfig", "OnFailure")
		q, attr := getAttOf(get(of, "Destination"))
		if scalar(get(of, "Type")) != "SQS" || attr != "Arn" || scalar(get(tp.resource(q), "Type")) != "AWS::SQS::Queue" {
			p = append(p, where+": DestinationConfig.OnFailure is not an SQS queue of this template")
		}
	}
	return p
}

// Item images for the filter check: the sample events (generated from the
// store code) plus variants.
type imageCase struct {
	name      string
	rec       events.DynamoDBEventRecord
	evaluator bool // want the evaluator's filter to pass it
	mover     bool
}

func sampleRecord(name string) (events.DynamoDBEventRecord, error) {
	b, err := stagemover.Events.ReadFile("events/" + name)
	if err != nil {
		return events.DynamoDBEventRecord{}, err
	}
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(b, &ev); err != nil || len(ev.Records) == 0 {
		return events.DynamoDBEventRecord{}, fmt.Errorf("events/%s: %v", name, err)
	}
	return ev.Records[0], nil
}

func withImage(r events.DynamoDBEventRecord, eventName string, set map[string]string) events.DynamoDBEventRecord {
	img := map[string]events.DynamoDBAttributeValue{}
	for k, v := range r.Change.NewImage {
		img[k] = v
	}
	for k, v := range set {
		img[k] = events.NewStringAttribute(v)
	}
	if eventName != "INSERT" {
		r.Change.OldImage = r.Change.NewImage
	}
	r.EventName = eventName
	r.Change.NewImage = img
	return r
}

func imageCases() ([]imageCase, error) {
	sig, err := sampleRecord("evaluator.json")
	if err != nil {
		return nil, err
	}
	move, err := sampleRecord("mover.json")
	if err != nil {
		return nil, err
	}
	return []imageCase{
		{"signal INSERT", sig, true, false},
		{"move decision INSERT", move, false, true},
		{"stay decision INSERT", withImage(move, "INSERT", map[string]string{"action": "stay", "state": "recorded"}), false, false},
		{"signal MODIFY (assigned to a deal)", withImage(sig, "MODIFY", nil), false, false},
		{"move decision MODIFY (claimed/finished by the mover)", withImage(move, "MODIFY", map[string]string{"state": "done"}), false, false},
		{"signal REMOVE (TTL)", withImage(sig, "REMOVE", nil), false, false},
		{"deal mirror INSERT", withImage(move, "INSERT", map[string]string{"type": "deal", "sk": "STATE"}), false, false},
		{"stage map INSERT", withImage(sig, "INSERT", map[string]string{"type": "doc", "pk": "DOC#stagemap", "sk": "CURRENT"}), false, false},
	}, nil
}

func checkFilters(tp *tmpl) []string {
	cases, err := imageCases()
	if err != nil {
		return []string{err.Error()}
	}
	var p []string
	for _, role := range []string{"evaluator", "mover"} {
		fn, ok := tp.functionByDir(role)
		if !ok {
			p = append(p, "no function is built from functions/"+role)
			continue
		}
		var srcs []streamSource
		for _, s := range tp.streamSources() {
			if s.fn.id == fn.id {
				srcs = append(srcs, s)
			}
		}
		if len(srcs) != 1 {
			p = append(p, fmt.Sprintf("%s: %d DynamoDB event sources, want 1", fn.id, len(srcs)))
			continue
		}
		filter, err := streams.CompileFilter(srcs[0].patterns())
		if err != nil || len(filter) == 0 {
			p = append(p, fmt.Sprintf("%s: filter does not compile: %v", fn.id, err))
			continue
		}
		for _, c := range cases {
			want := c.evaluator
			if role == "mover" {
				want = c.mover
			}
			if got := filter.Match(c.rec); got != want {
				p = append(p, fmt.Sprintf("%s (%s): filter passes %s = %v, want %v", fn.id, role, c.name, got, want))
			}
		}
	}
	return p
}
