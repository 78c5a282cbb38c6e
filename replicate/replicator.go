package replicate

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"golang.org/x/sync/semaphore"
	"golang.org/x/time/rate"

	"github.com/pilotlight/pilotlight/plan"
)

// Policy says how deletes and archived objects are handled.
type Policy struct {
	Deletes  plan.DeletePolicy   // keep (default) or replicate
	Archived plan.ArchivedPolicy // skip (default) or copy
}

// Observer is told about changes and their replication, for RPO tracking.
// Every method must be cheap and must not block.
type Observer interface {
	// Changed: a source change (new, overwritten or deleted key) was
	// detected; at is the source LastModified or the event time.
	Changed(key string, at time.Time)
	// Replicated: the change is now in the replica, or deliberately kept
	// or skipped per policy; at is when.
	Replicated(key string, at time.Time)
	// Failed: replicating key failed after retries, or (key "" or the
	// key concerned) a pass stopped on a permanent error.
	Failed(key string, err error)
	// PassStarted: a full listing pass starts.
	PassStarted(at time.Time)
	// PassCompleted: the pass begun by the last PassStarted ran to its
	// end (s.Failed objects may have failed). A pass stopped by an error or
	// by its context is not completed.
	PassCompleted(at time.Time, s Summary)
}

// Options tune a Replicator. Zero values take the defaults.
type Options struct {
	// Workers is the number of objects copied in parallel (default 32).
	Workers int
	// MultipartThreshold: larger objects are copied in parts (default 64 MiB).
	MultipartThreshold int64
	// PartSize is the part size of multipart copies (default 16 MiB, at least 5 MiB).
	PartSize int64
	// MemoryBudget bounds the object data buffered at once across all
	// workers (default 512 MiB).
	MemoryBudget int64
	// RateLimit is the maximum requests per second per endpoint (0: unlimited).
	RateLimit float64
	// Checkpoint is the path of the bbolt checkpoint file; "" keeps no
	// checkpoint and compares with the replica's listing instead.
	Checkpoint string
	// Observer is told about changes (optional).
	Observer Observer
	// Progress receives cumulative counters, at most about 10 times a
	// second, and once at the end of a pass (optional).
	Progress func(Progress)
	// Logger receives debug and warning lines (nil discards).
	Logger *slog.Logger
	// Clock returns the current time (default time.Now).
	Clock func() time.Time
}

// Defaults of Options.
const (
	DefaultWorkers            = 32
	DefaultMultipartThreshold = 64 << 20
	DefaultPartSize           = 16 << 20
	DefaultMemoryBudget       = 512 << 20
	MinPartSize               = 5 << 20
	maxParts                  = 10000
)

