package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"os"
	"path"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// seed uploads each bucket's seed directory into the primary region's
// bucket. A file under DIR is stored under the key "<base of DIR>/<relative
// path>" (./site/index.html → site/index.html). Objects that already exist
// are left alone: seeding never overwrites data.
func (r *Region) seed(ctx context.Context) error {
	client := r.Client()
	for _, b := range r.plan.Data.Buckets {
		if b.Seed == "" {
			continue
		}
		dir := b.Seed
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(r.plan.Dir(), dir)
		}
		n, err := SeedBucket(ctx, client, b.Name, dir)
		if err != nil {
			return fmt.Errorf("local: region %s: seed bucket %s from %s: %w", r.spec.Name, b.Name, dir, err)
		}
		r.log.Info("bucket seeded", "bucket", b.Name, "dir", dir, "uploaded", n)
	}
	return nil
}

// SeedBucket uploads the files under dir into bucket, keyed by the
// directory's base name and the file's relative path, skipping keys that
// already exist. It returns the number of objects uploaded.
func SeedBucket(ctx context.Context, client *s3.Client, bucket, dir string) (int, error) {
	base := filepath.Base(filepath.Clean(dir))
	uploaded := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		key := path.Join(base, filepath.ToSlash(rel))
		_, err = client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err == nil {
			return nil
		}
		if !isNotFound(err) {
			return fmt.Errorf("head %s: %w", key, err)
		}
		body, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		ct := mime.TypeByExtension(filepath.Ext(p))
		if ct == "" {
			ct = "application/octet-stream"
		}
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{
			Bucket:      aws.String(bucket),
			Key:         aws.String(key),
			Body:        bytes.NewReader(body),
			ContentType: aws.String(ct),
		}); err != nil {
			return fmt.Errorf("put %s: %w", key, err)
		}
		uploaded++
		return nil
	})
	return uploaded, err
}

// isNotFound reports whether err is an S3 "no such key" answer.
func isNotFound(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NotFound", "NoSuchKey", "404":
			return true
		}
	}
	return false
}
