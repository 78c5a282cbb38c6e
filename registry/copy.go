package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/pilotlight/pilotlight/plan"
)

// Image is one repository to copy: every listed tag (or every tag of the
// source) from Source to Recovery.
type Image struct {
	// Source repository, as registry[/namespace]/name, such as
	// 127.0.1.1:5000/web.
	Source string `json:"source"`
	// Recovery repository, in the same form.
	Recovery string `json:"recovery"`
	// Tags to copy; empty means every tag of the source repository.
	Tags []string `json:"tags,omitempty"`
}

// FromPlan returns the images of a plan's data.images, which must name
// both their source and recovery registries.
func FromPlan(imgs []plan.Image) ([]Image, error) {
	out := make([]Image, 0, len(imgs))
	for i, img := range imgs {
		if img.Source == "" || img.Recovery == "" {
			return nil, fmt.Errorf("registry: data.images[%d] (%s): source and recovery registries are required to copy images", i, img.Repository)
		}
		out = append(out, Image{
			Source:   img.Source + "/" + img.Repository,
			Recovery: img.Recovery + "/" + img.Repository,
			Tags:     slices.Clone(img.Tags),
		})
	}
	return out, nil
}

// Options configure a Copier. The zero value is usable.
type Options struct {
	// Keychain resolves registry credentials (default
	// authn.DefaultKeychain: the Docker configuration and its credential
	// helpers, such as docker-credential-ecr-login).
	Keychain authn.Keychain
	// Transport carries the registry requests (default
	// remote.DefaultTransport, which retries transient errors).
	Transport http.RoundTripper
	// Jobs is how many blobs of one tag are copied at once (default 4).
	Jobs int
	// Deep makes verification download every blob from the recovery
	// registry and check its digest, instead of checking that it exists
	// with the right size (default false).
	Deep bool
	// Logger receives debug records of each blob and manifest (default:
	// discard).
	Logger *slog.Logger
	// Progress, if set, is called when a tag starts and when it ends.
	Progress func(Event)
	// Now is the clock used to time the copies (default time.Now).
	Now func() time.Time
}

// Event reports the progress of one tag. Done is false when the tag
// starts and true when its copy and verification end; Result is final
// only then.
type Event struct {
	Done   bool
	Result Result
}

// Result is the outcome of copying one tag.
type Result struct {
	// Source and Recovery are the tag references copied from and to.
	Source   string `json:"source"`
	Recovery string `json:"recovery"`
	// Digest of the tag's manifest or index in the source, which the copy
	// keeps.
	Digest    string `json:"digest,omitempty"`
	MediaType string `json:"mediaType,omitempty"`
	// Manifests and Blobs count the distinct manifests (the tag's and, for
	// an index, its children) and blobs (configs and layers) of the tag.
	Manifests int `json:"manifests"`
	Blobs     int `json:"blobs"`
	// CopiedManifests and CopiedBlobs count those uploaded; the others were
	// already in the recovery registry.
	CopiedManifests int `json:"copiedManifests"`
	CopiedBlobs     int `json:"copiedBlobs"`
	// CopiedBytes and SkippedBytes are the blob bytes uploaded and found
	// already present.
	CopiedBytes  int64 `json:"copiedBytes"`
	SkippedBytes int64 `json:"skippedBytes"`
	// Verified is true when the recovery registry serves the source digest
	// under the tag, with every child manifest and blob intact.
	Verified bool    `json:"verified"`
	Seconds  float64 `json:"seconds"`
	// Error is why the copy or the verification failed, if it did.
	Error string `json:"error,omitempty"`
}

// Copier copies tags between registries. It is safe for concurrent use.
type Copier struct {
	opts   Options
	log    *slog.Logger
	puller *remote.Puller
	pusher *remote.Pusher
}

