package aws

import (
	"errors"
	"fmt"

	"github.com/aws/smithy-go"
)

// Sentinel errors for the states a caller acts on; test with errors.Is.
var (
	// ErrAccessDenied: the credentials lack a permission, or S3 cannot use
	// the replication role.
	ErrAccessDenied = errors.New("access denied")
	// ErrNoSuchBucket: a bucket does not exist (or not where it was looked
	// for).
	ErrNoSuchBucket = errors.New("no such bucket")
	// ErrInvalidRequest: S3 rejected a request as invalid, such as a rule on
	// a bucket without versioning.
	ErrInvalidRequest = errors.New("invalid request")
	// ErrConfig: the NativeReplication is not filled in correctly.
	ErrConfig = errors.New("invalid configuration")
)

// Error is a failed AWS call on a bucket. Its text reads
// "aws: s3 put replication ticket-assets: <hint>: <cause>".
type Error struct {
	// Op names the call, such as "s3 put replication".
	Op string
	// Bucket the call was about.
	Bucket string
	// Key of the object, if any.
	Key string
	// Code is the AWS error code, such as AccessDenied ("" when the call
	// did not reach AWS).
	Code string
	// Hint says what the code most likely means here ("" if nothing
	// useful).
	Hint string
	// Err is the SDK's error.
	Err error
}

func (e *Error) Error() string {
	target := e.Bucket
	if e.Key != "" {
		target += "/" + e.Key
	}
	if e.Hint != "" {
		return fmt.Sprintf("aws: %s %s: %s: %v", e.Op, target, e.Hint, e.Err)
	}
	return fmt.Sprintf("aws: %s %s: %v", e.Op, target, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Is matches the sentinel errors by AWS error code.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrAccessDenied:
		return isAccessDenied(e.Code)
	case ErrNoSuchBucket:
		return e.Code == "NoSuchBucket"
	case ErrInvalidRequest:
		return e.Code == "InvalidRequest" || e.Code == "InvalidArgument"
	}
	return false
}

// Permanent reports whether retrying the same call cannot succeed.
func (e *Error) Permanent() bool {
	switch {
	case isAccessDenied(e.Code), e.Code == "NoSuchBucket", e.Code == "InvalidRequest",
		e.Code == "InvalidArgument", e.Code == "MalformedXML", e.Code == "IdempotencyException":
		return true
	}
	return false
}

func isAccessDenied(code string) bool {
	switch code {
	case "AccessDenied", "AccessDeniedException", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch",
		"ExpiredToken", "InvalidClientTokenId":
		return true
	}
	return false
}

// errorCode returns the AWS error code of err, or "".
func errorCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}

// wrap turns an SDK error of op on bucket into an *Error with a hint for
// the codes a person can act on. role is the replication role, named in
// the hints that concern it.
func wrap(op, bucket, key, role string, err error) error {
	code := errorCode(err)
	e := &Error{Op: op, Bucket: bucket, Key: key, Code: code, Err: err}
	switch {
	case isAccessDenied(code):
		e.Hint = "access denied: " + deniedHint(op, role)
	case code == "NoSuchBucket":
		e.Hint = "the bucket does not exist (check the name, the region and the account)"
	case code == "InvalidRequest" || code == "InvalidArgument":
		if op == opPutReplication {
			e.Hint = fmt.Sprintf("S3 rejected the replication rule: versioning must be enabled on both buckets, "+
				"the destination bucket must exist, and S3 must be able to assume %s (its trust policy must allow s3.amazonaws.com)", role)
		} else if op == opCreateJob {
			e.Hint = fmt.Sprintf("S3 Batch Operations rejected the job: the source bucket needs a replication rule, "+
				"and batchoperations.s3.amazonaws.com must be able to assume %s", role)
		}
	case code == "ReplicationConfigurationNotFoundError":
		e.Hint = "the bucket has no replication rule"
	}
	return e
}

func deniedHint(op, role string) string {
	switch op {
	case opPutReplication:
		return fmt.Sprintf("the caller needs s3:PutReplicationConfiguration on the bucket and iam:PassRole on %s", role)
	case opGetReplication:
		return "the caller needs s3:GetReplicationConfiguration on the bucket"
	case opPutVersioning:
		return "the caller needs s3:PutBucketVersioning on the bucket"
	case opGetVersioning:
		return "the caller needs s3:GetBucketVersioning on the bucket"
	case opCreateJob:
		return fmt.Sprintf("the caller needs s3:CreateJob and iam:PassRole on %s", role)
	case opDescribeJob:
		return "the caller needs s3:DescribeJob"
	case opList:
		return "the caller needs s3:ListBucket on the bucket"
	case opHead:
		return "the caller needs s3:GetObject on the bucket"
	}
	return "check the credentials and their permissions"
}

// Operation names used in errors.
const (
	opGetVersioning  = "s3 get versioning"
	opPutVersioning  = "s3 put versioning"
	opGetReplication = "s3 get replication"
	opPutReplication = "s3 put replication"
	opList           = "s3 list"
	opHead           = "s3 head"
	opCreateJob      = "s3control create job"
	opDescribeJob    = "s3control describe job"
	opCallerIdentity = "sts get caller identity"
)
