// Command revert-report runs hourly and publishes moves, reverts, misses
// and the revert rate per pipeline and rule as CloudWatch metrics.
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
	report := app.Must(app.RevertReport(deps))
	lambda.Start(report)
}
