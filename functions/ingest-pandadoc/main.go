// Command ingest-pandadoc is the Lambda behind POST /webhooks/pandadoc.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/stagemover/stagemover/shared/app"
	"github.com/stagemover/stagemover/shared/platform/config"
)

func main() {
	ctx := context.Background()
	deps := app.Must(app.LambdaDeps(ctx, config.VarTable, app.VarPandaDocKey))
	handler := app.Must(app.IngestPandaDoc(deps, ""))
	lambda.Start(handler.Handle)
}
