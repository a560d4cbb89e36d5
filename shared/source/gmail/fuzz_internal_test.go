package gmail

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzToSignal: any raw message Gmail could return either becomes a valid,
// storable email signal about an outside party, or is skipped with a
// reason; never a panic.
func FuzzToSignal(f *testing.F) {
	seeds := []string{
		"From: Dana <dana@buyer.example>\r\nTo: sam@vendor.example\r\nSubject: Re: pricing\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nCould you send the order form?\r\n",
		"From: sam@vendor.example\r\nTo: =?UTF-8?B?RGFuYQ==?= <dana@buyer.example>, li@vendor.example\r\nSubject: =?ISO-8859-1?Q?Pr=E9sentation?=\r\n\r\nHi\r\n",
		"From: dana@buyer.example\r\nTo: sam@vendor.example\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGr\xfc\xdfe\r\n--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=x.pdf\r\n\r\nAAAA\r\n--b--\r\n",
		"From: MAILER-DAEMON@buyer.example\r\nTo: sam@vendor.example\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"r\"\r\n\r\n--r\r\nContent-Type: message/delivery-status\r\n\r\nAction: failed\r\n--r--\r\n",
		"From: <>\r\n\r\n",
		"not a message",
	}
	for _, s := range seeds {
		f.Add([]byte(s), "1772444467000")
	}
	fe := &Fetcher{InternalDomains: []string{"vendor.example"}}
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw []byte, internalDate string) {
		m := Message{ID: "18e0f4c2a7b9d316", Raw: base64.URLEncoding.EncodeToString(raw), InternalDate: internalDate}
		rec, skip := fe.toSignal("sam@vendor.example", m, now)
		if skip != "" {
			return
		}
		if err := rec.Signal.Validate(); err != nil {
			t.Fatalf("invalid signal accepted: %v", err)
		}
		if rec.PersonEmail == "" || fe.internal(rec.PersonEmail, "sam@vendor.example") {
			t.Fatalf("counterpart %q is not an outside party", rec.PersonEmail)
		}
		if !utf8.ValidString(rec.Signal.Body) || len(rec.Signal.Body) > maxSignalBody {
			t.Fatalf("body not storable (%d bytes)", len(rec.Signal.Body))
		}
		for k, v := range rec.Signal.Headers {
			if !utf8.ValidString(v) || len(v) > maxHeaderValue || strings.EqualFold(k, "Received") {
				t.Fatalf("header %s not storable or not wanted", k)
			}
		}
	})
}

// FuzzPrepareBody: the stored body is always valid UTF-8 and bounded.
func FuzzPrepareBody(f *testing.F) {
	f.Add(`multipart/mixed; boundary="b"`, "", "--b\r\nContent-Type: text/plain\r\n\r\n\xe9t\xe9\r\n--b--\r\n")
	f.Add("text/plain; charset=iso-8859-1", "8bit", "caf\xe9")
	f.Add("text/plain", "base64", "Y2Fmw6k=")
	f.Fuzz(func(t *testing.T, ct, cte, body string) {
		out, _ := prepareBody(ct, cte, body)
		if !utf8.ValidString(out) || len(out) > maxSignalBody {
			t.Fatalf("not storable: %d bytes, valid %v", len(out), utf8.ValidString(out))
		}
	})
}
