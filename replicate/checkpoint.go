package replicate

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The checkpoint is a bbolt file with two buckets keyed by the source key
// (relative to the source prefix):
//
//	objects  key -> objectRecord: what the replica holds, once verified
//	uploads  key -> uploadRecord: a multipart copy in progress
//
// Records are written only after the copy they describe was verified,
// which is what makes a kill -9 at any moment safe: a record on disk always
// describes a verified copy. Object records are committed by a background
// writer in groups (one fsync'd transaction per group, at most
// objectFlushDelay after the first record), so that copy workers never wait
// for a disk sync; a record still in memory at a crash only costs a second
// copy of that object. Pass flushes them before it reports completion.
// Upload and part records are written synchronously.
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

	mu      sync.Mutex
	pending map[string]objectRecord // object records not yet committed
	writing map[string]objectRecord // the group being committed now
	flushes []chan error            // flush calls waiting for the next commit
	wake    chan struct{}           // a record or a flush request arrived
	stop    chan struct{}
	done    chan struct{}
	err     error // first commit error, returned by every later flush

	closeOnce sync.Once
	closeErr  error
}

// Object records are committed when this many are pending, or this long
// after the first one arrived.
const (
	objectFlushSize  = 512
	objectFlushDelay = 20 * time.Millisecond
)

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
	c := &checkpoint{db: db, pending: map[string]objectRecord{}, wake: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
	go c.writer()
	return c, nil
}

// close commits pending records and closes the file; later calls return
// the first call's result.
func (c *checkpoint) close() error {
	if c == nil {
		return nil
	}
	c.closeOnce.Do(func() {
		err := c.flush()
		close(c.stop)
		<-c.done
		c.closeErr = errors.Join(err, c.db.Close())
	})
	return c.closeErr
}

// writer commits pending object records in groups until stop.
func (c *checkpoint) writer() {
	defer close(c.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	armed := false
	for {
		select {
		case <-c.stop:
			c.commit()
			return
		case <-c.wake:
			c.mu.Lock()
			n, waiting := len(c.pending), len(c.flushes) > 0
			c.mu.Unlock()
			switch {
			case waiting || n >= objectFlushSize:
				c.commit()
			case n > 0 && !armed:
				timer.Reset(objectFlushDelay)
				armed = true
			}
		case <-timer.C:
			armed = false
			c.commit()
		}
	}
}

// commit writes every pending record in one transaction and answers the
// waiting flushes.
func (c *checkpoint) commit() {
	c.mu.Lock()
	batch, flushes := c.pending, c.flushes
	c.pending, c.flushes = make(map[string]objectRecord, len(batch)), nil
	c.writing = batch // still visible to object() until it is on disk
	c.mu.Unlock()
	var err error
	if len(batch) > 0 {
		err = c.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketObjects)
			for k, r := range batch {
				v, err := json.Marshal(r)
				if err != nil {
					return err
				}
				if err := b.Put([]byte(k), v); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			err = fmt.Errorf("replicate: write checkpoint: %w", err)
		}
	}
	c.mu.Lock()
	c.writing = nil
	if err != nil && c.err == nil {
		c.err = err
	}
	err = c.err
	c.mu.Unlock()
	for _, f := range flushes {
		f <- err
	}
}

func (c *checkpoint) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// flush waits until every object record given so far is on disk.
func (c *checkpoint) flush() error {
	if c == nil {
		return nil
	}
	ch := make(chan error, 1)
	c.mu.Lock()
	c.flushes = append(c.flushes, ch)
	c.mu.Unlock()
	c.poke()
	select {
	case err := <-ch:
		return err
	case <-c.done:
		return c.err
	}
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
	if c == nil {
		return objectRecord{}, false, nil
	}
	c.mu.Lock()
	r, ok := c.pending[key]
	if !ok {
		r, ok = c.writing[key]
	}
	c.mu.Unlock()
	if ok {
		return r, true, nil
	}
	return get[objectRecord](c, bucketObjects, key)
}

// putObject records a verified copy. The record is committed in the
// background (see the file comment); the error is that of an earlier
// commit, if any.
func (c *checkpoint) putObject(key string, r objectRecord) error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	c.pending[key] = r
	n, err := len(c.pending), c.err
	c.mu.Unlock()
	if n == 1 || n >= objectFlushSize {
		c.poke()
	}
	return err
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
	if err := c.flush(); err != nil {
		return err
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

// empty reports whether the checkpoint holds no object record yet (a first
// pass, or a checkpoint created after the replica was filled another way).
func (c *checkpoint) empty() (bool, error) {
	c.mu.Lock()
	n := len(c.pending) + len(c.writing)
	c.mu.Unlock()
	if n > 0 {
		return false, nil
	}
	empty := true
	err := c.db.View(func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(bucketObjects).Cursor().First()
		empty = k == nil
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("replicate: read checkpoint: %w", err)
	}
	return empty, nil
}
