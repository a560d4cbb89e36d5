// Command evaluator is the Lambda on the table's stream that turns new
// signals into decisions.
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
	handler := app.Must(app.Evaluator(deps))
	lambda.Start(handler.Handle)
}
