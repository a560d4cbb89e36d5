package pipedrivetest

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// loadedSpec is a parsed, validated OpenAPI document plus a router over it.
// It is immutable after loading and shared by every Sandbox in the process.
type loadedSpec struct {
	doc      *openapi3.T
	router   routers.Router
	base     string        // path prefix the routes are mounted under, e.g. "/api/v2"
	LoadTime time.Duration // how long parsing + validation + routing took
}

type specEntry struct {
	once sync.Once
	spec *loadedSpec
	err  error
}

// specCache holds each embedded spec parsed once per process: parsing the v2
// document takes most of a second and every test starts its own sandbox.
var specCache sync.Map // base path -> *specEntry

// loadSpecCached loads the spec mounted at base once per process.
func loadSpecCached(data []byte, base string, v1 bool) (*loadedSpec, error) {
	v, _ := specCache.LoadOrStore(base, &specEntry{})
	e := v.(*specEntry)
	e.once.Do(func() { e.spec, e.err = loadSpec(data, base, v1) })
	return e.spec, e.err
}

func loadSpec(data []byte, base string, v1 bool) (*loadedSpec, error) {
	start := time.Now()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("sandbox: parse OpenAPI spec: %w", err)
	}
	opts := []openapi3.ValidationOption{}
	if v1 {
		// Pipedrive's v1 spec has examples that do not match their own schemas.
		opts = append(opts, openapi3.DisableExamplesValidation())
	}
	if err := doc.Validate(context.Background(), opts...); err != nil {
		return nil, fmt.Errorf("sandbox: validate OpenAPI spec: %w", err)
	}
	// The published servers are https://api.pipedrive.com/api/v2 (or /v1); the
	// gorillamux router would then only match that host. Mount the paths under
	// the server's path on any host instead.
	doc.Servers = openapi3.Servers{{URL: base}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("sandbox: build router: %w", err)
	}
	return &loadedSpec{doc: doc, router: router, base: base, LoadTime: time.Since(start)}, nil
}

// tokenCost reads the operation's x-token-cost extension from the spec.
func tokenCost(op *openapi3.Operation) (int, bool) {
	if op == nil || op.Extensions == nil {
		return 0, false
	}
	v, ok := op.Extensions["x-token-cost"]
	if !ok {
		return 0, false
	}
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case uint64:
		return int(n), true
	case float64:
		return int(math.Round(n)), true
	case string:
		i, err := strconv.Atoi(n)
		return i, err == nil
	}
	return 0, false
}

// SpecLoadTimes reports how long loading each cached spec took in this
// process (key is the spec base path, "/api/v2" or "/v1").
func SpecLoadTimes() map[string]time.Duration {
	out := map[string]time.Duration{}
	specCache.Range(func(_, v any) bool {
		e := v.(*specEntry)
		if e.spec != nil {
			out[e.spec.base] = e.spec.LoadTime
		}
		return true
	})
	return out
}
