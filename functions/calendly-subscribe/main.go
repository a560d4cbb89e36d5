// Command calendly-subscribe runs daily and keeps the Calendly webhook
// subscription in place (Calendly disables one whose deliveries keep failing).
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
	keeper := app.Must(app.CalendlyKeeper(deps))
	lambda.Start(keeper.Run)
}
