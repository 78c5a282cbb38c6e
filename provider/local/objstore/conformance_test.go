package objstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/errgroup"
)

// TestConformance exercises, through aws-sdk-go-v2, the S3 features that
// replication relies on, against one child store.
func TestConformance(t *testing.T) {
	o := testOptions(t)
	o.Buckets = []string{"versioned"}
	s := startStore(t, o)
	c := s.client()

	t.Run("start-up bucket is versioned", func(t *testing.T) {
		out, err := c.GetBucketVersioning(testCtx(t, 10*time.Second), &s3.GetBucketVersioningInput{Bucket: aws.String("versioned")})
		if err != nil {
			t.Fatal(err)
		}
		if out.Status != types.BucketVersioningStatusEnabled {
			t.Fatalf("versioning status = %q, want Enabled", out.Status)
		}
	})
	t.Run("versions and delete markers", func(t *testing.T) { testVersions(t, c) })
	t.Run("ListObjectsV2 pagination", func(t *testing.T) { testPagination(t, c) })
	t.Run("multipart upload", func(t *testing.T) { testMultipart(t, c) })
	t.Run("CopyObject metadata", func(t *testing.T) { testCopy(t, c) })
	t.Run("tagging", func(t *testing.T) { testTagging(t, c) })
	t.Run("credentials", func(t *testing.T) { testCredentials(t, s) })
}

func createBucket(t *testing.T, c *s3.Client, name string, versioned bool) {
	t.Helper()
	ctx := testCtx(t, 10*time.Second)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	if !versioned {
		return
	}
	_, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
		Bucket:                  aws.String(name),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
	})
	if err != nil {
		t.Fatalf("enable versioning on %s: %v", name, err)
	}
}

func put(ctx context.Context, c *s3.Client, bucket, key, body string) (*s3.PutObjectOutput, error) {
	return c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body)})
}

func get(ctx context.Context, c *s3.Client, bucket, key, version string) (string, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if version != "" {
		in.VersionId = aws.String(version)
	}
	out, err := c.GetObject(ctx, in)
	if err != nil {
		return "", err
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	return string(b), err
}

func errCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

func testVersions(t *testing.T, c *s3.Client) {
	ctx := testCtx(t, 30*time.Second)
	// Both the start-up bucket and one versioned through the API.
	createBucket(t, c, "api-versioned", true)
	for _, bucket := range []string{"versioned", "api-versioned"} {
		t.Run(bucket, func(t *testing.T) {
			const key = "docs/report.txt"
			v1, err := put(ctx, c, bucket, key, "first")
			if err != nil {
				t.Fatal(err)
			}
			v2, err := put(ctx, c, bucket, key, "second")
			if err != nil {
				t.Fatal(err)
			}
			id1, id2 := aws.ToString(v1.VersionId), aws.ToString(v2.VersionId)
			if id1 == "" || id2 == "" || id1 == id2 {
				t.Fatalf("version ids %q, %q: want two distinct ids", id1, id2)
			}
			for _, tc := range []struct{ version, want string }{{id1, "first"}, {id2, "second"}, {"", "second"}} {
				got, err := get(ctx, c, bucket, key, tc.version)
				if err != nil || got != tc.want {
					t.Errorf("get version %q = %q, %v; want %q", tc.version, got, err, tc.want)
				}
			}

			vs, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String(key)})
			if err != nil {
				t.Fatal(err)
			}
			if len(vs.Versions) != 2 || len(vs.DeleteMarkers) != 0 {
				t.Fatalf("versions = %d, markers = %d; want 2, 0", len(vs.Versions), len(vs.DeleteMarkers))
			}
			for _, v := range vs.Versions {
				if latest := aws.ToString(v.VersionId) == id2; aws.ToBool(v.IsLatest) != latest {
					t.Errorf("version %s IsLatest = %v, want %v", aws.ToString(v.VersionId), aws.ToBool(v.IsLatest), latest)
				}
			}

			del, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
			if err != nil {
				t.Fatal(err)
			}
			if !aws.ToBool(del.DeleteMarker) || aws.ToString(del.VersionId) == "" {
				t.Fatalf("delete: DeleteMarker = %v, VersionId = %q; want a marker", aws.ToBool(del.DeleteMarker), aws.ToString(del.VersionId))
			}
			if _, err := get(ctx, c, bucket, key, ""); errCode(err) != "NoSuchKey" {
				t.Errorf("get after delete: %v; want NoSuchKey", err)
			}
			if got, err := get(ctx, c, bucket, key, id1); err != nil || got != "first" {
				t.Errorf("get old version after delete = %q, %v; want %q", got, err, "first")
			}
			vs, err = c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String(key)})
			if err != nil {
				t.Fatal(err)
			}
			if len(vs.Versions) != 2 || len(vs.DeleteMarkers) != 1 {
				t.Fatalf("after delete: versions = %d, markers = %d; want 2, 1", len(vs.Versions), len(vs.DeleteMarkers))
			}
			m := vs.DeleteMarkers[0]
			if aws.ToString(m.VersionId) != aws.ToString(del.VersionId) || !aws.ToBool(m.IsLatest) {
				t.Errorf("marker = %s latest %v; want %s latest", aws.ToString(m.VersionId), aws.ToBool(m.IsLatest), aws.ToString(del.VersionId))
			}
			for _, v := range vs.Versions {
				if aws.ToBool(v.IsLatest) {
					t.Errorf("version %s still latest after delete", aws.ToString(v.VersionId))
				}
			}
		})
	}
}

