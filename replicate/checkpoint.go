package replicate

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The checkpoint is a bbolt file with two buckets keyed by the source key
// (relative to the source prefix):
//
//	objects  key -> objectRecord: what the replica holds, once verified
//	uploads  key -> uploadRecord: a multipart copy in progress
//
// Every write is a bbolt transaction, so it is on disk (fsync'd) when the
// call returns; records are written only after the copy they describe was
// verified, which is what makes a kill -9 at any moment safe.
var (
	bucketObjects = []byte("objects")
	bucketUploads = []byte("uploads")
)

// objectRecord describes a verified copy of a source object.
type objectRecord struct {
	ETag      string    `json:"etag"`              // source ETag, quotes stripped
	Size      int64     `json:"size"`              // source size
	VersionID string    `json:"version,omitempty"` // source VersionId
	SHA256    string    `json:"sha256,omitempty"`  // hex SHA-256 of the content, when computed
	Verified  time.Time `json:"verified"`          // when the copy was verified
	// Deleted is set when the source key is gone: the delete was either
	// replicated or (policy keep) reported once.
	Deleted bool `json:"deleted,omitempty"`
}

// partRecord is one verified part of a multipart copy.
type partRecord struct {
	MD5 string `json:"md5"` // hex MD5 of the part, equal to its ETag
}

// uploadRecord is a multipart copy in progress.
type uploadRecord struct {
	UploadID   string             `json:"uploadId"`
	SourceETag string             `json:"sourceEtag"`
	Size       int64              `json:"size"`
	PartSize   int64              `json:"partSize"`
	Parts      map[int]partRecord `json:"parts,omitempty"`
}

// checkpoint is the persistent replication state; a nil *checkpoint
// (no checkpoint file) stores nothing.
type checkpoint struct {
	db *bolt.DB
}

func openCheckpoint(path string) (*checkpoint, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			err = fmt.Errorf("locked by another process: %w", err)
		}
		return nil, fmt.Errorf("replicate: open checkpoint %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketObjects, bucketUploads} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("replicate: init checkpoint %s: %w", path, err)
	}
	return &checkpoint{db: db}, nil
}

func (c *checkpoint) close() error {
	if c == nil {
		return nil
	}
	return c.db.Close()
}

func get[T any](c *checkpoint, bucket []byte, key string) (T, bool, error) {
	var v T
	if c == nil {
		return v, false, nil
	}
	found := false
	err := c.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket).Get([]byte(key))
		if b == nil {
			return nil
		}
		found = true
		return json.Unmarshal(b, &v)
	})
	if err != nil {
		return v, false, fmt.Errorf("replicate: read checkpoint %s: %w", key, err)
	}
	return v, found, nil
}

// put stores v under key; batch groups concurrent writers in one commit.
func put(c *checkpoint, bucket []byte, key string, v any, batch bool) error {
	if c == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	fn := func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put([]byte(key), b) }
	if batch {
		err = c.db.Batch(fn)
	} else {
		err = c.db.Update(fn)
	}
	if err != nil {
		return fmt.Errorf("replicate: write checkpoint %s: %w", key, err)
	}
	return nil
}

func del(c *checkpoint, bucket []byte, key string) error {
	if c == nil {
		return nil
	}
	if err := c.db.Batch(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Delete([]byte(key)) }); err != nil {
		return fmt.Errorf("replicate: write checkpoint %s: %w", key, err)
	}
	return nil
}

func (c *checkpoint) object(key string) (objectRecord, bool, error) {
	return get[objectRecord](c, bucketObjects, key)
}

func (c *checkpoint) putObject(key string, r objectRecord) error {
	return put(c, bucketObjects, key, r, true)
}

func (c *checkpoint) upload(key string) (uploadRecord, bool, error) {
	return get[uploadRecord](c, bucketUploads, key)
}

// putUpload stores u at once (not batched): the upload ID must be durable
// before any part is sent, or a crash would orphan the upload.
func (c *checkpoint) putUpload(key string, u uploadRecord) error {
	return put(c, bucketUploads, key, u, false)
}

// putPart records a verified part of the upload of key.
func (c *checkpoint) putPart(key, uploadID string, n int, p partRecord) error {
	if c == nil {
		return nil
	}
	err := c.db.Batch(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketUploads)
		var u uploadRecord
		raw := b.Get([]byte(key))
		if raw == nil {
			return nil
		}
		if err := json.Unmarshal(raw, &u); err != nil {
			return err
		}
		if u.UploadID != uploadID {
			return nil
		}
		if u.Parts == nil {
			u.Parts = map[int]partRecord{}
		}
		u.Parts[n] = p
		nb, err := json.Marshal(u)
		if err != nil {
			return err
		}
		return b.Put([]byte(key), nb)
	})
	if err != nil {
		return fmt.Errorf("replicate: write checkpoint %s part %d: %w", key, n, err)
	}
	return nil
}

func (c *checkpoint) deleteUpload(key string) error { return del(c, bucketUploads, key) }

// forEachObject calls fn for every object record, in key order.
func (c *checkpoint) forEachObject(fn func(key string, r objectRecord) error) error {
	if c == nil {
		return nil
	}
	return c.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketObjects).ForEach(func(k, v []byte) error {
			var r objectRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("replicate: read checkpoint %s: %w", k, err)
			}
			return fn(string(k), r)
		})
	})
}
