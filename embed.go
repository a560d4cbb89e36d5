// Package stagemover embeds the deployment template and the sample events,
// so the local mode applies the deployed stream filters and the demo replays
// the same events from any directory.
package stagemover

import "embed"

// Template is template.yaml, the single description of the table and the
// functions' event sources.
//
//go:embed template.yaml
var Template []byte

// Events holds events/: one sample per function and the demo's signals.
//
//go:embed events
var Events embed.FS
