package ingesttest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// GoldenBytes compares got with the file at path (relative to the package
// under test), writing got there first when update is set. what names the
// generated content in a failure.
func GoldenBytes(t testing.TB, path string, got []byte, update bool, what string) []byte {
	t.Helper()
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from %s:\n got: %s\nwant: %s", what, path, got, want)
	}
	return want
}

// ReadTestdata returns testdata/<name>.json of the package under test.
func ReadTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// GoldenEach runs a subtest per name: normalise(name), indented as JSON
// with a final newline, must equal testdata/golden/<name>.json; with
// update set it is written there first.
func GoldenEach(t *testing.T, names []string, update bool, normalise func(t *testing.T, name string) any) {
	t.Helper()
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			got, err := json.MarshalIndent(normalise(t, name), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			GoldenBytes(t, filepath.Join("testdata", "golden", name+".json"), append(got, '\n'), update, "normalised "+name)
		})
	}
}

// SeedTestdata adds every testdata/*.json delivery and each of extra to
// the fuzz corpus.
func SeedTestdata(f *testing.F, extra ...string) {
	f.Helper()
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range extra {
		f.Add([]byte(s))
	}
}
