package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sync/errgroup"
)

// objectKey is the key of the i-th object under prefix.
func objectKey(prefix string, i int) string { return fmt.Sprintf("%s%07d", prefix, i) }

// content fills buf with bytes that depend on seed, so every object (and so
// every ETag) differs.
func content(buf []byte, seed string, i int) {
	var key [32]byte
	copy(key[:], seed)
	binary.LittleEndian.PutUint64(key[24:], uint64(i))
	r := rand.NewChaCha8(key)
	_, _ = r.Read(buf)
}

// fill PUTs n objects of size bytes into bucket with parallel PUTs in
// flight, each with its own buffer.
func fill(ctx context.Context, c *s3.Client, bucket, prefix string, n int, size int64, parallel int) error {
	eg, ctx := errgroup.WithContext(ctx)
	eg.SetLimit(max(1, parallel))
	for i := range n {
		eg.Go(func() error {
			buf := make([]byte, size)
			content(buf, bucket, i)
			key := objectKey(prefix, i)
			_, err := c.PutObject(ctx, &s3.PutObjectInput{
				Bucket: aws.String(bucket), Key: aws.String(key),
				Body: bytes.NewReader(buf), ContentLength: aws.Int64(size),
				ContentType: aws.String("application/octet-stream"),
				Metadata:    map[string]string{"bench": "replication"},
			})
			if err != nil {
				return fmt.Errorf("fill: put s3://%s/%s: %w", bucket, key, err)
			}
			return nil
		})
		if ctx.Err() != nil {
			break
		}
	}
	return eg.Wait()
}

// inventory counts the objects of bucket and their bytes.
func inventory(ctx context.Context, c *s3.Client, bucket string) (objects int, bytes int64, err error) {
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, 0, fmt.Errorf("list s3://%s: %w", bucket, err)
		}
		for _, o := range page.Contents {
			objects++
			bytes += aws.ToInt64(o.Size)
		}
	}
	return objects, bytes, nil
}
