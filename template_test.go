package stagemover_test

// Checks on template.yaml that cfn-lint and `sam validate` would not make (and
// that neither is available here to make): the build wiring to the Makefile,
// the stream event sources and their filters against real item images,
// least-privilege IAM, the table's settings, logs, tracing and alarms.
//
// The template is read as raw YAML (go.yaml.in/yaml/v3 Node API): goformation
// drops FilterCriteria and does not merge Globals, and the short intrinsic
// tags (!Ref, !GetAtt, !Sub) must parse. Every check is a function returning
// the problems it finds; TestTemplateChecksCanFail mutates the template (or
// Makefile) in memory and requires each check to report the mutation.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"go.yaml.in/yaml/v3"

	"github.com/stagemover/stagemover"
	"github.com/stagemover/stagemover/shared/dev/streams"
	"github.com/stagemover/stagemover/shared/platform/config"
	"github.com/stagemover/stagemover/shared/store"
)

// ---------------------------------------------------------------- model

type tmpl struct {
	root     *yaml.Node // the top-level mapping
	makefile string
	repo     string
}

type resource struct {
	id   string
	typ  string
	node *yaml.Node
}

func parseTemplate(t *testing.T) *tmpl {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(stagemover.Template, &doc); err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		t.Fatal("template.yaml is not a YAML mapping")
	}
	mk, err := os.ReadFile("Makefile")
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	return &tmpl{root: doc.Content[0], makefile: string(mk), repo: wd}
}

// get walks mapping keys; nil when any is missing.
func get(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		if n == nil {
			return nil
		}
		if n.Kind == yaml.AliasNode {
			n = n.Alias
		}
		if n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
				break
			}
		}
		n = next
	}
	return n
}

func pairs(n *yaml.Node) [][2]*yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	var out [][2]*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		out = append(out, [2]*yaml.Node{n.Content[i], n.Content[i+1]})
	}
	return out
}

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

func isTrue(n *yaml.Node) bool { return scalar(n) == "true" }

func list(n *yaml.Node) []*yaml.Node {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.SequenceNode {
		return n.Content
	}
	return []*yaml.Node{n}
}

func scalars(n *yaml.Node) []string {
	var out []string
	for _, e := range list(n) {
		out = append(out, scalar(e))
	}
	return out
}

// intrinsic recognises both !Fn short tags and {"Fn::X": ...} long forms.
func intrinsic(n *yaml.Node) (fn string, arg *yaml.Node) {
	if n == nil {
		return "", nil
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		return strings.TrimPrefix(n.Tag, "!"), n
	}
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 {
		k := n.Content[0].Value
		if k == "Ref" || strings.HasPrefix(k, "Fn::") {
			return strings.TrimPrefix(k, "Fn::"), n.Content[1]
		}
	}
	return "", nil
}

func refOf(n *yaml.Node) string {
	if fn, arg := intrinsic(n); fn == "Ref" {
		return scalar(arg)
	}
	return ""
}

func getAttOf(n *yaml.Node) (res, attr string) {
	fn, arg := intrinsic(n)
	if fn != "GetAtt" {
		return "", ""
	}
	if arg.Kind == yaml.ScalarNode {
		res, attr, _ = strings.Cut(arg.Value, ".")
		return res, attr
	}
	if s := scalars(arg); len(s) == 2 {
		return s[0], s[1]
	}
	return "", ""
}

func subOf(n *yaml.Node) string {
	fn, arg := intrinsic(n)
	if fn != "Sub" {
		return ""
	}
	if arg.Kind == yaml.SequenceNode && len(arg.Content) > 0 {
		return scalar(arg.Content[0])
	}
	return scalar(arg)
}

func (tp *tmpl) resources(typ string) []resource {
	var out []resource
	for _, p := range pairs(get(tp.root, "Resources")) {
		r := resource{id: p[0].Value, typ: scalar(get(p[1], "Type")), node: p[1]}
		if typ == "" || r.typ == typ {
			out = append(out, r)
		}
	}
	return out
}

func (tp *tmpl) resource(id string) *yaml.Node { return get(tp.root, "Resources", id) }

func (tp *tmpl) functions() []resource { return tp.resources("AWS::Serverless::Function") }

// fnProp is a function property, falling back to Globals.Function.
func (tp *tmpl) fnProp(fn resource, key string) *yaml.Node {
	if v := get(fn.node, "Properties", key); v != nil {
		return v
	}
	return get(tp.root, "Globals", "Function", key)
}

// fnEnv merges Globals and function environment variables.
func (tp *tmpl) fnEnv(fn resource) map[string]*yaml.Node {
	env := map[string]*yaml.Node{}
	for _, src := range []*yaml.Node{
		get(tp.root, "Globals", "Function", "Environment", "Variables"),
		get(fn.node, "Properties", "Environment", "Variables"),
	} {
		for _, p := range pairs(src) {
			env[p[0].Value] = p[1]
		}
	}
	return env
}

var buildTarget = regexp.MustCompile(`\$\(call lambda,\s*([^)\s]+)\s*\)`)

