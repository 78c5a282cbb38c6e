package main

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/pilotlight/pilotlight/plan"
)

func TestFailoverPlanIsAValidPlan(t *testing.T) {
	p, err := plan.Parse("failover.yaml", []byte(failoverPlan("/opt/bench dns", "/work dir")))
	if err != nil {
		t.Fatal(err)
	}
	if p.Strategy != "active-active" || p.Regions.Primary.Name != foPrimary || p.Regions.Recovery.Name != foRecovery {
		t.Errorf("plan %s %s %s", p.Strategy, p.Regions.Primary.Name, p.Regions.Recovery.Name)
	}
	cmd := p.Services[0].Compute.Local.Command
	want := []string{"/opt/bench dns", childCommand, "-addr", "{{.Addr}}", "-fail-file", "/work dir/fail-{{.Region}}"}
	if strings.Join(cmd, "|") != strings.Join(want, "|") {
		t.Errorf("command %q, want %q", cmd, want)
	}
	r := p.Routing.Records[0]
	if r.FQDN(p.Routing.Zone) != foName || r.Policy != plan.PolicyFailover || r.TTL != foTTL || r.Service != "web" {
		t.Errorf("record %+v", r)
	}
	hc := r.HealthCheck
	if time.Duration(hc.Interval) != foInterval || hc.FailureThreshold != foFailures || hc.SuccessThreshold != foSuccesses {
		t.Errorf("health check %+v", hc)
	}
	if got := failFile("/w", foPrimary); got != "/w/fail-seoul" {
		t.Errorf("failFile = %s", got)
	}
}

// switcher is a DNS answer that moves to the other region delay after the
// primary fails or heals, as a health-checked record does.
type switcher struct {
	delay  time.Duration
	failAt atomic.Int64 // unix nanos of the last trigger(true); 0: healthy
	healAt atomic.Int64
}

func (s *switcher) trigger(fail bool) error {
	now := time.Now().UnixNano()
	if fail {
		s.failAt.Store(now)
		s.healAt.Store(0)
	} else {
		s.healAt.Store(now)
	}
	return nil
}

func (s *switcher) answer(string) string {
	now := time.Now().UnixNano()
	failed := s.failAt.Load() != 0 && now-s.failAt.Load() >= int64(s.delay)
	healed := s.healAt.Load() != 0 && now-s.healAt.Load() >= int64(s.delay)
	if failed && !healed {
		return foRecoveryLB
	}
	return foPrimaryLB
}

func TestFailoverRunsTimeEachSwitch(t *testing.T) {
	sw := &switcher{delay: 150 * time.Millisecond}
	addr := startFakeDNS(t, sw.answer)
	p := &poller{client: &mdns.Client{Net: "udp", Timeout: 200 * time.Millisecond}, server: addr, name: foName,
		every: 10 * time.Millisecond, timeout: 5 * time.Second, now: time.Now}
	var logged int
	runs, err := failoverRuns(context.Background(), 3, 20*time.Millisecond, sw.trigger, p, time.Now, func(string, ...any) { logged++ })
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 3 || logged != 3 {
		t.Fatalf("%d runs, %d logged", len(runs), logged)
	}
	for i, r := range runs {
		for _, d := range []float64{r.FailoverSeconds, r.FailbackSeconds} {
			if d < 0.15 || d > 1.5 {
				t.Errorf("run %d: switch took %.3fs, want 0.15s plus a poll", i, d)
			}
		}
		if r.Lost != 0 {
			t.Errorf("run %d: %d lost polls", i, r.Lost)
		}
	}
	res := newFailoverResult(runs)
	if res.FloorSeconds != 3 || res.FailbackFloorSeconds != 2 || res.Route53FloorSeconds != 35 || res.Failover.Min > res.Failover.Max {
		t.Errorf("result %+v", res)
	}
}

func TestFailoverRunsFailures(t *testing.T) {
	stuck := startFakeDNS(t, func(string) string { return foPrimaryLB })
	newPoller := func(addr string) *poller {
		return &poller{client: &mdns.Client{Net: "udp", Timeout: 100 * time.Millisecond}, server: addr, name: foName,
			every: 10 * time.Millisecond, timeout: 300 * time.Millisecond, now: time.Now}
	}
	nop := func(bool) error { return nil }
	for _, tc := range []struct {
		name    string
		ctx     func() context.Context
		trigger func(bool) error
		err     string
	}{
		{"never switches", context.Background, nop, "run 1: failover: " + foName + " did not answer " + foRecoveryLB + " within 300ms (last: [127.0.231.2])"},
		{"trigger fails", context.Background, func(bool) error { return errors.New("disk full") }, "run 1: fail the primary: disk full"},
		{"cancelled", func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, nop, "context canceled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runs, err := failoverRuns(tc.ctx(), 2, 0, tc.trigger, newPoller(stuck), time.Now, func(string, ...any) {})
			if err == nil || !strings.Contains(err.Error(), tc.err) || len(runs) != 0 {
				t.Fatalf("runs %v, err %v; want %q", runs, err, tc.err)
			}
		})
	}
}

func TestPollerCountsLostPolls(t *testing.T) {
	// Nothing listens on a port that was just free: every poll is lost.
	addr, err := freeDNSAddr()
	if err != nil {
		t.Fatal(err)
	}
	p := &poller{client: &mdns.Client{Net: "udp", Timeout: 20 * time.Millisecond}, server: addr, name: foName,
		every: 10 * time.Millisecond, timeout: 200 * time.Millisecond, now: time.Now}
	_, lost, err := p.until(context.Background(), foPrimaryLB)
	if err == nil || lost == 0 {
		t.Fatalf("lost %d, err %v", lost, err)
	}
}
