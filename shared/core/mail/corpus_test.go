package mail

import (
	"bufio"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testdata/SOURCE.md says where each sample set came from.
const sampleDir = "testdata"

// notMachineByCategory lists index.csv categories whose files are not
// machine mail, with why. Empty: every category in the sample set is.
var notMachineByCategory = map[string]string{}

// TestSisimaiCorpus reads every raw message listed in the sisimai sample set
// (bounces, delivery reports, ARF feedback reports) and requires each to be
// recognised as machine mail.
func TestSisimaiCorpus(t *testing.T) {
	dir := filepath.Join(sampleDir, "sisimai-set-of-emails")
	f, err := os.Open(filepath.Join(dir, "index.csv"))
	if err != nil {
		t.Fatalf("sample set: %v", err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	total, detected := 0, 0
	byKind := map[string]int{}
	for _, r := range rows[1:] {
		path, cat := r[0], r[1]
		raw, err := os.ReadFile(filepath.Join(dir, path))
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if why, ok := notMachineByCategory[cat]; ok {
			t.Logf("%s: skipped (%s)", path, why)
			continue
		}
		total++
		h, subj, body, err := ParseRaw(raw)
		if err != nil {
			t.Errorf("%s: ParseRaw: %v", path, err)
			continue
		}
		m := Read(h, subj, body)
		if m.Machine == "" {
			t.Errorf("%s (%s, subject %q): not detected as machine mail", path, cat, subj)
			continue
		}
		if m.MachineReason == "" {
			t.Errorf("%s: machine kind %q without a reason", path, m.Machine)
		}
		detected++
		if testing.Verbose() && os.Getenv("MAIL_CORPUS_DETAIL") != "" {
			t.Logf("%s\t%s\t%s\t%s", path, cat, m.Machine, m.MachineReason)
		}
		byKind[cat+"->"+m.Machine]++
	}
	t.Logf("sisimai: %d/%d detected as machine mail (%.1f%%); %v", detected, total, 100*float64(detected)/float64(max(total, 1)), byKind)
}

// TestParakweetNegatives passes every human-written sentence of the
// Parakweet email intent set as a body without headers: none is machine mail.
func TestParakweetNegatives(t *testing.T) {
	f, err := os.Open(filepath.Join(sampleDir, "parakweet-email-intent", "Ask0729-fixed.tsv"))
	if err != nil {
		t.Fatalf("sentence set: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n, fp := 0, 0
	for sc.Scan() {
		line := sc.Text()
		_, sentence, ok := strings.Cut(line, "\t")
		if !ok || strings.TrimSpace(sentence) == "" {
			continue
		}
		n++
		if m := Read(nil, "", sentence); m.Machine != "" {
			fp++
			t.Errorf("false positive %s (%s): %q", m.Machine, m.MachineReason, sentence)
		}
	}
	t.Logf("parakweet: %d sentences, %d classified as machine mail", n, fp)
}
