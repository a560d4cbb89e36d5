// Command ingest-generic is the Lambda behind POST /signals.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/stagemover/stagemover/shared/app"
	"github.com/stagemover/stagemover/shared/platform/config"
)

func main() {
	ctx := context.Background()
	deps := app.Must(app.LambdaDeps(ctx, config.VarTable, config.VarIngestARN))
	handler := app.Must(app.Ingest(deps))
	lambda.Start(handler.Handle)
}
