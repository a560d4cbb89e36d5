package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/stagemover/stagemover"
	"github.com/stagemover/stagemover/shared/app"
	"github.com/stagemover/stagemover/shared/platform/config"
	"github.com/stagemover/stagemover/shared/source/calendly"
	"github.com/stagemover/stagemover/shared/source/docusign"
	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/source/pandadoc"
	"github.com/stagemover/stagemover/shared/testkit/lambdatest"
)

// recordingDB counts every call: a refused delivery must make none.
type recordingDB struct{ calls atomic.Int64 }

func (d *recordingDB) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	d.calls.Add(1)
	return &dynamodb.PutItemOutput{}, nil
}

func (d *recordingDB) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	d.calls.Add(1)
	return &dynamodb.GetItemOutput{}, nil
}

func (d *recordingDB) UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	d.calls.Add(1)
	return &dynamodb.UpdateItemOutput{}, nil
}

func (d *recordingDB) Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	d.calls.Add(1)
	return &dynamodb.QueryOutput{}, nil
}

// oneSecret is a Secrets Manager holding one value under every id.
type oneSecret string

func (s oneSecret) GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	v := string(s)
	return &secretsmanager.GetSecretValueOutput{SecretString: &v}, nil
}

type handler interface {
	Handle(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)
}

var at = time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)

func sample(t *testing.T, name string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	b, err := stagemover.Events.ReadFile("events/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var req events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(b, &req); err != nil {
		t.Fatal(err)
	}
	return req
}

// keySource is one webhook source verified with a shared key: how to build
// its handler (from a local key, or from the secret its variable names), and
// its sample delivery signed as the provider signs it.
type keySource struct {
	name   string
	envVar string // the variable naming its secret
	field  string // the secret's JSON field ("" for a plain-text secret)
	build  func(d app.Deps, key string) (handler, error)
	signed func(t *testing.T, key string) events.APIGatewayV2HTTPRequest
}

var keySources = []keySource{
	{
		name: "generic", envVar: config.VarIngestARN,
		build: func(d app.Deps, key string) (handler, error) {
			d.IngestSecret = key
			if key == "" {
				d.Config.IngestSecretARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ingest"
			}
			return app.Ingest(d)
		},
		signed: func(t *testing.T, key string) events.APIGatewayV2HTTPRequest {
			req := sample(t, "ingest-generic.json")
			ts, sig := ingest.Sign([]byte(key), at, []byte(req.Body))
			req.Headers = map[string]string{"x-stagemover-timestamp": ts, "x-stagemover-signature": sig}
			return req
		},
	},
	{
		name: "calendly", envVar: app.VarCalendlySigningKey, field: calendly.SecretFieldSigningKey,
		build: func(d app.Deps, key string) (handler, error) { return app.IngestCalendly(d, key) },
		signed: func(t *testing.T, key string) events.APIGatewayV2HTTPRequest {
			req := sample(t, "ingest-calendly-created.json")
			req.Headers = map[string]string{"calendly-webhook-signature": calendly.Sign([]byte(key), at, []byte(req.Body))}
			return req
		},
	},
	{
		name: "pandadoc", envVar: app.VarPandaDocKey, field: pandadoc.SecretFieldSharedKey,
		build: func(d app.Deps, key string) (handler, error) { return app.IngestPandaDoc(d, key) },
		signed: func(t *testing.T, key string) events.APIGatewayV2HTTPRequest {
			req := sample(t, "ingest-pandadoc.json")
			sig := pandadoc.Sign([]byte(key), []byte(req.Body))
			req.RawQueryString = "signature=" + sig
			req.QueryStringParameters = map[string]string{"signature": sig}
			return req
		},
	},
	{
		name: "docusign", envVar: app.VarDocuSignKeys, field: "hmac_keys",
		build: func(d app.Deps, key string) (handler, error) { return app.IngestDocuSign(d, key) },
		signed: func(t *testing.T, key string) events.APIGatewayV2HTTPRequest {
			req := sample(t, "ingest-docusign.json")
			req.Headers = map[string]string{"x-docusign-signature-1": docusign.Sign([]byte(key), []byte(req.Body))}
			return req
		},
	},
}

func deps(db *recordingDB, logs *bytes.Buffer) app.Deps {
	return app.Deps{
		Config: config.Config{TableName: "stagemover-test", SignatureTolerance: 5 * time.Minute, MetricsNamespace: "StageMover"},
		DB:     db,
		Log:    slog.New(slog.NewJSONHandler(logs, nil)),
		Now:    func() time.Time { return at },
	}
}

// The keys no route may verify with: empty, a placeholder, shorter than
// 16 bytes, or a list holding one of them.
var unusableKeys = []struct{ name, key string }{
	{"REPLACE_ME", "REPLACE_ME"},
	{"changeme", "changeme"},
	{"placeholder padded past 16 bytes", "REPLACE_ME_WITH_THE_REAL_KEY"},
	{"one character repeated", "xxxxxxxxxxxxxxxxxxxxxxxx"},
	{"15 bytes", "k3y-15-bytes-ok"},
	{"blank", "   "},
}

