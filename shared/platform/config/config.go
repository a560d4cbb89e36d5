// Package config parses the functions' environment once, at init, into a
// typed struct, and fails fast naming the variable that is missing or wrong.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Modes: shadow records what would move and writes nothing to Pipedrive.
const (
	ModeShadow = "shadow"
	ModeLive   = "live"
)

// Config is every setting any function reads; each function requires only
// the variables it uses (see Require*).
type Config struct {
	TableName               string        // TABLE_NAME
	Mode                    string        // STAGEMOVER_MODE: shadow (default) | live
	PipedriveBaseURL        string        // PIPEDRIVE_BASE_URL
	PipedriveTokenSecretARN string        // PIPEDRIVE_TOKEN_SECRET_ARN
	IntegrationUserID       int64         // PIPEDRIVE_INTEGRATION_USER_ID
	IngestSecretARN         string        // INGEST_SECRET_ARN
	InternalDomains         []string      // INTERNAL_DOMAINS, comma separated
	MetricsNamespace        string        // METRICS_NAMESPACE (default StageMover)
	MoverLease              time.Duration // MOVER_LEASE_SECONDS (default 90)
	MoverConcurrency        int           // MOVER_CONCURRENCY: the mover's reserved concurrency (default 2); its clients split the burst window
	EvidenceWindow          time.Duration // EVIDENCE_WINDOW_DAYS (default 90)
	SignatureTolerance      time.Duration // SIGNATURE_TOLERANCE_SECONDS (default 300)
	StageMapTTL             time.Duration // STAGE_MAP_TTL_SECONDS (default 900)
	RulesFile               string        // RULES_FILE: optional path to a rules YAML in the package
	ExplainNotes            bool          // EXPLAIN_NOTES: a note on the deal after each move (default false)
	ExplainActivities       bool          // EXPLAIN_ACTIVITIES: a follow-up task for vague replies (default false)
	FollowUpDays            int           // EXPLAIN_FOLLOW_UP_DAYS: business days until the follow-up is due (default 2)
	LogLevel                string        // LOG_LEVEL: debug|info|warn|error
}

// Variable names a function can require.
const (
	VarTable       = "TABLE_NAME"
	VarBaseURL     = "PIPEDRIVE_BASE_URL"
	VarTokenSecret = "PIPEDRIVE_TOKEN_SECRET_ARN"
	VarIngestARN   = "INGEST_SECRET_ARN"
)

// minLeaseSeconds leaves a mover time to read, patch and record within its lease.
const minLeaseSeconds = 3

// ErrConfig marks configuration problems.
var ErrConfig = errors.New("configuration")

// Load reads the environment through lookup (os.Getenv in functions) and
// checks that every variable in required is set.
func Load(lookup func(string) string, required ...string) (Config, error) {
	var errs []error
	get := func(name string) string { return strings.TrimSpace(lookup(name)) }
	for _, name := range required {
		if get(name) == "" {
			errs = append(errs, fmt.Errorf("%w: %s is required but not set", ErrConfig, name))
		}
	}
	c := Config{
		TableName:               get(VarTable),
		Mode:                    orDefault(get("STAGEMOVER_MODE"), ModeShadow),
		PipedriveBaseURL:        strings.TrimRight(get(VarBaseURL), "/"),
		PipedriveTokenSecretARN: get(VarTokenSecret),
		IngestSecretARN:         get(VarIngestARN),
		MetricsNamespace:        orDefault(get("METRICS_NAMESPACE"), "StageMover"),
		RulesFile:               get("RULES_FILE"),
		LogLevel:                orDefault(get("LOG_LEVEL"), "info"),
	}
	if c.Mode != ModeShadow && c.Mode != ModeLive {
		errs = append(errs, fmt.Errorf("%w: STAGEMOVER_MODE must be shadow or live, got %q", ErrConfig, c.Mode))
	}
	if c.PipedriveBaseURL != "" {
		if u, err := url.Parse(c.PipedriveBaseURL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			errs = append(errs, fmt.Errorf("%w: PIPEDRIVE_BASE_URL must be an absolute http(s) URL", ErrConfig))
		}
	}
	for _, d := range strings.Split(get("INTERNAL_DOMAINS"), ",") {
		if d = strings.ToLower(strings.TrimSpace(d)); d != "" {
			c.InternalDomains = append(c.InternalDomains, d)
		}
	}
	var err error
	if c.IntegrationUserID, err = intVar(get, "PIPEDRIVE_INTEGRATION_USER_ID", 0); err != nil {
		errs = append(errs, err)
	}
	for _, b := range []struct {
		dst  *bool
		name string
	}{{&c.ExplainNotes, "EXPLAIN_NOTES"}, {&c.ExplainActivities, "EXPLAIN_ACTIVITIES"}} {
		switch v := strings.ToLower(get(b.name)); v {
		case "", "false", "0", "no":
		case "true", "1", "yes":
			*b.dst = true
		default:
			errs = append(errs, fmt.Errorf("%w: %s must be true or false, got %q", ErrConfig, b.name, v))
		}
	}
	if n, err := intVar(get, "EXPLAIN_FOLLOW_UP_DAYS", 2); err != nil || n < 1 || n > 30 {
		errs = append(errs, fmt.Errorf("%w: EXPLAIN_FOLLOW_UP_DAYS must be 1-30", ErrConfig))
	} else {
		c.FollowUpDays = int(n)
	}
	if n, err := intVar(get, "MOVER_CONCURRENCY", 2); err != nil || n < 1 {
		errs = append(errs, fmt.Errorf("%w: MOVER_CONCURRENCY must be a positive integer", ErrConfig))
	} else {
		c.MoverConcurrency = int(n)
	}
	durations := []struct {
		dst  *time.Duration
		name string
		def  int64
		unit time.Duration
	}{
		{&c.MoverLease, "MOVER_LEASE_SECONDS", 90, time.Second},
		{&c.EvidenceWindow, "EVIDENCE_WINDOW_DAYS", 90, 24 * time.Hour},
		{&c.SignatureTolerance, "SIGNATURE_TOLERANCE_SECONDS", 300, time.Second},
		{&c.StageMapTTL, "STAGE_MAP_TTL_SECONDS", 900, time.Second},
	}
	for _, d := range durations {
		n, err := intVar(get, d.name, d.def)
		if err == nil && n <= 0 {
			err = fmt.Errorf("%w: %s must be positive", ErrConfig, d.name)
		}
		if err == nil && d.name == "MOVER_LEASE_SECONDS" && n < minLeaseSeconds {
			err = fmt.Errorf("%w: MOVER_LEASE_SECONDS must be at least %d (and longer than the mover's timeout)", ErrConfig, minLeaseSeconds)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		*d.dst = time.Duration(n) * d.unit
	}
	return c, errors.Join(errs...)
}

// Live reports whether the mover may write to Pipedrive.
func (c Config) Live() bool { return c.Mode == ModeLive }

func intVar(get func(string) string, name string, def int64) (int64, error) {
	v := get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s must be an integer, got %q", ErrConfig, name, v)
	}
	return n, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
