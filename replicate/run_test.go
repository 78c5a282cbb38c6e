package replicate

import (
	"context"
	"errors"
	"maps"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/replicate/events"
)

// eventually polls cond every 20 ms until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRunEvents(t *testing.T) {
	ctx := testCtx(t, 60*time.Second)
	f := newFixture(t, ctx)
	r := f.replicator(t, Policy{Deletes: plan.DeletesReplicate}, Options{Checkpoint: filepath.Join(t.TempDir(), "cp.db")})
	evs := make(chan events.Event, 16)
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx, RunOptions{Interval: time.Hour, Events: evs}) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	head := func(key string) (*s3.HeadObjectOutput, error) {
		return f.dstC.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &f.dst, Key: aws.String(key)})
	}

	// New object: only the event can bring it before the next pass (1 h).
	putObject(t, ctx, f.srcC, &s3.PutObjectInput{Bucket: &f.src, Key: aws.String("n")}, []byte("new"))
	for range 3 { // duplicates collapse
		evs <- events.Event{Bucket: f.src, Key: "n", Kind: events.Created, Time: time.Now()}
	}
	eventually(t, 5*time.Second, "new object replicated", func() bool { _, err := head("n"); return err == nil })

	// Tags only: the ETag does not change, the tags must follow.
	_, err := f.srcC.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: &f.src, Key: aws.String("n"),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("state"), Value: aws.String("final")}}}})
	if err != nil {
		t.Fatal(err)
	}
	evs <- events.Event{Bucket: f.src, Key: "n", Kind: events.Tagged}
	eventually(t, 5*time.Second, "tags replicated", func() bool {
		return maps.Equal(tagSet(t, ctx, f.dstC, f.dst, "n"), map[string]string{"state": "final"})
	})

	// Delete, with deletes: replicate.
	if _, err := f.srcC.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &f.src, Key: aws.String("n")}); err != nil {
		t.Fatal(err)
	}
	evs <- events.Event{Bucket: f.src, Key: "n", Kind: events.Removed}
	eventually(t, 5*time.Second, "delete replicated", func() bool { _, err := head("n"); return isNotFound(err) })

	// Another bucket's events are ignored.
	putObject(t, ctx, f.srcC, &s3.PutObjectInput{Bucket: &f.src, Key: aws.String("other")}, []byte("x"))
	evs <- events.Event{Bucket: "someone-else", Key: "other", Kind: events.Created}
	time.Sleep(200 * time.Millisecond)
	if _, err := head("other"); !isNotFound(err) {
		t.Errorf("event of another bucket synced: %v", err)
	}
}

// Without events, the periodic pass picks up changes.
func TestRunInterval(t *testing.T) {
	ctx := testCtx(t, 60*time.Second)
	f := newFixture(t, ctx)
	obs := &recorder{}
	r := f.replicator(t, Policy{}, Options{Observer: obs})
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx, RunOptions{Interval: 100 * time.Millisecond}) }()
	npasses := func() int { obs.mu.Lock(); defer obs.mu.Unlock(); return len(obs.passes) }
	eventually(t, 5*time.Second, "first pass", func() bool { return npasses() >= 1 })
	putObject(t, ctx, f.srcC, &s3.PutObjectInput{Bucket: &f.src, Key: aws.String("late")}, []byte("late"))
	eventually(t, 5*time.Second, "object replicated by a completed pass", func() bool {
		// The copy is visible before its pass completes: wait for both.
		_, err := f.dstC.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &f.dst, Key: aws.String("late")})
		return err == nil && npasses() >= 2
	})
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if passes := npasses(); passes < 2 {
		t.Errorf("%d passes", passes)
	}
}

func TestRunPermanentErrorAtStart(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	f := newFixture(t, ctx)
	obs := &recorder{}
	r := f.replicator(t, Policy{}, Options{Observer: obs, Checkpoint: filepath.Join(t.TempDir(), "cp.db")})
	r.src.Bucket = "no-such-bucket-here"
	err := r.Run(ctx, RunOptions{Interval: time.Hour})
	if !errors.Is(err, ErrPermanent) {
		t.Fatalf("Run = %v, want a permanent error", err)
	}
	// A pass stopped by an error is a failure, never a completed pass.
	if got := obs.take(); len(got) != 2 || got[0] != "pass started" || got[1] != "failed " {
		t.Errorf("observer: %q", got)
	}
}

func TestKeyQueueCollapse(t *testing.T) {
	ctx := testCtx(t, 5*time.Second)
	q := newKeyQueue()
	q.push("a", false)
	q.push("a", true) // a tag change queued behind a content change
	q.push("b", true)
	q.push("b", true)
	key, w, ok := q.pop(ctx)
	if !ok || key != "a" || w != (want{full: true, tags: true}) {
		t.Fatalf("pop = %q %+v %v, want a with a full sync and tags", key, w, ok)
	}
	// While a is in flight, a new event for it waits for done.
	q.push("a", false)
	key, w, _ = q.pop(ctx)
	if key != "b" || w != (want{tags: true}) {
		t.Fatalf("pop = %q %+v, want b tags only", key, w)
	}
	q.done("a")
	key, w, _ = q.pop(ctx)
	if key != "a" || w != (want{full: true}) {
		t.Fatalf("pop = %q %+v, want a full", key, w)
	}
}