// fnDir is the functions/<dir> the Makefile builds fn from ("" if none).
func (tp *tmpl) fnDir(fn resource) string {
	lines := strings.Split(tp.makefile, "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, "build-"+fn.id+":") {
			continue
		}
		for _, r := range lines[i+1:] {
			if !strings.HasPrefix(r, "\t") {
				break
			}
			if m := buildTarget.FindStringSubmatch(r); m != nil {
				return m[1]
			}
		}
	}
	return ""
}

func (tp *tmpl) functionByDir(dir string) (resource, bool) {
	for _, fn := range tp.functions() {
		if tp.fnDir(fn) == dir {
			return fn, true
		}
	}
	return resource{}, false
}

type streamSource struct {
	fn    resource
	name  string
	props *yaml.Node
}

func (tp *tmpl) streamSources() []streamSource {
	var out []streamSource
	for _, fn := range tp.functions() {
		for _, p := range pairs(get(fn.node, "Properties", "Events")) {
			if scalar(get(p[1], "Type")) == "DynamoDB" {
				out = append(out, streamSource{fn: fn, name: p[0].Value, props: get(p[1], "Properties")})
			}
		}
	}
	return out
}

func (s streamSource) patterns() []string {
	var out []string
	for _, f := range list(get(s.props, "FilterCriteria", "Filters")) {
		out = append(out, scalar(get(f, "Pattern")))
	}
	return out
}

// ---------------------------------------------------------------- checks

type check struct {
	name string
	run  func(tp *tmpl) []string
}

var checks = []check{
	{"functions are built by the Makefile", checkBuild},
	{"functions run provided.al2023 on arm64", checkRuntime},
	{"functions are traced", checkTracing},
	{"functions get the variables their main requires", checkEnvironment},
	{"functions have explicit roles", checkRoles},
	{"stream event sources retry safely", checkStreamSources},
	{"stream filters select the right items", checkFilters},
	{"IAM is least privilege", checkIAM},
	{"table settings", checkTable},
	{"mover concurrency and lease", checkMover},
	{"function log groups have a retention", checkLogGroups},
	{"alarms on function errors and the failure queue", checkAlarms},
	{"parameters", checkParameters},
	{"provider routes are deployed only when their source is configured", checkRoutesConfigured},
	{"a conditional source's resources carry its condition", checkSourceConditions},
	{"functions that explain moves can explain them", checkExplain},
	{"sam validate passes with lint on", checkLint},
}

func checkBuild(tp *tmpl) []string {
	var p []string
	fns := tp.functions()
	if len(fns) == 0 {
		return []string{"no AWS::Serverless::Function"}
	}
	for _, need := range []string{"GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0", "-tags lambda.norpc", "-o $(ARTIFACTS_DIR)/bootstrap"} {
		if !strings.Contains(tp.makefile, need) {
			p = append(p, fmt.Sprintf("Makefile: the lambda build does not use %q", need))
		}
	}
	seen := map[string]string{}
	for _, fn := range fns {
		if m := scalar(get(fn.node, "Metadata", "BuildMethod")); m != "makefile" {
			p = append(p, fmt.Sprintf("%s: Metadata.BuildMethod is %q, want makefile", fn.id, m))
		}
		if uri := scalar(tp.fnProp(fn, "CodeUri")); uri == "" || !exists(filepath.Join(tp.repo, uri, "Makefile")) {
			p = append(p, fmt.Sprintf("%s: CodeUri %q has no Makefile", fn.id, uri))
		}
		dir := tp.fnDir(fn)
		if dir == "" {
			p = append(p, fmt.Sprintf("%s: Makefile has no target build-%s with $(call lambda,<dir>)", fn.id, fn.id))
			continue
		}
		if other, dup := seen[dir]; dup {
			p = append(p, fmt.Sprintf("%s and %s both build functions/%s", other, fn.id, dir))
		}
		seen[dir] = fn.id
		src, err := os.ReadFile(filepath.Join(tp.repo, "functions", dir, "main.go"))
		if err != nil {
			p = append(p, fmt.Sprintf("%s: functions/%s/main.go: %v", fn.id, dir, err))
		} else if !regexp.MustCompile(`(?m)^package main\s*$`).Match(src) {
			p = append(p, fmt.Sprintf("%s: functions/%s/main.go is not package main", fn.id, dir))
		}
	}
	return p
}

func checkRuntime(tp *tmpl) []string {
	var p []string
	for _, fn := range tp.functions() {
		if r := scalar(tp.fnProp(fn, "Runtime")); r != "provided.al2023" {
			p = append(p, fmt.Sprintf("%s: Runtime %q, want provided.al2023", fn.id, r))
		}
		if a := scalars(tp.fnProp(fn, "Architectures")); !slices.Equal(a, []string{"arm64"}) {
			p = append(p, fmt.Sprintf("%s: Architectures %v, want [arm64]", fn.id, a))
		}
	}
	return p
}

func checkTracing(tp *tmpl) []string {
	var p []string
	for _, fn := range tp.functions() {
		if v := scalar(tp.fnProp(fn, "Tracing")); v != "Active" {
			p = append(p, fmt.Sprintf("%s: Tracing %q, want Active", fn.id, v))
		}
	}
	return p
}

