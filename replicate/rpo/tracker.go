// Package rpo measures the recovery point of a replicated bucket: how old is
// the oldest change of the source that the replica does not have yet.
//
// A [Tracker] observes one bucket's replication (the engine reports every
// change it sees, every object it replicates or fails, and the start and end
// of every listing pass) and derives from that:
//
//   - Lag: now minus the time of the oldest change not yet in the replica
//     (0 when nothing is pending). This is the measured RPO.
//   - RPO bound: the worst case when change notifications may be lost,
//     max(Lag, now - start of the last complete pass). A change older than
//     the start of a complete listing pass was seen by that pass, so only
//     changes made since could be unknown to the tracker.
//   - State: unknown, in-sync, lagging (behind, but making progress) or
//     stalled (behind and no progress for StallAfter intervals, or
//     ErrorsToStall consecutive failures).
//
// Exceeding the plan's RPO objective is logged once on the way in and once on
// the way out, never per call. A [Collector] exports trackers as Prometheus
// metrics.
package rpo

import (
	"log/slog"
	"sync"
	"time"
)

// Defaults of [Options].
const (
	DefaultInterval      = 30 * time.Second
	DefaultStallAfter    = 3
	DefaultErrorsToStall = 5
)

// State is the replication state of a bucket.
type State string

// States reported by [Tracker.Snapshot].
const (
	// StateUnknown: nothing is pending but no pass has completed yet, so
	// the tracker cannot vouch for objects it has not seen.
	StateUnknown State = "unknown"
	// StateInSync: nothing is pending and at least one pass completed.
	StateInSync State = "in-sync"
	// StateLagging: changes are pending and replication makes progress.
	StateLagging State = "lagging"
	// StateStalled: changes are pending and nothing was replicated for
	// StallAfter intervals, or ErrorsToStall consecutive failures occurred.
	StateStalled State = "stalled"
)

// States lists every State, in the order metrics report them.
var States = []State{StateInSync, StateLagging, StateStalled, StateUnknown}

// Options configures a [Tracker].
type Options struct {
	// Bucket names the tracked bucket; it is the metrics' bucket label.
	Bucket string
	// Source and Destination describe the endpoints (e.g. s3:// URLs);
	// they are reported, never interpreted.
	Source, Destination string
	// Objective is the plan's RPO; 0 means none (no alert).
	Objective time.Duration
	// Interval is the continuous loop's listing interval (default 30s).
	Interval time.Duration
	// StallAfter is the number of intervals without progress, while
	// changes are pending, after which the bucket is stalled (default 3).
	StallAfter int
	// ErrorsToStall is the number of consecutive failures, with no
	// success in between, after which the bucket is stalled (default 5).
	ErrorsToStall int
	// Clock returns the current time (default time.Now).
	Clock func() time.Time
	// Logger receives the objective and stall alerts (nil discards them).
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.StallAfter <= 0 {
		o.StallAfter = DefaultStallAfter
	}
	if o.ErrorsToStall <= 0 {
		o.ErrorsToStall = DefaultErrorsToStall
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.Logger = o.Logger.With("component", "rpo", "bucket", o.Bucket)
	return o
}

// Tracker measures the RPO of one replicated bucket. Its observer methods
// (Changed, Replicated, Failed, PassStarted, PassEnded) are cheap, never
// block on I/O and are safe for concurrent use; the engine calls them from
// its workers.
type Tracker struct {
	o Options

	mu      sync.Mutex
	pending map[string]time.Time // key -> time of its oldest unreplicated change
	// oldest caches the minimum of pending; oldestKey is its key. When
	// oldestKey is replicated the cache is marked stale and recomputed on
	// the next read, so observer calls stay O(1).
	oldest      time.Time
	oldestKey   string
	oldestStale bool

	behindSince     time.Time // clock time pending last became non-empty
	lastProgress    time.Time // clock time of the last Replicated call
	passStarted     time.Time // start of the pass in progress
	lastPass        time.Time // end of the last complete pass
	lastPassStarted time.Time // start of the last complete pass
	completePasses  int
	consecFailures  int
	lastError       string
	replicated      uint64
	failed          uint64

	// Alert state: what was last logged, so each transition logs once.
	breached bool
	stalled  bool
}

// NewTracker returns a Tracker for one bucket.
func NewTracker(o Options) *Tracker {
	return &Tracker{o: o.withDefaults(), pending: make(map[string]time.Time)}
}

// Bucket returns the tracked bucket's name.
func (t *Tracker) Bucket() string { return t.o.Bucket }

// Changed records that key changed in the source at time at (its
// LastModified, or the event time; zero means now). If key is already
// pending, the older change time is kept: the replica misses both.
func (t *Tracker) Changed(key string, at time.Time) {
	if at.IsZero() {
		at = t.o.Clock()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.pending) == 0 {
		t.behindSince = t.o.Clock()
	}
	if prev, ok := t.pending[key]; ok && !prev.After(at) {
		return
	}
	t.pending[key] = at
	if !t.oldestStale && (t.oldest.IsZero() || at.Before(t.oldest)) {
		t.oldest, t.oldestKey = at, key
	}
}

// Replicated records that the replica now holds key (verified); at is when.
// It removes key from the pending changes and counts as progress.
func (t *Tracker) Replicated(key string, at time.Time) {
	if at.IsZero() {
		at = t.o.Clock()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.replicated++
	t.consecFailures = 0
	if at.After(t.lastProgress) {
		t.lastProgress = at
	}
	if _, ok := t.pending[key]; !ok {
		return
	}
	delete(t.pending, key)
	switch {
	case len(t.pending) == 0:
		t.oldest, t.oldestKey, t.oldestStale = time.Time{}, "", false
	case key == t.oldestKey:
		t.oldestStale = true
	}
}

// Failed records that replicating key failed; the key stays pending.
// ErrorsToStall consecutive failures, with no Replicated call in between,
// make the bucket stalled.
func (t *Tracker) Failed(key string, err error) {
	msg := "unknown error"
	if err != nil {
		msg = err.Error()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failed++
	t.consecFailures++
	t.lastError = msg
}

// PassStarted records the start of a listing pass over the whole bucket.
func (t *Tracker) PassStarted(at time.Time) {
	if at.IsZero() {
		at = t.o.Clock()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.passStarted = at
}

// PassEnded records the end of the pass begun by the last PassStarted.
// A pass with no failures is complete: it becomes LastPass, its start bounds
// the RPO, and it clears the consecutive failure count.
func (t *Tracker) PassEnded(at time.Time, failed int) {
	if at.IsZero() {
		at = t.o.Clock()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if failed > 0 {
		return
	}
	started := t.passStarted
	if started.IsZero() || started.After(at) {
		started = at
	}
	t.lastPass, t.lastPassStarted = at, started
	t.passStarted = time.Time{}
	t.completePasses++
	t.consecFailures = 0
	t.lastError = ""
}

// oldestLocked returns the oldest pending change time; t.mu is held.
func (t *Tracker) oldestLocked() time.Time {
	if t.oldestStale {
		t.oldest, t.oldestKey = time.Time{}, ""
		for k, at := range t.pending {
			if t.oldest.IsZero() || at.Before(t.oldest) {
				t.oldest, t.oldestKey = at, k
			}
		}
		t.oldestStale = false
	}
	return t.oldest
}
