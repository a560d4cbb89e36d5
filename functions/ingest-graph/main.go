// Command ingest-graph is the Lambda behind POST /webhooks/graph (Microsoft
// Graph change notifications, lifecycle notifications and the validation
// handshake for Outlook mail and calendars).
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/stagemover/stagemover/shared/app"
	"github.com/stagemover/stagemover/shared/platform/config"
)

func main() {
	ctx := context.Background()
	deps := app.Must(app.LambdaDeps(ctx, config.VarTable, app.VarGraphClientState))
	handler := app.Must(app.IngestGraph(deps))
	lambda.Start(handler.Handle)
}
