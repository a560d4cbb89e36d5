package testkit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// MarshalIndent encodes v as the repository's generated JSON files are
// written: two-space indent, HTML characters unescaped, a final newline.
func MarshalIndent(t testing.TB, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Golden compares the generated file rel (slash-separated, from the
// repository root) with want, or writes want there when update is set.
// regen is the command that regenerates it, named in the failure.
func Golden(t testing.TB, rel string, want []byte, update bool, regen string) {
	t.Helper()
	path := RepoPath(t, rel)
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", rel)
		return
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (generate with: %s)", err, regen)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is not what the code generates now; regenerate with %s\n%s", rel, regen, FirstDiff(got, want))
	}
}

// FirstDiff describes the first line where a file and what was generated
// differ ("" when they do not).
func FirstDiff(file, generated []byte) string {
	al, bl := strings.Split(string(file), "\n"), strings.Split(string(generated), "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d:\n  file:      %s\n  generated: %s", i+1, x, y)
		}
	}
	return ""
}
