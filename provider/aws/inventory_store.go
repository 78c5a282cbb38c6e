package aws

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pilotlight/pilotlight/plan"
)

// InventoryS3API is the part of the S3 client that keeps inventory
// exports in the recovery region.
type InventoryS3API interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, opts ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

var _ InventoryS3API = (*s3.Client)(nil)

// inventoryStamp is the time format of an export's key: RFC 3339 in UTC to
// the second, so keys sort by time.
const inventoryStamp = "2006-01-02T15:04:05Z"

// latestName is the pointer to the newest export.
const latestName = "latest.json"

// InventoryPrefix is the S3 prefix of plan's inventory exports.
func InventoryPrefix(planName string) string { return "pilotlight/" + planName + "/inventory/" }

// InventoryKey is the versioned S3 key of plan's export taken at t, such
// as pilotlight/ticketing/inventory/2026-01-02T03:04:05Z.json.
func InventoryKey(planName string, t time.Time) string {
	return InventoryPrefix(planName) + t.UTC().Format(inventoryStamp) + ".json"
}

// InventoryLatestKey is the S3 key of the pointer to plan's newest export.
func InventoryLatestKey(planName string) string { return InventoryPrefix(planName) + latestName }

// inventoryPointer is the content of latest.json.
type inventoryPointer struct {
	Version int       `json:"version"`
	Plan    string    `json:"plan"`
	Key     string    `json:"key"`
	Taken   time.Time `json:"taken"`
}

// InventoryStore keeps a plan's inventory exports in the recovery region's
// bucket and in a local directory, each as versioned documents and a
// latest.json pointer, and deletes the oldest beyond Keep.
type InventoryStore struct {
	// Plan names the plan (part of every key). Required.
	Plan string
	// S3 and Bucket store the exports in the recovery region (optional;
	// both or neither).
	S3     InventoryS3API
	Bucket string
	// Dir is the local directory, such as STATE/inventory (optional).
	Dir string
	// Keep is how many exports stay (default plan.DefaultInventoryKeep).
	Keep int
}

func (s *InventoryStore) keep() int {
	if s.Keep > 0 {
		return s.Keep
	}
	return plan.DefaultInventoryKeep
}

// Save writes d under its versioned key and then moves the pointer to it,
// locally and in S3 (so a crash between the two leaves the pointer at the
// previous, complete export), then applies retention. It sets d.Key.
func (s *InventoryStore) Save(ctx context.Context, d *InventoryDoc) error {
	if (s.S3 == nil) != (s.Bucket == "") {
		return fmt.Errorf("inventory: save %s: %w: an S3 client and a bucket go together", s.Plan, ErrConfig)
	}
	d.Key = InventoryKey(s.Plan, d.Taken)
	doc, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return fmt.Errorf("inventory: save %s: %w", d.Key, err)
	}
	ptr, err := json.MarshalIndent(inventoryPointer{Version: InventoryVersion, Plan: s.Plan, Key: d.Key, Taken: d.Taken}, "", "  ")
	if err != nil {
		return fmt.Errorf("inventory: save %s: %w", d.Key, err)
	}
	var errs []error
	if s.Dir != "" {
		name := path.Base(d.Key)
		if err := writeAtomic(filepath.Join(s.Dir, name), doc); err != nil {
			errs = append(errs, fmt.Errorf("inventory: write %s: %w", filepath.Join(s.Dir, name), err))
		} else if err := writeAtomic(filepath.Join(s.Dir, latestName), ptr); err != nil {
			errs = append(errs, fmt.Errorf("inventory: write %s: %w", filepath.Join(s.Dir, latestName), err))
		} else if err := s.pruneLocal(name); err != nil {
			errs = append(errs, err)
		}
	}
	if s.S3 != nil {
		if err := s.put(ctx, d.Key, doc); err != nil {
			errs = append(errs, err)
		} else if err := s.put(ctx, InventoryLatestKey(s.Plan), ptr); err != nil {
			errs = append(errs, err)
		} else if err := s.pruneS3(ctx, d.Key); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *InventoryStore) put(ctx context.Context, key string, b []byte) error {
	_, err := s.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: sdkaws.String(s.Bucket), Key: sdkaws.String(key),
		Body: bytes.NewReader(b), ContentType: sdkaws.String("application/json")})
	if err != nil {
		return wrap("s3 put inventory", s.Bucket, key, "", err)
	}
	return nil
}

