package health_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/health"
)

// switchProbe passes while up is true.
type switchProbe struct {
	up    atomic.Bool
	calls atomic.Int64
}

func (p *switchProbe) probe(ctx context.Context) health.Result {
	p.calls.Add(1)
	if p.up.Load() {
		return health.Result{OK: true, Status: 200}
	}
	return health.Result{Status: 503, Err: "status 503"}
}

// newSwitchTarget returns a fast real-clock target with thresholds of 1.
func newSwitchTarget(t *testing.T, id string, up bool) (*health.Target, *switchProbe) {
	t.Helper()
	p := &switchProbe{}
	p.up.Store(up)
	tg, err := health.NewTarget(id, health.Check{Target: "127.0.0.1:1"}, health.TargetOptions{
		Vantages: []health.Vantage{{Name: "v", Probe: p.probe}},
		Interval: 2 * time.Millisecond, FailureThreshold: 1, SuccessThreshold: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return tg, p
}

// runRegistry runs r until the test ends.
func runRegistry(t *testing.T, r *health.Registry) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v", err)
		}
	})
}

// waitFor returns the next event of target id with state to, skipping
// others.
func waitFor(t *testing.T, ch <-chan health.Event, id string, to health.State) health.Event {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev := <-ch:
			if ev.Target == id && ev.To == to {
				return ev
			}
		case <-deadline:
			t.Fatalf("no event %s → %v", id, to)
		}
	}
}

func TestRegistryFanOut(t *testing.T) {
	r := health.NewRegistry(health.RegistryOptions{})
	a, pa := newSwitchTarget(t, "www/primary", true)
	b, _ := newSwitchTarget(t, "www/recovery", true)
	for _, tg := range []*health.Target{b, a} {
		if err := r.Add(tg); err != nil {
			t.Fatal(err)
		}
	}
	sub1, unsub1 := r.Subscribe(100)
	defer unsub1()
	sub2, unsub2 := r.Subscribe(100)
	defer unsub2()
	runRegistry(t, r)

	for _, sub := range []<-chan health.Event{sub1, sub2} {
		waitFor(t, sub, "www/primary", health.Healthy)
	}
	pa.up.Store(false)
	for _, sub := range []<-chan health.Event{sub1, sub2} {
		ev := waitFor(t, sub, "www/primary", health.Unhealthy)
		if !strings.Contains(ev.Reason, "status 503") || len(ev.Results) != 1 {
			t.Fatalf("event = %+v", ev)
		}
	}
	if got := r.Health("www/primary"); got != health.Unhealthy {
		t.Fatalf("Health(www/primary) = %v", got)
	}
	eventually(t, func() bool { return r.Health("www/recovery") == health.Healthy })
	if got := r.Health("nope"); got != health.Unknown {
		t.Fatalf("Health(nope) = %v", got)
	}

	// A target added while running starts at once.
	c, pc := newSwitchTarget(t, "api/primary", true)
	if err := r.Add(c); err != nil {
		t.Fatal(err)
	}
	waitFor(t, sub1, "api/primary", health.Healthy)
	if pc.calls.Load() == 0 {
		t.Fatal("added target never probed")
	}

	sts := r.Statuses()
	var ids []string
	for _, st := range sts {
		ids = append(ids, st.ID)
	}
	if got := strings.Join(ids, ","); got != "api/primary,www/primary,www/recovery" {
		t.Fatalf("Statuses() IDs = %s", got)
	}

	// Overrides through the registry.
	if err := r.Override("www/primary", health.Healthy, time.Time{}, "operator"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, sub2, "www/primary", health.Healthy)
	if got := r.Health("www/primary"); got != health.Healthy {
		t.Fatalf("overridden Health() = %v", got)
	}
	if err := r.ClearOverride("www/primary"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, sub2, "www/primary", health.Unhealthy)
	if err := r.Override("nope", health.Healthy, time.Time{}, ""); !errors.Is(err, health.ErrNotFound) {
		t.Fatalf("Override(nope) = %v, want ErrNotFound", err)
	}
	if err := r.ClearOverride("nope"); !errors.Is(err, health.ErrNotFound) {
		t.Fatalf("ClearOverride(nope) = %v, want ErrNotFound", err)
	}

	// Remove stops the target and reports it as unknown.
	if !r.Remove("api/primary") {
		t.Fatal("Remove(api/primary) = false")
	}
	waitFor(t, sub1, "api/primary", health.Unknown)
	calls := pc.calls.Load()
	time.Sleep(20 * time.Millisecond)
	if pc.calls.Load() != calls {
		t.Fatal("removed target still probing")
	}
	if r.Health("api/primary") != health.Unknown || r.Remove("api/primary") || r.Target("api/primary") != nil {
		t.Fatal("removed target still known")
	}
	// A removed target can join another registry.
	if err := health.NewRegistry(health.RegistryOptions{}).Add(c); err != nil {
		t.Fatalf("re-adding a removed target: %v", err)
	}
}

