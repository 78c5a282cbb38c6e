package objstore

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// NewClient returns an S3 client for a local store at endpoint
// (e.g. "http://127.0.0.1:9000"): path-style addressing, static root
// credentials, region (default us-east-1), and checksums only when an
// operation requires them, which S3-compatible stores handle best. optFns
// adjust the options further (for example a bulk-work retryer).
func NewClient(endpoint, access, secret, region string, optFns ...func(*s3.Options)) *s3.Client {
	if region == "" {
		region = DefaultRegion
	}
	return s3.New(s3.Options{
		Region:                     region,
		BaseEndpoint:               aws.String(endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(access, secret, ""),
		HTTPClient:                 awshttp.NewBuildableClient(),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}, optFns...)
}
