package aws

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pilotlight/pilotlight/runbook"
)

// Kinds of primary resources in the catalog.
const (
	KindVolume     = "volume"
	KindDBInstance = "db-instance"
	KindDBCluster  = "db-cluster"
	KindImage      = "image"
)

// States of a catalog entry.
const (
	// StateCompleted: Copy is usable in the recovery region.
	StateCompleted = "completed"
	// StateCopying: no completed copy yet; Copy is in progress.
	StateCopying = "copying"
	// StateFailed: no completed copy yet; the last copy failed (Error).
	StateFailed = "failed"
)

// CatalogEntry is the newest recovery point of one primary resource in the
// recovery region.
type CatalogEntry struct {
	// Kind of the primary resource: volume, db-instance, db-cluster or
	// image.
	Kind string `json:"kind"`
	// Source is the primary resource's ID (volume ID, database identifier,
	// AMI ID).
	Source string `json:"source"`
	// SourceSnapshot is the snapshot in the primary region that was copied
	// (empty for an image).
	SourceSnapshot string `json:"sourceSnapshot,omitempty"`
	// Copy is the snapshot identifier or AMI ID in the recovery region.
	Copy string `json:"copy"`
	// Region is the recovery region holding Copy.
	Region string `json:"region"`
	// DataTime is when the copied data was taken in the primary region:
	// the recovery point.
	DataTime time.Time `json:"dataTime"`
	// State is completed, copying or failed.
	State string `json:"state"`
	// CopiedAt is when the copy was seen completed.
	CopiedAt time.Time `json:"copiedAt,omitzero"`
	// Error is the last failure, if any, even when an older completed copy
	// is still the recovery point.
	Error string `json:"error,omitempty"`
}

func (e CatalogEntry) key() string { return e.Kind + "/" + e.Source }

// RecoveryPoints answers where a primary resource can be restored from in
// the recovery region. *Catalog implements it.
type RecoveryPoints interface {
	// RecoveryPoint returns the newest completed recovery point of source
	// of kind, and false if there is none.
	RecoveryPoint(kind, source string) (CatalogEntry, bool)
}

// CatalogS3API is the part of the S3 client that stores the catalog.
type CatalogS3API interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

var (
	_ CatalogS3API   = (*s3.Client)(nil)
	_ RecoveryPoints = (*Catalog)(nil)
)

// CatalogOptions say where a catalog lives.
type CatalogOptions struct {
	// Plan names the plan (stored in the document and in the S3 key).
	Plan string
	// Path is the local file, such as STATE/catalog.json (optional).
	Path string
	// S3 and Bucket store the catalog in the recovery region as the object
	// CatalogKey(Plan) (optional; both or neither).
	S3     CatalogS3API
	Bucket string
	// Clock stamps saves (default the wall clock).
	Clock runbook.Clock
}

// CatalogKey is the S3 key of plan's catalog.
func CatalogKey(planName string) string { return "pilotlight/" + planName + "/catalog.json" }

// catalogDoc is the stored form of a catalog.
type catalogDoc struct {
	Version int            `json:"version"`
	Plan    string         `json:"plan"`
	Updated time.Time      `json:"updated"`
	Entries []CatalogEntry `json:"entries"`
}

// Catalog is the durable mapping from each primary resource to its newest
// recovery point in the recovery region, kept in a local JSON file
// (written atomically) and as an S3 object in the recovery region, so that
// a recovery reads it without the primary region. It is safe for
// concurrent use.
type Catalog struct {
	o       CatalogOptions
	mu      sync.Mutex
	entries map[string]CatalogEntry
}

// OpenCatalog loads the catalog from its local file and its S3 object,
// either of which may be missing: an entry present in both is the one with
// the newer data time.
func OpenCatalog(ctx context.Context, o CatalogOptions) (*Catalog, error) {
	if (o.S3 == nil) != (o.Bucket == "") {
		return nil, fmt.Errorf("aws: catalog %s: %w: an S3 client and a bucket go together", o.Plan, ErrConfig)
	}
	if o.Clock == nil {
		o.Clock = wallClock{}
	}
	c := &Catalog{o: o, entries: map[string]CatalogEntry{}}
	if o.Path != "" {
		b, err := os.ReadFile(o.Path)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("aws: catalog read %s: %w", o.Path, err)
		default:
			if err := c.merge(b); err != nil {
				return nil, fmt.Errorf("aws: catalog read %s: %w", o.Path, err)
			}
		}
	}
	if o.S3 != nil {
		out, err := o.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: sdkaws.String(o.Bucket), Key: sdkaws.String(CatalogKey(o.Plan))})
		var nsk *s3types.NoSuchKey
		switch {
		case errors.As(err, &nsk) || errorCode(err) == "NoSuchKey":
		case err != nil:
			return nil, wrap("s3 get catalog", o.Bucket, CatalogKey(o.Plan), "", err)
		default:
			b, err := io.ReadAll(out.Body)
			out.Body.Close()
			if err == nil {
				err = c.merge(b)
			}
			if err != nil {
				return nil, fmt.Errorf("aws: catalog read s3://%s/%s: %w", o.Bucket, CatalogKey(o.Plan), err)
			}
		}
	}
	return c, nil
}

