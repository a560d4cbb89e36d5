package ddblocal

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/stagemover/stagemover/shared/platform/cfn"
)

// TableSpec is what CreateTableFromTemplate read from the template.
type TableSpec struct {
	Input *dynamodb.CreateTableInput
	// TTLAttribute is TimeToLiveSpecification.AttributeName when enabled.
	// DynamoDB Local accepts the setting but never deletes expired items.
	TTLAttribute string
}

// TableSpecFromTemplate reads the AWS::DynamoDB::Table resource logicalID of
// the raw template: AttributeDefinitions, KeySchema, GlobalSecondaryIndexes,
// LocalSecondaryIndexes (with Projection and any ProvisionedThroughput),
// StreamSpecification, BillingMode/ProvisionedThroughput and
// TimeToLiveSpecification. tableName "" uses the template's literal TableName
// or else the logical id. Properties that do not change behaviour locally
// (SSE, PITR, tags, deletion protection) are ignored.
func TableSpecFromTemplate(templateYAML []byte, logicalID, tableName string) (*TableSpec, error) {
	t, err := cfn.Parse(templateYAML)
	if err != nil {
		return nil, err
	}
	res, err := t.Resource(logicalID)
	if err != nil {
		return nil, err
	}
	if res.Type != "AWS::DynamoDB::Table" {
		return nil, fmt.Errorf("ddblocal: resource %s is %s, not AWS::DynamoDB::Table", logicalID, res.Type)
	}
	p := res.Properties
	if !p.IsMap() {
		return nil, fmt.Errorf("ddblocal: resource %s has no Properties", logicalID)
	}
	if tableName == "" {
		tableName = logicalID
		if n, ok := p.Get("TableName"); ok {
			if tableName, err = n.String(); err != nil {
				return nil, err
			}
		}
	}
	in := &dynamodb.CreateTableInput{TableName: aws.String(tableName)}

	n, ok := p.Get("AttributeDefinitions")
	if !ok {
		return nil, fmt.Errorf("ddblocal: %s has no AttributeDefinitions", logicalID)
	}
	items, err := n.List()
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		name, err := str(it, "AttributeName")
		if err != nil {
			return nil, err
		}
		typ, err := str(it, "AttributeType")
		if err != nil {
			return nil, err
		}
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{
			AttributeName: aws.String(name), AttributeType: types.ScalarAttributeType(typ),
		})
	}
	if in.KeySchema, err = keySchema(p); err != nil {
		return nil, err
	}

	billing := "PROVISIONED"
	if n, ok := p.Get("BillingMode"); ok {
		if billing, err = n.String(); err != nil {
			return nil, err
		}
	}
	in.BillingMode = types.BillingMode(billing)
	if billing != string(types.BillingModePayPerRequest) {
		if in.ProvisionedThroughput, err = throughput(p); err != nil {
			return nil, err
		}
	}

	err = eachIndex(p, "GlobalSecondaryIndexes", func(ix cfn.Node, name *string, ks []types.KeySchemaElement, proj *types.Projection) (err error) {
		g := types.GlobalSecondaryIndex{IndexName: name, KeySchema: ks, Projection: proj}
		if billing != string(types.BillingModePayPerRequest) {
			if g.ProvisionedThroughput, err = throughput(ix); err != nil {
				return err
			}
		}
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, g)
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = eachIndex(p, "LocalSecondaryIndexes", func(_ cfn.Node, name *string, ks []types.KeySchemaElement, proj *types.Projection) error {
		in.LocalSecondaryIndexes = append(in.LocalSecondaryIndexes, types.LocalSecondaryIndex{IndexName: name, KeySchema: ks, Projection: proj})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if n, ok := p.Get("StreamSpecification"); ok {
		view, err := str(n, "StreamViewType")
		if err != nil {
			return nil, err
		}
		in.StreamSpecification = &types.StreamSpecification{
			StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewType(view),
		}
	}
	spec := &TableSpec{Input: in}
	if n, ok := p.Get("TimeToLiveSpecification"); ok {
		enabled := false
		if e, ok := n.Get("Enabled"); ok {
			if enabled, err = e.Bool(); err != nil {
				return nil, err
			}
		}
		if enabled {
			if spec.TTLAttribute, err = str(n, "AttributeName"); err != nil {
				return nil, err
			}
		}
	}
	return spec, nil
}

// CreateTableFromTemplate creates the table described by the
// AWS::DynamoDB::Table resource logicalID of the raw SAM/CloudFormation
// template (see TableSpecFromTemplate), waits until the table and its
// indexes are ACTIVE and returns the stream ARN ("" without a stream).
// TimeToLiveSpecification is applied; DynamoDB Local accepts it but never
// expires items.
func CreateTableFromTemplate(ctx context.Context, client *dynamodb.Client, templateYAML []byte, logicalID, tableName string) (streamARN string, err error) {
	spec, err := TableSpecFromTemplate(templateYAML, logicalID, tableName)
	if err != nil {
		return "", err
	}
	name := aws.ToString(spec.Input.TableName)
	if _, err := client.CreateTable(ctx, spec.Input); err != nil {
		return "", fmt.Errorf("ddblocal: create table %s: %w", name, err)
	}
	if spec.TTLAttribute != "" {
		_, err := client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
			TableName: aws.String(name),
			TimeToLiveSpecification: &types.TimeToLiveSpecification{
				AttributeName: aws.String(spec.TTLAttribute), Enabled: aws.Bool(true),
			},
		})
		if err != nil {
			return "", fmt.Errorf("ddblocal: enable TTL on %s: %w", name, err)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		out, err := client.DescribeTable(wctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		if err != nil {
			return "", fmt.Errorf("ddblocal: describe table %s: %w", name, err)
		}
		if active(out.Table) {
			return aws.ToString(out.Table.LatestStreamArn), nil
		}
		select {
		case <-wctx.Done():
			return "", fmt.Errorf("ddblocal: table %s not ACTIVE: %w", name, wctx.Err())
		case <-time.After(25 * time.Millisecond):
		}
	}
}

func active(t *types.TableDescription) bool {
	if t == nil || t.TableStatus != types.TableStatusActive {
		return false
	}
	for _, g := range t.GlobalSecondaryIndexes {
		if g.IndexStatus != types.IndexStatusActive {
			return false
		}
	}
	return true
}

// eachIndex calls add with each entry of the index list property key (if
// present), its IndexName, KeySchema and Projection.
func eachIndex(p cfn.Node, key string, add func(ix cfn.Node, name *string, ks []types.KeySchemaElement, proj *types.Projection) error) error {
	n, ok := p.Get(key)
	if !ok {
		return nil
	}
	idxs, err := n.List()
	if err != nil {
		return err
	}
	for _, ix := range idxs {
		name, err := str(ix, "IndexName")
		if err != nil {
			return err
		}
		ks, err := keySchema(ix)
		if err != nil {
			return err
		}
		proj, err := projection(ix)
		if err != nil {
			return err
		}
		if err := add(ix, aws.String(name), ks, proj); err != nil {
			return err
		}
	}
	return nil
}

func str(n cfn.Node, key string) (string, error) {
	v, ok := n.Get(key)
	if !ok {
		return "", fmt.Errorf("ddblocal: %s has no %s", n.Path(), key)
	}
	return v.String()
}

func keySchema(n cfn.Node) ([]types.KeySchemaElement, error) {
	ks, ok := n.Get("KeySchema")
	if !ok {
		return nil, fmt.Errorf("ddblocal: %s has no KeySchema", n.Path())
	}
	items, err := ks.List()
	if err != nil {
		return nil, err
	}
	var out []types.KeySchemaElement
	for _, it := range items {
		name, err := str(it, "AttributeName")
		if err != nil {
			return nil, err
		}
		kt, err := str(it, "KeyType")
		if err != nil {
			return nil, err
		}
		out = append(out, types.KeySchemaElement{AttributeName: aws.String(name), KeyType: types.KeyType(kt)})
	}
	if len(out) == 0 {
		return nil, errors.New("ddblocal: " + ks.Path() + " is empty")
	}
	return out, nil
}

func projection(n cfn.Node) (*types.Projection, error) {
	pn, ok := n.Get("Projection")
	if !ok {
		return nil, fmt.Errorf("ddblocal: %s has no Projection", n.Path())
	}
	p := &types.Projection{}
	if t, ok := pn.Get("ProjectionType"); ok {
		s, err := t.String()
		if err != nil {
			return nil, err
		}
		p.ProjectionType = types.ProjectionType(s)
	}
	if a, ok := pn.Get("NonKeyAttributes"); ok {
		attrs, err := a.Strings()
		if err != nil {
			return nil, err
		}
		p.NonKeyAttributes = attrs
	}
	return p, nil
}

func throughput(n cfn.Node) (*types.ProvisionedThroughput, error) {
	pt, ok := n.Get("ProvisionedThroughput")
	if !ok {
		return nil, fmt.Errorf("ddblocal: %s needs ProvisionedThroughput (BillingMode is not PAY_PER_REQUEST)", n.Path())
	}
	r, ok := pt.Get("ReadCapacityUnits")
	if !ok {
		return nil, fmt.Errorf("ddblocal: %s has no ReadCapacityUnits", pt.Path())
	}
	w, ok := pt.Get("WriteCapacityUnits")
	if !ok {
		return nil, fmt.Errorf("ddblocal: %s has no WriteCapacityUnits", pt.Path())
	}
	rv, err := r.Int()
	if err != nil {
		return nil, err
	}
	wv, err := w.Int()
	if err != nil {
		return nil, err
	}
	return &types.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(int64(rv)), WriteCapacityUnits: aws.Int64(int64(wv))}, nil
}
