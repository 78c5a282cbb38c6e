package compute

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"
)

// probeInterval is the pause between TCP connection attempts while an
// instance is starting.
const probeInterval = 50 * time.Millisecond

// Run supervises the group until ctx is done: it keeps the desired number of
// instances running, replacing those that exit or fail, then stops every
// instance (SIGTERM, SIGKILL after StopTimeout) and returns nil once no child
// process is left. Run may be called once.
func (g *Group) Run(ctx context.Context) error {
	g.mu.Lock()
	if g.ran {
		g.mu.Unlock()
		return fmt.Errorf("compute: run group %s/%s: already run", g.cfg.Service, g.cfg.Region)
	}
	g.ran = true
	g.mu.Unlock()
	if err := os.MkdirAll(g.cfg.LogDir, 0o755); err != nil {
		g.finish()
		return fmt.Errorf("compute: run group %s/%s: create log dir: %w", g.cfg.Service, g.cfg.Region, err)
	}
	g.mu.Lock()
	g.runCtx = ctx
	g.spawner = newSpawner()
	g.mu.Unlock()
	g.log.Info("group running", "desired", g.Desired())

	for {
		g.mu.Lock()
		wait := g.reconcile(g.cfg.Clock.Now())
		g.mu.Unlock()
		var timer <-chan time.Time
		if wait > 0 {
			timer = g.cfg.Clock.After(wait)
		}
		select {
		case <-ctx.Done():
			g.shutdown()
			return nil
		case <-g.kick:
		case <-timer:
		}
	}
}

// reconcile moves the group towards its desired count and returns how long
// until it needs to run again (0: only when poked). Called with g.mu held.
func (g *Group) reconcile(now time.Time) time.Duration {
	var next time.Time
	wakeAt := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	var active []*instance
	starting := false
	for _, in := range g.live {
		switch in.State {
		case StateStarting:
			starting = true
			active = append(active, in)
		case StateRunning:
			active = append(active, in)
			if g.streak > 0 {
				if up := in.Started.Add(g.cfg.Backoff.Reset); !now.Before(up) {
					g.log.Info("crash loop over", "id", in.ID, "failures", g.streak)
					g.streak, g.curDelay = 0, 0
				} else {
					wakeAt(up)
				}
			}
		}
	}
	slices.SortFunc(active, func(a, b *instance) int { return cmp.Compare(b.seq, a.seq) }) // newest first

	for i := 0; i < len(active)-g.desired; i++ {
		g.stop(active[i], now, "scale-in")
	}

	need := g.desired - len(active)
	if len(g.pending) > max(need, 0) {
		g.pending = g.pending[len(g.pending)-max(need, 0):]
	}
	for ; need > 0; need-- {
		if g.allZonesDown() {
			// A region outage, not a launch failure: SetZoneDown wakes the
			// loop when a zone comes back.
			break
		}
		if g.streak > 0 {
			// While backing off, start one instance at a time.
			if now.Before(g.nextStart) {
				wakeAt(g.nextStart)
				break
			}
			if starting {
				break
			}
		}
		var rep *replacement
		if len(g.pending) > 0 {
			rep = &g.pending[0]
			g.pending = g.pending[1:]
		}
		if err := g.launch(now, rep); err != nil {
			g.log.Error("instance launch failed", "err", err)
			g.recordFailure(nil, now, err.Error())
			if rep != nil {
				g.pending = append([]replacement{*rep}, g.pending...)
			}
			continue
		}
		starting = true
	}
	// Last, so that instances stopped above get their SIGKILL deadline.
	if t := g.escalate(now); !t.IsZero() {
		wakeAt(t)
	}
	if next.IsZero() {
		return 0
	}
	return max(next.Sub(now), time.Millisecond)
}

// escalate SIGKILLs instances that outlived their stop grace period and
// returns the earliest pending deadline. Called with g.mu held.
func (g *Group) escalate(now time.Time) time.Time {
	var next time.Time
	for _, in := range g.live {
		if in.State != StateStopping || in.killSent {
			continue
		}
		deadline := in.stopAt.Add(g.cfg.StopTimeout)
		if !now.Before(deadline) {
			g.log.Warn("instance ignored SIGTERM, killing", "id", in.ID, "pid", in.PID)
			if err := signalGroup(in.PID, syscall.SIGKILL); err != nil {
				g.log.Error("kill instance", "id", in.ID, "err", err)
			}
			in.killSent = true
		} else if next.IsZero() || deadline.Before(next) {
			next = deadline
		}
	}
	return next
}

