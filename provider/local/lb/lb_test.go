package lb

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/health"
	"github.com/pilotlight/pilotlight/health/healthtest"
)

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"ok", Config{Name: "web", Listen: "127.0.0.1:0"}, ""},
		{"least connections", Config{Name: "web", Listen: "127.0.0.1:0", Algorithm: LeastConnections}, ""},
		{"no name", Config{Listen: "127.0.0.1:0"}, "lb: new: name is required"},
		{"no listen", Config{Name: "web"}, "lb: new web: listen address is required"},
		{"bad listen", Config{Name: "web", Listen: "127.0.0.1"}, `lb: new web: listen "127.0.0.1"`},
		{"bad algorithm", Config{Name: "web", Listen: ":0", Algorithm: "random"}, `unknown algorithm "random"`},
		{"bad check", Config{Name: "web", Listen: ":0", Check: health.Check{Type: "icmp"}}, `unsupported type "icmp"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lb, err := New(tt.cfg)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("New() = %v, want nil", err)
				}
				if err := lb.Close(context.Background()); err != nil {
					t.Fatalf("Close() = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New() = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestStartReturnsBindError(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	lb, err := New(Config{Name: "web", Listen: busy.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	defer lb.Close(context.Background())
	err = lb.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "address already in use") || !strings.HasPrefix(err.Error(), "lb: start web: listen") {
		t.Fatalf("Start() = %v, want an address-in-use error", err)
	}
}

func TestStartContextCancelCloses(t *testing.T) {
	lb, err := New(Config{Name: "web", Listen: "127.0.0.1:0", Interval: checkInterval})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := lb.Start(ctx); err != nil {
		t.Fatal(err)
	}
	addr := lb.Addr()
	if strings.HasSuffix(addr, ":0") {
		t.Fatalf("Addr() = %s, want the bound port", addr)
	}
	b := newBackend(t, "a")
	if err := lb.SetTargets([]Target{b.target()}); err != nil {
		t.Fatal(err)
	}
	events, _ := lb.Subscribe(4)
	cancel()
	for range events { // closed by the balancer's own Close
	}
	if err := lb.SetTargets(nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("SetTargets after close = %v, want ErrClosed", err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("balancer still accepts connections after its context ended")
	}
}

func TestSetTargetsValidates(t *testing.T) {
	lb := startLB(t, Config{})
	tests := []struct {
		name    string
		targets []Target
		wantErr string
	}{
		{"empty id", []Target{{Addr: "127.0.0.1:1"}}, "empty id"},
		{"duplicate id", []Target{{ID: "a", Addr: "127.0.0.1:1"}, {ID: "a", Addr: "127.0.0.1:2"}}, "target a: duplicate id"},
		{"bad address", []Target{{ID: "a", Addr: "nowhere"}}, `target a: address "nowhere"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := lb.SetTargets(tt.targets)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("SetTargets() = %v, want %q", err, tt.wantErr)
			}
			if n := len(lb.Targets()); n != 0 {
				t.Fatalf("invalid SetTargets registered %d targets", n)
			}
		})
	}
}

func TestRoundRobinSpreadsEvenly(t *testing.T) {
	bs := []*fakeBackend{newBackend(t, "a"), newBackend(t, "b"), newBackend(t, "c")}
	lb := startLB(t, Config{SuccessThreshold: 1}, bs...)
	for _, b := range bs {
		waitState(t, lb, b.id, health.Healthy)
	}
	c := client(t)
	for range 30 {
		if r := get(t, c, lb, "/"); r.status != http.StatusOK {
			t.Fatalf("GET / = %d %q", r.status, r.body)
		}
	}
	for _, b := range bs {
		if got := b.hits.Load(); got != 10 {
			t.Errorf("backend %s got %d requests, want 10", b.id, got)
		}
		if s, _ := status(lb, b.id); s.Served != 10 || s.InFlight != 0 || !s.LastResult.OK {
			t.Errorf("status %s = %+v, want 10 served, none in flight, last check ok", b.id, s)
		}
	}
}

