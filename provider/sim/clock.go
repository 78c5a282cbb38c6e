package sim

import (
	"container/heap"
	"context"
	"runtime"
	"sync"
	"time"

	"github.com/pilotlight/pilotlight/runbook"
)

// Clock is a virtual clock (it implements runbook.Clock): time stands
// still while anything runs and jumps to the earliest pending timer once
// every participant waits on it.
//
// "Every participant waits" is decided by counting active participants
// explicitly, with a quiet period as a safety net:
//
//   - a fired timer makes its waiter active (+1); registering a timer
//     (After, AfterKey, Sleep) means the caller is about to block on it
//     (-1);
//   - Steps (an engine Observer) counts runbook steps: a step is active
//     from the moment the engine is bound to start it (+1) until it ends
//     (-1);
//   - Enter and Leave bracket other work (a goroutine that drives the
//     cloud itself, a batch leader waiting for a fetch).
//
// Timers fire one at a time, so that each waiter runs alone until it
// blocks again, in the order (time, key, registration): callers that act
// at the same instant are ordered by their keys, not by the Go scheduler,
// which is what makes a simulation deterministic. Before each firing the
// clock also waits for a short wall-time quiet period (no clock call at
// all, other goroutines given the processor; longer, Settle, after a step
// ended) so that a goroutine just spawned by the engine, not yet counted,
// gets to register first.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	timers  timerHeap
	seq     uint64
	active  int
	stats   ClockStats
	act     uint64 // bumped by every clock call: activity for the quiet check
	quiet   time.Duration
	settle  time.Duration
	ended   bool // a step ended since the last firing
	stalled time.Duration

	wake chan struct{}
	stop chan struct{}
	done chan struct{}
}

// ClockStats counts what a Clock did.
type ClockStats struct {
	// Fired is the number of timers fired.
	Fired int64 `json:"fired"`
	// Advances is the number of times the time moved forward.
	Advances int64 `json:"advances"`
	// Stalls is the number of times the clock went on although a
	// participant was still counted active, after StallAfter of wall time
	// without any clock call (a participant that ended without telling).
	Stalls int64 `json:"stalls"`
}

// ClockOptions configure a Clock.
type ClockOptions struct {
	// Start is the initial time (default 2030-01-01T00:00:00Z, so that
	// reports do not depend on when they ran).
	Start time.Time
	// Quiet is the wall time without clock calls required before a timer
	// fires (default 30µs).
	Quiet time.Duration
	// Settle replaces Quiet after a runbook step ended, for the engine to
	// start the steps that were waiting for it (default 1ms).
	Settle time.Duration
	// StallAfter is the wall time without clock calls after which the
	// clock goes on although a participant is still counted active
	// (default 50ms).
	StallAfter time.Duration
}

// NewClock returns a running clock; Stop it when done.
func NewClock(o ClockOptions) *Clock {
	if o.Start.IsZero() {
		o.Start = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if o.Quiet <= 0 {
		o.Quiet = 30 * time.Microsecond
	}
	if o.Settle <= 0 {
		o.Settle = time.Millisecond
	}
	if o.StallAfter <= 0 {
		o.StallAfter = 50 * time.Millisecond
	}
	c := &Clock{now: o.Start, quiet: o.Quiet, settle: o.Settle, stalled: o.StallAfter, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go c.loop()
	return c
}

var _ runbook.Clock = (*Clock)(nil)

type timer struct {
	when time.Time
	key  string
	seq  uint64
	ch   chan time.Time
}

type timerHeap []*timer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	a, b := h[i], h[j]
	if !a.when.Equal(b.when) {
		return a.when.Before(b.when)
	}
	if a.key != b.key {
		return a.key < b.key
	}
	return a.seq < b.seq
}
func (h timerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)   { *h = append(*h, x.(*timer)) }
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}

// Now returns the virtual time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.act++
	return c.now
}

