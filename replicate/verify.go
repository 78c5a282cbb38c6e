package replicate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sync/errgroup"
)

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// Deep also compares tags and the SHA-256 of the content, reading every
	// object on both sides.
	Deep bool
	// Workers is the number of objects compared in parallel (default 16).
	Workers int
	// Logger receives debug lines (nil discards).
	Logger *slog.Logger
}

// Drift is one object that verification reports.
type Drift struct {
	Key    string `json:"key"`
	Reason string `json:"reason"`
}

// VerifyReport is the result of Verify. Missing and Different objects are
// drift. Extra objects (in the replica only, such as deletes kept by
// policy) and Skipped objects (archived in the source) follow the policy
// and are not drift.
type VerifyReport struct {
	Source      string  `json:"source"`
	Destination string  `json:"destination"`
	Checked     int     `json:"checked"` // source objects compared
	Missing     []Drift `json:"missing"`
	Different   []Drift `json:"different"`
	Extra       []Drift `json:"extra"`
	Skipped     []Drift `json:"skipped"`
	Drift       bool    `json:"drift"` // len(Missing)+len(Different) > 0
}

var discard = slog.New(slog.DiscardHandler)

type listedObject struct {
	Size         int64
	ETag         string
	StorageClass string
}

// Verify compares src with its replica dst. For every source key it reports
// it missing from the replica, different (size; the in-sync rule on ETags;
// Content-Type or user metadata, ignoring pilotlight-* keys; with Deep also
// tags and SHA-256 of the content), or skipped when archived; replica keys
// absent from the source are extra. The listing decides what it can; both
// objects are HEADed otherwise. The error is non-nil only when a listing or
// request fails (permanent errors are *PermanentError).
func Verify(ctx context.Context, src, dst Endpoint, o VerifyOptions) (VerifyReport, error) {
	if o.Workers <= 0 {
		o.Workers = 16
	}
	rep := VerifyReport{Source: src.name(), Destination: dst.name(), Missing: []Drift{}, Different: []Drift{}, Extra: []Drift{}, Skipped: []Drift{}}
	if o.Logger == nil {
		o.Logger = discard
	}
	v := &verifier{src: &side{Endpoint: src}, dst: &side{Endpoint: dst}, deep: o.Deep, log: o.Logger}
	srcObjs, err := v.list(ctx, v.src)
	if err != nil {
		return rep, err
	}
	dstObjs, err := v.list(ctx, v.dst)
	if err != nil {
		return rep, err
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.Workers)
	for _, key := range slices.Sorted(maps.Keys(srcObjs)) {
		so := srcObjs[key]
		rep.Checked++
		if isArchived(so.StorageClass) {
			rep.Skipped = append(rep.Skipped, Drift{key, "archived (" + so.StorageClass + ")"})
			continue
		}
		do, ok := dstObjs[key]
		if !ok {
			rep.Missing = append(rep.Missing, Drift{key, "not in the replica"})
			continue
		}
		g.Go(func() error {
			reason, err := v.compare(gctx, key, so, do)
			if err != nil || reason == "" {
				return err
			}
			mu.Lock()
			rep.Different = append(rep.Different, Drift{key, reason})
			mu.Unlock()
			return nil
		})
	}
	for key := range dstObjs {
		if _, ok := srcObjs[key]; !ok {
			rep.Extra = append(rep.Extra, Drift{key, "not in the source"})
		}
	}
	if err := g.Wait(); err != nil {
		return rep, err
	}
	for _, l := range [][]Drift{rep.Missing, rep.Different, rep.Extra, rep.Skipped} {
		sort.Slice(l, func(i, j int) bool { return l[i].Key < l[j].Key })
	}
	rep.Drift = len(rep.Missing)+len(rep.Different) > 0
	return rep, nil
}

type verifier struct {
	src, dst *side
	deep     bool
	log      *slog.Logger
}