func TestProxyHeaders(t *testing.T) {
	b := newBackend(t, "a")
	lb := startLB(t, Config{Name: "web-seoul", StartHealthy: true}, b)
	req, _ := http.NewRequest(http.MethodGet, "http://"+lb.Addr()+"/x", nil)
	req.Host = "www.ticketing.test"
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	resp, err := client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get(HeaderName); got != "web-seoul" {
		t.Errorf("%s = %q, want web-seoul", HeaderName, got)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if got := b.lastReq.Get("X-Forwarded-For"); got != "203.0.113.7, 127.0.0.1" {
		t.Errorf("backend X-Forwarded-For = %q, want client chain appended", got)
	}
	if got := b.lastReq.Get("X-Forwarded-Proto"); got != "http" {
		t.Errorf("backend X-Forwarded-Proto = %q, want http", got)
	}
	if b.lastHst != "www.ticketing.test" {
		t.Errorf("backend Host = %q, want the client's Host", b.lastHst)
	}
}

func TestLeastConnectionsPrefersIdleTarget(t *testing.T) {
	a, b := newBackend(t, "a"), newBackend(t, "b")
	lb := startLB(t, Config{Algorithm: LeastConnections, StartHealthy: true}, a, b)
	c := client(t)
	done := make(chan reply, 2)
	inFlight := func() int {
		n := 0
		for _, s := range lb.Targets() {
			n += s.InFlight
		}
		return n
	}
	// Two slow requests, one after the other: one per target.
	go func() { done <- get(t, c, lb, "/slow") }()
	waitFor(t, "first slow request", func() bool { return inFlight() == 1 })
	go func() { done <- get(t, c, lb, "/slow") }()
	waitFor(t, "both targets busy", func() bool {
		sa, _ := status(lb, "a")
		sb, _ := status(lb, "b")
		return sa.InFlight == 1 && sb.InFlight == 1
	})
	go func() { done <- get(t, c, lb, "/slow") }() // a tie: either target, now with 2
	var busy, idle *fakeBackend
	waitFor(t, "third slow request", func() bool {
		sa, _ := status(lb, "a")
		sb, _ := status(lb, "b")
		busy, idle = a, b
		if sb.InFlight == 2 {
			busy, idle = b, a
		}
		return sa.InFlight+sb.InFlight == 3
	})
	idleBefore := idle.hits.Load()
	busyBefore := busy.hits.Load()
	for range 6 {
		if r := get(t, c, lb, "/"); r.body != idle.id {
			t.Fatalf("request went to %q, want the less busy target %s", r.body, idle.id)
		}
	}
	if idle.hits.Load()-idleBefore != 6 || busy.hits.Load() != busyBefore {
		t.Fatalf("idle got %d, busy got %d new requests", idle.hits.Load()-idleBefore, busy.hits.Load()-busyBefore)
	}
	close(a.release)
	close(b.release)
	for range 3 {
		if r := <-done; r.status != http.StatusOK {
			t.Fatalf("slow request = %d", r.status)
		}
	}
}

func TestUnhealthyTargetLeavesAndReturns(t *testing.T) {
	a, b := newBackend(t, "a"), newBackend(t, "b")
	lb := startLB(t, Config{FailureThreshold: 2, SuccessThreshold: 2}, a, b)
	events, unsubscribe := lb.Subscribe(16)
	defer unsubscribe()
	waitState(t, lb, "a", health.Healthy)
	waitState(t, lb, "b", health.Healthy)

	b.healthy.Store(false)
	ev := nextEvent(t, events, "b", health.Unhealthy)
	if ev.From != health.Healthy || ev.Zone != "local-a" || len(ev.Results) != 2 || ev.Results[1].Status != 503 {
		t.Fatalf("event = %+v, want healthy→unhealthy after 2 failed checks", ev)
	}
	c := client(t)
	before := b.hits.Load()
	for range 10 {
		if r := get(t, c, lb, "/"); r.body != "a" {
			t.Fatalf("request answered by %q, want only the healthy target a", r.body)
		}
	}
	if b.hits.Load() != before {
		t.Fatal("unhealthy target received traffic")
	}

	b.healthy.Store(true)
	ev = nextEvent(t, events, "b", health.Healthy)
	if len(ev.Results) != 2 {
		t.Fatalf("event = %+v, want 2 passing checks", ev)
	}
	seen := map[string]int{}
	for range 10 {
		seen[get(t, c, lb, "/").body]++
	}
	if seen["a"] != 5 || seen["b"] != 5 {
		t.Fatalf("after recovery requests went %v, want 5 each", seen)
	}
}

func nextEvent(t *testing.T, events <-chan Event, id string, to health.State) Event {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.TargetID == id && ev.To == to {
				return ev
			}
		case <-timeout:
			t.Fatalf("no event %s→%v", id, to)
		}
	}
}

