package runbook

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// CacheOptions configure a Cache.
type CacheOptions struct {
	// TTL is how long a fetched value is served from the cache; <= 0 keeps
	// nothing (the cache then only coalesces and batches).
	TTL time.Duration
	// MaxBatch is the most IDs in one fetch call (default 100).
	MaxBatch int
	// Window is how long the first miss of a batch waits for more misses
	// before the batch is fetched (default 2ms). It is a latency bound, so
	// it runs on the wall clock.
	Window time.Duration
	// Clock tells the time for TTLs (default the wall clock).
	Clock Clock
}

// CacheStats counts what a Cache did.
type CacheStats struct {
	// Calls is the number of fetch calls.
	Calls int64 `json:"calls"`
	// IDsFetched is the number of IDs asked of fetch, over all calls.
	IDsFetched int64 `json:"idsFetched"`
	// Hits is the number of IDs served from the cache.
	Hits int64 `json:"hits"`
	// Coalesced is the number of IDs that joined a fetch already under way
	// or queued for another caller.
	Coalesced int64 `json:"coalesced"`
}

// Cache is a read-through cache in front of a batch "describe" call, such as
// EC2 DescribeInstances: concurrent misses for one ID share one fetch, and
// misses for different IDs within Window (up to MaxBatch) go in one fetch
// call, so that a thousand steps polling a thousand instances cost a handful
// of API calls. Errors are not cached. It is safe for concurrent use.
type Cache[V any] struct {
	fetch func(ctx context.Context, ids []string) (map[string]V, error)
	o     CacheOptions

	mu      sync.Mutex
	entries map[string]cacheEntry[V]
	pending map[string]*cacheCall[V] // ID -> call whose result will be stored
	cur     *cacheBatch[V]           // batch collecting misses, nil if none
	stats   CacheStats
}

type cacheEntry[V any] struct {
	v       V
	expires time.Time
}

// cacheCall is the fetch of one ID in a batch; done is closed when v and
// err are set.
type cacheCall[V any] struct {
	id   string
	b    *cacheBatch[V]
	done chan struct{}
	v    V
	err  error
}

// cacheBatch is one fetch call. refs counts the (caller, ID) pairs waiting
// on it: when the last waiter gives up, the batch is cancelled.
type cacheBatch[V any] struct {
	calls    []*cacheCall[V]
	ctx      context.Context
	cancel   context.CancelFunc
	refs     int
	flushed  bool
	finished bool
	timer    *time.Timer
}

// NewCache returns a Cache in front of fetch, which returns the values of
// the IDs it knows; an ID absent from its result is not found.
func NewCache[V any](fetch func(ctx context.Context, ids []string) (map[string]V, error), o CacheOptions) *Cache[V] {
	if o.MaxBatch <= 0 {
		o.MaxBatch = 100
	}
	if o.Window <= 0 {
		o.Window = 2 * time.Millisecond
	}
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	return &Cache[V]{fetch: fetch, o: o, entries: map[string]cacheEntry[V]{}, pending: map[string]*cacheCall[V]{}}
}

// Get returns the value of id, from the cache or fetched. An ID the fetch
// does not return is a NotFound-classed error; a fetch error is returned
// wrapped, with its class. Cancelling ctx returns at once with ctx's error.
func (c *Cache[V]) Get(ctx context.Context, id string) (V, error) {
	m, err := c.GetMany(ctx, []string{id})
	return m[id], err
}

// GetMany returns the values of ids, from the cache or fetched in as few
// calls as MaxBatch allows. The map holds every ID found; the error joins
// the error of every ID not found or not fetched.
func (c *Cache[V]) GetMany(ctx context.Context, ids []string) (map[string]V, error) {
	out := make(map[string]V, len(ids))
	var wait []*cacheCall[V]
	c.mu.Lock()
	now := c.o.Clock.Now()
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		if e, ok := c.entries[id]; ok && now.Before(e.expires) {
			out[id] = e.v
			c.stats.Hits++
			continue
		}
		call, ok := c.pending[id]
		if ok {
			c.stats.Coalesced++
		} else {
			call = c.enqueue(ctx, id)
		}
		call.b.refs++
		wait = append(wait, call)
	}
	c.mu.Unlock()

	var errs []error
	for i, call := range wait {
		select {
		case <-call.done:
		case <-ctx.Done():
			c.release(wait[i:])
			return out, ctx.Err()
		}
		if call.err != nil {
			errs = append(errs, call.err)
		} else {
			out[call.id] = call.v
		}
	}
	return out, errors.Join(errs...)
}

