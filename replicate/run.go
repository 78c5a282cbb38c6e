package replicate

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pilotlight/pilotlight/replicate/events"
)

// RunOptions tune Run.
type RunOptions struct {
	// Interval between the starts of full listing passes (default 30s).
	Interval time.Duration
	// Events are the source bucket's change notifications (optional).
	// Each changed key is synced at once with SyncKey; a closed channel
	// means no more events. Events are hints: the passes still run.
	Events <-chan events.Event
	// EventWorkers is the number of keys synced in parallel (default 8).
	EventWorkers int
}

// Run keeps the replica converged until ctx ends: a full Pass at once and
// then every Interval, and, between passes, a SyncKey for every key an
// event names (several events for a key already queued collapse into one
// sync, which reads the key's current state). It returns the first pass's
// permanent error (a wrong endpoint or credentials); later failures are
// logged, reported to the Observer and retried. It returns nil when ctx
// ends.
func (r *Replicator) Run(ctx context.Context, o RunOptions) error {
	if o.Interval <= 0 {
		o.Interval = 30 * time.Second
	}
	if o.EventWorkers <= 0 {
		o.EventWorkers = 8
	}
	if _, err := r.Pass(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrPermanent) {
			return err
		}
		r.log.Warn("pass failed", "err", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	q := newKeyQueue()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for range o.EventWorkers {
		wg.Go(func() { r.syncQueued(ctx, q) })
	}
	wg.Go(func() { r.readEvents(ctx, o.Events, q) })
	tick := time.NewTicker(o.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if _, err := r.Pass(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("pass failed", "err", err)
		}
	}
}

// readEvents queues the keys named by events until ctx ends or evs closes.
func (r *Replicator) readEvents(ctx context.Context, evs <-chan events.Event, q *keyQueue) {
	if evs == nil {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-evs:
			if !ok {
				return
			}
			if ev.Bucket != "" && ev.Bucket != r.src.Bucket {
				continue
			}
			if r.o.Observer != nil && ev.Kind != events.Tagged {
				if len(ev.Key) >= len(r.src.Prefix) && ev.Key[:len(r.src.Prefix)] == r.src.Prefix {
					r.o.Observer.Changed(ev.Key[len(r.src.Prefix):], ev.Time)
				}
			}
			q.push(ev.Key, ev.Kind == events.Tagged)
		}
	}
}

// syncQueued syncs queued keys until ctx ends.
func (r *Replicator) syncQueued(ctx context.Context, q *keyQueue) {
	for {
		key, w, ok := q.pop(ctx)
		if !ok {
			return
		}
		var err error
		if w.full {
			err = r.SyncKey(ctx, key)
		}
		if w.tags && err == nil {
			// After a full sync too: an unchanged object keeps its old
			// replica, whose tags may be stale.
			err = r.SyncTags(ctx, key)
		}
		q.done(key)
		if err != nil && ctx.Err() == nil {
			r.log.Warn("event sync failed; the next pass retries", "key", key, "err", err)
		}
	}
}

// SyncTags copies the tag set of a source key (its full key in the source
// bucket) to its replica, for tag-only changes, which leave the ETag, and
// so the in-sync rule, unchanged. A key without a replica is synced with
// SyncKey instead.
func (r *Replicator) SyncTags(ctx context.Context, key string) error {
	if len(key) < len(r.src.Prefix) || key[:len(r.src.Prefix)] != r.src.Prefix {
		return nil
	}
	rel := key[len(r.src.Prefix):]
	var out *s3.GetObjectTaggingOutput
	err := r.call(ctx, &r.src, "get tags", rel, func(ctx context.Context) (err error) {
		out, err = r.src.Client.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: &r.src.Bucket, Key: aws.String(key)})
		if isNotFound(err) {
			return errVanished
		}
		return err
	})
	if errors.Is(err, errVanished) {
		return r.SyncKey(ctx, key)
	}
	if err != nil {
		return err
	}
	tags := out.TagSet
	if tags == nil {
		tags = []types.Tag{}
	}
	err = r.call(ctx, &r.dst, "put tags", rel, func(ctx context.Context) error {
		_, err := r.dst.Client.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: &r.dst.Bucket,
			Key: aws.String(r.dst.Prefix + rel), Tagging: &types.Tagging{TagSet: tags}})
		if isNotFound(err) {
			return errVanished
		}
		return err
	})
	if errors.Is(err, errVanished) {
		return r.SyncKey(ctx, key)
	}
	if err != nil {
		return err
	}
	return nil
}

// keyQueue is a FIFO of keys to sync in which a key appears at most once:
// a key pushed while queued is collapsed into the queued entry, and a key
// pushed while being synced is queued again, to be synced after.
// want is what a queued key needs: a full sync (content, metadata,
// deletes), its tags, or both. Events collapse by OR, so a tag change
// queued behind a content change is never lost.
type want struct{ full, tags bool }

type keyQueue struct {
	mu       sync.Mutex
	order    []string
	queued   map[string]want // what each queued key needs
	inFlight map[string]bool
	wake     chan struct{}
}

func newKeyQueue() *keyQueue {
	return &keyQueue{queued: map[string]want{}, inFlight: map[string]bool{}, wake: make(chan struct{}, 1)}
}

func (q *keyQueue) push(key string, tagsOnly bool) {
	q.mu.Lock()
	w := want{full: !tagsOnly, tags: tagsOnly}
	if prev, ok := q.queued[key]; ok {
		q.queued[key] = want{full: prev.full || w.full, tags: prev.tags || w.tags}
	} else {
		q.queued[key] = w
		q.order = append(q.order, key)
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// pop returns the next key not being synced, waiting until there is one
// or ctx ends.
func (q *keyQueue) pop(ctx context.Context) (string, want, bool) {
	for {
		q.mu.Lock()
		for i, key := range q.order {
			if q.inFlight[key] {
				continue
			}
			w := q.queued[key]
			q.order = append(q.order[:i:i], q.order[i+1:]...)
			delete(q.queued, key)
			q.inFlight[key] = true
			more := len(q.order) > 0
			q.mu.Unlock()
			if more {
				select {
				case q.wake <- struct{}{}:
				default:
				}
			}
			return key, w, true
		}
		q.mu.Unlock()
		select {
		case <-ctx.Done():
			return "", want{}, false
		case <-q.wake:
		}
	}
}

func (q *keyQueue) done(key string) {
	q.mu.Lock()
	delete(q.inFlight, key)
	again := len(q.queued) > 0
	q.mu.Unlock()
	if again {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
}