func TestNoHealthyTarget(t *testing.T) {
	a := newBackend(t, "a")
	a.healthy.Store(false)
	lb := startLB(t, Config{FailureThreshold: 1, SuccessThreshold: 2})
	c := client(t)
	check503 := func(when string) {
		t.Helper()
		r := get(t, c, lb, "/")
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") != "1" ||
			r.header.Get(HeaderName) != "web" || !strings.Contains(r.body, "no healthy target") {
			t.Fatalf("%s: GET = %d %q %v, want 503 with Retry-After: 1", when, r.status, r.body, r.header)
		}
	}
	check503("no targets")
	if err := lb.SetTargets([]Target{a.target()}); err != nil {
		t.Fatal(err)
	}
	check503("new target not yet checked")
	waitState(t, lb, "a", health.Unhealthy)
	check503("target unhealthy")
	if a.hits.Load() != 0 {
		t.Fatal("an unhealthy target received traffic")
	}
	a.healthy.Store(true)
	waitState(t, lb, "a", health.Healthy)
	if r := get(t, c, lb, "/"); r.status != http.StatusOK {
		t.Fatalf("after recovery GET = %d, want 200", r.status)
	}
}

func TestDrainOnRemoval(t *testing.T) {
	a, b := newBackend(t, "a"), newBackend(t, "b")
	lb := startLB(t, Config{StartHealthy: true, DrainTimeout: 5 * time.Second}, a, b)
	c := client(t)
	slow := make(chan reply, 1)
	go func() { slow <- get(t, c, lb, "/slow") }()
	var victim, keep *fakeBackend
	waitFor(t, "slow request in flight", func() bool {
		for _, s := range lb.Targets() {
			if s.InFlight == 1 {
				victim, keep = a, b
				if s.ID == "b" {
					victim, keep = b, a
				}
				return true
			}
		}
		return false
	})
	if err := lb.SetTargets([]Target{keep.target()}); err != nil {
		t.Fatal(err)
	}
	if s, ok := status(lb, victim.id); !ok || !s.Draining || s.InFlight != 1 {
		t.Fatalf("removed target status = %+v (listed %v), want draining with 1 in flight", s, ok)
	}
	before := victim.hits.Load()
	for range 5 {
		if r := get(t, c, lb, "/"); r.body != keep.id {
			t.Fatalf("new request answered by %q, want %s", r.body, keep.id)
		}
	}
	if victim.hits.Load() != before {
		t.Fatal("removed target received a new request")
	}
	close(victim.release)
	if r := <-slow; r.status != http.StatusOK || r.body != victim.id {
		t.Fatalf("draining request = %d %q, want 200 from %s", r.status, r.body, victim.id)
	}
	waitFor(t, "drained target to leave", func() bool { _, ok := status(lb, victim.id); return !ok })
}

func TestDrainTimeoutCutsOff(t *testing.T) {
	a, b := newBackend(t, "a"), newBackend(t, "b")
	lb := startLB(t, Config{StartHealthy: true, DrainTimeout: 100 * time.Millisecond}, a)
	c := client(t)
	slow := make(chan reply, 1)
	go func() { slow <- do(t, c, http.MethodPost, "http://"+lb.Addr()+"/slow", "order=1") }()
	waitFor(t, "slow request in flight", func() bool { s, _ := status(lb, "a"); return s.InFlight == 1 })
	start := time.Now()
	if err := lb.SetTargets([]Target{b.target()}); err != nil {
		t.Fatal(err)
	}
	r := <-slow
	if r.status != http.StatusBadGateway {
		t.Fatalf("cut-off POST = %d %q, want 502 (not retried)", r.status, r.body)
	}
	if elapsed := time.Since(start); elapsed < 100*time.Millisecond || elapsed > 3*time.Second {
		t.Fatalf("request cut off after %v, want about the drain timeout", elapsed)
	}
	if b.hits.Load() != 0 {
		t.Fatal("a POST was retried on another target")
	}
	waitFor(t, "drained target to leave", func() bool { _, ok := status(lb, "a"); return !ok })
}

