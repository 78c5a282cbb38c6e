package replicate

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pilotlight/pilotlight/plan"
)

// recorder is an Observer that records calls.
type recorder struct {
	mu     sync.Mutex
	calls  []string
	passes []Summary
}

func (o *recorder) add(s string) { o.mu.Lock(); o.calls = append(o.calls, s); o.mu.Unlock() }

func (o *recorder) Changed(key string, at time.Time) {
	if at.IsZero() {
		o.add("changed-without-time " + key)
		return
	}
	o.add("changed " + key)
}
func (o *recorder) Replicated(key string, _ time.Time) { o.add("replicated " + key) }
func (o *recorder) Failed(key string, _ error)         { o.add("failed " + key) }
func (o *recorder) PassStarted(time.Time)              { o.add("pass started") }
func (o *recorder) PassCompleted(_ time.Time, s Summary) {
	o.mu.Lock()
	o.passes = append(o.passes, s)
	o.mu.Unlock()
	o.add("pass completed")
}

func (o *recorder) take() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	c := o.calls
	o.calls = nil
	return c
}

func TestSyncKey(t *testing.T) {
	for _, tc := range []struct {
		pol        plan.DeletePolicy
		checkpoint bool
	}{{plan.DeletesReplicate, true}, {plan.DeletesReplicate, false}, {plan.DeletesKeep, true}} {
		t.Run(fmt.Sprintf("%s/checkpoint=%v", tc.pol, tc.checkpoint), func(t *testing.T) {
			ctx := testCtx(t, 30*time.Second)
			f := newFixture(t, ctx)
			obs := &recorder{}
			o := Options{Observer: obs}
			if tc.checkpoint {
				o.Checkpoint = filepath.Join(t.TempDir(), "cp.db")
			}
			r := f.replicator(t, Policy{Deletes: tc.pol}, o)
			key := "events/new.txt"
			putObject(t, ctx, f.srcC, &s3.PutObjectInput{Bucket: &f.src, Key: &key, ContentType: aws.String("text/plain")}, []byte("one"))
			if err := r.SyncKey(ctx, key); err != nil {
				t.Fatal(err)
			}
			if b, _ := getBody(t, ctx, f.dstC, f.dst, key); string(b) != "one" {
				t.Fatalf("replica holds %q", b)
			}
			if got := obs.take(); !slices.Equal(got, []string{"changed " + key, "replicated " + key}) {
				t.Errorf("observer after new key: %v", got)
			}
			// An event for an unchanged key copies nothing.
			f.px.reset()
			if err := r.SyncKey(ctx, key); err != nil {
				t.Fatal(err)
			}
			if n := f.px.count("PUT", ""); n != 0 {
				t.Errorf("unchanged key: %d PUTs", n)
			}
			if got := obs.take(); len(got) != 0 {
				t.Errorf("observer after unchanged key: %v", got)
			}
			putObject(t, ctx, f.srcC, &s3.PutObjectInput{Bucket: &f.src, Key: &key}, []byte("two"))
			if err := r.SyncKey(ctx, key); err != nil {
				t.Fatal(err)
			}
			if b, _ := getBody(t, ctx, f.dstC, f.dst, key); string(b) != "two" {
				t.Fatalf("replica holds %q after overwrite", b)
			}
			if _, err := f.srcC.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &f.src, Key: &key}); err != nil {
				t.Fatal(err)
			}
			obs.take()
			if err := r.SyncKey(ctx, key); err != nil {
				t.Fatal(err)
			}
			_, err := f.dstC.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &f.dst, Key: &key})
			if gone := isNotFound(err); gone != (tc.pol == plan.DeletesReplicate) {
				t.Fatalf("replica after delete event: %v", err)
			}
			if got := obs.take(); !slices.Equal(got, []string{"changed " + key, "replicated " + key}) {
				t.Errorf("observer after delete: %v", got)
			}
			// An event for a key that never existed is not an error.
			if err := r.SyncKey(ctx, "events/never"); err != nil {
				t.Fatal(err)
			}
			obs.take()
			s, err := r.Pass(ctx)
			if err != nil {
				t.Fatal(err)
			}
			calls := obs.take()
			if len(calls) < 2 || calls[0] != "pass started" || calls[len(calls)-1] != "pass completed" || len(obs.passes) != 1 {
				t.Errorf("observer during a pass: %v, %d summaries", calls, len(obs.passes))
			}
			if tc.pol == plan.DeletesKeep && !slices.Equal(s.DeletesKept, []string{key}) {
				t.Errorf("pass after a kept delete event: %+v", s)
			}
			if tc.pol == plan.DeletesReplicate && len(s.DeletesReplicated)+len(s.DeletesKept) != 0 {
				t.Errorf("pass after a replicated delete event: %+v", s)
			}
		})
	}
}

