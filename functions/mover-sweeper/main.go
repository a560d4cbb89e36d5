// Command mover-sweeper runs on a schedule and re-drives move decisions
// whose stream retries ran out, so no decision is silently abandoned.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/stagemover/stagemover/shared/app"
	"github.com/stagemover/stagemover/shared/platform/config"
)

func main() {
	ctx := context.Background()
	deps := app.Must(app.LambdaDeps(ctx, config.VarTable, config.VarBaseURL, config.VarTokenSecret))
	sweep := app.Must(app.MoverSweeper(deps))
	lambda.Start(sweep)
}
