package lambdatest

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/sivchari/kumo"
)

// SecretsManager is an in-process Secrets Manager (kumo) on 127.0.0.1.
type SecretsManager struct {
	// Endpoint is the base URL to give a function as AWS_ENDPOINT_URL_SECRETS_MANAGER.
	Endpoint string
	Client   *secretsmanager.Client
	srv      *kumo.Server
}

// StartSecretsManager starts kumo for the test and stops it at cleanup.
func StartSecretsManager(t testing.TB) *SecretsManager {
	t.Helper()
	srv := kumo.NewServer()
	t.Cleanup(srv.Close)
	cfg := aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("lambdatest", "lambdatest", ""),
	}
	client := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		o.BaseEndpoint = aws.String(srv.URL)
	})
	return &SecretsManager{Endpoint: srv.URL, Client: client, srv: srv}
}

var secretSeq atomic.Int64

// Put creates a secret with value and returns its ARN. kumo keeps one store
// per process (every server sees the same secrets), so the secret's name is
// name with a unique suffix.
func (s *SecretsManager) Put(t testing.TB, name, value string) string {
	t.Helper()
	name = fmt.Sprintf("%s-%d-%d", name, os.Getpid(), secretSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := s.Client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         aws.String(name),
		SecretString: aws.String(value),
	})
	if err != nil {
		t.Fatalf("lambdatest: create secret %s: %v", name, err)
	}
	return aws.ToString(out.ARN)
}