// launch starts one instance. Called with g.mu held.
func (g *Group) launch(now time.Time, rep *replacement) error {
	zone, ok := g.pickZone()
	if !ok {
		return errors.New("compute: launch instance: every zone is down")
	}
	host, err := g.allocate()
	if err != nil {
		return fmt.Errorf("compute: launch instance: %w", err)
	}
	id := g.newID()
	v := Vars{
		Bin: g.cfg.Bin, Addr: g.addr(host), Host: host,
		Port: g.cfg.Template.Port, Region: g.cfg.Region, Zone: zone, ID: id, Service: g.cfg.Service,
		Endpoint: g.cfg.Endpoint, StateDir: g.cfg.StateDir,
	}
	in, err := g.startProcess(v)
	if err != nil {
		g.cfg.Addrs.Release(host)
		return fmt.Errorf("compute: launch instance %s: %w", id, err)
	}
	g.seq++
	in.seq, in.host, in.Started = g.seq, host, now
	if rep != nil {
		in.Restarts = rep.restarts + 1
		g.hub.publish(Event{Kind: EventReplaced, InstanceID: rep.id, Addr: rep.addr, Zone: rep.zone, At: now, Reason: "replaced by " + id})
	}
	g.live[id] = in
	probeCtx, cancel := context.WithCancel(g.runCtx)
	in.cancelProbe = cancel
	g.wg.Add(2)
	go g.wait(in)
	go g.probe(probeCtx, in)
	g.log.Info("instance launched", "id", id, "addr", v.Addr, "zone", zone, "pid", in.PID, "log", in.LogFile)
	return nil
}

func (g *Group) addr(host string) string {
	return net.JoinHostPort(host, strconv.Itoa(g.cfg.Template.Port))
}

// allocate returns a free host whose port nothing else listens on, so that
// the start probe cannot mistake a foreign process for the instance. Busy
// hosts stay reserved until Run returns. Called with g.mu held.
func (g *Group) allocate() (string, error) {
	for range 3 {
		host, err := g.cfg.Addrs.Allocate()
		if err != nil {
			return "", err
		}
		conn, err := net.DialTimeout("tcp", g.addr(host), 100*time.Millisecond)
		if err != nil {
			return host, nil
		}
		conn.Close()
		g.log.Warn("address already in use by another process; skipping it", "addr", g.addr(host))
		g.busyHosts = append(g.busyHosts, host)
	}
	return "", errors.New("addresses already in use by other processes")
}

