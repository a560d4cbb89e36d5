package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		require []string
		wantErr string // substring; "" means no error
		check   func(t *testing.T, c Config)
	}{
		{name: "defaults", env: map[string]string{"TABLE_NAME": "t"}, require: []string{VarTable},
			check: func(t *testing.T, c Config) {
				if c.Mode != ModeShadow || c.Live() {
					t.Errorf("mode = %q, want shadow", c.Mode)
				}
				if c.MoverLease != 90*time.Second || c.EvidenceWindow != 90*24*time.Hour {
					t.Errorf("durations = %v %v", c.MoverLease, c.EvidenceWindow)
				}
			}},
		{name: "missing required names the variable", env: map[string]string{}, require: []string{VarTable, VarTokenSecret},
			wantErr: "PIPEDRIVE_TOKEN_SECRET_ARN is required"},
		{name: "bad mode", env: map[string]string{"STAGEMOVER_MODE": "yolo"}, wantErr: "STAGEMOVER_MODE"},
		{name: "bad url", env: map[string]string{"PIPEDRIVE_BASE_URL": "acme.pipedrive.com"}, wantErr: "PIPEDRIVE_BASE_URL"},
		{name: "bad int", env: map[string]string{"PIPEDRIVE_INTEGRATION_USER_ID": "x1"}, wantErr: "PIPEDRIVE_INTEGRATION_USER_ID"},
		{name: "non-positive duration", env: map[string]string{"MOVER_LEASE_SECONDS": "0"}, wantErr: "MOVER_LEASE_SECONDS must be positive"},
		{name: "domains and live", env: map[string]string{"INTERNAL_DOMAINS": " Vendor.example, ,other.example ", "STAGEMOVER_MODE": "live", "PIPEDRIVE_BASE_URL": "https://acme.pipedrive.com/"},
			check: func(t *testing.T, c Config) {
				if strings.Join(c.InternalDomains, "|") != "vendor.example|other.example" {
					t.Errorf("domains = %v", c.InternalDomains)
				}
				if !c.Live() || c.PipedriveBaseURL != "https://acme.pipedrive.com" {
					t.Errorf("live=%v url=%q", c.Live(), c.PipedriveBaseURL)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(env(tt.env), tt.require...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrConfig) {
					t.Fatalf("err = %v, want %q wrapped in ErrConfig", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}