// merge adds the entries of a stored document, keeping the newer data.
func (c *Catalog) merge(b []byte) error {
	var d catalogDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return err
	}
	if d.Version != 1 {
		return fmt.Errorf("unknown catalog version %d", d.Version)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range d.Entries {
		if old, ok := c.entries[e.key()]; !ok || newerPoint(e, old) {
			c.entries[e.key()] = e
		}
	}
	return nil
}

// newerPoint reports whether a is a better recovery point than b: a
// completed one beats one that is not, then the newer data wins.
func newerPoint(a, b CatalogEntry) bool {
	if (a.State == StateCompleted) != (b.State == StateCompleted) {
		return a.State == StateCompleted
	}
	return a.DataTime.After(b.DataTime)
}

// RecoveryPoint returns the completed recovery point of source of kind.
func (c *Catalog) RecoveryPoint(kind, source string) (CatalogEntry, bool) {
	e, ok := c.Get(kind, source)
	return e, ok && e.State == StateCompleted && e.Copy != ""
}

// Get returns the entry of source of kind, whatever its state.
func (c *Catalog) Get(kind, source string) (CatalogEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[kind+"/"+source]
	return e, ok
}

// Entries returns every entry, sorted by kind and source.
func (c *Catalog) Entries() []CatalogEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]CatalogEntry, 0, len(c.entries))
	for _, e := range c.entries {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b CatalogEntry) int { return strings.Compare(a.key(), b.key()) })
	return out
}

// Record stores e and writes the local file. A completed entry replaces
// the one before unless that holds newer data; an entry that is not
// completed never replaces a completed one, only notes its error (so the
// recovery point stays the newest good copy).
func (c *Catalog) Record(e CatalogEntry) error {
	c.mu.Lock()
	old, ok := c.entries[e.key()]
	switch {
	case !ok, e.State == StateCompleted && !old.DataTime.After(e.DataTime), old.State != StateCompleted:
		c.entries[e.key()] = e
	default:
		old.Error = e.Error
		c.entries[e.key()] = old
	}
	c.mu.Unlock()
	return c.saveLocal()
}

// document returns the catalog's stored form.
func (c *Catalog) document() ([]byte, error) {
	d := catalogDoc{Version: 1, Plan: c.o.Plan, Updated: c.o.Clock.Now().UTC(), Entries: c.Entries()}
	return json.MarshalIndent(d, "", "  ")
}

func (c *Catalog) saveLocal() error {
	if c.o.Path == "" {
		return nil
	}
	b, err := c.document()
	if err != nil {
		return fmt.Errorf("aws: catalog write %s: %w", c.o.Path, err)
	}
	if err := writeAtomic(c.o.Path, b); err != nil {
		return fmt.Errorf("aws: catalog write %s: %w", c.o.Path, err)
	}
	return nil
}

// Sync writes the catalog to the local file and to its S3 object.
func (c *Catalog) Sync(ctx context.Context) error {
	if err := c.saveLocal(); err != nil {
		return err
	}
	if c.o.S3 == nil {
		return nil
	}
	b, err := c.document()
	if err != nil {
		return err
	}
	_, err = c.o.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: sdkaws.String(c.o.Bucket), Key: sdkaws.String(CatalogKey(c.o.Plan)),
		Body: bytes.NewReader(b), ContentType: sdkaws.String("application/json")})
	if err != nil {
		return wrap("s3 put catalog", c.o.Bucket, CatalogKey(c.o.Plan), "", err)
	}
	return nil
}

// writeAtomic writes data to path through a temporary file in the same
// directory, synced and renamed, so a crash leaves the old or the new file.
func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
