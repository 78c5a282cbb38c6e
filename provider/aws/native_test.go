package aws

import (
	"errors"
	"testing"

	"github.com/pilotlight/pilotlight/plan"
)

func TestFromPlan(t *testing.T) {
	b := plan.Bucket{Name: srcBucket, Replica: dstBucket, Deletes: plan.DeletesReplicate, Archived: plan.ArchivedSkip,
		Native: &plan.Native{RoleARN: testRole, BatchReplication: true, ReplicationTime: true, StorageClass: "STANDARD_IA", KMSKeyARN: testKMS}}
	n, err := FromPlan(b, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	want := NativeReplication{SourceBucket: srcBucket, DestinationBucket: dstBucket, DestinationRegion: "us-east-1", RoleARN: testRole,
		DeleteMarkers: true, Batch: true, RTC: true, StorageClass: "STANDARD_IA", KMSKeyARN: testKMS}
	if n.SourceBucket != want.SourceBucket || n.DestinationBucket != want.DestinationBucket || n.DestinationRegion != want.DestinationRegion ||
		n.RoleARN != want.RoleARN || n.DeleteMarkers != want.DeleteMarkers || n.Batch != want.Batch || n.RTC != want.RTC ||
		n.StorageClass != want.StorageClass || n.KMSKeyARN != want.KMSKeyARN {
		t.Errorf("FromPlan = %+v\nwant       %+v", n, want)
	}
	if n.RuleID() != "pilotlight-"+dstBucket {
		t.Errorf("RuleID = %q", n.RuleID())
	}

	b.Deletes, b.Replica = plan.DeletesKeep, ""
	if n, _ := FromPlan(b, "us-east-1"); n.DeleteMarkers || n.DestinationBucket != srcBucket {
		t.Errorf("deletes keep / same name: %+v", n)
	}
	b.Native = nil
	if _, err := FromPlan(b, "us-east-1"); !errors.Is(err, ErrConfig) {
		t.Errorf("bucket without native block: %v", err)
	}
}

func TestBucketARNPartition(t *testing.T) {
	n := &NativeReplication{RoleARN: "arn:aws-cn:iam::123456789012:role/r"}
	if got := n.bucketARN("b1"); got != "arn:aws-cn:s3:::b1" {
		t.Errorf("bucketARN = %q", got)
	}
	n.RoleARN = testRole
	if got := n.bucketARN("b1"); got != "arn:aws:s3:::b1" {
		t.Errorf("bucketARN = %q", got)
	}
}
