// Package spec carries Pipedrive's official OpenAPI documents, embedded, so
// the sandbox and the token-cost tests check requests against them on any
// machine. SOURCE.md says where each file came from.
package spec

import _ "embed"

// V2 is Pipedrive's API v2 spec (deals, stages, pipelines, persons, activities,
// dealFields), unchanged.
//
//go:embed openapi-v2.yaml
var V2 []byte

// V1 is the part of Pipedrive's API v1 spec that the project calls where v2
// has no endpoint: /webhooks, /webhooks/{id} and /notes, with the components
// they reference (made by trim.go).
//
//go:embed openapi-v1-subset.yaml
var V1 []byte
