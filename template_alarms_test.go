package stagemover_test

// Checks on operations: log group retention and alarms.

import (
	"fmt"
	"slices"

	"go.yaml.in/yaml/v3"
)

func checkLogGroups(tp *tmpl) []string {
	groups := map[string]*yaml.Node{}
	for _, lg := range tp.resources("AWS::Logs::LogGroup") {
		groups[subOf(get(lg.node, "Properties", "LogGroupName"))] = get(lg.node, "Properties")
	}
	byID := map[string]*yaml.Node{}
	for _, lg := range tp.resources("AWS::Logs::LogGroup") {
		byID[lg.id] = get(lg.node, "Properties")
	}
	var p []string
	for _, fn := range tp.functions() {
		// The function names its group with LoggingConfig.LogGroup: !Ref X,
		// or uses Lambda's default /aws/lambda/<function> group.
		props, ok := byID[refOf(get(fn.node, "Properties", "LoggingConfig", "LogGroup"))]
		if !ok {
			props, ok = groups["/aws/lambda/${"+fn.id+"}"]
		}
		if !ok {
			p = append(p, fmt.Sprintf("%s: no AWS::Logs::LogGroup (LoggingConfig.LogGroup or /aws/lambda/${%s})", fn.id, fn.id))
			continue
		}
		if rd := get(props, "RetentionInDays"); rd == nil || (scalar(rd) == "" && refOf(rd) == "") {
			p = append(p, fn.id+": its log group has no RetentionInDays")
		} else if ref := refOf(rd); ref != "" && get(tp.root, "Parameters", ref) == nil {
			p = append(p, fn.id+": RetentionInDays refers to an unknown parameter "+ref)
		}
	}
	return p
}

func checkAlarms(tp *tmpl) []string {
	type alarm struct{ ns, metric, dimName, dimTarget string }
	var alarms []alarm
	for _, a := range tp.resources("AWS::CloudWatch::Alarm") {
		props := get(a.node, "Properties")
		if len(list(get(props, "AlarmActions"))) == 0 {
			continue // an alarm nobody hears about does not count
		}
		for _, d := range list(get(props, "Dimensions")) {
			target := refOf(get(d, "Value"))
			if res, attr := getAttOf(get(d, "Value")); attr != "" {
				target = res + "." + attr
			}
			alarms = append(alarms, alarm{scalar(get(props, "Namespace")), scalar(get(props, "MetricName")), scalar(get(d, "Name")), target})
		}
	}
	var p []string
	for _, fn := range tp.functions() {
		if !slices.Contains(alarms, alarm{"AWS/Lambda", "Errors", "FunctionName", fn.id}) {
			p = append(p, fn.id+": no alarm (with actions) on AWS/Lambda Errors for FunctionName !Ref "+fn.id)
		}
	}
	queues := map[string]bool{}
	for _, s := range tp.streamSources() {
		if q, _ := getAttOf(get(s.props, "DestinationConfig", "OnFailure", "Destination")); q != "" {
			queues[q] = true
		}
	}
	if len(queues) == 0 {
		p = append(p, "no failure queue to alarm on")
	}
	for q := range queues {
		found := false
		for _, a := range alarms {
			if a.ns == "AWS/SQS" && a.dimName == "QueueName" && a.dimTarget == q+".QueueName" {
				found = true
			}
		}
		if !found {
			p = append(p, "no alarm (with actions) on the failure queue "+q)
		}
	}
	return p
}
