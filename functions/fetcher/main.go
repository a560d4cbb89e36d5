// Command fetcher is the Lambda on the table's stream that fetches the
// content of stored provider notifications and stores it as signals.
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
	handler := app.Must(app.Fetcher(deps))
	lambda.Start(handler.Handle)
}