func testPagination(t *testing.T, c *s3.Client) {
	const n, pageSize = 2500, 1000
	ctx := testCtx(t, 50*time.Second)
	createBucket(t, c, "many", false)
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf("k/%04d", i)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for _, k := range want {
		g.Go(func() error {
			_, err := put(gctx, c, "many", k, k)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("create keys: %v", err)
	}

	var got []string
	var pages []int
	var token *string
	for {
		out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
			Bucket: aws.String("many"), MaxKeys: aws.Int32(pageSize), ContinuationToken: token,
		})
		if err != nil {
			t.Fatalf("page %d: %v", len(pages), err)
		}
		pages = append(pages, len(out.Contents))
		for _, o := range out.Contents {
			got = append(got, aws.ToString(o.Key))
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		if aws.ToString(out.NextContinuationToken) == "" {
			t.Fatalf("page %d truncated without a continuation token", len(pages))
		}
		if len(pages) > 10 {
			t.Fatal("too many pages")
		}
		token = out.NextContinuationToken
	}
	if !slices.Equal(pages, []int{1000, 1000, 500}) {
		t.Errorf("page sizes = %v, want [1000 1000 500]", pages)
	}
	if !slices.Equal(got, want) { // want is sorted, and every key once
		t.Errorf("listed %d keys, want the %d created, each once in order", len(got), len(want))
	}
}

func testMultipart(t *testing.T, c *s3.Client) {
	const size, partSize = 20 << 20, 5 << 20
	ctx := testCtx(t, 40*time.Second)
	createBucket(t, c, "big", true)
	data := make([]byte, size)
	rand.Read(data)

	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String("big"), Key: aws.String("blob.bin"), ContentType: aws.String("application/octet-stream"),
	})
	if err != nil {
		t.Fatal(err)
	}
	parts := make([]types.CompletedPart, size/partSize)
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	for i := range parts {
		g.Go(func() error {
			num := aws.Int32(int32(i + 1))
			out, err := c.UploadPart(gctx, &s3.UploadPartInput{
				Bucket: aws.String("big"), Key: aws.String("blob.bin"), UploadId: up.UploadId,
				PartNumber: num, Body: bytes.NewReader(data[i*partSize : (i+1)*partSize]),
			})
			if err != nil {
				return fmt.Errorf("part %d: %w", i+1, err)
			}
			mu.Lock()
			parts[i] = types.CompletedPart{ETag: out.ETag, PartNumber: num}
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	done, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String("big"), Key: aws.String("blob.bin"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		t.Fatal(err)
	}
	if etag := strings.Trim(aws.ToString(done.ETag), `"`); !strings.HasSuffix(etag, fmt.Sprintf("-%d", len(parts))) {
		t.Errorf("ETag %q: want suffix -%d", etag, len(parts))
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("big"), Key: aws.String("blob.bin")})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, out.Body)
	if err != nil {
		t.Fatal(err)
	}
	if want := sha256.Sum256(data); n != size || !bytes.Equal(h.Sum(nil), want[:]) {
		t.Errorf("downloaded %d bytes with a different sha256; want %d identical bytes", n, size)
	}
}

