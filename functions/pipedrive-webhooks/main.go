// Command pipedrive-webhooks runs daily and keeps our Pipedrive webhooks
// registered without creating duplicates.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/stagemover/stagemover/shared/app"
	"github.com/stagemover/stagemover/shared/platform/config"
)

func main() {
	ctx := context.Background()
	deps := app.Must(app.LambdaDeps(ctx, config.VarTable, config.VarBaseURL, config.VarTokenSecret, app.VarPipedriveWebhookSecret, app.VarPipedriveWebhookURL))
	ensure := app.Must(app.PipedriveWebhooks(deps))
	lambda.Start(ensure)
}
