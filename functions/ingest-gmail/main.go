// Command ingest-gmail is the Lambda behind POST /gmail/push (Cloud Pub/Sub
// push of Gmail notifications).
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/stagemover/stagemover/shared/app"
	"github.com/stagemover/stagemover/shared/platform/config"
)

func main() {
	ctx := context.Background()
	deps := app.Must(app.LambdaDeps(ctx, config.VarTable))
	handler := app.Must(app.IngestGmail(deps))
	lambda.Start(handler.Handle)
}
