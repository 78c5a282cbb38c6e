package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// maxObjectSize bounds what Get reads into memory.
const maxObjectSize = 16 << 20

// maxRetryBackoff caps the SDK's wait between attempts. The SDK default (20s)
// would hold a request well past the app's store timeout when a region's
// store is down; the drill client retries on its own after a 503.
const maxRetryBackoff = 250 * time.Millisecond

// s3Options selects the bucket and the store that holds it.
type s3Options struct {
	Bucket string
	// Endpoint is the store URL; empty means AWS S3. With an endpoint the
	// client uses path-style addressing and computes checksums only when
	// the operation requires them, as S3-compatible stores expect.
	Endpoint string
	// Region is the signing region.
	Region string
}

// s3Store is an objectStore over one S3 bucket.
type s3Store struct {
	client *s3.Client
	bucket string
}

var (
	_ objectStore = (*s3Store)(nil)
	_ storePinger = (*s3Store)(nil)
)

// newS3Store builds a client from the standard AWS configuration chain
// (environment, shared files); extra load options are applied last.
func newS3Store(ctx context.Context, opts s3Options, extra ...func(*awsconfig.LoadOptions) error) (*s3Store, error) {
	if opts.Bucket == "" {
		return nil, errors.New("s3store: configure: bucket is required")
	}
	load := append([]func(*awsconfig.LoadOptions) error{
		awsconfig.WithRegion(opts.Region),
		awsconfig.WithHTTPClient(awshttp.NewBuildableClient()),
		awsconfig.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) { o.MaxBackoff = maxRetryBackoff })
		}),
	}, extra...)
	cfg, err := awsconfig.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, fmt.Errorf("s3store: load aws config: %w", err)
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(opts.Endpoint)
			o.UsePathStyle = true
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		}
	})
	return &s3Store{client: client, bucket: opts.Bucket}, nil
}

// Put writes one object; it returns once the store acknowledged the write.
func (s *s3Store) Put(ctx context.Context, key string, body []byte, contentType string, meta map[string]string) error {
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(key),
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
		ContentType:   aws.String(contentType),
		Metadata:      meta,
	})
	if err != nil {
		return fmt.Errorf("s3store: put s3://%s/%s: %w", s.bucket, key, mapError(err))
	}
	return nil
}

// Get reads one object, its content type and user metadata.
func (s *s3Store) Get(ctx context.Context, key string) ([]byte, string, map[string]string, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(key),
	})
	if err != nil {
		return nil, "", nil, fmt.Errorf("s3store: get s3://%s/%s: %w", s.bucket, key, mapError(err))
	}
	defer out.Body.Close()
	body, err := io.ReadAll(io.LimitReader(out.Body, maxObjectSize+1))
	if err != nil {
		return nil, "", nil, fmt.Errorf("s3store: read s3://%s/%s: %w", s.bucket, key, err)
	}
	if len(body) > maxObjectSize {
		return nil, "", nil, fmt.Errorf("s3store: read s3://%s/%s: object larger than %d bytes", s.bucket, key, maxObjectSize)
	}
	return body, aws.ToString(out.ContentType), out.Metadata, nil
}

// List returns every key under prefix, following continuation tokens.
func (s *s3Store) List(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: aws.String(s.bucket),
		Prefix: aws.String(prefix),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("s3store: list s3://%s/%s: %w", s.bucket, prefix, mapError(err))
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys, nil
}

// Ping checks that the bucket answers (HeadBucket).
func (s *s3Store) Ping(ctx context.Context) error {
	if _, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.bucket)}); err != nil {
		return fmt.Errorf("s3store: head bucket %s: %w", s.bucket, err)
	}
	return nil
}

// mapError marks a missing key with ErrNotFound. A missing bucket is not
// "not found": it is a misconfiguration and must surface as a store failure.
func mapError(err error) error {
	var nsk *types.NoSuchKey
	if errors.As(err, &nsk) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return fmt.Errorf("%w: %w", ErrNotFound, err)
		case "NoSuchBucket":
			return err
		}
	}
	var resp *awshttp.ResponseError
	if errors.As(err, &resp) && resp.HTTPStatusCode() == http.StatusNotFound {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}
