package replicate

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pilotlight/pilotlight/plan"
)

// replicaObject is a replica object as listed.
type replicaObject struct {
	Size int64
	ETag string
}

// passState collects the results of one pass.
type passState struct {
	mu  sync.Mutex
	sum Summary

	listing                   atomic.Bool
	objDone, objTotal         atomic.Int64
	bytesDone, bytesTotal     atomic.Int64
	copiedBytes               atomic.Int64
	copied, unchanged, failed atomic.Int64
}

func (st *passState) add(list *[]string, key string) {
	st.mu.Lock()
	*list = append(*list, key)
	st.mu.Unlock()
}

// Pass makes one full pass: it lists the source, compares it with the
// checkpoint (or, without one, with the replica's listing), copies what
// differs, then applies the delete policy to keys gone from the source.
// Per-object failures are retried, then counted in the Summary; the error is
// non-nil only for permanent problems (a *PermanentError) or when ctx ends.
func (r *Replicator) Pass(ctx context.Context) (Summary, error) {
	r.passMu.Lock()
	defer r.passMu.Unlock()
	started := r.o.Clock()
	if r.o.Observer != nil {
		r.o.Observer.PassStarted(started)
	}
	st := &passState{sum: Summary{Source: r.src.name(), Destination: r.dst.name(), Started: started}}
	st.listing.Store(true)
	stopProgress := r.reportProgress(st, started)

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var replica map[string]replicaObject
	coldStart := r.cp == nil
	if !coldStart {
		var err error
		if coldStart, err = r.cp.empty(); err != nil {
			stopProgress()
			return r.finish(st, started, err), err
		}
	}
	var err error
	if coldStart {
		// Without a checkpoint, or with an empty one, one listing of the
		// replica (a request per 1,000 keys) decides for most keys; a HEAD
		// per object would double the requests of a backfill.
		if replica, err = r.listReplica(ctx); err != nil {
			stopProgress()
			return r.finish(st, started, err), err
		}
	}
	work := make(chan srcObject, r.o.Workers*4)
	var wg sync.WaitGroup
	for range r.o.Workers {
		wg.Go(func() {
			for o := range work {
				if err := r.handle(ctx, o, replica, st); err != nil {
					cancel(err)
				}
			}
		})
	}
	seen := make(map[string]struct{})
	listErr := r.listSource(ctx, func(o srcObject) error {
		seen[o.Key] = struct{}{}
		st.objTotal.Add(1)
		st.bytesTotal.Add(o.Size)
		select {
		case work <- o:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	})
	st.listing.Store(false)
	close(work)
	wg.Wait()
	if cause := context.Cause(ctx); cause != nil {
		err = cause
	} else if listErr != nil {
		err = listErr
	} else {
		err = r.applyDeletes(ctx, seen, replica, st)
	}
	if ferr := r.cp.flush(); err == nil && ferr != nil {
		err = ferr
	}
	stopProgress()
	return r.finish(st, started, err), err
}

// finish completes the summary and tells the observer: PassCompleted for a
// pass that ran to its end, Failed for one stopped by an error (a pass
// stopped by ctx is not reported).
func (r *Replicator) finish(st *passState, started time.Time, err error) Summary {
	st.mu.Lock()
	s := st.sum
	st.mu.Unlock()
	s.Listed = int(st.objTotal.Load())
	s.Copied, s.Unchanged, s.Failed = int(st.copied.Load()), int(st.unchanged.Load()), int(st.failed.Load())
	s.Bytes = st.copiedBytes.Load()
	end := r.o.Clock()
	s.Seconds = end.Sub(started).Seconds()
	if s.Seconds > 0 {
		s.ObjectsPerSecond = float64(s.Copied) / s.Seconds
		s.BytesPerSecond = float64(s.Bytes) / s.Seconds
	}
	switch {
	case r.o.Observer == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
	case err != nil:
		key := ""
		var pe *PermanentError
		if errors.As(err, &pe) {
			key = strings.TrimPrefix(pe.Key, r.src.Prefix)
		}
		r.o.Observer.Failed(key, err)
	default:
		r.o.Observer.PassCompleted(end, s)
	}
	return s
}

// reportProgress calls Options.Progress about 10 times a second until the
// returned func is called, which makes a final call.
func (r *Replicator) reportProgress(st *passState, started time.Time) (stop func()) {
	if r.o.Progress == nil {
		return func() {}
	}
	snap := func() Progress {
		return Progress{Bucket: r.src.Bucket, ObjectsDone: st.objDone.Load(), ObjectsTotal: st.objTotal.Load(),
			BytesDone: st.bytesDone.Load(), BytesTotal: st.bytesTotal.Load(), Listing: st.listing.Load(), Started: started}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				r.o.Progress(snap())
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
		r.o.Progress(snap())
	}
}

// listSource calls fn for every object under the source prefix.
func (r *Replicator) listSource(ctx context.Context, fn func(srcObject) error) error {
	return listAll(ctx, &r.src, r.bo, r.log, func(key string, size int64, etag, class string, mod time.Time) error {
		return fn(srcObject{Key: key, Size: size, ETag: etag, StorageClass: class, LastModified: mod})
	})
}

// listReplica returns every object under the replica prefix.
func (r *Replicator) listReplica(ctx context.Context) (map[string]replicaObject, error) {
	m := make(map[string]replicaObject)
	err := listAll(ctx, &r.dst, r.bo, r.log, func(key string, size int64, etag, _ string, _ time.Time) error {
		m[key] = replicaObject{Size: size, ETag: etag}
		return nil
	})
	return m, err
}

// listAll pages through ListObjectsV2 under s.Prefix; keys passed to fn are
// relative to the prefix.
func listAll(ctx context.Context, s *side, b backoff, log *slog.Logger, fn func(key string, size int64, etag, class string, mod time.Time) error) error {
	var token *string
	for {
		var out *s3.ListObjectsV2Output
		err := retryCall(ctx, s, "list", "", b, log, func(ctx context.Context) (err error) {
			out, err = s.Client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &s.Bucket, Prefix: optString(s.Prefix), ContinuationToken: token})
			return err
		})
		if err != nil {
			return err
		}
		for _, o := range out.Contents {
			key := strings.TrimPrefix(deref(o.Key), s.Prefix)
			if err := fn(key, deref(o.Size), trimETag(o.ETag), string(o.StorageClass), deref(o.LastModified)); err != nil {
				return err
			}
		}
		if !deref(out.IsTruncated) || out.NextContinuationToken == nil {
			return nil
		}
		token = out.NextContinuationToken
	}
}

