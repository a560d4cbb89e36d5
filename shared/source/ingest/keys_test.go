package ingest_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stagemover/stagemover/shared/source/ingest"
)

func TestCheckKey(t *testing.T) {
	for _, tc := range []struct {
		key    string
		reason string // "" when usable
	}{
		{"", "is empty"},
		{" \n\t", "is empty"},
		{"REPLACE_ME", "is a placeholder"},
		{"replace-me", "is a placeholder"},
		{"changeme", "is a placeholder"},
		{"CHANGE_ME_BEFORE_PRODUCTION_1234", "is a placeholder"},
		{"<your-key-here>", "is a placeholder"},
		{"xxxxxxxxxxxxxxxxxxxxxxxx", "is a placeholder"},
		{"0000000000000000", "is a placeholder"},
		{"k3y-15-bytes-ok", "is shorter than 16 bytes"},
		{"k3y-16-bytes-ok!", ""},
		{"local-dev-pandadoc-shared-key", ""},
		{"9f8e7d6c5b4a39281706f5e4d3c2b1a0", ""},
	} {
		t.Run(tc.key, func(t *testing.T) {
			err := ingest.CheckKey("PANDADOC_SHARED_KEY", []byte(tc.key))
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("a usable key refused: %v", err)
				}
				return
			}
			var ke *ingest.KeyError
			if !errors.As(err, &ke) || !errors.Is(err, ingest.ErrKeyUnusable) || ke.Reason != tc.reason {
				t.Fatalf("CheckKey = %v, want a KeyError that %s", err, tc.reason)
			}
			if !strings.Contains(err.Error(), "PANDADOC_SHARED_KEY") {
				t.Errorf("the error does not name the variable: %v", err)
			}
			if k := strings.TrimSpace(tc.key); k != "" && strings.Contains(err.Error(), k) {
				t.Errorf("the error quotes the key")
			}
		})
	}
}

func TestCheckKeys(t *testing.T) {
	good := []byte("a-usable-key-0123456789")
	if err := ingest.CheckKeys("K", [][]byte{good, good}); err != nil {
		t.Fatalf("two usable keys: %v", err)
	}
	if err := ingest.CheckKeys("K", nil); !errors.Is(err, ingest.ErrKeyUnusable) {
		t.Errorf("no keys: %v, want ErrKeyUnusable", err)
	}
	err := ingest.CheckKeys("K", [][]byte{good, []byte("REPLACE_ME")})
	if !errors.Is(err, ingest.ErrKeyUnusable) || !strings.Contains(err.Error(), "key 2 of 2 in K") {
		t.Errorf("a placeholder beside a usable key: %v, want key 2 of 2 refused", err)
	}
}
