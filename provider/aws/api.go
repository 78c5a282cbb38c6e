// Package aws sets up and watches AWS's own S3 Cross-Region Replication
// for a plan's buckets (`pilotlight replicate --native`): versioning on both
// buckets, a replication rule with the plan's IAM role and delete policy, a
// backfill of the objects that existed before the rule (an S3 Batch
// Replication job, or pilotlight's own copy engine), and counts of the
// objects' replication status. It also keeps a Route 53 hosted zone's
// health checks and failover, weighted and simple records in line with a
// plan (Route53Driver, `pilotlight dns sync`).
//
// The package imports the SDK's aws package as sdkaws. Every SDK client is
// behind a small interface holding only the calls used, so tests run the
// real clients with a middleware that answers in place of AWS.
package aws

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// S3API is the part of the S3 client that native replication uses. Every
// call must return when ctx is cancelled.
type S3API interface {
	GetBucketVersioning(ctx context.Context, in *s3.GetBucketVersioningInput, opts ...func(*s3.Options)) (*s3.GetBucketVersioningOutput, error)
	PutBucketVersioning(ctx context.Context, in *s3.PutBucketVersioningInput, opts ...func(*s3.Options)) (*s3.PutBucketVersioningOutput, error)
	GetBucketReplication(ctx context.Context, in *s3.GetBucketReplicationInput, opts ...func(*s3.Options)) (*s3.GetBucketReplicationOutput, error)
	PutBucketReplication(ctx context.Context, in *s3.PutBucketReplicationInput, opts ...func(*s3.Options)) (*s3.PutBucketReplicationOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, opts ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
}

// S3ControlAPI is the part of the S3 Control client (S3 Batch Operations)
// that Batch Replication uses.
type S3ControlAPI interface {
	CreateJob(ctx context.Context, in *s3control.CreateJobInput, opts ...func(*s3control.Options)) (*s3control.CreateJobOutput, error)
	DescribeJob(ctx context.Context, in *s3control.DescribeJobInput, opts ...func(*s3control.Options)) (*s3control.DescribeJobOutput, error)
}

// STSAPI finds the account the credentials belong to.
type STSAPI interface {
	GetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput, opts ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

// Interface guards.
var (
	_ S3API        = (*s3.Client)(nil)
	_ S3ControlAPI = (*s3control.Client)(nil)
	_ STSAPI       = (*sts.Client)(nil)
)
