// Command gmail-renew runs twice a day and renews each mailbox's Gmail
// watch before its 7-day expiry.
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
	renewer := app.Must(app.GmailRenewer(deps))
	lambda.Start(renewer.Run)
}
