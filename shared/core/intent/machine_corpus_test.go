package intent_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/core/intent"
	"github.com/stagemover/stagemover/shared/core/mail"
	"github.com/stagemover/stagemover/shared/core/signal"
)

// passThroughMail is a mail reader whose first pass passes the text through
// unchanged: only the reader's conservative second pass is left.
var passThroughMail = intent.WithMailReader(mail.Reader{Parse: func(_ map[string]string, _, body string) mail.Message {
	return mail.Message{Text: body}
}})

// Real bounces, delivery reports and abuse reports (the sisimai set, kept
// once in the mail package's testdata) must never advance a deal, even when they appear to come
// from the buyer's own address.
func TestMachineCorpusNeverAdvances(t *testing.T) {
	if moved, total := machineCorpus(t, 10, intent.NewEngine(intent.DefaultRules())); moved > 0 {
		t.Errorf("%d of %d machine mails advanced a deal", moved, total)
	}
}

// The same with a mail reader whose first pass passes text through: its
// second, conservative pass must hold.
func TestMachineCorpusPassThroughReader(t *testing.T) {
	// raw MIME is the mail reader's job; the safety net must catch nearly all
	if moved, total := machineCorpus(t, 0, intent.NewEngine(intent.DefaultRules(), passThroughMail)); moved*100 > total {
		t.Errorf("%d of %d machine mails advanced a deal with a pass-through reader", moved, total)
	}
}

func machineCorpus(t *testing.T, show int, engine intent.Engine) (moved, total int) {
	dir := filepath.Join("..", "mail", "testdata", "sisimai-set-of-emails", "maildir", "bsd")
	files, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("sisimai maildir not found at %s: %v", dir, err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		in := intent.Input{
			Now:             time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC),
			Deal:            intent.Deal{ID: 1, Pipeline: "Sales", Stage: "Qualified", Status: "open", PersonEmail: "anna@buyer.example", OrgDomain: "buyer.example"},
			InternalDomains: []string{"vendor.example"},
			Signals: []signal.Signal{{Kind: signal.KindEmail, At: time.Date(2026, 5, 9, 12, 0, 0, 0, time.UTC),
				From: "anna@buyer.example", To: []string{"rep@vendor.example"}, Body: string(raw)}},
		}
		d, err := engine.Decide(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		if d.IsMove("open") {
			moved++
			if moved <= show {
				t.Logf("%s moved the deal to %q (%s): %+v", filepath.Base(f), d.Stage, d.Rule, firstCounted(d))
			}
		}
	}
	return moved, len(files)
}

func firstCounted(d intent.Decision) string {
	var b strings.Builder
	for _, r := range d.Reasons {
		if r.Counted {
			b.WriteString(r.Cue + ": " + r.Excerpt + "; ")
		}
	}
	return b.String()
}
