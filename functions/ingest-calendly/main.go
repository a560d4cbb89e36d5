// Command ingest-calendly is the Lambda behind POST /webhooks/calendly.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/stagemover/stagemover/shared/app"
	"github.com/stagemover/stagemover/shared/platform/config"
)

func main() {
	ctx := context.Background()
	deps := app.Must(app.LambdaDeps(ctx, config.VarTable, app.VarCalendlySigningKey))
	handler := app.Must(app.IngestCalendly(deps, ""))
	lambda.Start(handler.Handle)
}
