package sim

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestClockOrderAndAdvance(t *testing.T) {
	c := NewClock(ClockOptions{})
	defer c.Stop()
	start := c.Now()
	var mu sync.Mutex
	var got []string
	var wg sync.WaitGroup
	// Sleepers registered in scrambled order fire by (time, key).
	for _, s := range []struct {
		key string
		d   time.Duration
	}{{"c", time.Second}, {"a", 2 * time.Second}, {"b", time.Second}, {"a", time.Second}} {
		wg.Add(1)
		c.Enter()
		go func() {
			defer wg.Done()
			if err := c.Sleep(context.Background(), s.key, s.d); err != nil {
				t.Error(err)
			}
			mu.Lock()
			got = append(got, s.key+"@"+c.Now().Sub(start).String())
			mu.Unlock()
			// Each waiter runs alone: the next fires only after this
			// one ends (Leave) or blocks.
			time.Sleep(2 * time.Millisecond)
			c.Leave()
		}()
	}
	wg.Wait()
	want := []string{"a@1s", "b@1s", "c@1s", "a@2s"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("order %v, want %v", got, want)
		}
	}
}

func TestClockWaitsForActive(t *testing.T) {
	c := NewClock(ClockOptions{StallAfter: 5 * time.Second})
	defer c.Stop()
	start := c.Now()
	c.Enter() // a participant busy outside the clock
	fired := c.After(time.Minute)
	select {
	case <-fired:
		// The After call itself counts the caller as blocked: the
		// participant is the test goroutine, now waiting.
	case <-time.After(2 * time.Second):
		t.Fatal("timer did not fire once everyone waited")
	}
	if d := c.Now().Sub(start); d != time.Minute {
		t.Fatalf("advanced %s", d)
	}
	// The fire made the test goroutine active again; another participant
	// is busy: a pending timer must not fire.
	c.Enter()
	ch := c.After(time.Hour) // the test goroutine blocks, the other is busy
	select {
	case <-ch:
		t.Fatal("fired while a participant was active")
	case <-time.After(20 * time.Millisecond):
	}
	c.Leave()
	select {
	case <-ch:
	case <-time.After(2 * time.Second):
		t.Fatal("did not fire after Leave")
	}
	if s := c.Stats(); s.Stalls != 0 || s.Fired != 2 {
		t.Fatalf("stats %+v", s)
	}
}
