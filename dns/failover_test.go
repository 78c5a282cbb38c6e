package dns

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/pilotlight/pilotlight/health"
)

// TestFailoverWithRealHealthChecks runs the server on a real health
// registry probing real HTTP targets, and measures with a real DNS client:
// the answer moves to the secondary within interval × failureThreshold +
// one interval of the primary failing, and moves back only after
// successThreshold good probes.
func TestFailoverWithRealHealthChecks(t *testing.T) {
	const (
		interval = 100 * time.Millisecond
		failures = 3
		passes   = 2
		slack    = 150 * time.Millisecond // DNS polling and scheduling
	)
	var failing atomic.Bool
	primary := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer primary.Close()
	recovery := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer recovery.Close()

	ctx, cancel := context.WithCancel(context.Background())
	reg := health.NewRegistry(health.RegistryOptions{})
	for id, srv := range map[string]*httptest.Server{"www/primary": primary, "www/recovery": recovery} {
		tg, err := health.NewTarget(id, health.Check{Type: "http", Target: strings.TrimPrefix(srv.URL, "http://"), Path: "/healthz", Timeout: interval / 2},
			health.TargetOptions{Interval: interval, FailureThreshold: failures, SuccessThreshold: passes})
		if err != nil {
			t.Fatal(err)
		}
		if err := reg.Add(tg); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = reg.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()

	cfg := Config{Zones: []Zone{{Origin: "example.test.", Records: []Record{{
		Name: "www.example.test.", Type: mdns.TypeA, TTL: 1, Policy: PolicyFailover,
		Primary: []string{"192.0.2.1"}, Secondary: []string{"192.0.2.2"},
		PrimaryHealth: "www/primary", SecondaryHealth: "www/recovery",
	}}}}}
	_, udp, _ := testServer(t, cfg, reg, Options{})
	answer := func() string {
		r := query(t, "udp", udp, "www.example.test.", mdns.TypeA, 0)
		if len(r.Answer) != 1 {
			t.Fatalf("answer: %v", r.Answer)
		}
		return r.Answer[0].(*mdns.A).A.String()
	}
	// waitFor polls the answer every 5 ms and returns how long it took to
	// become want; it fails after limit.
	waitFor := func(want string, limit time.Duration) time.Duration {
		start := time.Now()
		for {
			if answer() == want {
				return time.Since(start)
			}
			if time.Since(start) > limit {
				t.Fatalf("answer still not %s after %v", want, limit)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("192.0.2.1", 5*time.Second)
	for reg.Health("www/primary") != health.Healthy || reg.Health("www/recovery") != health.Healthy {
		time.Sleep(10 * time.Millisecond)
	}

	failing.Store(true)
	took := waitFor("192.0.2.2", 5*time.Second)
	t.Logf("failover after %v (floor %v)", took, failures*interval)
	if limit := failures*interval + interval + slack; took > limit {
		t.Errorf("failover took %v, more than interval × threshold + one interval (%v) + slack", took, limit-slack)
	}
	if took < (failures-1)*interval {
		t.Errorf("failover after %v: sooner than %d failed probes allow", took, failures)
	}

	failing.Store(false)
	took = waitFor("192.0.2.1", 5*time.Second)
	t.Logf("failback after %v", took)
	if took < (passes-1)*interval {
		t.Errorf("failback after %v: before %d good probes", took, passes)
	}
	if limit := passes*interval + interval + slack; took > limit {
		t.Errorf("failback took %v, more than %v", took, limit)
	}
}