// Invalidate drops ids from the cache, or everything when none is given. A
// fetch under way for an ID is not stored; its current waiters still get
// its result, later callers fetch again.
func (c *Cache[V]) Invalidate(ids ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(ids) == 0 {
		clear(c.entries)
		clear(c.pending)
		return
	}
	for _, id := range ids {
		delete(c.entries, id)
		delete(c.pending, id)
	}
}

// Stats returns the counters so far.
func (c *Cache[V]) Stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// enqueue adds a call for id to the collecting batch, starting one if
// needed, and flushes the batch when full; c.mu must be held.
func (c *Cache[V]) enqueue(ctx context.Context, id string) *cacheCall[V] {
	b := c.cur
	if b == nil {
		// The fetch outlives the caller that started the batch: it ends
		// when every waiter has given up, not when the first one does.
		bctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		b = &cacheBatch[V]{ctx: bctx, cancel: cancel}
		c.cur = b
		b.timer = time.AfterFunc(c.o.Window, func() { c.flush(b) })
	}
	call := &cacheCall[V]{id: id, b: b, done: make(chan struct{})}
	b.calls = append(b.calls, call)
	c.pending[id] = call
	if len(b.calls) >= c.o.MaxBatch {
		b.timer.Stop()
		c.cur = nil
		b.flushed = true
		go c.run(b)
	}
	return call
}

// flush starts the fetch of b when its window ends, unless it is full and
// already started.
func (c *Cache[V]) flush(b *cacheBatch[V]) {
	c.mu.Lock()
	if b.flushed {
		c.mu.Unlock()
		return
	}
	b.flushed = true
	if c.cur == b {
		c.cur = nil
	}
	c.mu.Unlock()
	c.run(b)
}

// run fetches the IDs of b and completes its calls.
func (c *Cache[V]) run(b *cacheBatch[V]) {
	ids := make([]string, len(b.calls))
	for i, call := range b.calls {
		ids[i] = call.id
	}
	var (
		m   map[string]V
		err = b.ctx.Err() // every waiter left before the batch was sent
	)
	if err == nil {
		c.mu.Lock()
		c.stats.Calls++
		c.stats.IDsFetched += int64(len(ids))
		c.mu.Unlock()
		m, err = c.fetch(b.ctx, ids)
	}
	c.mu.Lock()
	expires := c.o.Clock.Now().Add(c.o.TTL)
	for _, call := range b.calls {
		v, ok := m[call.id]
		switch {
		case err != nil:
			call.err = fmt.Errorf("runbook: cache fetch %s: %w", call.id, err)
		case !ok:
			call.err = NotFound(fmt.Errorf("runbook: cache fetch %s: not found", call.id))
		default:
			call.v = v
			if c.o.TTL > 0 && c.pending[call.id] == call {
				c.entries[call.id] = cacheEntry[V]{v: v, expires: expires}
			}
		}
		if c.pending[call.id] == call {
			delete(c.pending, call.id)
		}
	}
	b.finished = true
	c.mu.Unlock()
	b.cancel()
	for _, call := range b.calls {
		close(call.done)
	}
}

// release gives up the calls a cancelled caller was waiting on; a batch
// nobody waits on any more is cancelled, and its IDs are fetched afresh by
// later callers.
func (c *Cache[V]) release(calls []*cacheCall[V]) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, call := range calls {
		b := call.b
		b.refs--
		if b.refs > 0 || b.finished {
			continue
		}
		b.cancel()
		for _, bc := range b.calls {
			if c.pending[bc.id] == bc {
				delete(c.pending, bc.id)
			}
		}
		if c.cur == b {
			c.cur = nil // the timer still fires, and completes the calls with the error
		}
	}
}
