package replicate

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pilotlight/pilotlight/plan"
)

// fixture is a source and a replica bucket, the replica behind a counting
// proxy.
type fixture struct {
	st       *store
	src, dst string
	srcC     *s3.Client // direct
	dstC     *s3.Client // direct, for assertions
	viaProxy *s3.Client // through the proxy, for the replicator
	px       *proxy
}

func newFixture(t *testing.T, ctx context.Context) *fixture {
	t.Helper()
	st := getStore(t)
	f := &fixture{st: st, src: st.bucket(t, ctx), dst: st.bucket(t, ctx), srcC: st.client(""), dstC: st.client("")}
	f.px = newProxy(t, st.proc.Endpoint())
	f.viaProxy = st.client(f.px.URL())
	return f
}

func (f *fixture) replicator(t *testing.T, pol Policy, o Options) *Replicator {
	t.Helper()
	r, err := New(ep(f.srcC, f.src), ep(f.viaProxy, f.dst), pol, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// seed writes n objects with varied headers, metadata and tags under a few
// nested prefixes and returns their keys.
func (f *fixture) seed(t *testing.T, ctx context.Context, n int) []string {
	t.Helper()
	types := []string{"text/plain", "application/json", "image/png", "application/octet-stream"}
	var keys []string
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range n {
		key := fmt.Sprintf("%s/obj-%04d.dat", []string{"a", "a/b", "a/b/c", "z"}[i%4], i)
		keys = append(keys, key)
		in := &s3.PutObjectInput{Bucket: &f.src, Key: aws.String(key), ContentType: aws.String(types[i%len(types)])}
		if i%2 == 0 {
			in.CacheControl = aws.String(fmt.Sprintf("max-age=%d", i))
		}
		if i%3 == 0 {
			in.ContentDisposition = aws.String(fmt.Sprintf(`attachment; filename="f%d.dat"`, i))
		}
		if i%5 == 0 {
			in.ContentLanguage = aws.String("en")
		}
		if i%6 == 0 {
			in.ContentEncoding = aws.String("gzip")
		}
		if i%7 == 0 {
			in.Expires = aws.Time(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
		}
		if i%4 != 3 {
			in.Metadata = map[string]string{"owner": fmt.Sprintf("team-%d", i%7), "seq": fmt.Sprint(i)}
		}
		if i%3 != 2 {
			in.Tagging = aws.String(url.Values{"class": {fmt.Sprint("c", i%3)}, "n": {fmt.Sprint(i)}}.Encode())
		}
		body := []byte(strings.Repeat(fmt.Sprintf("object %d;", i), 1+i%50))
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := tryPut(ctx, f.srcC, in, body); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	slices.Sort(keys)
	return keys
}

// assertEqual checks that the replica of every key equals the source:
// content, standard headers, user metadata (besides pilotlight-*) and tags.
func (f *fixture) assertEqual(t *testing.T, ctx context.Context, keys []string) {
	t.Helper()
	for _, key := range keys {
		sb, so := getBody(t, ctx, f.srcC, f.src, key)
		db, do := getBody(t, ctx, f.dstC, f.dst, key)
		if string(sb) != string(db) {
			t.Fatalf("%s: content differs", key)
		}
		for _, h := range [][3]any{
			{"Content-Type", so.ContentType, do.ContentType},
			{"Cache-Control", so.CacheControl, do.CacheControl},
			{"Content-Disposition", so.ContentDisposition, do.ContentDisposition},
			{"Content-Language", so.ContentLanguage, do.ContentLanguage},
			{"Content-Encoding", so.ContentEncoding, do.ContentEncoding},
			{"Expires", so.ExpiresString, do.ExpiresString},
		} {
			if a, b := deref(h[1].(*string)), deref(h[2].(*string)); a != b {
				t.Errorf("%s: %s %q, replica %q", key, h[0], a, b)
			}
		}
		if a, b := userMeta(so.Metadata), userMeta(do.Metadata); !maps.Equal(a, b) {
			t.Errorf("%s: metadata %v, replica %v", key, a, b)
		}
		if got := metaValue(do.Metadata, MetaSourceETag); got != trimETag(so.ETag) {
			t.Errorf("%s: %s = %q, want %q", key, MetaSourceETag, got, trimETag(so.ETag))
		}
		if got := metaValue(do.Metadata, MetaSourceVersion); got != deref(so.VersionId) {
			t.Errorf("%s: %s = %q, want %q", key, MetaSourceVersion, got, deref(so.VersionId))
		}
		if got := metaValue(do.Metadata, MetaSHA256); got == "" && singlePartETag(trimETag(do.ETag)) {
			t.Errorf("%s: no %s", key, MetaSHA256)
		}
		if a, b := deref(so.TagCount), deref(do.TagCount); a != b {
			t.Errorf("%s: tag count %d, replica %d", key, a, b)
		} else if a > 0 {
			st := tagSet(t, ctx, f.srcC, f.src, key)
			dt := tagSet(t, ctx, f.dstC, f.dst, key)
			if !maps.Equal(st, dt) {
				t.Errorf("%s: tags %v, replica %v", key, st, dt)
			}
		}
	}
}

func tagSet(t *testing.T, ctx context.Context, c *s3.Client, bucket, key string) map[string]string {
	t.Helper()
	out, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: &bucket, Key: &key})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, tg := range out.TagSet {
		m[deref(tg.Key)] = deref(tg.Value)
	}
	return m
}

func TestBackfill(t *testing.T) {
	for _, withCheckpoint := range []bool{true, false} {
		t.Run(fmt.Sprintf("checkpoint=%v", withCheckpoint), func(t *testing.T) {
			ctx := testCtx(t, 60*time.Second)
			f := newFixture(t, ctx)
			keys := f.seed(t, ctx, 200)
			o := Options{Workers: 8}
			if withCheckpoint {
				o.Checkpoint = filepath.Join(t.TempDir(), "cp.db")
			}
			var progress []Progress
			var pmu sync.Mutex
			o.Progress = func(p Progress) { pmu.Lock(); progress = append(progress, p); pmu.Unlock() }
			r := f.replicator(t, Policy{}, o)
			s, err := r.Pass(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if s.Listed != 200 || s.Copied != 200 || s.Unchanged != 0 || s.Failed != 0 {
				t.Fatalf("first pass: %+v", s)
			}
			if s.Bytes <= 0 || s.ObjectsPerSecond <= 0 {
				t.Errorf("first pass: bytes %d, objects/s %f", s.Bytes, s.ObjectsPerSecond)
			}
			pmu.Lock()
			last := progress[len(progress)-1]
			pmu.Unlock()
			if last.ObjectsDone != 200 || last.ObjectsTotal != 200 || last.Listing || last.BytesDone != last.BytesTotal {
				t.Errorf("last progress %+v", last)
			}
			f.assertEqual(t, ctx, keys)
			h, err := f.dstC.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &f.dst, Key: aws.String("a/obj-0000.dat")})
			if err != nil || deref(h.ContentEncoding) != "gzip" || deref(h.ExpiresString) == "" {
				t.Fatalf("replica of a/obj-0000.dat lacks Content-Encoding or Expires: %v", err)
			}

			f.px.reset()
			s, err = r.Pass(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if s.Copied != 0 || s.Unchanged != 200 || s.Failed != 0 {
				t.Fatalf("second pass: %+v", s)
			}
			reqs := f.px.requests()
			if withCheckpoint && len(reqs) != 0 {
				t.Errorf("no-op pass with a checkpoint made %d requests to the replica, first %+v", len(reqs), reqs[0])
			}
			if !withCheckpoint {
				for _, q := range reqs {
					if q.Method != "GET" || !q.Query.Has("list-type") {
						t.Errorf("no-op pass without checkpoint: unexpected request %s %s %v", q.Method, q.Key, q.Query)
					}
				}
			}
			rep, err := Verify(ctx, ep(f.srcC, f.src), ep(f.dstC, f.dst), VerifyOptions{Deep: true})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Drift || rep.Checked != 200 || len(rep.Extra)+len(rep.Skipped) != 0 {
				t.Errorf("verify: %+v", rep)
			}
		})
	}
}

// A new checkpoint adopts copies already in the replica instead of copying
// them again.
func TestCheckpointAdoptsExistingCopies(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	f := newFixture(t, ctx)
	f.seed(t, ctx, 20)
	if s, err := f.replicator(t, Policy{}, Options{}).Pass(ctx); err != nil || s.Copied != 20 {
		t.Fatalf("stateless pass: %+v, %v", s, err)
	}
	r := f.replicator(t, Policy{}, Options{Checkpoint: filepath.Join(t.TempDir(), "cp.db")})
	f.px.reset()
	s, err := r.Pass(ctx)
	if err != nil || s.Copied != 0 || s.Unchanged != 20 {
		t.Fatalf("first checkpointed pass: %+v, %v", s, err)
	}
	if n := f.px.count("PUT", ""); n != 0 {
		t.Errorf("%d PUTs, want none", n)
	}
	f.px.reset()
	if s, err := r.Pass(ctx); err != nil || s.Unchanged != 20 || len(f.px.requests()) != 0 {
		t.Fatalf("second checkpointed pass: %+v, %v, %d requests", s, err, len(f.px.requests()))
	}
}

func TestOverwriteKeepsOldVersion(t *testing.T) {
	for _, withCheckpoint := range []bool{true, false} {
		t.Run(fmt.Sprintf("checkpoint=%v", withCheckpoint), func(t *testing.T) {
			ctx := testCtx(t, 30*time.Second)
			f := newFixture(t, ctx)
			o := Options{}
			if withCheckpoint {
				o.Checkpoint = filepath.Join(t.TempDir(), "cp.db")
			}
			r := f.replicator(t, Policy{}, o)
			key := "doc.txt"
			putObject(t, ctx, f.srcC, &s3.PutObjectInput{Bucket: &f.src, Key: &key, ContentType: aws.String("text/plain")}, []byte("version one"))
			if _, err := r.Pass(ctx); err != nil {
				t.Fatal(err)
			}
			// Same size, different content: only the ETag tells.
			putObject(t, ctx, f.srcC, &s3.PutObjectInput{Bucket: &f.src, Key: &key, ContentType: aws.String("text/plain")}, []byte("version two"))
			s, err := r.Pass(ctx)
			if err != nil || s.Copied != 1 {
				t.Fatalf("pass after overwrite: %+v, %v", s, err)
			}
			if b, _ := getBody(t, ctx, f.dstC, f.dst, key); string(b) != "version two" {
				t.Fatalf("replica holds %q", b)
			}
			vs, err := f.dstC.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: &f.dst, Prefix: &key})
			if err != nil {
				t.Fatal(err)
			}
			if len(vs.Versions) != 2 {
				t.Fatalf("replica has %d versions, want 2", len(vs.Versions))
			}
			var old string
			for _, v := range vs.Versions {
				if !deref(v.IsLatest) {
					out, err := f.dstC.GetObject(ctx, &s3.GetObjectInput{Bucket: &f.dst, Key: &key, VersionId: v.VersionId})
					if err != nil {
						t.Fatal(err)
					}
					b := make([]byte, 64)
					n, _ := out.Body.Read(b)
					out.Body.Close()
					old = string(b[:n])
				}
			}
			if old != "version one" {
				t.Errorf("old replica version holds %q", old)
			}
		})
	}
}

