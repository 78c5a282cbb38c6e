package aws

import (
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"time"

	"github.com/pilotlight/pilotlight/plan"
)

// NativeReplication sets up and watches S3 Cross-Region Replication from
// one source bucket to one destination bucket. Fill it in (or use
// FromPlan) and call Setup, then Backfill, then Status as often as wanted.
// Its methods may not be called concurrently.
type NativeReplication struct {
	// Source is a client in the source bucket's region; Destination one in
	// the destination bucket's region. Both required.
	Source, Destination S3API
	// Control is an S3 Control client in the source region; required for
	// Batch Replication and job progress.
	Control S3ControlAPI
	// AccountID owns the S3 Batch Operations job (12 digits); required with
	// Control.
	AccountID string
	// SourceBucket and DestinationBucket are bucket names. Required.
	SourceBucket, DestinationBucket string
	// DestinationRegion is the destination bucket's region (informational,
	// reported).
	DestinationRegion string
	// RoleARN is the IAM role S3 (and S3 Batch Operations) assumes to
	// replicate. Required.
	RoleARN string
	// DeleteMarkers replicates delete markers (plan deletes: replicate).
	DeleteMarkers bool
	// Batch backfills with an S3 Batch Replication job instead of
	// pilotlight's own copy.
	Batch bool
	// RTC turns on S3 Replication Time Control (15 minutes) and its metrics.
	RTC bool
	// StorageClass of the replicas ("" keeps the source's).
	StorageClass string
	// KMSKeyARN encrypts the replicas with this key and makes SSE-KMS
	// source objects eligible ("" replicates unencrypted and SSE-S3 objects
	// only).
	KMSKeyARN string
	// ReportBucket, when set, receives the Batch Replication job's report of
	// failed tasks under ReportPrefix (default: no report).
	ReportBucket, ReportPrefix string
	// JobID is the Batch Replication job to follow in Status; Backfill sets
	// it.
	JobID string
	// Sample caps how many objects Status and Backfill examine (0 = all).
	Sample int
	// Concurrency is how many HEAD requests Status runs at once (default 16).
	Concurrency int
	// Now is the clock (default time.Now); it dates the job's idempotency
	// token.
	Now func() time.Time
	// Logger receives progress (nil discards).
	Logger *slog.Logger
}

// FromPlan fills the plan-derived fields of a NativeReplication for bucket
// b; the caller sets the clients and AccountID.
func FromPlan(b plan.Bucket, destRegion string) (*NativeReplication, error) {
	if b.Native == nil {
		return nil, fmt.Errorf("aws: native replication %s: %w: the bucket has no native block in the plan", b.Name, ErrConfig)
	}
	return &NativeReplication{
		SourceBucket:      b.Name,
		DestinationBucket: b.RecoveryName(),
		DestinationRegion: destRegion,
		RoleARN:           b.Native.RoleARN,
		DeleteMarkers:     b.Deletes == plan.DeletesReplicate,
		Batch:             b.Native.BatchReplication,
		RTC:               b.Native.ReplicationTime,
		StorageClass:      b.Native.StorageClass,
		KMSKeyARN:         b.Native.KMSKeyARN,
	}, nil
}

var (
	roleARNRE   = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$`)
	accountIDRE = regexp.MustCompile(`^[0-9]{12}$`)
	partitionRE = regexp.MustCompile(`^arn:(aws[a-z-]*):`)
)

// check validates the fields every operation needs.
func (n *NativeReplication) check() error {
	var problem string
	switch {
	case n.Source == nil || n.Destination == nil:
		problem = "Source and Destination clients are required"
	case n.SourceBucket == "" || n.DestinationBucket == "":
		problem = "SourceBucket and DestinationBucket are required"
	case n.SourceBucket == n.DestinationBucket && n.Source == n.Destination:
		problem = "the destination is the source bucket"
	case !roleARNRE.MatchString(n.RoleARN):
		problem = fmt.Sprintf("RoleARN must be an IAM role ARN, got %q", n.RoleARN)
	case n.Control != nil && !accountIDRE.MatchString(n.AccountID):
		problem = fmt.Sprintf("AccountID must be 12 digits, got %q", n.AccountID)
	case n.Sample < 0:
		problem = fmt.Sprintf("Sample must be >= 0, got %d", n.Sample)
	}
	if problem != "" {
		return fmt.Errorf("aws: native replication %s: %w: %s", n.SourceBucket, ErrConfig, problem)
	}
	return nil
}

func (n *NativeReplication) log() *slog.Logger {
	l := n.Logger
	if l == nil {
		l = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return l.With("component", "aws-native", "bucket", n.SourceBucket)
}

func (n *NativeReplication) now() time.Time {
	if n.Now != nil {
		return n.Now()
	}
	return time.Now()
}

// RuleID is the ID of the replication rule pilotlight owns on the source
// bucket: "pilotlight-<destination bucket>".
func (n *NativeReplication) RuleID() string { return "pilotlight-" + n.DestinationBucket }

// bucketARN returns the ARN of an S3 bucket in the role's partition.
func (n *NativeReplication) bucketARN(bucket string) string {
	partition := "aws"
	if m := partitionRE.FindStringSubmatch(n.RoleARN); m != nil {
		partition = m[1]
	}
	return "arn:" + partition + ":s3:::" + bucket
}
