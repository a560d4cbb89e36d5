package mover_test

import (
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

type (
	dynamodbKey = types.AttributeValue
	dynamodbS   = types.AttributeValueMemberS
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
