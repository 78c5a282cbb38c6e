package registry

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/pilotlight/pilotlight/plan"
)

// testRegistry is an in-memory registry on 127.0.0.1 that counts uploads
// and can be tampered with: blobs served corrupted or reported missing.
type testRegistry struct {
	host    string
	next    http.Handler
	uploads atomic.Int64 // blob upload sessions started
	puts    atomic.Int64 // manifests written

	mu      sync.Mutex
	corrupt map[string]bool // blob digests served with a flipped byte
	missing map[string]bool // blob digests answered 404
}

func newTestRegistry(t *testing.T) *testRegistry {
	t.Helper()
	r := &testRegistry{
		next:    ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0))),
		corrupt: map[string]bool{},
		missing: map[string]bool{},
	}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	r.host = strings.TrimPrefix(srv.URL, "http://")
	return r
}

func (r *testRegistry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	p := req.URL.Path
	switch {
	case req.Method == http.MethodPost && strings.Contains(p, "/blobs/uploads/"):
		r.uploads.Add(1)
	case req.Method == http.MethodPut && strings.Contains(p, "/manifests/"):
		r.puts.Add(1)
	}
	if i := strings.LastIndex(p, "/blobs/sha256:"); i >= 0 {
		dg := p[i+len("/blobs/"):]
		r.mu.Lock()
		missing, corrupt := r.missing[dg], r.corrupt[dg]
		r.mu.Unlock()
		if missing {
			http.Error(w, `{"errors":[{"code":"BLOB_UNKNOWN"}]}`, http.StatusNotFound)
			return
		}
		if corrupt && req.Method == http.MethodGet {
			rec := httptest.NewRecorder()
			r.next.ServeHTTP(rec, req)
			body := rec.Body.Bytes()
			if len(body) > 0 {
				body[len(body)/2] ^= 0xff
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			w.Write(body)
			return
		}
	}
	r.next.ServeHTTP(w, req)
}

func (r *testRegistry) tamper(kind string, dg v1.Hash) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch kind {
	case "corrupt":
		r.corrupt[dg.String()] = true
	case "missing":
		r.missing[dg.String()] = true
	}
}

// testEnv is a source and a recovery registry and a copier between them.
type testEnv struct {
	src, dst *testRegistry
	tr       *http.Transport
}

func newEnv(t *testing.T) *testEnv {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &testEnv{src: newTestRegistry(t), dst: newTestRegistry(t), tr: tr}
}

func (e *testEnv) copier(t *testing.T, o Options) *Copier {
	t.Helper()
	o.Transport = e.tr
	o.Keychain = authn.NewMultiKeychain() // anonymous: no docker config of the machine
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *testEnv) opts(ctx context.Context) []remote.Option {
	return []remote.Option{remote.WithContext(ctx), remote.WithTransport(e.tr), remote.WithAuth(authn.Anonymous)}
}

// push writes an image or index to a test registry.
func (e *testEnv) push(t *testing.T, ref string, v any) v1.Hash {
	t.Helper()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	var h v1.Hash
	switch v := v.(type) {
	case v1.Image:
		err = remote.Write(tag, v, e.opts(ctx)...)
		h, _ = v.Digest()
	case v1.ImageIndex:
		err = remote.WriteIndex(tag, v, e.opts(ctx)...)
		h, _ = v.Digest()
	}
	if err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	return h
}