func TestTransportFailureRetriesGetOnly(t *testing.T) {
	live := newBackend(t, "live")
	dead := Target{ID: "dead", Addr: closedAddr(t)}
	// Healthy from the start and slow to notice: traffic reaches the dead target.
	lb := startLB(t, Config{StartHealthy: true, FailureThreshold: 1000, Interval: time.Hour})
	if err := lb.SetTargets([]Target{dead, live.target()}); err != nil {
		t.Fatal(err)
	}
	c := client(t)
	for range 4 {
		if r := get(t, c, lb, "/"); r.status != http.StatusOK || r.body != "live" {
			t.Fatalf("GET = %d %q, want 200 from live after one retry", r.status, r.body)
		}
	}
	codes := map[int]int{}
	for range 4 {
		codes[do(t, c, http.MethodPost, "http://"+lb.Addr()+"/", "x=1").status]++
	}
	if codes[http.StatusOK] != 2 || codes[http.StatusBadGateway] != 2 {
		t.Fatalf("POST statuses %v, want 2×200 and 2×502", codes)
	}
	// Every POST to the dead target failed; GETs that reached it failed too.
	if s, _ := status(lb, "dead"); s.Failed < 2 || s.Served != 0 || s.State != health.Healthy {
		t.Fatalf("dead target status %+v, want >= 2 failed, none served", s)
	}
}

func TestSetTargetsUnderLoad(t *testing.T) {
	bs := []*fakeBackend{newBackend(t, "a"), newBackend(t, "b"), newBackend(t, "c")}
	lb := startLB(t, Config{StartHealthy: true, Algorithm: LeastConnections}, bs...)
	c := client(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for range 4 {
		wg.Go(func() {
			for range 40 {
				r := get(t, c, lb, "/")
				mu.Lock()
				codes[r.status]++
				mu.Unlock()
			}
		})
	}
	wg.Go(func() {
		sets := [][]*fakeBackend{{bs[0]}, {bs[1], bs[2]}, {bs[2], bs[0]}, bs}
		for i := range 40 {
			var ts []Target
			for _, b := range sets[i%len(sets)] {
				ts = append(ts, b.target())
			}
			if err := lb.SetTargets(ts); err != nil {
				t.Error(err)
			}
			_ = lb.Targets()
			time.Sleep(2 * time.Millisecond)
		}
	})
	wg.Wait()
	if codes[http.StatusOK] != 160 {
		t.Fatalf("statuses %v, want 160×200", codes)
	}
}

func TestDrainTimeoutUsesInjectedClock(t *testing.T) {
	clock := healthtest.NewClock(time.Unix(0, 0))
	a, b := newBackend(t, "a"), newBackend(t, "b")
	lb := startLB(t, Config{StartHealthy: true, DrainTimeout: 10 * time.Second, Interval: time.Hour, Clock: clock}, a)
	c := client(t)
	slow := make(chan reply, 1)
	go func() { slow <- do(t, c, http.MethodPost, "http://"+lb.Addr()+"/slow", "order=1") }()
	waitFor(t, "slow request in flight", func() bool { s, _ := status(lb, "a"); return s.InFlight == 1 })
	if err := lb.SetTargets([]Target{b.target()}); err != nil {
		t.Fatal(err)
	}
	// Pending timers: the two monitors' next checks and the drain deadline.
	if !clock.WaitTimers(3, 5*time.Second) {
		t.Fatalf("%d timers pending, want 3", clock.Timers())
	}
	select {
	case r := <-slow:
		t.Fatalf("request ended (%d) before the drain timeout", r.status)
	case <-time.After(50 * time.Millisecond):
	}
	clock.Advance(10 * time.Second)
	if r := <-slow; r.status != http.StatusBadGateway {
		t.Fatalf("cut-off POST = %d, want 502", r.status)
	}
	waitFor(t, "drained target to leave", func() bool { _, ok := status(lb, "a"); return !ok })
}
