// Command graph-subscriptions runs every 6 hours and creates or renews the
// Microsoft Graph subscriptions of each watched mailbox before they expire.
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
	renewer := app.Must(app.GraphRenewer(deps))
	lambda.Start(renewer.HandleScheduled)
}
