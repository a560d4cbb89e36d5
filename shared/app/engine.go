package app

import (
	"errors"

	"github.com/stagemover/stagemover/shared/intent"
)

// DefaultEngine returns the intent engine with the embedded rules, or with
// the rules file at path when set.
func DefaultEngine(path string) (intent.Engine, error) {
	return nil, errors.New("intent engine not wired yet")
}
