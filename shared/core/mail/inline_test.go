package mail

import (
	"strings"
	"testing"
)

func TestInlineAnswers(t *testing.T) {
	rows := []struct {
		name, body string
		want, not  []string
	}{
		{"tagged under outlook separator",
			"See my notes in [AB].\n\n-----Original Message-----\nFrom: V <v@vendor.example>\nSent: Monday\n\n> Point one\n[AB] agreed\n> Point two\n[AB] needs a change\n\nAnna Berg\nBuyer Ltd",
			[]string{"[AB] agreed", "[AB] needs a change"}, []string{"Point one", "Anna Berg"}},
		{"capitals between quotes",
			"Answers in capitals.\n\n> How many users?\nABOUT FORTY\n> Which system today?\nSPREADSHEETS\n",
			[]string{"ABOUT FORTY", "SPREADSHEETS"}, []string{"How many users"}},
		{"wrapped quote line is not an answer",
			"Thanks.\n\nOn Mon, 2 Mar 2026 at 10:00, V <v@vendor.example> wrote:\n> We would be glad to extend the trial by two more weeks if the form is\nreturned this week.\n> Regards",
			nil, []string{"returned this week"}},
		{"forwarded history is not the sender's",
			"FYI.\n\n---------- Forwarded message ---------\nFrom: V <v@vendor.example>\nDate: Monday\n\n> a question\nAn answer from the vendor.\n> another\n",
			nil, []string{"An answer from the vendor"}},
		{"unmarked trailing text under history",
			"Ok.\n\n-----Original Message-----\nFrom: V <v@vendor.example>\nSent: Monday\n\n> quoted text\nOld signature line\n",
			nil, []string{"Old signature line"}},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			got := Read(nil, "Re: x", r.body).Text
			for _, w := range r.want {
				if !strings.Contains(got, w) {
					t.Errorf("text %q lacks %q", got, w)
				}
			}
			for _, w := range r.not {
				if strings.Contains(got, w) {
					t.Errorf("text %q has %q", got, w)
				}
			}
		})
	}
}
