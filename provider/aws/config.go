package aws

import (
	"context"
	"fmt"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"

	"github.com/pilotlight/pilotlight/plan"
)

// loadRegionConfig loads the standard AWS configuration (environment,
// shared files) of region r with its profile, assuming r.RoleARN when set.
// Every call of a client built from it first waits for its token in
// buckets (nil: no client-side limit), then goes through extra (more SDK
// API options, such as a Throttle fault's).
func loadRegionConfig(ctx context.Context, r plan.Region, buckets *Buckets, extra ...func(*middleware.Stack) error) (sdkaws.Config, error) {
	opts := []func(*config.LoadOptions) error{config.WithRegion(r.Name), config.WithHTTPClient(awshttp.NewBuildableClient())}
	if r.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(r.Profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return sdkaws.Config{}, fmt.Errorf("aws: load config profile %q region %s: %w", r.Profile, r.Name, err)
	}
	if r.RoleARN != "" {
		cfg.Credentials = sdkaws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), r.RoleARN))
	}
	if buckets != nil {
		cfg.APIOptions = append(cfg.APIOptions, buckets.APIOption())
	}
	cfg.APIOptions = append(cfg.APIOptions, extra...)
	return cfg, nil
}
