package app

import (
	"context"
	"fmt"
	"os"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/stagemover/stagemover/shared/platform/config"
)

// LambdaDeps reads the environment and builds AWS clients for a function,
// failing with the name of any missing variable.
func LambdaDeps(ctx context.Context, required ...string) (Deps, error) {
	cfg, err := config.Load(os.Getenv, required...)
	if err != nil {
		return Deps{}, err
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return Deps{}, fmt.Errorf("aws config: %w", err)
	}
	return Deps{
		Config:  cfg,
		DB:      dynamodb.NewFromConfig(awsCfg),
		Secrets: secretsmanager.NewFromConfig(awsCfg),
		Log:     Logger(os.Stdout, cfg.LogLevel),
		Metrics: os.Stdout,
	}, nil
}

// Must stops a function at init with a clear message; Lambda reports an
// init error, which is what a misconfigured deploy should show.
func Must[T any](v T, err error) T {
	if err != nil {
		fmt.Fprintln(os.Stderr, "stagemover: init failed:", err)
		os.Exit(1)
	}
	return v
}

// Must2 is Must for constructors that return two values.
func Must2[A, B any](a A, b B, err error) (A, B) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "stagemover: init failed:", err)
		os.Exit(1)
	}
	return a, b
}
