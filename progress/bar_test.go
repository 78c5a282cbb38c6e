package progress

import (
	"errors"
	"math"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock, safe for concurrent use.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestBarWindowRate(t *testing.T) {
	clk := newFakeClock()
	b := &Bar{Name: "b", clock: clk.Now}
	b.SetTotal(2000, 2000*kib, true)
	for range 10 { // 100 objects of 1 KiB per second for 10 s
		clk.Advance(time.Second)
		b.Add(100, 100*kib)
	}
	steps := []struct {
		idle    time.Duration
		objRate float64
	}{
		{0, 100},              // steady state: the last 5 s only
		{2 * time.Second, 60}, // 300 objects in the window
		{3 * time.Second, 0},  // nothing in the last 5 s
		{time.Hour, 0},
	}
	for _, s := range steps {
		clk.Advance(s.idle)
		snap := b.Snapshot(clk.Now())
		if math.Abs(snap.ObjectRate-s.objRate) > 1e-9 {
			t.Errorf("after idle %v: object rate %v, want %v", s.idle, snap.ObjectRate, s.objRate)
		}
		if math.Abs(snap.ByteRate-s.objRate*kib) > 1e-6 {
			t.Errorf("after idle %v: byte rate %v, want %v", s.idle, snap.ByteRate, s.objRate*kib)
		}
	}
}

func TestBarEarlyRate(t *testing.T) {
	clk := newFakeClock()
	b := &Bar{clock: clk.Now}
	if s := b.Snapshot(clk.Now()); s.ObjectRate != 0 || !s.Started.IsZero() {
		t.Fatalf("untouched bar: %+v", s)
	}
	b.SetTotal(10, 0, false)
	clk.Advance(2 * time.Second)
	b.Add(4, 0)
	if s := b.Snapshot(clk.Now()); s.ObjectRate != 2 || s.Final {
		t.Fatalf("rate over the first 2 s = %v (final %v), want 2", s.ObjectRate, s.Final)
	}
}

func TestBarSamplesBounded(t *testing.T) {
	clk := newFakeClock()
	b := &Bar{clock: clk.Now}
	for range 100000 {
		clk.Advance(time.Millisecond)
		b.Add(1, 1)
	}
	b.mu.Lock()
	n := len(b.samples)
	b.mu.Unlock()
	if limit := int(Window/sampleEvery) + 3; n > limit {
		t.Fatalf("%d samples kept, want at most %d", n, limit)
	}
	s := b.Snapshot(clk.Now())
	if math.Abs(s.ObjectRate-1000) > 25 {
		t.Fatalf("rate %v, want about 1000/s", s.ObjectRate)
	}
}

func TestBarDone(t *testing.T) {
	clk := newFakeClock()
	b := &Bar{clock: clk.Now}
	b.SetTotal(10, 100, true)
	clk.Advance(4 * time.Second)
	b.Add(10, 100)
	b.SetStatus("verifying")
	boom := errors.New("boom")
	b.Done(boom)
	clk.Advance(time.Minute)
	b.Done(nil) // ignored: the first Done wins
	s := b.Snapshot(clk.Now())
	if !s.Done || s.Err != boom || s.Finished != t0.Add(4*time.Second) {
		t.Fatalf("snapshot %+v", s)
	}
	if s.ObjectRate != 2.5 || s.ByteRate != 25 || s.Status != "verifying" {
		t.Fatalf("done bar rates %v %v status %q, want the run's average 2.5 and 25", s.ObjectRate, s.ByteRate, s.Status)
	}
}

func TestZeroBar(t *testing.T) {
	var b Bar // usable without a Display, on the wall clock
	b.Add(1, 2)
	b.Done(nil)
	if s := b.Snapshot(time.Now()); s.Objects != 1 || s.Bytes != 2 || !s.Done {
		t.Fatalf("snapshot %+v", s)
	}
}
