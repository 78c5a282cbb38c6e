package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ErrMismatch is wrapped by every VerifyError: the copy in the recovery
// registry is missing, incomplete or different from the source.
var ErrMismatch = errors.New("copy does not match the source")

// VerifyError says which part of a copy does not match its source.
type VerifyError struct {
	// Ref is the reference checked, such as 127.0.2.1:5000/web:v1 or a
	// blob's repository@digest.
	Ref string
	// Reason says what is wrong.
	Reason string
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("registry: verify %s: %s", e.Ref, e.Reason)
}

// Unwrap returns ErrMismatch.
func (e *VerifyError) Unwrap() error { return ErrMismatch }

// Verify checks that ref, in the recovery registry, resolves to want and
// that its whole tree is there: every child manifest matches its digest and
// every blob exists with its size (with Options.Deep, downloads and hashes
// to its digest). A mismatch is a *VerifyError; other errors (the registry
// is unreachable) are returned as they are.
func (c *Copier) Verify(ctx context.Context, ref name.Reference, want v1.Hash) error {
	d, err := c.puller.Get(ctx, ref)
	if isNotFound(err) {
		return &VerifyError{Ref: ref.String(), Reason: "manifest not found"}
	}
	if err != nil {
		return fmt.Errorf("registry: verify %s: %w", ref, err)
	}
	if d.Digest != want {
		return &VerifyError{Ref: ref.String(), Reason: fmt.Sprintf("digest is %s, want %s", d.Digest, want)}
	}
	return c.verifyTree(ctx, ref.Context(), d.Descriptor, d.Manifest, map[v1.Hash]bool{}, 0)
}

func (c *Copier) verifyTree(ctx context.Context, repo name.Repository, desc v1.Descriptor, raw []byte, seen map[v1.Hash]bool, depth int) error {
	if seen[desc.Digest] {
		return nil
	}
	seen[desc.Digest] = true
	at := repo.String() + "@" + desc.Digest.String()
	switch mt := desc.MediaType; {
	case mt.IsIndex():
		if depth >= maxDepth {
			return &VerifyError{Ref: at, Reason: fmt.Sprintf("indexes nested deeper than %d", maxDepth)}
		}
		idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
		if err != nil {
			return &VerifyError{Ref: at, Reason: "unparsable index: " + err.Error()}
		}
		for _, child := range idx.Manifests {
			ref := repo.Digest(child.Digest.String())
			d, err := c.puller.Get(ctx, ref)
			switch {
			case isNotFound(err):
				return &VerifyError{Ref: ref.String(), Reason: "child manifest not found"}
			case err != nil:
				// Fetching by digest fails when the bytes do not hash to it.
				return &VerifyError{Ref: ref.String(), Reason: err.Error()}
			}
			cd := d.Descriptor
			if cd.MediaType == "" {
				cd.MediaType = child.MediaType
			}
			if err := c.verifyTree(ctx, repo, cd, d.Manifest, seen, depth+1); err != nil {
				return err
			}
		}
	case mt.IsImage():
		m, err := v1.ParseManifest(bytes.NewReader(raw))
		if err != nil {
			return &VerifyError{Ref: at, Reason: "unparsable manifest: " + err.Error()}
		}
		for _, b := range append([]v1.Descriptor{m.Config}, m.Layers...) {
			if !b.MediaType.IsDistributable() {
				continue
			}
			if err := c.verifyBlob(ctx, repo.Digest(b.Digest.String()), b); err != nil {
				return err
			}
		}
	default:
		return &VerifyError{Ref: at, Reason: fmt.Sprintf("unsupported media type %q", mt)}
	}
	return nil
}

// verifyBlob checks one blob: its size from a HEAD request or, with
// Options.Deep, its content hashed while downloading.
func (c *Copier) verifyBlob(ctx context.Context, ref name.Digest, b v1.Descriptor) error {
	l, err := c.puller.Layer(ctx, ref)
	if err != nil {
		return fmt.Errorf("registry: verify %s: %w", ref, err)
	}
	if !c.opts.Deep {
		size, err := l.Size()
		switch {
		case isNotFound(err):
			return &VerifyError{Ref: ref.String(), Reason: "blob not found"}
		case err != nil:
			return fmt.Errorf("registry: verify %s: %w", ref, err)
		case size != b.Size:
			return &VerifyError{Ref: ref.String(), Reason: fmt.Sprintf("blob is %d bytes, want %d", size, b.Size)}
		}
		return nil
	}
	rc, err := l.Compressed()
	if isNotFound(err) {
		return &VerifyError{Ref: ref.String(), Reason: "blob not found"}
	}
	if err != nil {
		return &VerifyError{Ref: ref.String(), Reason: err.Error()}
	}
	defer rc.Close()
	n, err := io.Copy(io.Discard, rc)
	if err == nil && n != b.Size {
		err = fmt.Errorf("blob is %d bytes, want %d", n, b.Size)
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &VerifyError{Ref: ref.String(), Reason: err.Error()}
	}
	return nil
}
