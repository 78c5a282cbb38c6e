package runbook

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// fetcher is a fake describe call that counts calls and IDs.
type fetcher struct {
	mu     sync.Mutex
	calls  int
	perID  map[string]int
	known  func(id string) bool
	err    error
	block  chan struct{} // if set, fetch waits for it or ctx
	called chan struct{} // if set, signalled on each call
}

func (f *fetcher) fetch(ctx context.Context, ids []string) (map[string]string, error) {
	f.mu.Lock()
	f.calls++
	if f.perID == nil {
		f.perID = map[string]int{}
	}
	for _, id := range ids {
		f.perID[id]++
	}
	err := f.err
	f.mu.Unlock()
	if f.called != nil {
		f.called <- struct{}{}
	}
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, id := range ids {
		if f.known == nil || f.known(id) {
			out[id] = "v-" + id
		}
	}
	return out, nil
}

func (f *fetcher) counts() (int, map[string]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := make(map[string]int, len(f.perID))
	for k, v := range f.perID {
		m[k] = v
	}
	return f.calls, m
}

func TestCacheCoalescesAndBatches(t *testing.T) {
	tests := []struct {
		maxBatch int
		slack    int
	}{{100, 2}, {25, 2}, {7, 3}}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("batch%d", tt.maxBatch), func(t *testing.T) {
			f := &fetcher{}
			c := NewCache(f.fetch, CacheOptions{TTL: time.Minute, MaxBatch: tt.maxBatch, Window: 20 * time.Millisecond, Clock: newFakeClock()})
			start := make(chan struct{})
			var wg sync.WaitGroup
			errs := make(chan error, 200)
			for g := range 200 {
				wg.Go(func() {
					<-start
					id := fmt.Sprintf("i-%03d", g%100)
					v, err := c.Get(context.Background(), id)
					if err == nil && v != "v-"+id {
						err = fmt.Errorf("get %s = %q", id, v)
					}
					if err != nil {
						errs <- err
					}
				})
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			calls, perID := f.counts()
			if want := (100+tt.maxBatch-1)/tt.maxBatch + tt.slack; calls > want {
				t.Errorf("fetch calls = %d, want <= %d", calls, want)
			}
			if len(perID) != 100 {
				t.Errorf("%d ids fetched, want 100", len(perID))
			}
			for id, n := range perID {
				if n != 1 {
					t.Errorf("id %s fetched %d times", id, n)
				}
			}
			s := c.Stats()
			if s.Calls != int64(calls) || s.IDsFetched != 100 || s.Hits+s.Coalesced != 100 {
				t.Errorf("stats %+v (fetch saw %d calls)", s, calls)
			}
		})
	}
}

func TestCacheTTLAndInvalidate(t *testing.T) {
	clk := newFakeClock()
	f := &fetcher{}
	c := NewCache(f.fetch, CacheOptions{TTL: 30 * time.Second, Clock: clk})
	ctx := context.Background()
	steps := []struct {
		name      string
		advance   time.Duration
		invalid   bool
		wantCalls int
	}{
		{"first get fetches", 0, false, 1},
		{"within TTL hits", 29 * time.Second, false, 1},
		{"at expiry fetches", time.Second, false, 2},
		{"fresh again", 10 * time.Second, false, 2},
		{"invalidated fetches", 0, true, 3},
	}
	for _, st := range steps {
		clk.After(st.advance)
		if st.invalid {
			c.Invalidate("a")
		}
		if v, err := c.Get(ctx, "a"); err != nil || v != "v-a" {
			t.Fatalf("%s: get = %q, %v", st.name, v, err)
		}
		if calls, _ := f.counts(); calls != st.wantCalls {
			t.Fatalf("%s: fetch calls = %d, want %d", st.name, calls, st.wantCalls)
		}
	}
	if s := c.Stats(); s.Hits != 2 || s.Calls != 3 {
		t.Fatalf("stats %+v", s)
	}
}

func TestCacheErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("not found", func(t *testing.T) {
		f := &fetcher{known: func(id string) bool { return id != "gone" }}
		c := NewCache(f.fetch, CacheOptions{TTL: time.Minute, Clock: newFakeClock()})
		m, err := c.GetMany(ctx, []string{"a", "gone", "b"})
		if Classify(err) != ClassNotFound || m["a"] != "v-a" || m["b"] != "v-b" || len(m) != 2 {
			t.Fatalf("GetMany = %v, %v (class %v)", m, err, Classify(err))
		}
		if _, err := c.Get(ctx, "gone"); Classify(err) != ClassNotFound {
			t.Fatalf("second get: %v", err)
		}
		if calls, _ := f.counts(); calls != 2 {
			t.Fatalf("not-found cached: %d calls", calls)
		}
	})
	t.Run("fetch error keeps class and is not cached", func(t *testing.T) {
		f := &fetcher{err: Throttled(errors.New("RequestLimitExceeded"))}
		c := NewCache(f.fetch, CacheOptions{TTL: time.Minute, Clock: newFakeClock()})
		_, err := c.Get(ctx, "a")
		if Classify(err) != ClassThrottled || !errors.Is(err, f.err) {
			t.Fatalf("get error %v (class %v)", err, Classify(err))
		}
		f.mu.Lock()
		f.err = nil
		f.mu.Unlock()
		if v, err := c.Get(ctx, "a"); err != nil || v != "v-a" {
			t.Fatalf("after error: %q, %v", v, err)
		}
		if calls, _ := f.counts(); calls != 2 {
			t.Fatalf("calls %d, want 2", calls)
		}
	})
}

func TestCacheCancelWaitingGet(t *testing.T) {
	f := &fetcher{block: make(chan struct{}), called: make(chan struct{}, 4)}
	c := NewCache(f.fetch, CacheOptions{TTL: time.Minute, Clock: newFakeClock(), Window: time.Millisecond})

	// Two callers share a fetch; the first gives up, the second still gets
	// the value.
	ctx1, cancel1 := context.WithCancel(context.Background())
	got1 := make(chan error, 1)
	go func() { _, err := c.Get(ctx1, "a"); got1 <- err }()
	<-f.called
	got2 := make(chan string, 1)
	go func() { v, _ := c.Get(context.Background(), "a"); got2 <- v }()
	waitFor(t, func() bool { return c.Stats().Coalesced == 1 })
	cancel1()
	select {
	case err := <-got1:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled get: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cancelled Get did not return")
	}
	close(f.block)
	if v := <-got2; v != "v-a" {
		t.Fatalf("second waiter got %q", v)
	}

	// A lone waiter that gives up cancels the fetch itself.
	f.block = make(chan struct{})
	fetchErr := make(chan error, 1)
	c2 := NewCache(func(ctx context.Context, ids []string) (map[string]string, error) {
		f.called <- struct{}{}
		<-ctx.Done()
		fetchErr <- ctx.Err()
		return nil, ctx.Err()
	}, CacheOptions{Window: time.Millisecond})
	ctx3, cancel3 := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := c2.Get(ctx3, "b"); done <- err }()
	<-f.called
	cancel3()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("lone get: %v", err)
	}
	select {
	case <-fetchErr:
	case <-time.After(5 * time.Second):
		t.Fatal("fetch not cancelled after its last waiter left")
	}
}

// waitFor polls cond for up to 5s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met")
		}
		time.Sleep(time.Millisecond)
	}
}
