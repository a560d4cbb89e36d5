// Command mover is the Lambda on the table's stream that applies move
// decisions to Pipedrive, once each.
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
	handler, _ := app.Must2(app.Mover(deps))
	lambda.Start(handler.Handle)
}