// The variables a main passes to app.LambdaDeps (config.Var*) make init fail
// when unset, so the template must set each.
func checkEnvironment(tp *tmpl) []string {
	vars := map[string]string{
		"VarTable": config.VarTable, "VarBaseURL": config.VarBaseURL,
		"VarTokenSecret": config.VarTokenSecret, "VarIngestARN": config.VarIngestARN,
	}
	ref := regexp.MustCompile(`config\.(Var\w+)`)
	var p []string
	for _, fn := range tp.functions() {
		dir := tp.fnDir(fn)
		src, err := os.ReadFile(filepath.Join(tp.repo, "functions", dir, "main.go"))
		if err != nil {
			continue // reported by checkBuild
		}
		env := tp.fnEnv(fn)
		for _, m := range ref.FindAllStringSubmatch(string(src), -1) {
			name, ok := vars[m[1]]
			if !ok {
				p = append(p, fmt.Sprintf("functions/%s/main.go uses config.%s, unknown to this test", dir, m[1]))
				continue
			}
			if _, set := env[name]; !set {
				p = append(p, fmt.Sprintf("%s: %s is required by functions/%s but not set in the template", fn.id, name, dir))
			}
		}
		if v := env["PIPEDRIVE_TOKEN_SECRET_ARN"]; v != nil && scalar(get(tp.resource(refOf(v)), "Type")) != "AWS::SecretsManager::Secret" {
			p = append(p, fmt.Sprintf("%s: PIPEDRIVE_TOKEN_SECRET_ARN is not !Ref of a secret", fn.id))
		}
		if v := env["INGEST_SECRET_ARN"]; v != nil && scalar(get(tp.resource(refOf(v)), "Type")) != "AWS::SecretsManager::Secret" {
			p = append(p, fmt.Sprintf("%s: INGEST_SECRET_ARN is not !Ref of a secret", fn.id))
		}
	}
	return p
}

