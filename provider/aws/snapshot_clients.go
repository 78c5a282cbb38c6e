package aws

import (
	"context"
	"fmt"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/pilotlight/pilotlight/plan"
)

// NewProtectClients builds the EC2 and RDS clients that protection uses in
// region r, and an S3 client there for the catalog, from the standard AWS
// configuration with r's profile, assuming r.RoleARN when set. Every call
// first waits for its token in buckets (nil: no client-side limit).
func NewProtectClients(ctx context.Context, r plan.Region, buckets *Buckets) (ProtectClients, *s3.Client, error) {
	opts := []func(*config.LoadOptions) error{config.WithRegion(r.Name), config.WithHTTPClient(awshttp.NewBuildableClient())}
	if r.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(r.Profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return ProtectClients{}, nil, fmt.Errorf("aws: load config profile %q region %s: %w", r.Profile, r.Name, err)
	}
	if r.RoleARN != "" {
		cfg.Credentials = sdkaws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), r.RoleARN))
	}
	if buckets != nil {
		cfg.APIOptions = append(cfg.APIOptions, buckets.APIOption())
	}
	return ProtectClients{EC2: ec2.NewFromConfig(cfg), RDS: rds.NewFromConfig(cfg)}, s3.NewFromConfig(cfg), nil
}