// A key given directly (the local mode) that no route may verify with
// stops the function from being built, naming the key but never its value.
func TestLocalWebhookKeyMustBeUsable(t *testing.T) {
	for _, src := range keySources {
		for _, k := range unusableKeys {
			t.Run(src.name+"/"+k.name, func(t *testing.T) {
				var logs bytes.Buffer
				db := &recordingDB{}
				h, err := src.build(deps(db, &logs), k.key)
				if err == nil {
					resp, _ := h.Handle(context.Background(), src.signed(t, k.key))
					t.Fatalf("built a handler with an unusable key; a delivery signed with it got %d %s", resp.StatusCode, resp.Body)
				}
				if !errors.Is(err, config.ErrConfig) || !errors.Is(err, ingest.ErrKeyUnusable) {
					t.Errorf("error %q does not wrap config.ErrConfig and ingest.ErrKeyUnusable", err)
				}
				if strings.TrimSpace(k.key) != "" && strings.Contains(err.Error()+logs.String(), strings.TrimSpace(k.key)) {
					t.Errorf("the error or log quotes the key: %q", err)
				}
			})
		}
		t.Run(src.name+"/usable", func(t *testing.T) {
			var logs bytes.Buffer
			if _, err := src.build(deps(&recordingDB{}, &logs), "a-usable-local-key-0123456789"); err != nil {
				t.Fatalf("a usable key: %v", err)
			}
		})
	}
}

// A key read from Secrets Manager that no route may verify with makes the
// route answer 503 "not configured" and store nothing; the log names the
// secret's variable, never the key. Among the values: the SecretString
// template.yaml itself gives the document sources' secrets.
func TestSecretWebhookKeyMustBeUsable(t *testing.T) {
	templates := map[string]string{
		"pandadoc": lambdatest.TemplateSecretString(t, "PandaDocSharedKeySecret"),
		"docusign": lambdatest.TemplateSecretString(t, "DocuSignHmacSecret"),
	}
	const good = "a-usable-secret-key-0123456789"
	for _, src := range keySources {
		wrap := func(key string) string {
			if src.field == "" {
				return key
			}
			b, _ := json.Marshal(map[string]string{src.field: key})
			return string(b)
		}
		type tc struct{ name, secret string }
		cases := []tc{{"empty field", wrap("")}}
		for _, k := range unusableKeys {
			cases = append(cases, tc{k.name, wrap(k.key)})
		}
		if src.field != "" {
			cases = append(cases, tc{"a placeholder after a usable key", wrap(good + ",REPLACE_ME")})
		}
		if v, ok := templates[src.name]; ok {
			cases = append(cases, tc{"template.yaml's secret", v})
		}
		for _, c := range cases {
			t.Run(src.name+"/"+c.name, func(t *testing.T) {
				t.Setenv(src.envVar, "arn:aws:secretsmanager:us-east-1:123456789012:secret:"+src.name)
				var logs bytes.Buffer
				db := &recordingDB{}
				d := deps(db, &logs)
				d.Secrets = oneSecret(c.secret)
				h, err := src.build(d, "")
				if err != nil {
					t.Fatal(err)
				}
				key := c.secret
				if src.field != "" {
					key = lambdatest.SecretField(t, c.secret, src.field)
				}
				for _, k := range strings.Split(key, ",") {
					resp, err := h.Handle(context.Background(), src.signed(t, k))
					if err != nil || resp.StatusCode != http.StatusServiceUnavailable || resp.Body != `{"error":"not configured"}` {
						t.Errorf("signed with the secret's key: %d %s %v, want 503 not configured", resp.StatusCode, resp.Body, err)
					}
				}
				if n := db.calls.Load(); n != 0 {
					t.Errorf("%d table calls for a refused delivery, want 0", n)
				}
				if !strings.Contains(logs.String(), src.envVar) {
					t.Errorf("the log does not name %s:\n%s", src.envVar, logs.String())
				}
				for _, k := range strings.Split(key, ",") {
					if k = strings.TrimSpace(k); k != "" && strings.Contains(logs.String(), k) {
						t.Errorf("the log quotes a key")
					}
				}
			})
		}
		// The same wiring accepts a usable key: the refusals above are the key's.
		t.Run(src.name+"/usable", func(t *testing.T) {
			t.Setenv(src.envVar, "arn:aws:secretsmanager:us-east-1:123456789012:secret:"+src.name)
			var logs bytes.Buffer
			db := &recordingDB{}
			d := deps(db, &logs)
			d.Secrets = oneSecret(wrap(good))
			h, err := src.build(d, "")
			if err != nil {
				t.Fatal(err)
			}
			resp, err := h.Handle(context.Background(), src.signed(t, good))
			if err != nil || resp.StatusCode != http.StatusAccepted {
				t.Errorf("signed with a usable key: %d %s %v, want 202", resp.StatusCode, resp.Body, err)
			}
			if strings.Contains(logs.String(), good) {
				t.Errorf("the log quotes the key")
			}
		})
	}
}
