package app

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/stagemover/stagemover/shared/core/stagemap"
	"github.com/stagemover/stagemover/shared/platform/config"
	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/source/pdhooks"
	"github.com/stagemover/stagemover/shared/store"
)

// Pipedrive webhook environment variables.
const (
	VarPipedriveWebhookSecret = "PIPEDRIVE_WEBHOOK_SECRET_ARN"
	VarPipedriveWebhookURL    = "PIPEDRIVE_WEBHOOK_URL"
)

func pdTable(d Deps) (pdhooks.Table, error) {
	if _, ok := d.DB.(store.Scanner); !ok {
		return pdhooks.Table{}, store.ErrCannotScan
	}
	return pdhooks.Table{Store: d.store()}, nil
}

// IngestPipedrive builds the handler for POST /pipedrive (webhooks v2): the
// deal mirror, loop prevention, and reverts and misses against our moves.
// creds, when set, replaces the Secrets Manager read (local mode).
func IngestPipedrive(d Deps, creds *pdhooks.Credentials) (*ingest.Handler, error) {
	d.defaults()
	if d.Config.IntegrationUserID <= 0 {
		// Without it our own API changes would be judged as a person's.
		return nil, fmt.Errorf("%w: PIPEDRIVE_INTEGRATION_USER_ID must be the integration user's id (> 0)", config.ErrConfig)
	}
	auth := pdhooks.CredentialsFunc(func(context.Context) (pdhooks.Credentials, error) { return *creds, nil })
	if creds == nil {
		arn := os.Getenv(VarPipedriveWebhookSecret)
		if arn == "" || d.Secrets == nil {
			return nil, fmt.Errorf("%w: %s is required", config.ErrConfig, VarPipedriveWebhookSecret)
		}
		auth = pdhooks.CredentialsFromSecret(d.secretCache(), arn)
	}
	client, err := Pipedrive(d)
	if err != nil {
		return nil, err
	}
	table, err := pdTable(d)
	if err != nil {
		return nil, err
	}
	days := 14
	if v := os.Getenv("REVERT_WINDOW_DAYS"); v != "" {
		if days, err = strconv.Atoi(v); err != nil || days <= 0 {
			return nil, fmt.Errorf("%w: REVERT_WINDOW_DAYS must be a positive integer", config.ErrConfig)
		}
	}
	st := d.store()
	h := d.route("ingest-pipedrive", nil, pdhooks.Key(auth))
	h.Source = &pdhooks.Webhook{
		Table:             table,
		Mirror:            st,
		Stages:            stagemap.New(stagemap.FromPipedrive{API: client}, st, d.Config.StageMapTTL, d.Now),
		IntegrationUserID: d.Config.IntegrationUserID,
		Window:            time.Duration(days) * 24 * time.Hour,
		Now:               d.Now,
		Log:               h.Log,
		Metrics:           h.Metrics,
		EMF:               d.Metrics,
		Namespace:         d.Config.MetricsNamespace,
	}
	return h, nil
}

// RevertReport builds the hourly job that publishes revert and miss rates
// per pipeline and rule as metrics (the RevertRate alarm watches them).
func RevertReport(d Deps) (func(ctx context.Context) error, error) {
	d.defaults()
	table, err := pdTable(d)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		rep, err := table.Report(ctx)
		if err != nil {
			return err
		}
		rep.EmitMetrics(d.Metrics, d.Config.MetricsNamespace, d.Now())
		return nil
	}, nil
}

// PipedriveWebhooks builds the daily job that keeps our webhooks registered
// (Pipedrive deletes one that fails for 3 days); it creates no duplicates.
func PipedriveWebhooks(d Deps) (func(ctx context.Context) error, error) {
	d.defaults()
	url, arn := os.Getenv(VarPipedriveWebhookURL), os.Getenv(VarPipedriveWebhookSecret)
	if url == "" || arn == "" || d.Secrets == nil {
		return nil, fmt.Errorf("%w: %s and %s are required", config.ErrConfig, VarPipedriveWebhookURL, VarPipedriveWebhookSecret)
	}
	client, err := Pipedrive(d)
	if err != nil {
		return nil, err
	}
	creds := pdhooks.CredentialsFromSecret(d.secretCache(), arn)
	return func(ctx context.Context) error {
		c, err := creds(ctx)
		if err != nil {
			return err
		}
		r := &pdhooks.Registrar{API: client, URL: url, Auth: c, UserID: d.Config.IntegrationUserID, Log: d.Log}
		_, err = r.Ensure(ctx, nil)
		return err
	}, nil
}
