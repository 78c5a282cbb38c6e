package plan

import (
	"fmt"
	"regexp"
)

// Native asks for AWS's own S3 Cross-Region Replication of a bucket
// (`pilotlight replicate --native`) instead of pilotlight's copy engine.
// It is valid only when both regions use provider aws.
type Native struct {
	// RoleARN is the IAM role S3 assumes to replicate objects, such as
	// arn:aws:iam::123456789012:role/replication. Required.
	RoleARN string `yaml:"roleArn" json:"roleArn" jsonschema:"required"`
	// BatchReplication backfills the objects that existed before the rule
	// with an S3 Batch Replication job rather than pilotlight's own copy
	// (default false).
	BatchReplication bool `yaml:"batchReplication,omitempty" json:"batchReplication,omitempty"`
	// ReplicationTime turns on S3 Replication Time Control (99.99% of
	// objects replicated within 15 minutes, with metrics) (default false).
	ReplicationTime bool `yaml:"replicationTime,omitempty" json:"replicationTime,omitempty"`
	// StorageClass of the replicas, such as STANDARD_IA (default: the
	// source object's storage class).
	StorageClass string `yaml:"storageClass,omitempty" json:"storageClass,omitempty"`
	// KMSKeyARN is the KMS key the replicas are encrypted with; when set,
	// SSE-KMS encrypted source objects are replicated too (optional).
	KMSKeyARN string `yaml:"kmsKeyArn,omitempty" json:"kmsKeyArn,omitempty"`
}

// NativeStorageClasses lists the storage classes a replication rule may
// give its replicas.
var NativeStorageClasses = []string{
	"STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA",
	"INTELLIGENT_TIERING", "GLACIER", "DEEP_ARCHIVE", "GLACIER_IR",
}

var kmsKeyARN = regexp.MustCompile(`^arn:aws[a-z-]*:kms:[a-z]{2}(-[a-z]+)+-[0-9]+:[0-9]{12}:(key|alias)/[A-Za-z0-9/_-]+$`)

// native checks data.buckets[].native against the regions.
func (v *validator) native(p *Plan) {
	bothAWS := p.Regions.Primary.Provider == ProviderAWS && p.Regions.Recovery.Provider == ProviderAWS
	for i, b := range p.Data.Buckets {
		n := b.Native
		if n == nil {
			continue
		}
		path := fmt.Sprintf("data.buckets[%d].native", i)
		if !bothAWS {
			v.add(path, "only valid when both regions use provider aws (primary %s, recovery %s)",
				p.Regions.Primary.Provider, p.Regions.Recovery.Provider)
		}
		if v.requiredString(path+".roleArn", n.RoleARN) && !iamRoleARN.MatchString(n.RoleARN) {
			v.add(path+".roleArn", "must be an IAM role ARN like arn:aws:iam::123456789012:role/replication, got %q", n.RoleARN)
		}
		if n.StorageClass != "" {
			oneOf(v, path+".storageClass", n.StorageClass, NativeStorageClasses)
		}
		if n.KMSKeyARN != "" && !kmsKeyARN.MatchString(n.KMSKeyARN) {
			v.add(path+".kmsKeyArn", "must be a KMS key ARN like arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab, got %q", n.KMSKeyARN)
		}
	}
}