func testCopy(t *testing.T, c *s3.Client) {
	ctx := testCtx(t, 20*time.Second)
	createBucket(t, c, "copies", true)
	_, err := c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String("copies"), Key: aws.String("src.txt"), Body: strings.NewReader("hello"),
		ContentType:        aws.String("text/plain"),
		CacheControl:       aws.String("max-age=60"),
		ContentDisposition: aws.String(`attachment; filename="src.txt"`),
		Metadata:           map[string]string{"owner": "alice", "tier": "gold"},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket: aws.String("copies"), Key: aws.String("kept.txt"), CopySource: aws.String("copies/src.txt"),
		MetadataDirective: types.MetadataDirectiveCopy,
	})
	if err != nil {
		t.Fatalf("copy COPY: %v", err)
	}
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket: aws.String("copies"), Key: aws.String("replaced.txt"), CopySource: aws.String("copies/src.txt"),
		MetadataDirective: types.MetadataDirectiveReplace,
		ContentType:       aws.String("application/json"),
		Metadata:          map[string]string{"owner": "bob"},
	})
	if err != nil {
		t.Fatalf("copy REPLACE: %v", err)
	}
	tests := []struct {
		key, contentType, cacheControl, disposition string
		meta                                        map[string]string
	}{
		{"src.txt", "text/plain", "max-age=60", `attachment; filename="src.txt"`, map[string]string{"owner": "alice", "tier": "gold"}},
		{"kept.txt", "text/plain", "max-age=60", `attachment; filename="src.txt"`, map[string]string{"owner": "alice", "tier": "gold"}},
		{"replaced.txt", "application/json", "", "", map[string]string{"owner": "bob"}},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("copies"), Key: aws.String(tc.key)})
			if err != nil {
				t.Fatal(err)
			}
			if got := aws.ToString(h.ContentType); got != tc.contentType {
				t.Errorf("Content-Type = %q, want %q", got, tc.contentType)
			}
			if got := aws.ToString(h.CacheControl); got != tc.cacheControl {
				t.Errorf("Cache-Control = %q, want %q", got, tc.cacheControl)
			}
			if got := aws.ToString(h.ContentDisposition); got != tc.disposition {
				t.Errorf("Content-Disposition = %q, want %q", got, tc.disposition)
			}
			if !maps(h.Metadata, tc.meta) {
				t.Errorf("metadata = %v, want %v", h.Metadata, tc.meta)
			}
			if got, err := get(ctx, c, "copies", tc.key, ""); err != nil || got != "hello" {
				t.Errorf("body = %q, %v; want hello", got, err)
			}
		})
	}
}

func maps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return true
}

func testTagging(t *testing.T, c *s3.Client) {
	ctx := testCtx(t, 10*time.Second)
	createBucket(t, c, "tags", false)
	if _, err := put(ctx, c, "tags", "obj", "x"); err != nil {
		t.Fatal(err)
	}
	want := []types.Tag{{Key: aws.String("env"), Value: aws.String("prod")}, {Key: aws.String("team"), Value: aws.String("dr")}}
	_, err := c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{
		Bucket: aws.String("tags"), Key: aws.String("obj"), Tagging: &types.Tagging{TagSet: want},
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("obj")})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, tg := range out.TagSet {
		got[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	if !maps(got, map[string]string{"env": "prod", "team": "dr"}) {
		t.Errorf("tags = %v, want env=prod team=dr", got)
	}
}

func testCredentials(t *testing.T, s *testStore) {
	ctx := testCtx(t, 10*time.Second)
	tests := []struct {
		name, access, secret string
		codes                []string
	}{
		{"wrong secret", s.opts.AccessKey, s.opts.SecretKey + "x", []string{"SignatureDoesNotMatch"}},
		// versitygw v1.8.0 answers an unknown key with XAdminUserNotFound.
		{"unknown access key", "NOSUCHKEY", s.opts.SecretKey, []string{"InvalidAccessKeyId", "XAdminUserNotFound"}},
		{"right keys", s.opts.AccessKey, s.opts.SecretKey, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewClient(s.Endpoint(), tc.access, tc.secret, s.opts.Region)
			_, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
			if tc.codes == nil {
				if err != nil {
					t.Fatalf("list buckets: %v", err)
				}
				return
			}
			if !slices.Contains(tc.codes, errCode(err)) {
				t.Fatalf("list buckets: %v; want one of %v", err, tc.codes)
			}
		})
	}
}