func (v *verifier) list(ctx context.Context, s *side) (map[string]listedObject, error) {
	m := make(map[string]listedObject)
	err := listAll(ctx, s, backoff{}, v.log, func(key string, size int64, etag, class string, _ time.Time) error {
		m[key] = listedObject{Size: size, ETag: etag, StorageClass: class}
		return nil
	})
	return m, err
}

// compare returns why the replica of key differs, or "".
func (v *verifier) compare(ctx context.Context, key string, so, do listedObject) (string, error) {
	if so.Size != do.Size {
		return fmt.Sprintf("size %d, replica %d", so.Size, do.Size), nil
	}
	sh, err := v.head(ctx, v.src, key)
	if err != nil {
		return "", err
	}
	dh, err := v.head(ctx, v.dst, key)
	if err != nil {
		return "", err
	}
	etag := trimETag(sh.ETag)
	if !replicaInSync(deref(sh.ContentLength), etag, dh) {
		if se := metaValue(dh.Metadata, MetaSourceETag); se != "" {
			return fmt.Sprintf("source ETag %s, replica copied from ETag %s", etag, se), nil
		}
		return fmt.Sprintf("source ETag %s, replica ETag %s", etag, trimETag(dh.ETag)), nil
	}
	if a, b := deref(sh.ContentType), deref(dh.ContentType); a != b {
		return fmt.Sprintf("Content-Type %q, replica %q", a, b), nil
	}
	if a, b := userMeta(sh.Metadata), userMeta(dh.Metadata); !maps.Equal(a, b) {
		return fmt.Sprintf("user metadata %v, replica %v", a, b), nil
	}
	if !v.deep {
		return "", nil
	}
	st, err := v.tags(ctx, v.src, key)
	if err != nil {
		return "", err
	}
	dt, err := v.tags(ctx, v.dst, key)
	if err != nil {
		return "", err
	}
	if st != dt {
		return fmt.Sprintf("tags %q, replica %q", st, dt), nil
	}
	ss, err := v.sha256(ctx, v.src, key)
	if err != nil {
		return "", err
	}
	ds, err := v.sha256(ctx, v.dst, key)
	if err != nil {
		return "", err
	}
	if ss != ds {
		return fmt.Sprintf("content SHA-256 %s, replica %s", ss, ds), nil
	}
	return "", nil
}

func (v *verifier) head(ctx context.Context, s *side, key string) (*s3.HeadObjectOutput, error) {
	var out *s3.HeadObjectOutput
	err := retryCall(ctx, s, "head", key, backoff{}, v.log, func(ctx context.Context) (err error) {
		out, err = s.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.Bucket, Key: aws.String(s.Prefix + key)})
		return err
	})
	return out, err
}

func (v *verifier) tags(ctx context.Context, s *side, key string) (string, error) {
	var out *s3.GetObjectTaggingOutput
	err := retryCall(ctx, s, "get tags", key, backoff{}, v.log, func(ctx context.Context) (err error) {
		out, err = s.Client.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: &s.Bucket, Key: aws.String(s.Prefix + key)})
		return err
	})
	if err != nil {
		return "", err
	}
	tags := make([]string, 0, len(out.TagSet))
	for _, t := range out.TagSet {
		tags = append(tags, deref(t.Key)+"="+deref(t.Value))
	}
	sort.Strings(tags)
	return strings.Join(tags, "&"), nil
}

func (v *verifier) sha256(ctx context.Context, s *side, key string) (string, error) {
	var sum string
	err := retryCall(ctx, s, "get", key, backoff{}, v.log, func(ctx context.Context) error {
		out, err := s.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.Bucket, Key: aws.String(s.Prefix + key)})
		if err != nil {
			return err
		}
		defer out.Body.Close()
		h := sha256.New()
		if _, err := io.Copy(h, out.Body); err != nil {
			return err
		}
		sum = hex.EncodeToString(h.Sum(nil))
		return nil
	})
	return sum, err
}
