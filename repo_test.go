package stagemover_test

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// skipDirs are made by tools, not part of the repository.
var skipDirs = map[string]bool{".git": true, ".cache": true, ".build": true, "node_modules": true}

// repoFiles calls f for every file of the repository.
func repoFiles(t *testing.T, f func(path string, data []byte)) {
	t.Helper()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if skipDirs[d.Name()] {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f(path, data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The repository stands alone: a user's clone has nothing beside it, so no
// file may point at the product owner's reference folder, and no note may
// describe code as not yet wired when it is.
func TestRepositoryStandsAlone(t *testing.T) {
	beside := []byte(".." + "/shared")
	stale := regexp.MustCompile(`(?i)nothing here is wired yet|not applied: `)
	repoFiles(t, func(path string, data []byte) {
		if bytes.Contains(data, beside) {
			t.Errorf("%s refers to %s, which a clone does not have", path, beside)
		}
		if strings.HasSuffix(path, ".md") && stale.Match(data) {
			t.Errorf("%s says %q", path, stale.Find(data))
		}
	})
}

// The README's development table names every Go package.
func TestReadmeListsEveryPackage(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, dev, ok := strings.Cut(string(readme), "\n## Development\n")
	if !ok {
		t.Fatal("README has no Development section")
	}
	listed := map[string]bool{}
	cell := regexp.MustCompile("^\\| ([^|]+) \\|")
	name := regexp.MustCompile("`([^`]+)`")
	for _, line := range strings.Split(dev, "\n") {
		if m := cell.FindStringSubmatch(line); m != nil {
			for _, n := range name.FindAllStringSubmatch(m[1], -1) {
				listed[n[1]] = true
			}
		}
	}
	packages := map[string]bool{}
	repoFiles(t, func(path string, _ []byte) {
		if strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") && !strings.Contains(path, "testdata") {
			packages[filepath.ToSlash(filepath.Dir(path))] = true
		}
	})
	if len(packages) < 10 {
		t.Fatalf("found only %d packages: %v", len(packages), packages)
	}
	for p := range packages {
		switch {
		case p == ".":
			p = "."
		case strings.HasPrefix(p, "functions/"):
			p = "functions/<name>"
		}
		if !listed[p] {
			t.Errorf("README's development table does not list %s", p)
		}
	}
}

// Every target the Makefile declares phony exists.
func TestMakefilePhonyTargetsExist(t *testing.T) {
	mk, err := os.ReadFile("Makefile")
	if err != nil {
		t.Fatal(err)
	}
	phony := regexp.MustCompile(`(?m)^\.PHONY:(.*)$`).FindAllSubmatch(mk, -1)
	if len(phony) == 0 {
		t.Fatal("Makefile has no .PHONY line")
	}
	for _, line := range phony {
		for _, target := range strings.Fields(string(line[1])) {
			if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(target) + `:`).Match(mk) {
				t.Errorf(".PHONY names %q, which the Makefile does not define", target)
			}
		}
	}
}
