package gmail

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Environment variables of the Gmail functions.
const (
	EnvPushAudience       = "GMAIL_PUSH_AUDIENCE"          // ingest: the push subscription's OIDC audience
	EnvPushServiceAccount = "GMAIL_PUSH_SERVICE_ACCOUNT"   // ingest: the subscription's push service account email
	EnvMailboxes          = "GMAIL_MAILBOXES"              // renewer (required), ingest (allowlist): comma separated
	EnvCredentialsSecret  = "GMAIL_CREDENTIALS_SECRET_ARN" // fetcher, renewer: service account key or authorized_user JSON
	EnvTopic              = "GMAIL_PUBSUB_TOPIC"           // renewer: projects/{project}/topics/{topic}
	EnvWatchLabels        = "GMAIL_WATCH_LABELS"           // renewer: optional label ids, comma separated
	EnvResyncQuery        = "GMAIL_RESYNC_QUERY"           // fetcher: optional, default newer_than:7d
	EnvCertsURL           = "GOOGLE_CERTS_URL"             // default GoogleCertsURL (the stand-in in tests)
	EnvTokenURL           = "GOOGLE_TOKEN_URL"             // default GoogleTokenURL
	EnvGmailBaseURL       = "GMAIL_BASE_URL"               // default GmailBaseURL
)

// Config is the Gmail part of a function's environment.
type Config struct {
	PushAudience       string
	PushServiceAccount string
	Mailboxes          []string
	CredentialsSecret  string
	Topic              string
	WatchLabels        []string
	ResyncQuery        string
	CertsURL           string
	TokenURL           string
	GmailBaseURL       string
}

// ErrConfig marks a missing or malformed variable.
var ErrConfig = errors.New("gmail configuration")

// LoadConfig reads the variables through lookup (os.Getenv) and checks the
// required ones are set, naming each that is missing or malformed.
func LoadConfig(lookup func(string) string, required ...string) (Config, error) {
	get := func(k string) string { return strings.TrimSpace(lookup(k)) }
	c := Config{
		PushAudience:       get(EnvPushAudience),
		PushServiceAccount: strings.ToLower(get(EnvPushServiceAccount)),
		Mailboxes:          splitList(strings.ToLower(get(EnvMailboxes))),
		CredentialsSecret:  get(EnvCredentialsSecret),
		Topic:              get(EnvTopic),
		WatchLabels:        splitList(get(EnvWatchLabels)),
		ResyncQuery:        get(EnvResyncQuery),
		CertsURL:           orDefault(get(EnvCertsURL), GoogleCertsURL),
		TokenURL:           orDefault(get(EnvTokenURL), GoogleTokenURL),
		GmailBaseURL:       orDefault(get(EnvGmailBaseURL), GmailBaseURL),
	}
	var errs []error
	for _, k := range required {
		if get(k) == "" {
			errs = append(errs, fmt.Errorf("%w: %s is required but not set", ErrConfig, k))
		}
	}
	for k, v := range map[string]string{EnvCertsURL: c.CertsURL, EnvTokenURL: c.TokenURL, EnvGmailBaseURL: c.GmailBaseURL} {
		if u, err := url.Parse(v); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%w: %s must be an http(s) URL", ErrConfig, k))
		}
	}
	if c.Topic != "" {
		p := strings.Split(c.Topic, "/")
		if len(p) != 4 || p[0] != "projects" || p[2] != "topics" || p[1] == "" || p[3] == "" {
			errs = append(errs, fmt.Errorf("%w: %s must be projects/{project}/topics/{topic}", ErrConfig, EnvTopic))
		}
	}
	for _, m := range c.Mailboxes {
		if !mailboxPattern.MatchString(m) {
			errs = append(errs, fmt.Errorf("%w: %s holds %q, not an email address", ErrConfig, EnvMailboxes, m))
		}
	}
	if c.PushServiceAccount != "" && !mailboxPattern.MatchString(c.PushServiceAccount) {
		errs = append(errs, fmt.Errorf("%w: %s must be an email address", ErrConfig, EnvPushServiceAccount))
	}
	return c, errors.Join(errs...)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
