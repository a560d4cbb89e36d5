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
	dir := os.DirFS("markers")
	names, err := fs.Glob(dir, "*.yaml")
	if err != nil || len(names) < 5 {
		t.Fatalf("marker files: %v %v", names, err)
	}
	out := fstest.MapFS{}
	for _, n := range names {
		data, err := fs.ReadFile(dir, n)
		if err != nil {
			t.Fatal(err)
		}
		out[n] = &fstest.MapFile{Data: data}
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
  machine_text_auto_reply: ["jeg er pa ferie"]
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

// A broken marker file fails to load with file, line and problem.
func TestMarkerFileErrors(t *testing.T) {
	cases := map[string]struct{ file, want string }{
		"unknown list": {"language: xx\nmarkers:\n  sign_offz: [hej]\n", "xx.yaml:3: unknown marker list \"sign_offz\""},
		"upper case":   {"language: xx\nmarkers:\n  sign_offs:\n    - Hej\n", "xx.yaml:4: sign_offs: \"Hej\" must be lower case"},
		"not folded":   {"language: xx\nmarkers:\n  recheck_closings: [\"hälsningar\"]\n", "xx.yaml:3: recheck_closings: \"hälsningar\" must be folded"},
		"no hint":      {"language: xx\nmarkers:\n  disclaimer_cues: [\"sekretessbelagd\"]\n", "xx.yaml:3: disclaimer_cues: \"sekretessbelagd\" holds none of the disclaimer_hints"},
		"wrong name":   {"language: yy\n", "xx.yaml:1: language \"yy\" does not match the file name xx.yaml"},
		"unknown key":  {"language: xx\nwords: {}\n", "xx.yaml:2: unknown key \"words\""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := LoadMarkers(markerFilesWith(t, map[string]string{"xx.yaml": c.file}))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("want an error containing %q, got %v", c.want, err)
			}
		})
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