func TestDeletes(t *testing.T) {
	for _, tc := range []struct {
		pol            plan.DeletePolicy
		checkpoint     bool
		wantReplicated bool
	}{
		{plan.DeletesKeep, true, false},
		{plan.DeletesKeep, false, false},
		{plan.DeletesReplicate, true, true},
		{plan.DeletesReplicate, false, true},
	} {
		t.Run(fmt.Sprintf("%s/checkpoint=%v", tc.pol, tc.checkpoint), func(t *testing.T) {
			ctx := testCtx(t, 30*time.Second)
			f := newFixture(t, ctx)
			o := Options{}
			if tc.checkpoint {
				o.Checkpoint = filepath.Join(t.TempDir(), "cp.db")
			}
			r := f.replicator(t, Policy{Deletes: tc.pol}, o)
			for _, k := range []string{"keep/a", "gone/b"} {
				putObject(t, ctx, f.srcC, &s3.PutObjectInput{Bucket: &f.src, Key: aws.String(k)}, []byte("data "+k))
			}
			// An object pilotlight never wrote is never deleted.
			putObject(t, ctx, f.dstC, &s3.PutObjectInput{Bucket: &f.dst, Key: aws.String("foreign")}, []byte("not ours"))
			if _, err := r.Pass(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := f.srcC.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &f.src, Key: aws.String("gone/b")}); err != nil {
				t.Fatal(err)
			}
			s, err := r.Pass(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantReplicated {
				if !slices.Equal(s.DeletesReplicated, []string{"gone/b"}) || len(s.DeletesKept) != 0 {
					t.Fatalf("summary: %+v", s)
				}
				_, err := f.dstC.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &f.dst, Key: aws.String("gone/b")})
				if !isNotFound(err) {
					t.Fatalf("replica HEAD after replicated delete: %v, want 404", err)
				}
				vs, err := f.dstC.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: &f.dst, Prefix: aws.String("gone/b")})
				if err != nil {
					t.Fatal(err)
				}
				if len(vs.DeleteMarkers) != 1 || len(vs.Versions) != 1 {
					t.Fatalf("replica has %d delete markers and %d versions, want 1 and 1", len(vs.DeleteMarkers), len(vs.Versions))
				}
			} else {
				if !slices.Equal(s.DeletesKept, []string{"gone/b"}) || len(s.DeletesReplicated) != 0 {
					t.Fatalf("summary: %+v", s)
				}
				if b, _ := getBody(t, ctx, f.dstC, f.dst, "gone/b"); string(b) != "data gone/b" {
					t.Fatalf("kept replica holds %q", b)
				}
			}
			if _, err := f.dstC.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &f.dst, Key: aws.String("foreign")}); err != nil {
				t.Fatalf("foreign replica object: %v", err)
			}
			s, err = r.Pass(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(s.DeletesReplicated) != 0 {
				t.Errorf("third pass replicated deletes again: %v", s.DeletesReplicated)
			}
			// Reported once with a checkpoint; every pass without one.
			if want := !tc.checkpoint && !tc.wantReplicated; (len(s.DeletesKept) == 1) != want {
				t.Errorf("third pass DeletesKept %v", s.DeletesKept)
			}
		})
	}
}

