package app

import (
	"github.com/stagemover/stagemover/shared/core/intent"
)

// DefaultEngine returns the intent engine with the embedded rules, or with
// the rules file at path when set (validated at load: errors name the file,
// line and problem). `stagemover eval` uses the same engine.
func DefaultEngine(path string) (intent.Engine, error) {
	return intent.NewDefaultEngine(path)
}