// expired returns the oldest of names (export names or keys, which sort by
// time) beyond Keep, never newest.
func (s *InventoryStore) expired(names []string, newest string) []string {
	slices.Sort(names)
	if len(names) <= s.keep() {
		return nil
	}
	var out []string
	for _, n := range names[:len(names)-s.keep()] {
		if n != newest {
			out = append(out, n)
		}
	}
	return out
}

func isExport(name string) bool {
	base := path.Base(name)
	return base != latestName && strings.HasSuffix(base, ".json") && !strings.Contains(base, ".tmp")
}

func (s *InventoryStore) pruneS3(ctx context.Context, newest string) error {
	var keys []string
	p := s3.NewListObjectsV2Paginator(s.S3, &s3.ListObjectsV2Input{Bucket: sdkaws.String(s.Bucket), Prefix: sdkaws.String(InventoryPrefix(s.Plan))})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return wrap(opList, s.Bucket, InventoryPrefix(s.Plan), "", err)
		}
		for _, o := range out.Contents {
			if k := sdkaws.ToString(o.Key); isExport(k) {
				keys = append(keys, k)
			}
		}
	}
	for _, k := range s.expired(keys, newest) {
		if _, err := s.S3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: sdkaws.String(s.Bucket), Key: sdkaws.String(k)}); err != nil {
			return wrap("s3 delete inventory", s.Bucket, k, "", err)
		}
	}
	return nil
}

func (s *InventoryStore) pruneLocal(newest string) error {
	entries, err := os.ReadDir(s.Dir)
	if err != nil {
		return fmt.Errorf("inventory: prune %s: %w", s.Dir, err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && isExport(e.Name()) {
			names = append(names, e.Name())
		}
	}
	for _, n := range s.expired(names, newest) {
		if err := os.Remove(filepath.Join(s.Dir, n)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("inventory: prune %s: %w", n, err)
		}
	}
	return nil
}

// Load reads an export from S3 when the store has a bucket, else from Dir:
// the newest (version ""), or the one taken at version (a timestamp such as
// 2026-01-02T03:04:05Z, or a full key).
func (s *InventoryStore) Load(ctx context.Context, version string) (*InventoryDoc, error) {
	key := version
	if key != "" && !strings.Contains(key, "/") {
		key = InventoryPrefix(s.Plan) + strings.TrimSuffix(key, ".json") + ".json"
	}
	if key == "" {
		b, err := s.read(ctx, InventoryLatestKey(s.Plan))
		if err != nil {
			return nil, err
		}
		var p inventoryPointer
		if err := json.Unmarshal(b, &p); err != nil || p.Key == "" {
			return nil, fmt.Errorf("inventory: load %s: not an inventory pointer: %v", InventoryLatestKey(s.Plan), err)
		}
		key = p.Key
	}
	b, err := s.read(ctx, key)
	if err != nil {
		return nil, err
	}
	var d InventoryDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("inventory: load %s: %w", key, err)
	}
	if d.Version != InventoryVersion {
		return nil, fmt.Errorf("inventory: load %s: unknown schema version %d", key, d.Version)
	}
	return &d, nil
}

// ErrNoInventory: no export exists where it was looked for.
var ErrNoInventory = errors.New("no inventory export")

// read returns the object key (from S3, or the file of its base name in
// Dir).
func (s *InventoryStore) read(ctx context.Context, key string) ([]byte, error) {
	if s.S3 == nil {
		if s.Dir == "" {
			return nil, fmt.Errorf("inventory: load %s: %w: a bucket or a directory is required", s.Plan, ErrConfig)
		}
		p := filepath.Join(s.Dir, path.Base(key))
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("inventory: load %s: %w", p, ErrNoInventory)
		}
		if err != nil {
			return nil, fmt.Errorf("inventory: load %s: %w", p, err)
		}
		return b, nil
	}
	out, err := s.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: sdkaws.String(s.Bucket), Key: sdkaws.String(key)})
	var nsk *s3types.NoSuchKey
	if errors.As(err, &nsk) || errorCode(err) == "NoSuchKey" {
		return nil, fmt.Errorf("inventory: load s3://%s/%s: %w", s.Bucket, key, ErrNoInventory)
	}
	if err != nil {
		return nil, wrap("s3 get inventory", s.Bucket, key, "", err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("inventory: load s3://%s/%s: %w", s.Bucket, key, err)
	}
	return b, nil
}

// LoadInventory reads plan's newest export (version "") or the one of
// version from bucket in the recovery region, without the primary.
func LoadInventory(ctx context.Context, client InventoryS3API, bucket, planName, version string) (*InventoryDoc, error) {
	return (&InventoryStore{Plan: planName, S3: client, Bucket: bucket}).Load(ctx, version)
}