func (o Options) withDefaults() Options {
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.MultipartThreshold <= 0 {
		o.MultipartThreshold = DefaultMultipartThreshold
	}
	if o.PartSize <= 0 {
		o.PartSize = DefaultPartSize
	}
	if o.MemoryBudget <= 0 {
		o.MemoryBudget = DefaultMemoryBudget
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	return o
}

// Progress is a snapshot of a pass's cumulative counters.
type Progress struct {
	Bucket                    string
	ObjectsDone, ObjectsTotal int64
	BytesDone, BytesTotal     int64
	Listing                   bool // the source listing goes on: totals still grow
	Started                   time.Time
}

// Failure is an object that could not be replicated.
type Failure struct {
	Key string `json:"key"`
	Err string `json:"error"`
}

// Summary is the result of a pass.
type Summary struct {
	Source, Destination string
	// Listed source objects; Copied, Unchanged and Failed among them
	// (archived objects skipped by policy are in none of the three).
	Listed, Copied, Unchanged, Failed int
	Bytes                             int64 // bytes copied
	ArchivedSkipped                   []string
	DeletesKept                       []string // deleted in the source, kept in the replica (reported once with a checkpoint)
	DeletesReplicated                 []string
	Failures                          []Failure
	Started                           time.Time
	Seconds                           float64
	ObjectsPerSecond, BytesPerSecond  float64 // Copied and Bytes per second
}

// Replicator copies one source endpoint to one replica endpoint.
type Replicator struct {
	src, dst side
	pol      Policy
	o        Options
	log      *slog.Logger
	cp       *checkpoint
	mem      *memBudget
	bo       backoff        // per-operation retries (tests shorten it)
	passMu   sync.Mutex     // one Pass at a time
	keyLocks [64]sync.Mutex // striped by key hash: one copy of a key at a time
}

// side is an endpoint with its rate limiter.
type side struct {
	Endpoint
	limiter  *rate.Limiter // nil: unlimited
	answered atomic.Bool   // the endpoint answered at least one request
}

// New returns a Replicator from src to dst. It opens the checkpoint, which
// only one process may hold at a time.
func New(src, dst Endpoint, pol Policy, o Options) (*Replicator, error) {
	o = o.withDefaults()
	switch {
	case src.Client == nil || dst.Client == nil:
		return nil, errors.New("replicate: new: source and destination need a client")
	case src.Bucket == "" || dst.Bucket == "":
		return nil, errors.New("replicate: new: source and destination need a bucket")
	case o.PartSize < MinPartSize:
		return nil, fmt.Errorf("replicate: new: part size %d is below the S3 minimum of 5 MiB", o.PartSize)
	case o.MemoryBudget < o.PartSize:
		return nil, fmt.Errorf("replicate: new: memory budget %d is smaller than the part size %d", o.MemoryBudget, o.PartSize)
	}
	if pol.Deletes == "" {
		pol.Deletes = plan.DeletesKeep
	}
	if pol.Archived == "" {
		pol.Archived = plan.ArchivedSkip
	}
	r := &Replicator{
		pol: pol, o: o,
		log: o.Logger.With("component", "replicate", "source", src.name(), "destination", dst.name()),
		mem: newMemBudget(o.MemoryBudget),
	}
	r.src.Endpoint, r.dst.Endpoint = src, dst
	if o.RateLimit > 0 {
		burst := max(1, int(o.RateLimit/10))
		r.src.limiter = rate.NewLimiter(rate.Limit(o.RateLimit), burst)
		r.dst.limiter = rate.NewLimiter(rate.Limit(o.RateLimit), burst)
	}
	if o.Checkpoint != "" {
		cp, err := openCheckpoint(o.Checkpoint)
		if err != nil {
			return nil, err
		}
		r.cp = cp
	}
	return r, nil
}

// Close closes the checkpoint.
func (r *Replicator) Close() error { return r.cp.close() }

// call runs one S3 operation on s: it waits for the rate limiter, retries
// throttling and transient errors with capped jittered backoff, and turns
// permanent errors into a *PermanentError. Other errors are wrapped as
// "replicate: OP s3://BUCKET/KEY: CAUSE".
func (r *Replicator) call(ctx context.Context, s *side, op, key string, fn func(context.Context) error) error {
	return retryCall(ctx, s, op, key, r.bo, r.log, fn)
}

func retryCall(ctx context.Context, s *side, op, key string, b backoff, log *slog.Logger, fn func(context.Context) error) error {
	b = b.withDefaults()
	var err error
	for attempt := 1; ; attempt++ {
		if s.limiter != nil {
			if werr := s.limiter.Wait(ctx); werr != nil {
				return werr
			}
		}
		err = fn(ctx)
		if err == nil {
			s.answered.Store(true)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		class := classify(err, s.answered.Load())
		var re *awshttp.ResponseError
		if errors.As(err, &re) || errors.Is(err, errSourceChanged) || errors.Is(err, errChecksum) {
			s.answered.Store(true)
		}
		if class == classPermanent {
			return &PermanentError{Op: op, Endpoint: s.name(), Bucket: s.Bucket, Key: s.Prefix + key, Err: err}
		}
		if class != classRetry || attempt >= b.Attempts {
			break
		}
		d := b.delay(attempt)
		log.Debug("retrying", "op", op, "key", key, "attempt", attempt, "delay", d, "err", err)
		if serr := sleep(ctx, d); serr != nil {
			return serr
		}
	}
	return fmt.Errorf("replicate: %s s3://%s/%s: %w", op, s.Bucket, s.Prefix+key, err)
}

// memBudget is a weighted semaphore over buffered bytes that remembers its
// peak use.
type memBudget struct {
	sem         *semaphore.Weighted
	size        int64
	inUse, peak atomic.Int64
}

func newMemBudget(n int64) *memBudget {
	return &memBudget{sem: semaphore.NewWeighted(n), size: n}
}

// acquire reserves n bytes (clamped to the budget) and returns the amount
// to release.
func (m *memBudget) acquire(ctx context.Context, n int64) (int64, error) {
	n = min(max(n, 1), m.size)
	if err := m.sem.Acquire(ctx, n); err != nil {
		return 0, err
	}
	cur := m.inUse.Add(n)
	for {
		p := m.peak.Load()
		if cur <= p || m.peak.CompareAndSwap(p, cur) {
			break
		}
	}
	return n, nil
}

func (m *memBudget) release(n int64) {
	m.inUse.Add(-n)
	m.sem.Release(n)
}

// lockKey serialises copies of one key (a pass and SyncKey may race).
func (r *Replicator) lockKey(key string) func() {
	h := fnv.New32a()
	h.Write([]byte(key))
	mu := &r.keyLocks[h.Sum32()%uint32(len(r.keyLocks))]
	mu.Lock()
	return mu.Unlock
}