func randomImage(t *testing.T, size, layers int64) v1.Image {
	t.Helper()
	img, err := random.Image(size, layers)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// blobBytes is the size of an image's config and layers.
func blobBytes(t *testing.T, img v1.Image) (n int64, count int) {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	n = m.Config.Size
	for _, l := range m.Layers {
		n += l.Size
	}
	return n, 1 + len(m.Layers)
}

func TestCopyImageThenNothing(t *testing.T) {
	e := newEnv(t)
	img := randomImage(t, 2048, 3)
	want := e.push(t, e.src.host+"/web:v1", img)
	total, blobs := blobBytes(t, img)
	var events []Event
	c := e.copier(t, Options{Progress: func(ev Event) { events = append(events, ev) }})

	r, err := c.Copy(t.Context(), e.src.host+"/web:v1", e.dst.host+"/web:v1")
	if err != nil {
		t.Fatal(err)
	}
	if r.Digest != want.String() || !r.Verified || r.Error != "" {
		t.Fatalf("first copy = %+v, want digest %s verified", r, want)
	}
	if r.CopiedBlobs != blobs || r.CopiedBytes != total || r.SkippedBytes != 0 || r.CopiedManifests != 1 {
		t.Errorf("first copy copied %d blobs %d bytes (skipped %d), %d manifests; want %d blobs %d bytes, 1 manifest",
			r.CopiedBlobs, r.CopiedBytes, r.SkippedBytes, r.CopiedManifests, blobs, total)
	}
	if len(events) != 2 || events[0].Done || !events[1].Done || events[1].Result.Digest != want.String() {
		t.Errorf("progress events = %+v, want a start and a done", events)
	}
	got, err := remote.Head(mustRef(t, e.dst.host+"/web:v1"), e.opts(t.Context())...)
	if err != nil || got.Digest != want {
		t.Fatalf("recovery registry has %v (%v), want %s", got, err, want)
	}

	uploads, puts := e.dst.uploads.Load(), e.dst.puts.Load()
	rs, err := c.Sync(t.Context(), Image{Source: e.src.host + "/web", Recovery: e.dst.host + "/web"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 {
		t.Fatalf("second sync = %+v, want one tag", rs)
	}
	r = rs[0]
	if !r.Verified || r.CopiedBlobs != 0 || r.CopiedBytes != 0 || r.SkippedBytes != total || r.CopiedManifests != 0 {
		t.Errorf("second sync = %+v, want nothing copied, %d bytes skipped, verified", r, total)
	}
	if n := e.dst.uploads.Load() - uploads; n != 0 {
		t.Errorf("second sync started %d blob uploads, want 0", n)
	}
	if n := e.dst.puts.Load() - puts; n != 0 {
		t.Errorf("second sync wrote %d manifests, want 0", n)
	}
}

func TestSyncSkipsSharedBlobs(t *testing.T) {
	e := newEnv(t)
	base := randomImage(t, 4096, 2)
	extra, err := random.Layer(1024, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	child, err := mutate.AppendLayers(base, extra)
	if err != nil {
		t.Fatal(err)
	}
	e.push(t, e.src.host+"/app:base", base)
	e.push(t, e.src.host+"/app:child", child)
	c := e.copier(t, Options{Jobs: 2})

	// Tags are copied in order: base first, so child finds its base
	// layers already in the recovery registry.
	rs, err := c.Sync(t.Context(), Image{Source: e.src.host + "/app", Recovery: e.dst.host + "/app"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].Source != e.src.host+"/app:base" || rs[1].Source != e.src.host+"/app:child" {
		t.Fatalf("sync = %+v, want base and child", rs)
	}
	baseLayers, _ := base.Layers()
	var shared int64
	for _, l := range baseLayers {
		n, _ := l.Size()
		shared += n
	}
	extraSize, _ := extra.Size()
	cm, _ := child.Manifest()
	r := rs[1]
	if !r.Verified || r.CopiedBlobs != 2 || r.SkippedBytes != shared || r.CopiedBytes != extraSize+cm.Config.Size {
		t.Errorf("child = %+v; want 2 blobs (new layer and config, %d bytes) copied and the %d shared bytes skipped",
			r, extraSize+cm.Config.Size, shared)
	}
}

func TestCopyMultiArchIndex(t *testing.T) {
	e := newEnv(t)
	idx, err := random.Index(1024, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	// An index of an index, as multi-platform images with attestations have.
	outer := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: idx})
	want := e.push(t, e.src.host+"/multi:v2", outer)
	c := e.copier(t, Options{Deep: true})

	rs, err := c.Sync(t.Context(), Image{Source: e.src.host + "/multi", Recovery: e.dst.host + "/multi", Tags: []string{"v2"}})
	if err != nil {
		t.Fatal(err)
	}
	r := rs[0]
	if r.Error != "" || !r.Verified || r.Digest != want.String() || !types.MediaType(r.MediaType).IsIndex() {
		t.Fatalf("copy = %+v, want verified index %s", r, want)
	}
	if r.Manifests != 5 || r.CopiedManifests != 5 || r.Blobs != 9 || r.CopiedBlobs != 9 {
		t.Errorf("copy = %+v, want 5 manifests (2 indexes, 3 images) and 9 blobs copied", r)
	}
	im, _ := idx.IndexManifest()
	for _, m := range im.Manifests {
		ref := mustRef(t, e.dst.host+"/multi@"+m.Digest.String())
		if _, err := remote.Image(ref, e.opts(t.Context())...); err != nil {
			t.Errorf("platform image %s not in the recovery registry: %v", m.Digest, err)
		}
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	tests := []struct {
		name   string
		deep   bool
		tamper func(t *testing.T, e *testEnv, img v1.Image)
		reason string
	}{
		{"tag overwritten", false, func(t *testing.T, e *testEnv, _ v1.Image) {
			e.push(t, e.dst.host+"/web:v1", randomImage(t, 512, 1))
		}, "digest is"},
		{"blob lost", false, func(t *testing.T, e *testEnv, img v1.Image) {
			ls, _ := img.Layers()
			h, _ := ls[1].Digest()
			e.dst.tamper("missing", h)
		}, "blob not found"},
		{"blob corrupted", true, func(t *testing.T, e *testEnv, img v1.Image) {
			ls, _ := img.Layers()
			h, _ := ls[0].Digest()
			e.dst.tamper("corrupt", h)
		}, "sha256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			img := randomImage(t, 1024, 2)
			want := e.push(t, e.src.host+"/web:v1", img)
			c := e.copier(t, Options{Deep: tt.deep})
			if r, err := c.Copy(t.Context(), e.src.host+"/web:v1", e.dst.host+"/web:v1"); err != nil || !r.Verified {
				t.Fatalf("copy = %+v, %v", r, err)
			}
			tt.tamper(t, e, img)
			err := c.Verify(t.Context(), mustRef(t, e.dst.host+"/web:v1"), want)
			var ve *VerifyError
			if !errors.As(err, &ve) || !errors.Is(err, ErrMismatch) || !strings.Contains(ve.Reason, tt.reason) {
				t.Fatalf("Verify after %s = %v, want a mismatch mentioning %q", tt.name, err, tt.reason)
			}
		})
	}
}

func TestCorruptDestinationFailsSync(t *testing.T) {
	e := newEnv(t)
	img := randomImage(t, 1024, 1)
	e.push(t, e.src.host+"/web:v1", img)
	ls, _ := img.Layers()
	h, _ := ls[0].Digest()
	c := e.copier(t, Options{Deep: true})
	if _, err := c.Copy(t.Context(), e.src.host+"/web:v1", e.dst.host+"/web:v1"); err != nil {
		t.Fatal(err)
	}
	// The blob is there, so a new sync skips it, and deep verification
	// finds that it no longer hashes to its digest.
	e.dst.tamper("corrupt", h)
	rs, err := c.Sync(t.Context(), Image{Source: e.src.host + "/web", Recovery: e.dst.host + "/web"})
	if err != nil {
		t.Fatal(err)
	}
	if rs[0].Verified || !strings.Contains(rs[0].Error, h.String()) {
		t.Errorf("sync over a corrupted copy = %+v, want unverified with the blob named", rs[0])
	}
}

func TestUnreachable(t *testing.T) {
	e := newEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c := e.copier(t, Options{})
	if _, err := c.Sync(ctx, Image{Source: l + "/web", Recovery: e.dst.host + "/web"}); err == nil {
		t.Error("Sync from an unreachable source succeeded")
	}
	r, err := c.Copy(ctx, l+"/web:v1", e.dst.host+"/web:v1")
	if err == nil || r.Error == "" || r.Verified {
		t.Errorf("Copy from an unreachable source = %+v, %v; want an error", r, err)
	}
}

func TestFromPlan(t *testing.T) {
	got, err := FromPlan([]plan.Image{{Repository: "team/web", Tags: []string{"v1"}, Source: "127.0.1.1:5000", Recovery: "127.0.2.1:5000/dr"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Source != "127.0.1.1:5000/team/web" || got[0].Recovery != "127.0.2.1:5000/dr/team/web" || got[0].Tags[0] != "v1" {
		t.Errorf("FromPlan = %+v", got)
	}
	if _, err := FromPlan([]plan.Image{{Repository: "web", Source: "127.0.1.1:5000"}}); err == nil || !strings.Contains(err.Error(), "data.images[0]") {
		t.Errorf("FromPlan without recovery = %v, want an error naming the image", err)
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	ref, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}
