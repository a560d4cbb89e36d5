// Command ingest-pipedrive is the Lambda behind POST /pipedrive (Pipedrive
// webhooks v2): the deal mirror, loop prevention, reverts and misses.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/stagemover/stagemover/shared/app"
	"github.com/stagemover/stagemover/shared/platform/config"
)

func main() {
	ctx := context.Background()
	deps := app.Must(app.LambdaDeps(ctx, config.VarTable, config.VarBaseURL, config.VarTokenSecret, app.VarPipedriveWebhookSecret))
	handler := app.Must(app.IngestPipedrive(deps, nil))
	lambda.Start(handler.Handle)
}