// archivedLister reports some keys as GLACIER in listings and HEADs, as
// AWS does; versitygw always answers STANDARD.
type archivedLister struct {
	S3API
	archived map[string]types.StorageClass
}

func (a archivedLister) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	out, err := a.S3API.ListObjectsV2(ctx, in, optFns...)
	if err == nil {
		for i, o := range out.Contents {
			if c, ok := a.archived[deref(o.Key)]; ok {
				out.Contents[i].StorageClass = types.ObjectStorageClass(c)
			}
		}
	}
	return out, err
}

func (a archivedLister) HeadObject(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	out, err := a.S3API.HeadObject(ctx, in, optFns...)
	if err == nil {
		if c, ok := a.archived[deref(in.Key)]; ok {
			out.StorageClass = c
		}
	}
	return out, err
}

func TestArchived(t *testing.T) {
	for _, pol := range []plan.ArchivedPolicy{plan.ArchivedSkip, plan.ArchivedCopy} {
		t.Run(string(pol), func(t *testing.T) {
			ctx := testCtx(t, 30*time.Second)
			f := newFixture(t, ctx)
			for _, k := range []string{"cold", "deep", "instant", "warm"} {
				putObject(t, ctx, f.srcC, &s3.PutObjectInput{Bucket: &f.src, Key: aws.String(k)}, []byte(k))
			}
			src := archivedLister{S3API: f.srcC, archived: map[string]types.StorageClass{
				"cold": types.StorageClassGlacier, "deep": types.StorageClassDeepArchive, "instant": types.StorageClassGlacierIr,
			}}
			r, err := New(ep(src, f.src), ep(f.viaProxy, f.dst), Policy{Archived: pol}, Options{Checkpoint: filepath.Join(t.TempDir(), "cp.db")})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			s, err := r.Pass(ctx)
			if err != nil {
				t.Fatal(err)
			}
			wantSkipped, wantCopied := []string{"cold", "deep"}, 2
			if pol == plan.ArchivedCopy {
				wantSkipped, wantCopied = nil, 4
			}
			slices.Sort(s.ArchivedSkipped)
			if !slices.Equal(s.ArchivedSkipped, wantSkipped) || s.Copied != wantCopied {
				t.Fatalf("summary: %+v", s)
			}
			if err := r.SyncKey(ctx, "cold"); err != nil {
				t.Fatal(err)
			}
			_, err = f.dstC.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &f.dst, Key: aws.String("cold")})
			if (pol == plan.ArchivedSkip) != isNotFound(err) {
				t.Errorf("replica of cold after SyncKey: %v", err)
			}
			rep, err := Verify(ctx, ep(src, f.src), ep(f.dstC, f.dst), VerifyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Drift || len(rep.Skipped) != 2 {
				t.Errorf("verify: %+v", rep)
			}
		})
	}
}
