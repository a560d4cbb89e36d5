package testkit

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// ModulePath is this repository's module.
const ModulePath = "github.com/stagemover/stagemover"

var root struct {
	sync.Once
	dir string
	err error
}

// Root returns the directory of this module's go.mod, walking up from the
// working directory.
func Root() (string, error) {
	root.Do(func() {
		wd, err := os.Getwd()
		if err != nil {
			root.err = err
			return
		}
		for dir := wd; ; {
			b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
			if err == nil && bytes.Contains(b, []byte("module "+ModulePath+"\n")) {
				root.dir = dir
				return
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				root.err = fmt.Errorf("testkit: no go.mod of %s above %s", ModulePath, wd)
				return
			}
			dir = parent
		}
	})
	return root.dir, root.err
}

// RepoRoot is Root, failing the test when there is none.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// RepoPath is the path of the repository file rel (slash-separated).
func RepoPath(t testing.TB, rel string) string {
	t.Helper()
	return filepath.Join(RepoRoot(t), filepath.FromSlash(rel))
}

// ReadRepoFile reads the repository file rel (slash-separated).
func ReadRepoFile(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(RepoPath(t, rel))
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
	return b
}

// Event returns events/<name>, a sample event (e.g. "mover.json").
func Event(t testing.TB, name string) []byte {
	t.Helper()
	return ReadRepoFile(t, "events/"+name)
}
