package stagemover_test

// Checks on the functions: build wiring, runtime, tracing, environment,
// the mover's concurrency and lease, and what explaining moves needs.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/stagemover/stagemover/shared/platform/config"
	"github.com/stagemover/stagemover/shared/store"
)

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
