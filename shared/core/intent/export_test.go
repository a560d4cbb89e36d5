package intent

import "github.com/stagemover/stagemover/shared/core/mail"

// SetMailReader swaps the mail reader for a test and returns the restore.
func SetMailReader(f func(headers map[string]string, subject, body string) mail.Message) func() {
	old := readMail
	readMail = f
	return func() { readMail = old }
}
