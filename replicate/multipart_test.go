package replicate

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

const (
	bigSize   = 40 << 20
	threshold = 8 << 20
	partSize  = 5 << 20
)

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestCompositeETag(t *testing.T) {
	// Two parts "a" and "b": md5(md5("a") || md5("b")) + "-2".
	a, b := md5.Sum([]byte("a")), md5.Sum([]byte("b"))
	want := md5.Sum(append(a[:], b[:]...))
	got, err := compositeETag([]string{hex.EncodeToString(a[:]), hex.EncodeToString(b[:])})
	if err != nil {
		t.Fatal(err)
	}
	if w := hex.EncodeToString(want[:]) + "-2"; got != w {
		t.Fatalf("compositeETag = %q, want %q", got, w)
	}
	if _, err := compositeETag([]string{"zz"}); err == nil {
		t.Fatal("compositeETag accepted a non-hex MD5")
	}
}

func TestPartSizeFor(t *testing.T) {
	r := &Replicator{o: Options{PartSize: 16 << 20}}
	for _, tc := range []struct{ size, want int64 }{
		{100 << 20, 16 << 20},
		{16 << 20 * 10000, 16 << 20},
		{16<<20*10000 + 1, 17 << 20},
		{5 << 40, 525 << 20},
	} {
		if got := r.partSizeFor(tc.size); got != tc.want {
			t.Errorf("partSizeFor(%d) = %d, want %d", tc.size, got, tc.want)
		}
		if ps := r.partSizeFor(tc.size); (tc.size+ps-1)/ps > maxParts {
			t.Errorf("partSizeFor(%d) gives more than %d parts", tc.size, maxParts)
		}
	}
}

// Large objects, uploaded by single PUT and by multipart upload, are copied
// in parts within the memory budget, verified, and equal to the source.
func TestMultipartCopy(t *testing.T) {
	ctx := testCtx(t, 60*time.Second)
	f := newFixture(t, ctx)
	single := randomBytes(t, bigSize)
	putObject(t, ctx, f.srcC, &s3.PutObjectInput{Bucket: &f.src, Key: aws.String("big/single"),
		ContentType: aws.String("video/mp4"), Metadata: map[string]string{"camera": "7"}, Tagging: aws.String("tier=gold")}, single)
	multi := randomBytes(t, 3*partSize+1234)
	multipartUpload(t, ctx, f.srcC, &s3.CreateMultipartUploadInput{Bucket: &f.src, Key: aws.String("big/multi"),
		CacheControl: aws.String("no-store")}, multi, partSize)
	budget := int64(3 * partSize)
	r := f.replicator(t, Policy{}, Options{MultipartThreshold: threshold, PartSize: partSize, MemoryBudget: budget,
		Checkpoint: filepath.Join(t.TempDir(), "cp.db")})
	s, err := r.Pass(ctx)
	if err != nil || s.Copied != 2 || s.Failed != 0 {
		t.Fatalf("pass: %+v, %v", s, err)
	}
	if peak := r.mem.peak.Load(); peak > budget || peak < partSize {
		t.Errorf("peak buffered bytes %d, budget %d", peak, budget)
	}
	if got := f.px.count("PUT", "partNumber"); got != 8+4 {
		t.Errorf("%d parts uploaded, want 12", got)
	}
	f.assertEqual(t, ctx, []string{"big/single", "big/multi"})
	rec, ok, err := r.cp.object("big/single")
	sum := sha256.Sum256(single)
	if err != nil || !ok || rec.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("checkpoint record %+v, %v, %v", rec, ok, err)
	}
	if _, ok, _ := r.cp.upload("big/single"); ok {
		t.Error("completed upload still in the checkpoint")
	}
	rep, err := Verify(ctx, ep(f.srcC, f.src), ep(f.dstC, f.dst), VerifyOptions{Deep: true})
	if err != nil || rep.Drift {
		t.Fatalf("verify: %+v, %v", rep, err)
	}
}

