package intent

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// INTENT_DEBUG="some text" go test -run TestDebugCues ./shared/intent -v
func TestDebugCues(t *testing.T) {
	text := os.Getenv("INTENT_DEBUG")
	if text == "" {
		t.Skip("set INTENT_DEBUG")
	}
	lx, err := baseLexicon()
	if err != nil {
		t.Fatal(err)
	}
	d := tokenize(text)
	for _, s := range d.sents {
		var ws []string
		for i := s.from; i < s.to; i++ {
			w := d.toks[i].norm
			if d.toks[i].flags&tokClauseStart != 0 {
				w = "|" + w
			}
			ws = append(ws, w)
		}
		fmt.Println("SENT", s.question, ws)
	}
	for _, m := range lx.scan(d) {
		info := cueTable[m.cue]
		fmt.Printf("%-22s neg=%v fut=%v q=%v hedge=%v  %q  [%s]\n", m.cue, negatedMatch(d, m, info), futureMatch(d, m), isQuestionContext(d, m), hedgedMatch(d, m, hedgeWords), d.excerpt(m.from, m.to, 120), m.phrase.src)
	}
}

// INTENT_SCAN=file.tsv: print the cues each line's text triggers.
func TestDebugScanFile(t *testing.T) {
	path := os.Getenv("INTENT_SCAN")
	if path == "" {
		t.Skip("set INTENT_SCAN")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st := &state{r: DefaultRules(), t: DefaultRules().Thresholds}
	for _, line := range strings.Split(string(data), "\n") {
		if i := strings.IndexByte(line, '\t'); i >= 0 {
			line = line[i+1:]
		}
		tc := st.readCues(line, false, false)
		for _, c := range tc.order {
			fmt.Printf("%s\t%s\n", c, line)
		}
		vc := st.readCues(line, true, false)
		for _, c := range vc.order {
			fmt.Printf("V:%s\t%s\n", c, line)
		}
	}
}
