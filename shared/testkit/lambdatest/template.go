package lambdatest

import (
	"testing"

	"github.com/stagemover/stagemover/shared/testkit"
)

// TemplateSecretString is testkit.TemplateSecretString.
func TemplateSecretString(t testing.TB, id string) string {
	t.Helper()
	return testkit.TemplateSecretString(t, id)
}

// SecretField is testkit.SecretField.
func SecretField(t testing.TB, secret, field string) string {
	t.Helper()
	return testkit.SecretField(t, secret, field)
}
