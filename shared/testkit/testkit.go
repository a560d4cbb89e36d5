// Package testkit is the one set of test helpers every package's tests
// share: a log buffer to assert on, a settable clock, the repository root,
// the environment template.yaml gives a function, secrets (random values,
// the documented sample keys, the check that none leaks), API Gateway v2
// events and DynamoDB stream batches in the shape AWS delivers them, and
// generated files compared against what is committed.
//
// It is plain Go, imported only by tests. It imports nothing from this
// module, so any package's own tests can use it without an import cycle.
// The Lambda emulator harness built on it is shared/testkit/lambdatest.
package testkit

// The sample deployment every events/ file and test environment names.
const (
	SampleRegion    = "us-east-1"
	SampleAccount   = "123456789012"
	SampleAPIID     = "r8k2m4x7q1"
	SampleURLSuffix = "amazonaws.com"
	// SampleAPIDomain is the HTTP API's default domain.
	SampleAPIDomain = SampleAPIID + ".execute-api." + SampleRegion + "." + SampleURLSuffix
	// SampleMailbox is the vendor's mailbox the mail samples belong to.
	SampleMailbox = "sam.ortega@acme-routing.io"
)