// Keys are replicated from the source prefix to the replica prefix, and
// events outside the source prefix are ignored.
func TestPrefixes(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	f := newFixture(t, ctx)
	for _, k := range []string{"photos/a.jpg", "photos/2024/b.jpg", "photos2/not.jpg", "other/c"} {
		putObject(t, ctx, f.srcC, &s3.PutObjectInput{Bucket: &f.src, Key: aws.String(k)}, []byte(k))
	}
	r, err := New(Endpoint{Client: f.srcC, Bucket: f.src, Prefix: "photos/"}, Endpoint{Client: f.viaProxy, Bucket: f.dst, Prefix: "backup/photos/"},
		Policy{Deletes: plan.DeletesReplicate}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s, err := r.Pass(ctx)
	if err != nil || s.Copied != 2 {
		t.Fatalf("pass: %+v, %v", s, err)
	}
	out, err := f.dstC.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &f.dst})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range out.Contents {
		got = append(got, *o.Key)
	}
	if want := []string{"backup/photos/2024/b.jpg", "backup/photos/a.jpg"}; !slices.Equal(got, want) {
		t.Fatalf("replica keys %v, want %v", got, want)
	}
	if b, _ := getBody(t, ctx, f.dstC, f.dst, "backup/photos/a.jpg"); string(b) != "photos/a.jpg" {
		t.Fatalf("content %q", b)
	}
	f.px.reset()
	if err := r.SyncKey(ctx, "other/c"); err != nil || len(f.px.requests()) != 0 {
		t.Fatalf("event outside the prefix: %v, %d requests", err, len(f.px.requests()))
	}
	if s, err := r.Pass(ctx); err != nil || s.Copied != 0 || s.Unchanged != 2 {
		t.Fatalf("second pass: %+v, %v", s, err)
	}
}

// corruptingSource flips a byte of the first n bodies it serves, as a
// source changing under the copy or a corrupted read would.
type corruptingSource struct {
	S3API
	n atomic.Int32
}

func (c *corruptingSource) GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	out, err := c.S3API.GetObject(ctx, in, optFns...)
	if err == nil && c.n.Add(-1) >= 0 {
		b, rerr := io.ReadAll(out.Body)
		out.Body.Close()
		if rerr != nil {
			return nil, rerr
		}
		if len(b) > 0 {
			b[0] ^= 0xff
		}
		out.Body = io.NopCloser(strings.NewReader(string(b)))
	}
	return out, err
}

// A copy whose checksum does not match the source ETag is never recorded
// or left as is: it is retried, and fails after the retries.
func TestCorruptReadIsRetried(t *testing.T) {
	for _, tc := range []struct {
		corrupt    int32
		wantFailed int
	}{{2, 0}, {100, 1}} {
		t.Run(fmt.Sprint(tc.corrupt), func(t *testing.T) {
			ctx := testCtx(t, 30*time.Second)
			f := newFixture(t, ctx)
			putObject(t, ctx, f.srcC, &s3.PutObjectInput{Bucket: &f.src, Key: aws.String("k")}, []byte("precious"))
			src := &corruptingSource{S3API: f.srcC}
			src.n.Store(tc.corrupt)
			cp := filepath.Join(t.TempDir(), "cp.db")
			r, err := New(ep(src, f.src), ep(f.viaProxy, f.dst), Policy{}, Options{Checkpoint: cp})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			r.bo = backoff{Base: time.Millisecond, Max: 2 * time.Millisecond}
			s, err := r.Pass(ctx)
			if err != nil || s.Failed != tc.wantFailed {
				t.Fatalf("pass: %+v, %v", s, err)
			}
			if n := f.px.count("PUT", ""); n != 1-tc.wantFailed {
				t.Errorf("%d PUTs: a corrupt read was written", n)
			}
			_, recorded, _ := r.cp.object("k")
			if recorded != (tc.wantFailed == 0) {
				t.Errorf("recorded in the checkpoint: %v", recorded)
			}
			if tc.wantFailed == 1 && !strings.Contains(s.Failures[0].Err, "checksum mismatch") {
				t.Errorf("failure: %s", s.Failures[0].Err)
			}
		})
	}
}
