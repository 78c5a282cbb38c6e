package aws

import (
	"context"
	"errors"
	"fmt"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Clients are the SDK clients native replication needs.
type Clients struct {
	// Source and Control are in the source region, Destination in the
	// destination region.
	Source, Destination *s3.Client
	Control             *s3control.Client
	// AccountID is the account of the credentials (from STS).
	AccountID string
}

// NewS3Clients builds the clients from the standard AWS configuration
// (environment, shared config and credentials files) with the given
// profile ("" for the default chain). endpoint, when set, replaces the S3
// and S3 Control endpoints (for S3-compatible test services); STS follows
// the standard configuration (AWS_ENDPOINT_URL_STS). It asks STS for the
// account ID, so it fails early on bad credentials.
func NewS3Clients(ctx context.Context, profile, srcRegion, dstRegion, endpoint string) (*Clients, error) {
	if srcRegion == "" || dstRegion == "" {
		return nil, fmt.Errorf("aws: load config: %w: source and destination regions are required", ErrConfig)
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(srcRegion),
		config.WithHTTPClient(awshttp.NewBuildableClient()),
	}
	if profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("aws: load config profile %q: %w", profile, err)
	}
	s3Opts := func(region string) func(*s3.Options) {
		return func(o *s3.Options) {
			o.Region = region
			if endpoint != "" {
				o.BaseEndpoint = sdkaws.String(endpoint)
				o.UsePathStyle = true
			}
		}
	}
	c := &Clients{
		Source:      s3.NewFromConfig(cfg, s3Opts(srcRegion)),
		Destination: s3.NewFromConfig(cfg, s3Opts(dstRegion)),
		Control: s3control.NewFromConfig(cfg, func(o *s3control.Options) {
			if endpoint != "" {
				o.BaseEndpoint = sdkaws.String(endpoint)
			}
		}),
	}
	c.AccountID, err = AccountID(ctx, sts.NewFromConfig(cfg))
	if err != nil {
		return nil, err
	}
	return c, nil
}

// AccountID returns the account of the caller's credentials.
func AccountID(ctx context.Context, api STSAPI) (string, error) {
	out, err := api.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", wrap(opCallerIdentity, "account", "", "", err)
	}
	id := sdkaws.ToString(out.Account)
	if !accountIDRE.MatchString(id) {
		return "", &Error{Op: opCallerIdentity, Bucket: "account", Err: errors.New("the response has no 12-digit account ID")}
	}
	return id, nil
}