// New returns a Copier.
func New(o Options) (*Copier, error) {
	if o.Keychain == nil {
		o.Keychain = authn.DefaultKeychain
	}
	if o.Transport == nil {
		o.Transport = remote.DefaultTransport
	}
	if o.Jobs <= 0 {
		o.Jobs = 4
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ro := []remote.Option{remote.WithAuthFromKeychain(o.Keychain), remote.WithTransport(o.Transport), remote.WithJobs(o.Jobs)}
	puller, err := remote.NewPuller(ro...)
	if err != nil {
		return nil, fmt.Errorf("registry: new puller: %w", err)
	}
	pusher, err := remote.NewPusher(append(ro, remote.Reuse(puller))...)
	if err != nil {
		return nil, fmt.Errorf("registry: new pusher: %w", err)
	}
	return &Copier{opts: o, log: log.With("component", "registry"), puller: puller, pusher: pusher}, nil
}

// Sync copies every tag of img (its Tags, or all tags of the source) and
// returns one Result per tag, sorted by tag. A tag that fails does not stop
// the others: its Result carries the error. The error is non-nil only when
// the tags cannot be listed.
func (c *Copier) Sync(ctx context.Context, img Image) ([]Result, error) {
	src, err := name.NewRepository(img.Source)
	if err != nil {
		return nil, fmt.Errorf("registry: parse source %s: %w", img.Source, err)
	}
	dst, err := name.NewRepository(img.Recovery)
	if err != nil {
		return nil, fmt.Errorf("registry: parse recovery %s: %w", img.Recovery, err)
	}
	tags := slices.Clone(img.Tags)
	if len(tags) == 0 {
		if tags, err = c.puller.List(ctx, src); err != nil {
			return nil, fmt.Errorf("registry: list tags %s: %w", src, err)
		}
	}
	slices.Sort(tags)
	tags = slices.Compact(tags)
	results := make([]Result, 0, len(tags))
	for _, tag := range tags {
		if err := ctx.Err(); err != nil {
			return results, err
		}
		r, _ := c.copyTag(ctx, src.Tag(tag), dst.Tag(tag))
		results = append(results, r)
	}
	return results, nil
}

// Copy copies one tag, such as 127.0.1.1:5000/web:v1, to a tag of the
// recovery registry, then verifies it. The error is also in Result.Error.
func (c *Copier) Copy(ctx context.Context, src, dst string) (Result, error) {
	s, err := name.NewTag(src, name.StrictValidation)
	if err != nil {
		return Result{Source: src, Recovery: dst, Error: err.Error()}, fmt.Errorf("registry: parse %s: %w", src, err)
	}
	d, err := name.NewTag(dst, name.StrictValidation)
	if err != nil {
		return Result{Source: src, Recovery: dst, Error: err.Error()}, fmt.Errorf("registry: parse %s: %w", dst, err)
	}
	return c.copyTag(ctx, s, d)
}

func (c *Copier) copyTag(ctx context.Context, src, dst name.Tag) (Result, error) {
	start := c.opts.Now()
	r := Result{Source: src.String(), Recovery: dst.String()}
	c.progress(Event{Result: r})
	err := c.copyAndVerify(ctx, src, dst, &r)
	r.Seconds = c.opts.Now().Sub(start).Seconds()
	if err != nil {
		r.Error = err.Error()
	}
	c.progress(Event{Done: true, Result: r})
	return r, err
}

func (c *Copier) progress(e Event) {
	if c.opts.Progress != nil {
		c.opts.Progress(e)
	}
}

func (c *Copier) copyAndVerify(ctx context.Context, src, dst name.Tag, r *Result) error {
	top, err := c.puller.Get(ctx, src)
	if err != nil {
		return fmt.Errorf("registry: get %s: %w", src, err)
	}
	r.Digest, r.MediaType = top.Digest.String(), string(top.MediaType)
	t := &tree{blobs: map[v1.Hash]v1.Descriptor{}, seen: map[v1.Hash]bool{}}
	if err := c.walk(ctx, src.Context(), top.Descriptor, top.Manifest, t, 0); err != nil {
		return err
	}
	r.Manifests, r.Blobs = len(t.manifests), len(t.blobs)
	if err := c.copyBlobs(ctx, src.Context(), dst.Context(), t, r); err != nil {
		return err
	}
	// Children first, so that no manifest in the recovery registry ever
	// refers to one that is missing; the tag last.
	for _, m := range t.manifests[:len(t.manifests)-1] {
		copied, err := c.putManifest(ctx, dst.Digest(m.desc.Digest.String()), m)
		if err != nil {
			return err
		}
		if copied {
			r.CopiedManifests++
		}
	}
	copied, err := c.putManifest(ctx, dst, t.manifests[len(t.manifests)-1])
	if err != nil {
		return err
	}
	if copied {
		r.CopiedManifests++
	}
	if err := c.Verify(ctx, dst, top.Digest); err != nil {
		return err
	}
	r.Verified = true
	return nil
}

// manifest is a manifest's descriptor and exact bytes; it is a
// remote.Taggable that writes those bytes unchanged.
type manifest struct {
	desc v1.Descriptor
	raw  []byte
}

func (m manifest) RawManifest() ([]byte, error)        { return m.raw, nil }
func (m manifest) MediaType() (types.MediaType, error) { return m.desc.MediaType, nil }
func (m manifest) Descriptor() (*v1.Descriptor, error) { return &m.desc, nil }

// tree is a tag's manifests in post-order (children before parents, the
// tag's own manifest last) and its distinct blobs.
type tree struct {
	manifests []manifest
	blobs     map[v1.Hash]v1.Descriptor
	seen      map[v1.Hash]bool
}

// maxDepth bounds nested indexes.
const maxDepth = 8

// walk fetches the children of a manifest from the source and records the
// manifests and blobs of the tree.
func (c *Copier) walk(ctx context.Context, repo name.Repository, desc v1.Descriptor, raw []byte, t *tree, depth int) error {
	if t.seen[desc.Digest] {
		return nil
	}
	t.seen[desc.Digest] = true
	switch mt := desc.MediaType; {
	case mt.IsIndex():
		if depth >= maxDepth {
			return fmt.Errorf("registry: walk %s@%s: indexes nested deeper than %d", repo, desc.Digest, maxDepth)
		}
		idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
		if err != nil {
			return fmt.Errorf("registry: parse index %s@%s: %w", repo, desc.Digest, err)
		}
		for _, child := range idx.Manifests {
			if !child.MediaType.IsIndex() && !child.MediaType.IsImage() {
				return fmt.Errorf("registry: walk %s@%s: child %s has unsupported media type %q", repo, desc.Digest, child.Digest, child.MediaType)
			}
			d, err := c.puller.Get(ctx, repo.Digest(child.Digest.String()))
			if err != nil {
				return fmt.Errorf("registry: get %s@%s: %w", repo, child.Digest, err)
			}
			cd := d.Descriptor
			if cd.MediaType == "" {
				cd.MediaType = child.MediaType
			}
			if err := c.walk(ctx, repo, cd, d.Manifest, t, depth+1); err != nil {
				return err
			}
		}
	case mt.IsImage():
		m, err := v1.ParseManifest(bytes.NewReader(raw))
		if err != nil {
			return fmt.Errorf("registry: parse manifest %s@%s: %w", repo, desc.Digest, err)
		}
		for _, b := range append([]v1.Descriptor{m.Config}, m.Layers...) {
			if !b.MediaType.IsDistributable() {
				c.log.Debug("skipping non-distributable layer", "repository", repo.String(), "digest", b.Digest.String())
				continue
			}
			t.blobs[b.Digest] = b
		}
	default:
		return fmt.Errorf("registry: walk %s@%s: unsupported media type %q", repo, desc.Digest, mt)
	}
	t.manifests = append(t.manifests, manifest{desc: desc, raw: raw})
	return nil
}

// copyBlobs uploads the blobs of t that the recovery repository lacks,
// Options.Jobs at a time.
func (c *Copier) copyBlobs(ctx context.Context, src, dst name.Repository, t *tree, r *Result) error {
	blobs := make([]v1.Descriptor, 0, len(t.blobs))
	for _, b := range t.blobs {
		blobs = append(blobs, b)
	}
	slices.SortFunc(blobs, func(a, b v1.Descriptor) int { return int(b.Size - a.Size) })
	var mu sync.Mutex
	eg, ectx := errgroup.WithContext(ctx)
	eg.SetLimit(c.opts.Jobs)
	for _, b := range blobs {
		eg.Go(func() error {
			copied, err := c.copyBlob(ectx, src, dst, b)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			if copied {
				r.CopiedBlobs++
				r.CopiedBytes += b.Size
			} else {
				r.SkippedBytes += b.Size
			}
			return nil
		})
	}
	return eg.Wait()
}

// copyBlob uploads one blob unless the recovery repository has it.
func (c *Copier) copyBlob(ctx context.Context, src, dst name.Repository, b v1.Descriptor) (bool, error) {
	there, err := c.puller.Layer(ctx, dst.Digest(b.Digest.String()))
	if err != nil {
		return false, fmt.Errorf("registry: blob %s@%s: %w", dst, b.Digest, err)
	}
	ok, err := partial.Exists(there)
	if err != nil {
		return false, fmt.Errorf("registry: check blob %s@%s: %w", dst, b.Digest, err)
	}
	if ok {
		return false, nil
	}
	l, err := c.puller.Layer(ctx, src.Digest(b.Digest.String()))
	if err != nil {
		return false, fmt.Errorf("registry: blob %s@%s: %w", src, b.Digest, err)
	}
	if err := c.pusher.Upload(ctx, dst, l); err != nil {
		return false, fmt.Errorf("registry: copy blob %s@%s to %s: %w", src, b.Digest, dst, err)
	}
	c.log.Debug("copied blob", "to", dst.String(), "digest", b.Digest.String(), "bytes", b.Size)
	return true, nil
}

// putManifest writes m under ref unless ref already resolves to its
// digest.
func (c *Copier) putManifest(ctx context.Context, ref name.Reference, m manifest) (bool, error) {
	d, err := c.puller.Head(ctx, ref)
	if err == nil && d.Digest == m.desc.Digest {
		return false, nil
	}
	if err != nil && !isNotFound(err) {
		return false, fmt.Errorf("registry: head %s: %w", ref, err)
	}
	if err := c.pusher.Put(ctx, ref, m); err != nil {
		return false, fmt.Errorf("registry: put manifest %s: %w", ref, err)
	}
	c.log.Debug("copied manifest", "to", ref.String(), "digest", m.desc.Digest.String())
	return true, nil
}

// isNotFound reports whether err is a registry 404.
func isNotFound(err error) bool {
	var te *transport.Error
	if errors.As(err, &te) {
		return te.StatusCode == http.StatusNotFound
	}
	return false
}
