package health_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/health"
	"github.com/pilotlight/pilotlight/health/healthtest"
)

const interval = time.Second

// script is a ProbeFunc returning scripted outcomes, then passes.
type script struct {
	mu     sync.Mutex
	seq    string // p = pass, f = fail
	n      int
	probed chan int // receives the index of each completed probe
}

func newScript(seq string) *script { return &script{seq: seq, probed: make(chan int, 100)} }

func (s *script) probe(ctx context.Context) health.Result {
	s.mu.Lock()
	i := s.n
	s.n++
	s.mu.Unlock()
	ok := i >= len(s.seq) || s.seq[i] == 'p'
	r := health.Result{OK: ok, Status: 200}
	if !ok {
		r.Status, r.Err = 503, "status 503"
	}
	s.probed <- i
	return r
}

// runMonitor starts m.Run and returns a stop function that waits for it.
func runMonitor(t *testing.T, m *health.Monitor) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v, want nil", err)
		}
	}
}

// step waits for probe i to be observed and the monitor to park on the
// clock, then advances the clock by one interval.
func step(t *testing.T, clock *healthtest.Clock, s *script, i int) {
	t.Helper()
	await(t, clock, s, i)
	clock.Advance(interval)
}

// await waits for probe i to be observed and the monitor to park on the
// clock; no further probe runs until the clock is advanced.
func await(t *testing.T, clock *healthtest.Clock, s *script, i int) {
	t.Helper()
	select {
	case got := <-s.probed:
		if got != i {
			t.Fatalf("probe %d ran, want %d", got, i)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("probe %d did not run", i)
	}
	if !clock.WaitTimers(1, 5*time.Second) {
		t.Fatalf("monitor did not wait for its next interval after probe %d", i)
	}
}

func TestMonitorEvents(t *testing.T) {
	clock := healthtest.NewClock(time.Unix(1000, 0))
	s := newScript("ppfffpp")
	m := health.NewMonitor(health.Check{Target: "127.0.0.1:1"}, health.MonitorOptions{
		Interval: interval, FailureThreshold: 3, SuccessThreshold: 2, Probe: s.probe, Clock: clock,
	})
	events, unsubscribe := m.Subscribe(10)
	defer unsubscribe()
	stop := runMonitor(t, m)
	wantStates := []health.State{
		health.Unknown, health.Healthy, health.Healthy, health.Healthy,
		health.Unhealthy, health.Unhealthy, health.Healthy,
	}
	for i, want := range wantStates {
		await(t, clock, s, i)
		if got := m.State(); got != want {
			t.Fatalf("after probe %d State() = %v, want %v", i, got, want)
		}
		if i < len(wantStates)-1 {
			clock.Advance(interval)
		}
	}
	stop()

	want := []struct {
		from, to health.State
		reason   string
		results  int
		at       time.Time
	}{
		{health.Unknown, health.Healthy, "2 consecutive passes", 2, time.Unix(1001, 0)},
		{health.Healthy, health.Unhealthy, "3 consecutive failures: status 503", 3, time.Unix(1004, 0)},
		{health.Unhealthy, health.Healthy, "2 consecutive passes", 2, time.Unix(1006, 0)},
	}
	for _, w := range want {
		select {
		case ev := <-events:
			if ev.From != w.from || ev.To != w.to || ev.Reason != w.reason || len(ev.Results) != w.results ||
				!ev.At.Equal(w.at) || ev.Target != "127.0.0.1:1" {
				t.Fatalf("event = %+v, want %v→%v %q with %d results at %v", ev, w.from, w.to, w.reason, w.results, w.at)
			}
		default:
			t.Fatalf("missing event %v→%v", w.from, w.to)
		}
	}
	select {
	case ev := <-events:
		t.Fatalf("unexpected event %+v", ev)
	default:
	}
	if last := m.Last(); len(last) != len(wantStates) || last[2].OK || !last[6].OK {
		t.Fatalf("Last() = %+v, want the %d results in order", last, len(wantStates))
	}
}

func TestMonitorSlowSubscriberDropsAndCounts(t *testing.T) {
	clock := healthtest.NewClock(time.Unix(0, 0))
	s := newScript("ppffpp") // three transitions with thresholds 2/2
	m := health.NewMonitor(health.Check{Target: "127.0.0.1:1"}, health.MonitorOptions{
		Interval: interval, FailureThreshold: 2, SuccessThreshold: 2, Probe: s.probe, Clock: clock,
	})
	slow, unsubscribeSlow := m.Subscribe(1)
	fast, unsubscribeFast := m.Subscribe(10)
	stop := runMonitor(t, m)
	for i := range 6 {
		step(t, clock, s, i)
	}
	stop()
	if got := m.Dropped(); got != 2 {
		t.Fatalf("Dropped() = %d, want 2", got)
	}
	if ev := <-slow; ev.To != health.Healthy {
		t.Fatalf("slow subscriber got %+v, want the first transition", ev)
	}
	unsubscribeFast()
	unsubscribeFast() // idempotent
	n := 0
	for range fast {
		n++
	}
	if n != 3 {
		t.Fatalf("fast subscriber got %d events, want 3", n)
	}
	unsubscribeSlow()
	if _, open := <-slow; open {
		t.Fatal("slow channel still open after unsubscribe")
	}
}

func TestMonitorNeverOverlapsProbes(t *testing.T) {
	var inFlight, maxInFlight, probes atomic.Int32
	var starts []time.Time
	var mu sync.Mutex
	block := 30 * time.Millisecond
	m := health.NewMonitor(health.Check{Target: "127.0.0.1:1"}, health.MonitorOptions{
		Interval: 5 * time.Millisecond,
		Probe: func(ctx context.Context) health.Result {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for {
				old := maxInFlight.Load()
				if n <= old || maxInFlight.CompareAndSwap(old, n) {
					break
				}
			}
			mu.Lock()
			starts = append(starts, time.Now())
			mu.Unlock()
			probes.Add(1)
			select {
			case <-ctx.Done():
			case <-time.After(block):
			}
			return health.Result{OK: true}
		},
	})
	stop := runMonitor(t, m)
	deadline := time.Now().Add(5 * time.Second)
	for probes.Load() < 5 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	if got := maxInFlight.Load(); got != 1 {
		t.Fatalf("max concurrent probes = %d, want 1", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(starts) < 5 {
		t.Fatalf("%d probes ran, want at least 5", len(starts))
	}
	for i := 1; i < len(starts); i++ {
		if gap := starts[i].Sub(starts[i-1]); gap < block {
			t.Fatalf("probe %d started %v after the previous one, want >= %v (a slow probe delays the next)", i, gap, block)
		}
	}
}

func TestMonitorBlockedProbeIgnoresTicks(t *testing.T) {
	clock := healthtest.NewClock(time.Unix(0, 0))
	release := make(chan struct{})
	var calls atomic.Int32
	started := make(chan struct{}, 10)
	m := health.NewMonitor(health.Check{Target: "127.0.0.1:1"}, health.MonitorOptions{
		Interval: interval, Clock: clock,
		Probe: func(ctx context.Context) health.Result {
			calls.Add(1)
			started <- struct{}{}
			select {
			case <-release:
			case <-ctx.Done():
			}
			return health.Result{OK: true}
		},
	})
	stop := runMonitor(t, m)
	<-started
	for range 10 {
		clock.Advance(interval) // ten intervals pass while the probe hangs
	}
	if got := calls.Load(); got != 1 {
		t.Fatalf("%d probes started while the first was blocked, want 1", got)
	}
	close(release)
	// The next probe is overdue: it starts at once, without the clock moving.
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("overdue probe did not start")
	}
	stop()
}

func TestMonitorRunCancelDiscardsProbe(t *testing.T) {
	started := make(chan struct{})
	m := health.NewMonitor(health.Check{Target: "127.0.0.1:1"}, health.MonitorOptions{
		Probe: func(ctx context.Context) health.Result {
			close(started)
			<-ctx.Done()
			return health.Result{Err: "canceled"}
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	<-started
	if err := m.Run(ctx); !errors.Is(err, health.ErrRunning) || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("second Run() = %v, want ErrRunning naming the target", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run() = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if n := len(m.Last()); n != 0 || m.State() != health.Unknown {
		t.Fatalf("after cancel: %d results, state %v; want the interrupted probe discarded", n, m.State())
	}
}

func TestMonitorHistoryIsBounded(t *testing.T) {
	clock := healthtest.NewClock(time.Unix(0, 0))
	s := newScript("")
	m := health.NewMonitor(health.Check{Target: "127.0.0.1:1"}, health.MonitorOptions{Interval: interval, Probe: s.probe, Clock: clock})
	stop := runMonitor(t, m)
	for i := range health.HistorySize + 4 {
		step(t, clock, s, i)
	}
	await(t, clock, s, health.HistorySize+4) // no further probe runs
	stop()
	last := m.Last()
	if len(last) != health.HistorySize {
		t.Fatalf("len(Last()) = %d, want %d", len(last), health.HistorySize)
	}
	if want := time.Unix(int64(5+health.HistorySize-1), 0); !last[len(last)-1].At.Equal(want) {
		t.Fatalf("newest result at %v, want %v", last[len(last)-1].At, want)
	}
}

func TestMonitorInitialHealthy(t *testing.T) {
	clock := healthtest.NewClock(time.Unix(0, 0))
	s := newScript("ff")
	m := health.NewMonitor(health.Check{Target: "127.0.0.1:1"}, health.MonitorOptions{
		Interval: interval, Initial: health.Healthy, FailureThreshold: 2, Probe: s.probe, Clock: clock,
	})
	if m.State() != health.Healthy {
		t.Fatalf("initial State() = %v, want healthy", m.State())
	}
	stop := runMonitor(t, m)
	await(t, clock, s, 0)
	if m.State() != health.Healthy {
		t.Fatalf("after one failure State() = %v, want healthy", m.State())
	}
	clock.Advance(interval)
	await(t, clock, s, 1)
	stop()
	if m.State() != health.Unhealthy {
		t.Fatalf("after two failures State() = %v, want unhealthy", m.State())
	}
}