// After returns a channel that receives the time d from now; the caller
// counts as blocked on it. Timers of the same instant without a key fire
// before keyed ones, in registration order.
func (c *Clock) After(d time.Duration) <-chan time.Time { return c.AfterKey("", d) }

// EndOfInstant is a key that sorts after every other key: a timer with it
// fires after every other timer of its instant, including those registered
// while the instant is being worked through.
const EndOfInstant = "\xff"

// AfterKey is After with an ordering key for timers of the same instant.
func (c *Clock) AfterKey(key string, d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.mu.Lock()
	c.seq++
	heap.Push(&c.timers, &timer{when: c.now.Add(max(d, 0)), key: key, seq: c.seq, ch: ch})
	if c.active > 0 {
		c.active--
	}
	c.act++
	c.mu.Unlock()
	c.kick()
	return ch
}

// Sleep waits d on the clock, in key order among the sleepers of the same
// instant; it returns ctx's error if ctx ends first.
func (c *Clock) Sleep(ctx context.Context, key string, d time.Duration) error {
	select {
	case <-c.AfterKey(key, d):
		return nil
	case <-ctx.Done():
		c.Enter() // it runs again, not woken by a timer
		return ctx.Err()
	}
}

// Enter counts the caller as an active participant until Leave.
func (c *Clock) Enter() { c.add(1) }

// Leave ends what Enter began.
func (c *Clock) Leave() { c.add(-1) }

func (c *Clock) add(n int) {
	c.mu.Lock()
	c.active = max(c.active+n, 0)
	c.act++
	c.mu.Unlock()
	c.kick()
}

// markEnded notes that a runbook step ended: the next firing waits for
// Settle rather than Quiet.
func (c *Clock) markEnded() {
	c.mu.Lock()
	c.ended = true
	c.act++
	c.mu.Unlock()
}

// Stats returns the counters so far.
func (c *Clock) Stats() ClockStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Stop ends the clock; pending timers never fire.
func (c *Clock) Stop() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	<-c.done
}

func (c *Clock) kick() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// loop fires timers, one at a time, when the participants are quiet.
func (c *Clock) loop() {
	defer close(c.done)
	for {
		t, ok := c.next()
		if !ok {
			select {
			case <-c.wake:
				continue
			case <-c.stop:
				return
			}
		}
		t.ch <- t.when
	}
}

// next waits until a timer may fire and pops it; false means nothing can
// fire until something calls the clock (or it is stopped).
func (c *Clock) next() (*timer, bool) {
	var last uint64
	var since time.Time
	for spins := 0; ; spins++ {
		select {
		case <-c.stop:
			return nil, false
		default:
		}
		c.mu.Lock()
		if c.act != last || since.IsZero() {
			last, since = c.act, time.Now()
			c.mu.Unlock()
			runtime.Gosched()
			continue
		}
		idle := time.Since(since)
		if len(c.timers) == 0 {
			c.mu.Unlock()
			return nil, false
		}
		t := c.timers[0]
		advance := t.when.After(c.now)
		quiet := c.quiet
		if c.ended {
			quiet = c.settle
		}
		switch {
		case idle < quiet:
		case c.active > 0 && idle < c.stalled:
		default:
			if c.active > 0 {
				c.stats.Stalls++
				c.active = 0
			}
			heap.Pop(&c.timers)
			if advance {
				c.now = t.when
				c.stats.Advances++
			}
			c.stats.Fired++
			c.ended = false
			c.active++ // its waiter runs
			c.act++
			c.mu.Unlock()
			return t, true
		}
		blocked := c.active == 0
		c.mu.Unlock()
		if !blocked && idle > time.Millisecond {
			// Someone is busy for a while (a journal fsync): do not spin.
			select {
			case <-c.wake:
			case <-time.After(time.Millisecond):
			case <-c.stop:
				return nil, false
			}
			continue
		}
		runtime.Gosched()
	}
}