// An interrupted multipart copy resumes: parts the replica already holds
// are not uploaded again.
func TestMultipartResume(t *testing.T) {
	ctx := testCtx(t, 60*time.Second)
	f := newFixture(t, ctx)
	body := randomBytes(t, bigSize)
	putObject(t, ctx, f.srcC, &s3.PutObjectInput{Bucket: &f.src, Key: aws.String("big")}, body)
	cp := filepath.Join(t.TempDir(), "cp.db")
	o := Options{MultipartThreshold: threshold, PartSize: partSize, MemoryBudget: 2 * partSize, Checkpoint: cp}

	// First run: cancelled once three parts went through.
	r := f.replicator(t, Policy{}, o)
	cctx, cancel := context.WithCancel(ctx)
	var parts atomic.Int32
	seen := func(e reqLog) {
		if e.Method == http.MethodPut && e.Query.Has("partNumber") && parts.Add(1) == 3 {
			cancel()
		}
	}
	f.px.seen.Store(&seen)
	if _, err := r.Pass(cctx); err == nil {
		t.Fatal("interrupted pass returned no error")
	}
	r.Close()
	f.px.seen.Store(nil)
	first := map[string]bool{}
	for _, q := range f.px.requests() {
		if q.Method == http.MethodPut && q.Query.Has("partNumber") {
			first[q.Query.Get("partNumber")] = true
		}
	}
	up, ok, err := func() (uploadRecord, bool, error) {
		c, err := openCheckpoint(cp)
		if err != nil {
			return uploadRecord{}, false, err
		}
		defer c.close()
		return c.upload("big")
	}()
	if err != nil || !ok || len(up.Parts) == 0 || len(up.Parts) >= 8 {
		t.Fatalf("checkpoint after the interruption: %+v, %v, %v", up, ok, err)
	}
	if _, err := f.dstC.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &f.dst, Key: aws.String("big")}); !isNotFound(err) {
		t.Fatalf("incomplete object visible in the replica: %v", err)
	}

	// Second run: only the missing parts.
	f.px.reset()
	r = f.replicator(t, Policy{}, o)
	s, err := r.Pass(ctx)
	if err != nil || s.Copied != 1 {
		t.Fatalf("resumed pass: %+v, %v", s, err)
	}
	again := 0
	for _, q := range f.px.requests() {
		if q.Method == http.MethodPut && q.Query.Has("partNumber") {
			if _, done := up.Parts[atoi(q.Query.Get("partNumber"))]; done {
				t.Errorf("part %s uploaded again", q.Query.Get("partNumber"))
			}
			again++
		}
	}
	if again != 8-len(up.Parts) {
		t.Errorf("resumed pass uploaded %d parts, want %d (first run recorded %d, sent %v)", again, 8-len(up.Parts), len(up.Parts), first)
	}
	b, _ := getBody(t, ctx, f.dstC, f.dst, "big")
	if !bytes.Equal(b, body) {
		t.Fatal("resumed copy differs from the source")
	}
}

// A source that changes between the interruption and the resume makes the
// replicator abort the old upload and start over.
func TestMultipartResumeSourceChanged(t *testing.T) {
	ctx := testCtx(t, 60*time.Second)
	f := newFixture(t, ctx)
	putObject(t, ctx, f.srcC, &s3.PutObjectInput{Bucket: &f.src, Key: aws.String("big")}, randomBytes(t, 2*threshold))
	cp := filepath.Join(t.TempDir(), "cp.db")
	o := Options{MultipartThreshold: threshold, PartSize: partSize, MemoryBudget: partSize, Checkpoint: cp}
	r := f.replicator(t, Policy{}, o)
	cctx, cancel := context.WithCancel(ctx)
	seen := func(e reqLog) {
		if e.Method == http.MethodPut && e.Query.Get("partNumber") == "1" {
			cancel()
		}
	}
	f.px.seen.Store(&seen)
	r.Pass(cctx)
	r.Close()
	f.px.seen.Store(nil)
	body := randomBytes(t, 2*threshold+7)
	putObject(t, ctx, f.srcC, &s3.PutObjectInput{Bucket: &f.src, Key: aws.String("big")}, body)
	f.px.reset()
	r = f.replicator(t, Policy{}, o)
	if s, err := r.Pass(ctx); err != nil || s.Copied != 1 {
		t.Fatalf("pass: %+v, %v", s, err)
	}
	if f.px.count(http.MethodDelete, "uploadId") != 1 {
		t.Error("stale upload not aborted")
	}
	if b, _ := getBody(t, ctx, f.dstC, f.dst, "big"); !bytes.Equal(b, body) {
		t.Fatal("replica differs from the new source")
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// multipartUpload writes body as a multipart object with parts of ps bytes.
func multipartUpload(t *testing.T, ctx context.Context, c *s3.Client, in *s3.CreateMultipartUploadInput, body []byte, ps int) {
	t.Helper()
	up, err := c.CreateMultipartUpload(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	var parts []types.CompletedPart
	for n := 1; len(body) > 0; n++ {
		chunk := body[:min(ps, len(body))]
		body = body[len(chunk):]
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: in.Bucket, Key: in.Key, UploadId: up.UploadId,
			PartNumber: aws.Int32(int32(n)), Body: bytes.NewReader(chunk), ContentLength: aws.Int64(int64(len(chunk)))})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(int32(n)), ETag: out.ETag})
	}
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: in.Bucket, Key: in.Key, UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	if err != nil {
		t.Fatal(err)
	}
}
