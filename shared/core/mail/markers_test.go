package mail

import (
	"io/fs"
	"os"
	"strings"
	"testing"
	"testing/fstest"
)

// markerFilesWith is the embedded markers (markers/*.yaml) plus extra files.
func markerFilesWith(t *testing.T, extra map[string]string) fstest.MapFS {
	t.Helper()
	out := fstest.MapFS{}
	err := fs.WalkDir(os.DirFS("markers"), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile("markers/" + p)
		out[p] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil || len(out) < 5 {
		t.Fatalf("marker files: %d, %v", len(out), err)
	}
	for n, s := range extra {
		out[n] = &fstest.MapFile{Data: []byte(s)}
	}
	return out
}

// Adding a language is adding a file: a Norwegian file whose sign-off ends
// the sender's text, and whose auto-reply phrase makes a message machine
// mail, without code.
func TestAddingAMarkerLanguageIsAddingAFile(t *testing.T) {
	mk, err := LoadMarkers(markerFilesWith(t, map[string]string{"nb.yaml": `language: nb
markers:
  sign_offs: ["med vennlig hilsen"]
  recheck_text_auto_reply: ["jeg er pa ferie"]
`}))
	if err != nil {
		t.Fatal(err)
	}
	signed := Email{From: "innkjop@fjord.example", Subject: "Re: Tilbud",
		Body: "Hei Sam,\n\nVi tar gjerne et møte på tirsdag.\n\nMed vennlig hilsen\nKari Nordmann\nInnkjøpssjef\nFjord AS"}
	if got := (Reader{}).ReadEmail(signed).Text; !strings.Contains(got, "Fjord AS") {
		t.Fatalf("without nb.yaml the lines under the sign-off stay: %q", got)
	}
	if got := (Reader{Markers: mk}).ReadEmail(signed).Text; strings.Contains(got, "Fjord AS") || !strings.Contains(got, "tirsdag") {
		t.Fatalf("with nb.yaml the signature goes: %q", got)
	}
	away := Email{From: "kari@fjord.example", Subject: "Tilbud", Body: "Hei,\n\nJeg er på ferie til 3. august."}
	if rd := (Reader{}).ReadEmail(away); rd.Machine != "" {
		t.Fatalf("without nb.yaml: %+v", rd)
	}
	if rd := (Reader{Markers: mk}).ReadEmail(away); rd.Machine != MachineAutoReply || rd.MachineReason != "text: jeg er pa ferie" {
		t.Fatalf("with nb.yaml: want an auto-reply, got %+v", rd)
	}
}

// A broken marker file fails to load, every problem named with its file
// and line.
func TestMarkerFileErrors(t *testing.T) {
	_, err := LoadMarkers(markerFilesWith(t, map[string]string{
		"xx.yaml": `language: xx
words: {}
markers:
  sign_offz: [hej]
  sign_offs:
    - Hej
  recheck_closings: ["hälsningar"]
  disclaimer_cues: ["sekretessbelagd"]
  machine_auto_text: ["(detta är ett automatiskt svar"]
`,
		"zz.yaml": "language: yy\n",
	}))
	if err == nil {
		t.Fatal("broken marker files loaded")
	}
	for _, want := range []string{
		`xx.yaml:2: unknown key "words"`,
		`xx.yaml:4: unknown marker list "sign_offz"`,
		`xx.yaml:6: sign_offs: "Hej" must be lower case`,
		`xx.yaml:7: recheck_closings: "hälsningar" must be folded`,
		`xx.yaml:8: disclaimer_cues: "sekretessbelagd" holds none of the disclaimer_hints`,
		`xx.yaml:9: machine_auto_text: "(detta är ett automatiskt svar" is not a regular expression`,
		`zz.yaml:1: language "yy" does not match the file name zz.yaml`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestDefaultMarkersLoad(t *testing.T) {
	if _, err := LoadMarkers(os.DirFS("markers")); err != nil {
		t.Fatal(err)
	}
	if DefaultMarkers() == nil {
		t.Fatal("no default markers")
	}
}