func TestRegistryAddErrors(t *testing.T) {
	r := health.NewRegistry(health.RegistryOptions{})
	a, _ := newSwitchTarget(t, "a", true)
	a2, _ := newSwitchTarget(t, "a", true)
	if err := r.Add(a); err != nil {
		t.Fatal(err)
	}
	if err := r.Add(a2); !errors.Is(err, health.ErrExists) {
		t.Fatalf("Add(duplicate id) = %v, want ErrExists", err)
	}
	if err := health.NewRegistry(health.RegistryOptions{}).Add(a); !errors.Is(err, health.ErrExists) {
		t.Fatalf("Add(target of another registry) = %v, want ErrExists", err)
	}
	if err := r.Add(nil); err == nil {
		t.Fatal("Add(nil) = nil")
	}
	// a2 was not kept by the failed Add: another registry accepts it.
	if err := health.NewRegistry(health.RegistryOptions{}).Add(a2); err != nil {
		t.Fatalf("Add(a2) elsewhere = %v", err)
	}
}

func TestRegistryRunTwice(t *testing.T) {
	r := health.NewRegistry(health.RegistryOptions{})
	a, p := newSwitchTarget(t, "a", true)
	if err := r.Add(a); err != nil {
		t.Fatal(err)
	}
	runRegistry(t, r)
	eventually(t, func() bool { return p.calls.Load() > 0 }) // running
	if err := r.Run(context.Background()); !errors.Is(err, health.ErrRunning) {
		t.Fatalf("second Run() = %v, want ErrRunning", err)
	}
}

func TestRegistrySlowSubscriberDrops(t *testing.T) {
	r := health.NewRegistry(health.RegistryOptions{})
	a, _ := newSwitchTarget(t, "a", true)
	if err := r.Add(a); err != nil {
		t.Fatal(err)
	}
	slow, unsubSlow := r.Subscribe(1)
	fast, unsubFast := r.Subscribe(10)
	defer unsubFast()
	// Overrides publish synchronously, without running the registry.
	for _, s := range []health.State{health.Healthy, health.Unhealthy, health.Healthy} {
		if err := r.Override("a", s, time.Time{}, ""); err != nil {
			t.Fatal(err)
		}
	}
	if got := r.Dropped(); got != 2 {
		t.Fatalf("Dropped() = %d, want 2", got)
	}
	if len(fast) != 3 || len(slow) != 1 {
		t.Fatalf("fast got %d, slow got %d; want 3 and 1", len(fast), len(slow))
	}
	unsubSlow()
	unsubSlow() // idempotent
	if _, ok := <-slow; !ok {
		t.Fatal("buffered event lost on unsubscribe")
	}
	if _, ok := <-slow; ok {
		t.Fatal("channel not closed after unsubscribe")
	}
}

// TestRegistryConcurrent exercises every method at once under -race.
func TestRegistryConcurrent(t *testing.T) {
	r := health.NewRegistry(health.RegistryOptions{})
	var probes []*switchProbe
	for i := range 4 {
		tg, p := newSwitchTarget(t, fmt.Sprintf("t%d/primary", i), i%2 == 0)
		probes = append(probes, p)
		if err := r.Add(tg); err != nil {
			t.Fatal(err)
		}
	}
	runRegistry(t, r)
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			for i := range 150 {
				id := fmt.Sprintf("t%d/primary", (w+i)%4)
				switch i % 6 {
				case 0:
					_ = r.Health(id)
				case 1:
					_ = r.Statuses()
				case 2:
					_ = r.Override(id, health.Unhealthy, time.Now().Add(time.Millisecond), "flip")
				case 3:
					_ = r.ClearOverride(id)
				case 4:
					ch, unsub := r.Subscribe(2)
					select {
					case <-ch:
					default:
					}
					unsub()
				case 5:
					probes[(w+i)%4].up.Store(i%4 == 1)
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 20 {
			id := fmt.Sprintf("extra%d", i)
			tg, _ := newSwitchTarget(t, id, true)
			if err := r.Add(tg); err != nil {
				t.Error(err)
				return
			}
			_ = r.Health(id)
			if !r.Remove(id) {
				t.Errorf("Remove(%s) = false", id)
			}
		}
	})
	wg.Wait()
	if n := len(r.Statuses()); n != 4 {
		t.Fatalf("%d targets after the run, want 4", n)
	}
}
