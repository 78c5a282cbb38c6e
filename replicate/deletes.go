package replicate

import (
	"context"
	"errors"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pilotlight/pilotlight/plan"
)

// applyDeletes handles keys that pilotlight replicated but that the source
// listing no longer has. Each candidate is confirmed gone with a HEAD of the
// source (it may have been created after the listing passed it). Keys the
// replica holds but pilotlight never wrote are left alone.
func (r *Replicator) applyDeletes(ctx context.Context, seen map[string]struct{}, replica map[string]replicaObject, st *passState) error {
	var candidates []string
	if r.cp != nil {
		err := r.cp.forEachObject(func(key string, rec objectRecord) error {
			if _, ok := seen[key]; !ok && !rec.Deleted {
				candidates = append(candidates, key)
			}
			return nil
		})
		if err != nil {
			return err
		}
	} else {
		for key := range replica {
			if _, ok := seen[key]; !ok {
				candidates = append(candidates, key)
			}
		}
		sort.Strings(candidates)
	}
	for _, key := range candidates {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := r.deleted(ctx, key, st)
		if errors.Is(err, ErrPermanent) || ctx.Err() != nil {
			return err
		}
		if err != nil {
			_ = r.failed(ctx, key, err, st)
		}
	}
	return nil
}

// deleted applies the delete policy to key if it is gone from the source
// and its replica was written by pilotlight.
func (r *Replicator) deleted(ctx context.Context, key string, st *passState) error {
	defer r.lockKey(key)()
	if _, err := r.headSource(ctx, key); !errors.Is(err, errVanished) {
		return err // still there (nil), or the HEAD failed
	}
	rec, known, err := r.cp.object(key)
	if err != nil {
		return err
	}
	if r.cp != nil && (!known || rec.Deleted) {
		return nil
	}
	if r.cp == nil {
		h, ok, err := r.headReplica(ctx, key)
		if err != nil || !ok {
			return err
		}
		if metaValue(h.Metadata, MetaSourceETag) == "" {
			return nil // not written by pilotlight: never deleted
		}
	}
	now := r.o.Clock()
	if r.o.Observer != nil {
		r.o.Observer.Changed(key, now)
	}
	if r.pol.Deletes == plan.DeletesReplicate {
		err := r.call(ctx, &r.dst, "delete", key, func(ctx context.Context) error {
			_, err := r.dst.Client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &r.dst.Bucket, Key: aws.String(r.dst.Prefix + key)})
			return err
		})
		if err != nil {
			return err
		}
		if st != nil {
			st.add(&st.sum.DeletesReplicated, key)
		}
	} else if st != nil {
		st.add(&st.sum.DeletesKept, key)
	}
	if r.cp != nil && (st != nil || r.pol.Deletes == plan.DeletesReplicate) {
		// Remember the delete so that it is replicated or reported once.
		rec.Deleted = true
		if err := r.cp.putObject(key, rec); err != nil {
			return err
		}
	}
	if r.o.Observer != nil {
		r.o.Observer.Replicated(key, r.o.Clock())
	}
	return nil
}

// SyncKey replicates one source key now, typically on a bucket event: key
// is the full key in the source bucket (a key outside the source prefix is
// ignored). If the source object differs from the replica it is copied and
// verified; if it is gone, the delete policy applies (a delete kept by
// policy is reported by the next Pass). Archived objects follow the
// archived policy. Errors are wrapped; permanent ones are *PermanentError.
func (r *Replicator) SyncKey(ctx context.Context, key string) error {
	if !strings.HasPrefix(key, r.src.Prefix) {
		return nil
	}
	key = strings.TrimPrefix(key, r.src.Prefix)
	o, err := r.headSource(ctx, key)
	if errors.Is(err, errVanished) {
		err = r.deleted(ctx, key, nil)
		if err != nil && r.o.Observer != nil {
			r.o.Observer.Failed(key, err)
		}
		return err
	}
	if err != nil {
		return err
	}
	if isArchived(o.StorageClass) && r.pol.Archived != plan.ArchivedCopy {
		return nil
	}
	inSync, err := r.inSync(ctx, o, nil)
	if err != nil || inSync {
		return err
	}
	if r.o.Observer != nil {
		r.o.Observer.Changed(key, o.LastModified)
	}
	if _, err := r.copyObject(ctx, o); err != nil {
		if errors.Is(err, errVanished) {
			return nil
		}
		if r.o.Observer != nil {
			r.o.Observer.Failed(key, err)
		}
		return err
	}
	if r.o.Observer != nil {
		r.o.Observer.Replicated(key, r.o.Clock())
	}
	return nil
}