// SAM's generated roles attach managed policies with Resource "*"
// (AWSLambdaDynamoDBExecutionRole, AWSXrayWriteOnlyAccess...).
func checkRoles(tp *tmpl) []string {
	var p []string
	for _, fn := range tp.functions() {
		role, _ := getAttOf(get(fn.node, "Properties", "Role"))
		if scalar(get(tp.resource(role), "Type")) != "AWS::IAM::Role" {
			p = append(p, fmt.Sprintf("%s: Role is not !GetAtt <an AWS::IAM::Role in this template>.Arn", fn.id))
		}
		if get(fn.node, "Properties", "Policies") != nil {
			p = append(p, fmt.Sprintf("%s: Policies would be attached to a generated role; grant them in the explicit role", fn.id))
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

// statements finds every IAM policy statement anywhere in the template.
func statements(n *yaml.Node, path string, out *[]struct {
	path string
	node *yaml.Node
}) {
	if n == nil {
		return
	}
	if n.Kind == yaml.MappingNode && get(n, "Effect") != nil && (get(n, "Action") != nil || get(n, "NotAction") != nil) {
		*out = append(*out, struct {
			path string
			node *yaml.Node
		}{path, n})
		return
	}
	switch n.Kind {
	case yaml.MappingNode:
		for _, p := range pairs(n) {
			statements(p[1], path+"."+p[0].Value, out)
		}
	case yaml.SequenceNode, yaml.DocumentNode:
		for i, c := range n.Content {
			statements(c, fmt.Sprintf("%s[%d]", path, i), out)
		}
	}
}

func checkIAM(tp *tmpl) []string {
	var sts []struct {
		path string
		node *yaml.Node
	}
	statements(get(tp.root, "Resources"), "Resources", &sts)
	if len(sts) == 0 {
		return []string{"no IAM statements found"}
	}
	var p []string
	for _, s := range sts {
		if get(s.node, "NotAction") != nil || get(s.node, "NotResource") != nil {
			p = append(p, s.path+": NotAction/NotResource grant everything else")
		}
		actions := list(get(s.node, "Action"))
		allXRay := len(actions) > 0
		for _, a := range actions {
			v := scalar(a)
			if v == "" {
				p = append(p, fmt.Sprintf("%s: Action %q is not a literal", s.path, a.Value))
				allXRay = false
				continue
			}
			if v == "*" || strings.HasSuffix(v, ":*") {
				p = append(p, fmt.Sprintf("%s: wildcard Action %q", s.path, v))
			}
			if !strings.HasPrefix(v, "xray:") {
				allXRay = false
			}
		}
		for _, r := range list(get(s.node, "Resource")) {
			if scalar(r) == "*" && !allXRay {
				p = append(p, fmt.Sprintf("%s: Resource \"*\" for %v (only X-Ray actions may use it)", s.path, scalars(get(s.node, "Action"))))
			}
		}
	}
	return p
}

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

func checkMover(tp *tmpl) []string {
	fn, ok := tp.functionByDir("mover")
	if !ok {
		return []string{"no function is built from functions/mover"}
	}
	var p []string
	if n, err := strconv.Atoi(scalar(get(fn.node, "Properties", "ReservedConcurrentExecutions"))); err != nil || n < 1 {
		p = append(p, fn.id+": ReservedConcurrentExecutions must be a positive number (bounds the Pipedrive burst)")
	}
	// A lease shorter than the timeout lets a second invocation take a
	// decision a live one still holds (shared/core/mover.Mover.Lease).
	timeout, _ := strconv.Atoi(scalar(tp.fnProp(fn, "Timeout")))
	lease := 70 // config default
	if v := tp.fnEnv(fn)["MOVER_LEASE_SECONDS"]; v != nil {
		lease, _ = strconv.Atoi(scalar(v))
	}
	if timeout <= 0 || lease <= timeout {
		p = append(p, fmt.Sprintf("%s: MOVER_LEASE_SECONDS %d must exceed the Timeout %d", fn.id, lease, timeout))
	}
	return p
}

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

func checkParameters(tp *tmpl) []string {
	var p []string
	params := get(tp.root, "Parameters")
	for _, name := range []string{"PipedriveBaseUrl", "Mode", "IntegrationUserId"} {
		if get(params, name) == nil {
			p = append(p, "parameter "+name+" is missing")
		}
	}
	mode := get(params, "Mode")
	if av := scalars(get(mode, "AllowedValues")); mode != nil && (len(av) != 2 || !slices.Contains(av, "shadow") || !slices.Contains(av, "live")) {
		p = append(p, fmt.Sprintf("parameter Mode: AllowedValues %v, want shadow and live", av))
	}
	if mode != nil && scalar(get(mode, "Default")) != "shadow" {
		p = append(p, "parameter Mode must default to shadow (a new deploy writes nothing to Pipedrive)")
	}
	wired := map[string]string{"STAGEMOVER_MODE": "Mode", "PIPEDRIVE_BASE_URL": "PipedriveBaseUrl", "PIPEDRIVE_INTEGRATION_USER_ID": "IntegrationUserId"}
	for _, fn := range tp.functions() {
		env := tp.fnEnv(fn)
		for v, param := range wired {
			if refOf(env[v]) != param {
				p = append(p, fmt.Sprintf("%s: %s is not !Ref %s", fn.id, v, param))
			}
		}
	}
	return p
}

// refs collects the logical ids n refers to: Ref, GetAtt, ${X} and
// ${X.Attr} in Sub, and DependsOn (parameters and pseudo parameters too;
// callers look the ids up among the resources).
func refs(n *yaml.Node, out map[string]bool) {
	if n == nil {
		return
	}
	switch fn, arg := intrinsic(n); fn {
	case "Ref":
		out[scalar(arg)] = true
		return
	case "GetAtt":
		res, _ := getAttOf(n)
		out[res] = true
		return
	case "Sub":
		for _, m := range subVar.FindAllStringSubmatch(subOf(n), -1) {
			out[m[1]] = true
		}
		if arg.Kind == yaml.SequenceNode && len(arg.Content) > 1 {
			refs(arg.Content[1], out)
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		refs(n.Alias, out)
		return
	}
	for i, c := range n.Content {
		if n.Kind == yaml.MappingNode && i%2 == 0 {
			if c.Value == "DependsOn" {
				for _, d := range scalars(n.Content[i+1]) {
					out[d] = true
				}
			}
			continue
		}
		refs(c, out)
	}
}

var subVar = regexp.MustCompile(`\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}`)

// condition is the Condition a resource or output carries ("" for none).
func condition(n *yaml.Node) string { return scalar(get(n, "Condition")) }

// evalCondition evaluates a template condition with every parameter at its
// default (the deploy nobody configured).
func (tp *tmpl) evalCondition(name string) (bool, error) {
	n := get(tp.root, "Conditions", name)
	if n == nil {
		return false, fmt.Errorf("no condition %s", name)
	}
	return tp.evalCond(n)
}

func (tp *tmpl) evalCond(n *yaml.Node) (bool, error) {
	fn, arg := intrinsic(n)
	args := list(arg)
	if fn == "Condition" {
		return tp.evalCondition(scalar(arg))
	}
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 && n.Content[0].Value == "Condition" {
		return tp.evalCondition(scalar(n.Content[1]))
	}
	switch fn {
	case "Equals":
		if len(args) != 2 {
			return false, fmt.Errorf("Equals takes two values")
		}
		a, err := tp.defaultValue(args[0])
		if err != nil {
			return false, err
		}
		b, err := tp.defaultValue(args[1])
		return a == b, err
	case "Not":
		if len(args) != 1 {
			return false, fmt.Errorf("Not takes one condition")
		}
		v, err := tp.evalCond(args[0])
		return !v, err
	case "And", "Or":
		all, anyTrue := true, false
		for _, a := range args {
			v, err := tp.evalCond(a)
			if err != nil {
				return false, err
			}
			all, anyTrue = all && v, anyTrue || v
		}
		if fn == "And" {
			return all, nil
		}
		return anyTrue, nil
	}
	return false, fmt.Errorf("condition function %q is not known to this test", fn)
}

func (tp *tmpl) defaultValue(n *yaml.Node) (string, error) {
	if ref := refOf(n); ref != "" {
		p := get(tp.root, "Parameters", ref)
		if p == nil {
			return "", fmt.Errorf("!Ref %s is not a parameter", ref)
		}
		return scalar(get(p, "Default")), nil
	}
	if n.Kind != yaml.ScalarNode {
		return "", fmt.Errorf("value is neither a literal nor !Ref of a parameter")
	}
	return n.Value, nil
}

func (tp *tmpl) httpAPIEvents(fn resource) []*yaml.Node {
	var out []*yaml.Node
	for _, p := range pairs(get(fn.node, "Properties", "Events")) {
		if scalar(get(p[1], "Type")) == "HttpApi" {
			out = append(out, get(p[1], "Properties"))
		}
	}
	return out
}

// A route of a provider (every route but our own POST /signals) verifies
// deliveries with something the operator must configure first; until then
// it must not exist, so a deploy with the defaults has none.
func checkRoutesConfigured(tp *tmpl) []string {
	var p []string
	for _, fn := range tp.functions() {
		if len(tp.httpAPIEvents(fn)) == 0 || tp.fnDir(fn) == "ingest-generic" {
			continue
		}
		c := condition(fn.node)
		if c == "" {
			p = append(p, fn.id+": a provider route without a Condition (deployed even when its source is not configured)")
			continue
		}
		on, err := tp.evalCondition(c)
		if err != nil {
			p = append(p, fmt.Sprintf("%s: Condition %s: %v", fn.id, c, err))
		} else if on {
			p = append(p, fmt.Sprintf("%s: Condition %s holds with the parameters' defaults (the route is deployed unconfigured)", fn.id, c))
		}
	}
	return p
}

// A conditional function's role, log group and alarms, and a secret the
// template fills with a placeholder that only that source reads, exist only
// with it; and whatever refers to a conditional resource carries the same
// condition (else CloudFormation cannot deploy the template with it false).
func checkSourceConditions(tp *tmpl) []string {
	var p []string
	type referrer struct{ id, cond string }
	var all []referrer
	refersTo := map[string][]referrer{}
	add := func(id string, n *yaml.Node) {
		r := referrer{id, condition(n)}
		all = append(all, r)
		found := map[string]bool{}
		refs(n, found)
		for target := range found {
			if target != id {
				refersTo[target] = append(refersTo[target], r)
			}
		}
	}
	for _, r := range tp.resources("") {
		add(r.id, r.node)
	}
	for _, o := range pairs(get(tp.root, "Outputs")) {
		add("Outputs."+o[0].Value, o[1])
	}
	for _, r := range tp.resources("") {
		c := condition(r.node)
		if c == "" {
			continue
		}
		for _, from := range refersTo[r.id] {
			if from.cond != c {
				p = append(p, fmt.Sprintf("%s refers to %s (Condition %s) but has Condition %q", from.id, r.id, c, from.cond))
			}
		}
	}
	for _, fn := range tp.functions() {
		c := condition(fn.node)
		if c == "" {
			continue
		}
		own := map[string]string{}
		role, _ := getAttOf(get(fn.node, "Properties", "Role"))
		own[role] = "role"
		own[refOf(get(fn.node, "Properties", "LoggingConfig", "LogGroup"))] = "log group"
		for _, a := range tp.resources("AWS::CloudWatch::Alarm") {
			for _, d := range list(get(a.node, "Properties", "Dimensions")) {
				if refOf(get(d, "Value")) == fn.id {
					own[a.id] = "alarm"
				}
			}
		}
		delete(own, "")
		for id, what := range own {
			if n := tp.resource(id); n != nil && condition(n) != c {
				p = append(p, fmt.Sprintf("%s: its %s %s has Condition %q, want %s", fn.id, what, id, condition(n), c))
			}
		}
	}
	for _, s := range tp.resources("AWS::SecretsManager::Secret") {
		if get(s.node, "Properties", "SecretString") == nil || condition(s.node) != "" {
			continue
		}
		users := refersTo[s.id]
		if len(users) == 0 {
			continue
		}
		c := users[0].cond
		for _, u := range users {
			if u.cond != c {
				c = ""
			}
		}
		if c != "" {
			p = append(p, fmt.Sprintf("%s: a placeholder secret only %s resources read has no Condition %s", s.id, c, c))
		}
	}
	return p
}

// The mover and the sweeper both finish moves and write the explanations
// (app.Mover builds explain.Writer when EXPLAIN_* say so); the notes name
// senders from the signals on the table's index (explain.Writer.senders).
func checkExplain(tp *tmpl) []string {
	var p []string
	found := 0
	for _, fn := range tp.functions() {
		src, err := os.ReadFile(filepath.Join(tp.repo, "functions", tp.fnDir(fn), "main.go"))
		if err != nil || !regexp.MustCompile(`app\.(Mover|MoverSweeper)\(`).Match(src) {
			continue
		}
		found++
		env := tp.fnEnv(fn)
		for v, param := range map[string]string{"EXPLAIN_NOTES": "ExplainNotes", "EXPLAIN_ACTIVITIES": "ExplainActivities"} {
			if refOf(env[v]) != param {
				p = append(p, fmt.Sprintf("%s: %s is not !Ref %s (the moves it finishes get no explanation)", fn.id, v, param))
			}
		}
		role, _ := getAttOf(get(fn.node, "Properties", "Role"))
		var sts []struct {
			path string
			node *yaml.Node
		}
		statements(tp.resource(role), role, &sts)
		query := false
		for _, s := range sts {
			if scalar(get(s.node, "Effect")) != "Allow" || !slices.Contains(scalars(get(s.node, "Action")), "dynamodb:Query") {
				continue
			}
			for _, r := range list(get(s.node, "Resource")) {
				if subOf(r) == "${Table.Arn}/index/"+store.Index {
					query = true
				}
			}
		}
		if !query {
			p = append(p, fmt.Sprintf("%s: role %s does not allow dynamodb:Query on ${Table.Arn}/index/%s (explanation notes lose their senders)", fn.id, role, store.Index))
		}
	}
	if found == 0 {
		p = append(p, "no function builds app.Mover or app.MoverSweeper")
	}
	return p
}

// samconfig.toml runs cfn-lint on `sam validate`. The SAM transform turns a
// conditional function's HttpApi event into a route whose integration
// refers to the function under Fn::If, which cfn-lint reports as W1028 on
// the API; the API must suppress exactly that warning.
func checkLint(tp *tmpl) []string {
	cfg, err := os.ReadFile(filepath.Join(tp.repo, "samconfig.toml"))
	if err != nil {
		return []string{err.Error()}
	}
	section := string(cfg)
	if i := strings.Index(section, "[default.validate.parameters]"); i >= 0 {
		section = section[i+len("[default.validate.parameters]"):]
		if j := strings.Index(section, "\n["); j >= 0 {
			section = section[:j]
		}
	} else {
		section = ""
	}
	if !regexp.MustCompile(`(?m)^\s*lint\s*=\s*true\s*$`).MatchString(section) {
		return nil
	}
	var p []string
	for _, fn := range tp.functions() {
		if condition(fn.node) == "" {
			continue
		}
		for _, ev := range tp.httpAPIEvents(fn) {
			api := refOf(get(ev, "ApiId"))
			ignored := scalars(get(tp.resource(api), "Metadata", "cfn-lint", "config", "ignore_checks"))
			if !slices.Contains(ignored, "W1028") {
				p = append(p, fmt.Sprintf("%s: conditional route %s on %s, which does not ignore cfn-lint W1028 (sam validate fails with lint = true)", fn.id, scalar(get(ev, "Path")), api))
			}
		}
	}
	return p
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// ---------------------------------------------------------------- tests

func TestTemplate(t *testing.T) {
	tp := parseTemplate(t)
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			for _, problem := range c.run(tp) {
				t.Error(problem)
			}
		})
	}
}

// Every check must be able to fail: each mutation breaks the real template
// (or Makefile) in one way, and the named check must report it.
func TestTemplateChecksCanFail(t *testing.T) {
	setScalar := func(keys ...string) func(tp *tmpl, v string) {
		return func(tp *tmpl, v string) {
			n := get(tp.root, keys...)
			if n == nil {
				panic(fmt.Sprint("no ", keys))
			}
			*n = yaml.Node{Kind: yaml.ScalarNode, Value: v}
		}
	}
	del := func(tp *tmpl, keys ...string) {
		parent := get(tp.root, keys[:len(keys)-1]...)
		if parent == nil {
			panic(fmt.Sprint("no ", keys))
		}
		k := keys[len(keys)-1]
		for i := 0; i+1 < len(parent.Content); i += 2 {
			if parent.Content[i].Value == k {
				parent.Content = append(parent.Content[:i], parent.Content[i+2:]...)
				return
			}
		}
		panic(fmt.Sprint("no ", keys))
	}
	fnProps := func(tp *tmpl, dir string) []string {
		fn, ok := tp.functionByDir(dir)
		if !ok {
			panic("no function for " + dir)
		}
		return []string{"Resources", fn.id, "Properties"}
	}
	event := func(tp *tmpl, dir string) []string {
		for _, s := range tp.streamSources() {
			if tp.fnDir(s.fn) == dir {
				return []string{"Resources", s.fn.id, "Properties", "Events", s.name, "Properties"}
			}
		}
		panic("no stream source for " + dir)
	}
	k := func(base []string, more ...string) []string { return append(append([]string{}, base...), more...) }
	firstPattern := func(tp *tmpl, dir string) *yaml.Node {
		return get(tp.root, k(event(tp, dir), "FilterCriteria", "Filters")...).Content[0]
	}
	statement := func(tp *tmpl, role string, i int) *yaml.Node {
		policy := get(tp.root, "Resources", role, "Properties", "Policies").Content[0]
		return get(policy, "PolicyDocument", "Statement").Content[i]
	}

	mutations := []struct {
		check  string
		what   string
		mutate func(tp *tmpl)
	}{
		{"functions are built by the Makefile", "BuildMethod go1.x", func(tp *tmpl) {
			setScalar("Resources", tp.functions()[0].id, "Metadata", "BuildMethod")(tp, "go1.x")
		}},
		{"functions are built by the Makefile", "build target renamed", func(tp *tmpl) {
			tp.makefile = strings.Replace(tp.makefile, "build-MoverFunction:", "build-Mover:", 1)
		}},
		{"functions are built by the Makefile", "target builds a missing dir", func(tp *tmpl) {
			tp.makefile = strings.Replace(tp.makefile, "$(call lambda,mover)", "$(call lambda,movr)", 1)
		}},
		{"functions are built by the Makefile", "amd64 build", func(tp *tmpl) {
			tp.makefile = strings.Replace(tp.makefile, "GOARCH=arm64", "GOARCH=amd64", 1)
		}},
		{"functions run provided.al2023 on arm64", "old runtime", func(tp *tmpl) {
			setScalar("Globals", "Function", "Runtime")(tp, "provided.al2")
		}},
		{"functions run provided.al2023 on arm64", "x86 function", func(tp *tmpl) {
			get(tp.root, k(fnProps(tp, "mover"))...).Content = append(get(tp.root, k(fnProps(tp, "mover"))...).Content,
				&yaml.Node{Kind: yaml.ScalarNode, Value: "Architectures"},
				&yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Value: "x86_64"}}})
		}},
		{"functions are traced", "tracing off", func(tp *tmpl) { setScalar("Globals", "Function", "Tracing")(tp, "PassThrough") }},
		{"functions get the variables their main requires", "ingest secret unset", func(tp *tmpl) {
			del(tp, k(fnProps(tp, "ingest-generic"), "Environment", "Variables", "INGEST_SECRET_ARN")...)
		}},
		{"functions get the variables their main requires", "base URL unset", func(tp *tmpl) {
			del(tp, "Globals", "Function", "Environment", "Variables", "PIPEDRIVE_BASE_URL")
		}},
		{"functions have explicit roles", "generated role", func(tp *tmpl) { del(tp, k(fnProps(tp, "evaluator"), "Role")...) }},
		{"stream event sources retry safely", "no bisect", func(tp *tmpl) { del(tp, k(event(tp, "mover"), "BisectBatchOnFunctionError")...) }},
		{"stream event sources retry safely", "infinite retries", func(tp *tmpl) {
			setScalar(k(event(tp, "evaluator"), "MaximumRetryAttempts")...)(tp, "-1")
		}},
		{"stream event sources retry safely", "no partial batch response", func(tp *tmpl) {
			del(tp, k(event(tp, "mover"), "FunctionResponseTypes")...)
		}},
		{"stream event sources retry safely", "no failure destination", func(tp *tmpl) {
			del(tp, k(event(tp, "evaluator"), "DestinationConfig")...)
		}},
		{"stream event sources retry safely", "invalid pattern JSON", func(tp *tmpl) {
			*get(firstPattern(tp, "mover"), "Pattern") = yaml.Node{Kind: yaml.ScalarNode, Value: `{"eventName":["INSERT"]`}
		}},
		{"stream event sources retry safely", "no filter", func(tp *tmpl) { del(tp, k(event(tp, "evaluator"), "FilterCriteria")...) }},
		{"stream filters select the right items", "mover filter ignores the action", func(tp *tmpl) {
			*get(firstPattern(tp, "mover"), "Pattern") = yaml.Node{Kind: yaml.ScalarNode, Value: `{"eventName":["INSERT"],"dynamodb":{"NewImage":{"type":{"S":["decision"]}}}}`}
		}},
		{"stream filters select the right items", "evaluator filter takes MODIFY", func(tp *tmpl) {
			*get(firstPattern(tp, "evaluator"), "Pattern") = yaml.Node{Kind: yaml.ScalarNode, Value: `{"dynamodb":{"NewImage":{"type":{"S":["signal"]}}}}`}
		}},
		{"stream filters select the right items", "filters swapped", func(tp *tmpl) {
			a, b := get(firstPattern(tp, "evaluator"), "Pattern"), get(firstPattern(tp, "mover"), "Pattern")
			*a, *b = *b, *a
		}},
		{"IAM is least privilege", "service wildcard", func(tp *tmpl) {
			*get(statement(tp, "MoverRole", 0), "Action") = yaml.Node{Kind: yaml.ScalarNode, Value: "dynamodb:*"}
		}},
		{"IAM is least privilege", "Action *", func(tp *tmpl) {
			*get(statement(tp, "IngestGenericRole", 1), "Action") = yaml.Node{Kind: yaml.ScalarNode, Value: "*"}
		}},
		{"IAM is least privilege", "Resource * on DynamoDB", func(tp *tmpl) {
			*get(statement(tp, "EvaluatorRole", 0), "Resource") = yaml.Node{Kind: yaml.ScalarNode, Value: "*", Style: yaml.DoubleQuotedStyle}
		}},
		{"table settings", "provisioned", func(tp *tmpl) { setScalar("Resources", "Table", "Properties", "BillingMode")(tp, "PROVISIONED") }},
		{"table settings", "keys-only stream", func(tp *tmpl) {
			setScalar("Resources", "Table", "Properties", "StreamSpecification", "StreamViewType")(tp, "KEYS_ONLY")
		}},
		{"table settings", "TTL off", func(tp *tmpl) {
			setScalar("Resources", "Table", "Properties", "TimeToLiveSpecification", "Enabled")(tp, "false")
		}},
		{"table settings", "no PITR", func(tp *tmpl) { del(tp, "Resources", "Table", "Properties", "PointInTimeRecoverySpecification") }},
		{"mover concurrency and lease", "unreserved", func(tp *tmpl) { del(tp, k(fnProps(tp, "mover"), "ReservedConcurrentExecutions")...) }},
		{"mover concurrency and lease", "lease shorter than timeout", func(tp *tmpl) {
			setScalar(k(fnProps(tp, "mover"), "Environment", "Variables", "MOVER_LEASE_SECONDS")...)(tp, "30")
		}},
		{"function log groups have a retention", "no retention", func(tp *tmpl) { del(tp, "Resources", "MoverLogs", "Properties", "RetentionInDays") }},
		{"function log groups have a retention", "no log group", func(tp *tmpl) { del(tp, "Resources", "EvaluatorLogs") }},
		{"alarms on function errors and the failure queue", "no mover alarm", func(tp *tmpl) { del(tp, "Resources", "MoverErrorsAlarm") }},
		{"alarms on function errors and the failure queue", "no queue alarm", func(tp *tmpl) { del(tp, "Resources", "FailureQueueAlarm") }},
		{"alarms on function errors and the failure queue", "alarm without actions", func(tp *tmpl) {
			del(tp, "Resources", "IngestGenericErrorsAlarm", "Properties", "AlarmActions")
		}},
		{"parameters", "no Mode", func(tp *tmpl) { del(tp, "Parameters", "Mode") }},
		{"parameters", "Mode defaults to live", func(tp *tmpl) { setScalar("Parameters", "Mode", "Default")(tp, "live") }},
		{"parameters", "integration user not wired", func(tp *tmpl) {
			del(tp, "Globals", "Function", "Environment", "Variables", "PIPEDRIVE_INTEGRATION_USER_ID")
		}},
		{"provider routes are deployed only when their source is configured", "PandaDoc route always deployed", func(tp *tmpl) {
			del(tp, "Resources", "IngestPandaDocFunction", "Condition")
		}},
		{"provider routes are deployed only when their source is configured", "DocuSign on by default", func(tp *tmpl) {
			setScalar("Parameters", "EnableDocuSign", "Default")(tp, "true")
		}},
		{"a conditional source's resources carry its condition", "placeholder secret always created", func(tp *tmpl) {
			del(tp, "Resources", "PandaDocSharedKeySecret", "Condition")
		}},
		{"a conditional source's resources carry its condition", "log group always created", func(tp *tmpl) {
			del(tp, "Resources", "IngestDocuSignLogs", "Condition")
		}},
		{"a conditional source's resources carry its condition", "alarm on a function that may not exist", func(tp *tmpl) {
			del(tp, "Resources", "IngestDocuSignErrorsAlarm", "Condition")
		}},
		{"a conditional source's resources carry its condition", "output of a secret that may not exist", func(tp *tmpl) {
			del(tp, "Outputs", "PandaDocSharedKeySecretArn", "Condition")
		}},
		{"functions that explain moves can explain them", "sweeper without EXPLAIN_NOTES", func(tp *tmpl) {
			del(tp, k(fnProps(tp, "mover-sweeper"), "Environment", "Variables", "EXPLAIN_NOTES")...)
		}},
		{"functions that explain moves can explain them", "mover cannot query the index", func(tp *tmpl) {
			sts := get(tp.root, "Resources", "MoverRole", "Properties", "Policies").Content[0]
			seq := get(sts, "PolicyDocument", "Statement")
			for i, st := range seq.Content {
				if slices.Contains(scalars(get(st, "Action")), "dynamodb:Query") {
					seq.Content = append(seq.Content[:i], seq.Content[i+1:]...)
					return
				}
			}
			panic("no dynamodb:Query statement in MoverRole")
		}},
		{"sam validate passes with lint on", "W1028 not suppressed", func(tp *tmpl) { del(tp, "Resources", "HttpApi", "Metadata") }},
	}
	byName := map[string]check{}
	for _, c := range checks {
		byName[c.name] = c
	}
	covered := map[string]bool{}
	for _, m := range mutations {
		t.Run(m.check+"/"+m.what, func(t *testing.T) {
			c, ok := byName[m.check]
			if !ok {
				t.Fatalf("no check %q", m.check)
			}
			tp := parseTemplate(t)
			if problems := c.run(tp); len(problems) != 0 {
				t.Fatalf("the unmutated template already fails: %v", problems)
			}
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("mutation does not apply to the template any more: %v", r)
					}
				}()
				m.mutate(tp)
			}()
			problems := c.run(tp)
			if len(problems) == 0 {
				t.Errorf("check %q passed a template with %s", m.check, m.what)
			}
			t.Logf("reported: %v", problems)
		})
		covered[m.check] = true
	}
	for _, c := range checks {
		if !covered[c.name] {
			t.Errorf("check %q has no mutation that makes it fail", c.name)
		}
	}
}