// startProcess renders the template and starts the child with its output
// appended to LogDir/<id>.log.
func (g *Group) startProcess(v Vars) (*instance, error) {
	argv, tenv, err := g.tmpl.render(v)
	if err != nil {
		return nil, err
	}
	logFile := filepath.Join(g.cfg.LogDir, v.ID+".log")
	f, err := os.OpenFile(logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	defer f.Close()
	fmt.Fprintf(f, "--- pilotlight: starting %s on %s in %s at %s\n", v.ID, v.Addr, v.Zone, g.cfg.Clock.Now().UTC().Format(time.RFC3339))
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = instanceEnv(v, g.cfg.Credentials, tenv)
	cmd.Stdout, cmd.Stderr = f, f
	if err := g.spawner.start(cmd); err != nil {
		return nil, err
	}
	return &instance{
		InstanceStatus: InstanceStatus{
			ID: v.ID, Addr: v.Addr, Zone: v.Zone, PID: cmd.Process.Pid, State: StateStarting,
			LogFile: logFile, Health: "unknown",
		},
		cmd: cmd,
	}, nil
}

// wait reaps the instance, kills what is left of its process group and
// releases its host.
func (g *Group) wait(in *instance) {
	defer g.wg.Done()
	err := in.cmd.Wait()
	_ = signalGroup(in.PID, syscall.SIGKILL) // descendants left behind
	reason := "exit status 0"
	if err != nil {
		reason = err.Error()
	}

	g.mu.Lock()
	now := g.cfg.Clock.Now()
	in.cancelProbe()
	unexpected := !in.requested
	in.State, in.Exit = StateExited, reason
	g.cfg.Addrs.Release(in.host)
	delete(g.live, in.ID)
	g.recent = append(g.recent, in.InstanceStatus)
	if len(g.recent) > recentMax {
		g.recent = slices.Delete(g.recent, 0, len(g.recent)-recentMax)
	}
	g.hub.publish(Event{Kind: EventExited, InstanceID: in.ID, Addr: in.Addr, Zone: in.Zone, At: now, Reason: reason})
	if unexpected && !g.done {
		if in.injected != "" {
			reason += " (injected " + in.injected + ")"
		} else {
			g.recordFailure(in, now, reason)
		}
		g.pending = append(g.pending, replacement{id: in.ID, addr: in.Addr, zone: in.Zone, restarts: in.Restarts})
		g.log.Warn("instance exited", "id", in.ID, "reason", reason, "uptime", now.Sub(in.Started))
	} else {
		g.log.Info("instance stopped", "id", in.ID, "reason", reason)
	}
	g.mu.Unlock()
	g.poke()
}

// probe waits for the instance to accept TCP on its address and marks it
// running, or replaces it after StartTimeout.
func (g *Group) probe(ctx context.Context, in *instance) {
	defer g.wg.Done()
	deadline := g.cfg.Clock.Now().Add(g.cfg.StartTimeout)
	d := net.Dialer{Timeout: 250 * time.Millisecond}
	for {
		conn, err := d.DialContext(ctx, "tcp", in.Addr)
		if err == nil {
			conn.Close()
			g.mu.Lock()
			if in.State == StateStarting {
				in.State = StateRunning
				g.hub.publish(Event{Kind: EventStarted, InstanceID: in.ID, Addr: in.Addr, Zone: in.Zone, At: g.cfg.Clock.Now()})
				g.log.Info("instance running", "id", in.ID, "addr", in.Addr)
			}
			g.mu.Unlock()
			g.poke()
			return
		}
		if ctx.Err() != nil {
			return
		}
		if !g.cfg.Clock.Now().Before(deadline) {
			g.mu.Lock()
			if in.State == StateStarting {
				g.failInstance(in, fmt.Sprintf("start timeout: no TCP accept on %s within %s", in.Addr, g.cfg.StartTimeout))
			}
			g.mu.Unlock()
			g.poke()
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-g.cfg.Clock.After(probeInterval):
		}
	}
}

// failInstance reports the instance unhealthy, stops it and queues its
// replacement. Called with g.mu held.
func (g *Group) failInstance(in *instance, reason string) {
	now := g.cfg.Clock.Now()
	in.Health = reason
	g.hub.publish(Event{Kind: EventUnhealthy, InstanceID: in.ID, Addr: in.Addr, Zone: in.Zone, At: now, Reason: reason})
	g.log.Warn("instance unhealthy", "id", in.ID, "reason", reason)
	g.recordFailure(in, now, reason)
	g.pending = append(g.pending, replacement{id: in.ID, addr: in.Addr, zone: in.Zone, restarts: in.Restarts})
	g.stop(in, now, "unhealthy")
}

// recordFailure updates the crash-loop state after an instance (nil: a
// launch) failed. Called with g.mu held.
func (g *Group) recordFailure(in *instance, now time.Time, reason string) {
	g.lastError = reason
	if in != nil && now.Sub(in.Started) >= g.cfg.Backoff.Reset {
		g.streak, g.curDelay = 0, 0
		return
	}
	g.streak++
	g.curDelay = g.cfg.Backoff.delay(g.streak, g.rand())
	g.nextStart = now.Add(g.curDelay)
	g.log.Warn("crash loop: backing off", "failures", g.streak, "delay", g.curDelay, "reason", reason)
}

// stop asks the instance to terminate: SIGTERM to its process group now,
// SIGKILL after StopTimeout (see escalate). Called with g.mu held.
func (g *Group) stop(in *instance, now time.Time, reason string) {
	if in.State != StateStarting && in.State != StateRunning {
		return
	}
	in.State, in.requested, in.stopAt = StateStopping, true, now
	in.cancelProbe()
	g.hub.publish(Event{Kind: EventStopping, InstanceID: in.ID, Addr: in.Addr, Zone: in.Zone, At: now, Reason: reason})
	if err := signalGroup(in.PID, syscall.SIGTERM); err != nil {
		g.log.Error("terminate instance", "id", in.ID, "err", err)
	}
}

// shutdown stops every instance, waits until all have been reaped and
// releases the group's goroutines.
func (g *Group) shutdown() {
	g.mu.Lock()
	g.done = true
	now := g.cfg.Clock.Now()
	for _, in := range g.live {
		g.stop(in, now, "shutdown")
	}
	g.log.Info("group stopping", "instances", len(g.live))
	for len(g.live) > 0 {
		var timer <-chan time.Time
		if next := g.escalate(g.cfg.Clock.Now()); !next.IsZero() {
			timer = g.cfg.Clock.After(max(next.Sub(g.cfg.Clock.Now()), time.Millisecond))
		}
		g.mu.Unlock()
		select {
		case <-g.kick:
		case <-timer:
		}
		g.mu.Lock()
	}
	g.mu.Unlock()
	g.wg.Wait()
	g.spawner.close()
	g.finish()
	g.log.Info("group stopped")
}

func (g *Group) finish() {
	g.mu.Lock()
	g.done = true
	for _, h := range g.busyHosts {
		g.cfg.Addrs.Release(h)
	}
	g.busyHosts = nil
	g.mu.Unlock()
	g.hub.close()
}