// handle brings one listed source object up to date in the replica. It
// returns an error only when the pass must stop.
func (r *Replicator) handle(ctx context.Context, o srcObject, replica map[string]replicaObject, st *passState) error {
	defer func() {
		st.objDone.Add(1)
		st.bytesDone.Add(o.Size)
	}()
	if isArchived(o.StorageClass) && r.pol.Archived != plan.ArchivedCopy {
		st.add(&st.sum.ArchivedSkipped, o.Key)
		return nil
	}
	inSync, err := r.inSync(ctx, o, replica)
	if err != nil {
		return r.failed(ctx, o.Key, err, st)
	}
	if inSync {
		st.unchanged.Add(1)
		return nil
	}
	if r.o.Observer != nil {
		r.o.Observer.Changed(o.Key, o.LastModified)
	}
	n, err := r.copyObject(ctx, o)
	if errors.Is(err, errVanished) {
		// Deleted since the listing: the next pass applies the delete policy.
		st.unchanged.Add(1)
		return nil
	}
	if err != nil {
		return r.failed(ctx, o.Key, err, st)
	}
	st.copied.Add(1)
	st.copiedBytes.Add(n)
	if r.o.Observer != nil {
		r.o.Observer.Replicated(o.Key, r.o.Clock())
	}
	return nil
}

// failed counts a failure; permanent errors and cancellation stop the pass.
func (r *Replicator) failed(ctx context.Context, key string, err error, st *passState) error {
	if ctx.Err() != nil {
		return nil
	}
	if errors.Is(err, ErrPermanent) {
		return err
	}
	st.failed.Add(1)
	st.mu.Lock()
	st.sum.Failures = append(st.sum.Failures, Failure{Key: key, Err: err.Error()})
	st.mu.Unlock()
	if r.o.Observer != nil {
		r.o.Observer.Failed(key, err)
	}
	r.log.Warn("object not replicated", "key", key, "err", err)
	return nil
}

// inSync reports whether the replica already holds source object o. With a
// checkpoint it asks the checkpoint. A key the checkpoint has no record of
// is decided by the replica listing when the pass made one (no checkpoint,
// or an empty one), HEADing the replica only when the listing cannot
// decide; copies found in sync are adopted into the checkpoint. With a
// checkpoint that has records, an unknown key is a new object and is
// copied without asking the replica.
func (r *Replicator) inSync(ctx context.Context, o srcObject, replica map[string]replicaObject) (bool, error) {
	if r.cp != nil {
		rec, ok, err := r.cp.object(o.Key)
		if err != nil {
			return false, err
		}
		if ok {
			return !rec.Deleted && rec.ETag == o.ETag && rec.Size == o.Size, nil
		}
		if replica == nil {
			return false, nil
		}
	}
	if replica != nil {
		ro, ok := replica[o.Key]
		if !ok || ro.Size != o.Size {
			return false, nil
		}
		if ro.ETag == o.ETag && singlePartETag(o.ETag) {
			// Same size and content MD5: adopt the copy.
			return true, r.cp.putObject(o.Key, objectRecord{ETag: o.ETag, Size: o.Size, Verified: r.o.Clock()})
		}
	}
	h, ok, err := r.headReplica(ctx, o.Key)
	if err != nil || !ok {
		return false, err
	}
	if !replicaInSync(o.Size, o.ETag, h) {
		return false, nil
	}
	// Adopt a copy made earlier (without this checkpoint).
	return true, r.cp.putObject(o.Key, objectRecord{ETag: o.ETag, Size: o.Size,
		VersionID: metaValue(h.Metadata, MetaSourceVersion), SHA256: metaValue(h.Metadata, MetaSHA256), Verified: r.o.Clock()})
}

// replicaInSync applies the in-sync rule to a replica's HEAD.
func replicaInSync(size int64, etag string, h *s3.HeadObjectOutput) bool {
	if deref(h.ContentLength) != size {
		return false
	}
	if se := metaValue(h.Metadata, MetaSourceETag); se != "" {
		return se == etag
	}
	return trimETag(h.ETag) == etag && singlePartETag(etag)
}

// headReplica HEADs a replica key; ok is false when it does not exist.
func (r *Replicator) headReplica(ctx context.Context, key string) (*s3.HeadObjectOutput, bool, error) {
	var out *s3.HeadObjectOutput
	found := true
	err := r.call(ctx, &r.dst, "head", key, func(ctx context.Context) (err error) {
		out, err = r.dst.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &r.dst.Bucket, Key: aws.String(r.dst.Prefix + key)})
		if isNotFound(err) {
			found = false
			return nil
		}
		return err
	})
	return out, found && err == nil, err
}
