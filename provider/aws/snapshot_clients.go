package aws

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pilotlight/pilotlight/plan"
)

// NewProtectClients builds the EC2 and RDS clients that protection uses in
// region r, and an S3 client there for the catalog, from the standard AWS
// configuration with r's profile, assuming r.RoleARN when set. Every call
// first waits for its token in buckets (nil: no client-side limit).
func NewProtectClients(ctx context.Context, r plan.Region, buckets *Buckets) (ProtectClients, *s3.Client, error) {
	cfg, err := loadRegionConfig(ctx, r, buckets)
	if err != nil {
		return ProtectClients{}, nil, err
	}
	return ProtectClients{EC2: ec2.NewFromConfig(cfg), RDS: rds.NewFromConfig(cfg)}, s3.NewFromConfig(cfg), nil
}
