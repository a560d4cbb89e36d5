// Command ingest-docusign is the Lambda behind POST /webhooks/docusign
// (DocuSign Connect, JSON).
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/stagemover/stagemover/shared/app"
	"github.com/stagemover/stagemover/shared/platform/config"
)

func main() {
	ctx := context.Background()
	deps := app.Must(app.LambdaDeps(ctx, config.VarTable, app.VarDocuSignKeys))
	handler := app.Must(app.IngestDocuSign(deps, ""))
	lambda.Start(handler.Handle)
}
