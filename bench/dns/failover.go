package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	mdns "github.com/miekg/dns"
)

// The failover measurement's plan: two local regions on test networks, the
// service "web" in both (active-active, so the recovery region has healthy
// instances), and the failover record www.ticketing.test.
const (
	foZone        = "ticketing.test."
	foName        = "www." + foZone
	foPrimary     = "seoul"
	foRecovery    = "virginia"
	foPrimaryLB   = "127.0.231.2" // .2: the first service's load balancer (ADR 0001)
	foRecoveryLB  = "127.0.232.2"
	foTTL         = 5
	foInterval    = time.Second
	foFailures    = 3
	foSuccesses   = 2 // the plan's default successThreshold
	pollEvery     = 50 * time.Millisecond
	switchTimeout = 60 * time.Second
)

// failoverPlan is the plan `pilotlight up` runs: each instance is exe in
// child mode, failing its /healthz while dir/fail-<region> exists.
func failoverPlan(exe, dir string) string {
	return fmt.Sprintf(`apiVersion: pilotlight/v1
kind: Plan
name: bench-failover
objectives: {rto: 2m, rpo: 5s}
strategy: active-active
regions:
  primary: {name: %s, provider: local, network: 127.0.231.0/24}
  recovery: {name: %s, provider: local, network: 127.0.232.0/24}
services:
  - name: web
    tier: 1
    compute:
      count: 2
      local:
        command: [%q, %s, -addr, "{{.Addr}}", -fail-file, %q]
        port: 8080
    loadBalancer:
      port: 8080
      healthCheck: {path: /healthz, interval: 1s}
routing:
  zone: %s
  records:
    - name: www
      service: web
      policy: failover
      ttl: %d
      healthCheck: {type: http, path: /healthz, interval: %s, failureThreshold: %d, successThreshold: %d}
`, foPrimary, foRecovery, exe, childCommand, failFile(dir, "{{.Region}}"), foZone, foTTL, foInterval, foFailures, foSuccesses)
}

// failFile is the file that makes region's instances fail their health check.
func failFile(dir, region string) string { return filepath.Join(dir, "fail-"+region) }

// measureFailover runs `pilotlight up --dns-listen` on failoverPlan and
// times b.cfg.runs failovers and failbacks.
func (b *bench) measureFailover(ctx context.Context, res *Results) error {
	if b.cfg.skipFailover || b.cfg.skipPL {
		res.skip("failover time", "skipped by flag")
		return nil
	}
	out, err := b.runPilotlight(ctx, "up", "--help")
	if err != nil || !strings.Contains(string(out), "--dns-listen") {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		res.skip("failover time", "pilotlight up has no --dns-listen flag yet")
		b.log.Warn("failover not measured: pilotlight up has no --dns-listen flag")
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("failover: own executable: %w", err)
	}
	dir := filepath.Join(b.dir, "failover")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("failover: %w", err)
	}
	planFile := filepath.Join(dir, "pilotlight.yaml")
	if err := os.WriteFile(planFile, []byte(failoverPlan(exe, dir)), 0o644); err != nil {
		return fmt.Errorf("failover: write plan: %w", err)
	}
	addr, err := freeDNSAddr()
	if err != nil {
		return err
	}
	args := []string{"up", "-f", planFile, "--state-dir", filepath.Join(dir, "state"), "--dns-listen", addr, "--no-replicate"}
	env := append(os.Environ(), b.childEnv...)
	d, err := startDaemon(b.cfg.pilotlight, args, env, filepath.Join(dir, "up.log"), nil)
	if err != nil {
		return err
	}
	defer d.stop(30 * time.Second)
	b.log.Info("waiting for the primary answer", "name", foName, "want", foPrimaryLB, "dns", addr)
	if err := waitAnswer(ctx, addr, foName, foPrimaryLB, 90*time.Second, 100*time.Millisecond, d); err != nil {
		return fmt.Errorf("failover: pilotlight up: %w", err)
	}
	// Let every check reach a settled healthy state before the first kill.
	if err := sleep(ctx, foInterval*(foSuccesses+1)); err != nil {
		return err
	}
	p := &poller{client: &mdns.Client{Net: "udp", Timeout: 500 * time.Millisecond}, server: addr, name: foName, every: pollEvery, timeout: switchTimeout, now: b.now}
	trigger := func(fail bool) error {
		f := failFile(dir, foPrimary)
		if fail {
			return os.WriteFile(f, nil, 0o644)
		}
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	runs, err := failoverRuns(ctx, b.cfg.runs, 2*foInterval, trigger, p, b.now, b.log.Info)
	defer func() { _ = trigger(false) }()
	if err != nil {
		return fmt.Errorf("failover: %w", err)
	}
	res.Failover = newFailoverResult(runs)
	return nil
}

// poller asks server for name every interval until the answer is want,
// for at most timeout.
type poller struct {
	client  *mdns.Client
	server  string
	name    string
	every   time.Duration
	timeout time.Duration // of one switch
	now     func() time.Time
}

// until returns the time of the first answer naming want, and the number
// of polls that got no answer (timeout or error).
func (p *poller) until(ctx context.Context, want string) (time.Time, int, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	t := time.NewTicker(p.every)
	defer t.Stop()
	lost := 0
	var last string
	for {
		qctx, qcancel := context.WithTimeout(ctx, p.every*4)
		addrs, _, err := lookupA(qctx, p.client, p.server, p.name)
		at := p.now()
		qcancel()
		switch {
		case err != nil && expired(ctx): // the deadline, not the server
		case err != nil:
			lost++
			last = err.Error()
		case len(addrs) > 0 && addrs[0] == want:
			return at, lost, nil
		default:
			last = fmt.Sprintf("%v", addrs)
		}
		select {
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
				return time.Time{}, lost, fmt.Errorf("%s did not answer %s within %s (last: %s)", p.name, want, p.timeout, last)
			}
			return time.Time{}, lost, context.Cause(ctx)
		case <-t.C:
		}
	}
}

// failoverRuns times runs failovers (trigger(true), then the first answer
// naming the recovery LB) and failbacks (trigger(false), then the first
// answer naming the primary LB again), settling between runs.
func failoverRuns(ctx context.Context, runs int, settle time.Duration, trigger func(fail bool) error, p *poller, now func() time.Time, logf func(string, ...any)) ([]FailoverRun, error) {
	var out []FailoverRun
	for i := range runs {
		var r FailoverRun
		start := now()
		if err := trigger(true); err != nil {
			return out, fmt.Errorf("run %d: fail the primary: %w", i+1, err)
		}
		at, lost, err := p.until(ctx, foRecoveryLB)
		if err != nil {
			return out, fmt.Errorf("run %d: failover: %w", i+1, err)
		}
		r.FailoverSeconds, r.Lost = at.Sub(start).Seconds(), lost
		start = now()
		if err := trigger(false); err != nil {
			return out, fmt.Errorf("run %d: heal the primary: %w", i+1, err)
		}
		at, lost, err = p.until(ctx, foPrimaryLB)
		if err != nil {
			return out, fmt.Errorf("run %d: failback: %w", i+1, err)
		}
		r.FailbackSeconds, r.Lost = at.Sub(start).Seconds(), r.Lost+lost
		out = append(out, r)
		logf("failover run", "run", i+1, "failover_s", r.FailoverSeconds, "failback_s", r.FailbackSeconds, "lost_polls", r.Lost)
		if i < runs-1 {
			// Settle: every check healthy again before the next kill.
			if err := sleep(ctx, settle); err != nil {
				return out, err
			}
		}
	}
	return out, nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
