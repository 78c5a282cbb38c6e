package compute

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const testPort = 18080

// harness runs one group against real child processes.
type harness struct {
	t      *testing.T
	g      *Group
	pool   *HostPool
	events <-chan Event
	cancel context.CancelFunc
	done   chan error
	mu     sync.Mutex
	seen   []Event
}

func testConfig(t *testing.T, mode string, desired int) GroupConfig {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return GroupConfig{
		Service: "web",
		Region:  "seoul",
		Zones:   []string{"seoul-a", "seoul-b"},
		Template: Template{
			Command: []string{exe, "-addr={{.Addr}}", "-id={{.ID}}"},
			Env:     map[string]string{childEnv: mode, "EXTRA": "{{.Service}}@{{.Zone}}"},
			Port:    testPort,
		},
		Endpoint:     "http://127.0.0.1:9000",
		StateDir:     t.TempDir(),
		Credentials:  Credentials{AccessKey: "AKTEST", SecretKey: "s3cr3t-value"},
		Desired:      desired,
		Backoff:      BackoffConfig{Initial: 100 * time.Millisecond, Max: 800 * time.Millisecond},
		StartTimeout: 20 * time.Second,
		StopTimeout:  3 * time.Second,
		Logger:       slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

// start creates the group from c (with a fresh 127.0.203.0/24 pool) and runs
// it until the test ends.
func start(t *testing.T, c GroupConfig) *harness {
	t.Helper()
	network := "127.0.203.0/24"
	if n := os.Getenv("COMPUTE_TEST_NET"); n != "" { // for running several test binaries at once
		network = n
	}
	pool, err := NewHostPool(netip.MustParsePrefix(network), 10, 250)
	if err != nil {
		t.Fatal(err)
	}
	c.Addrs = pool
	g, err := NewGroup(c)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, g: g, pool: pool, done: make(chan error, 1)}
	h.events, _ = g.Subscribe(1024)
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- g.Run(ctx) }()
	t.Cleanup(h.stop)
	return h
}

// stop cancels Run and waits for it (idempotent).
func (h *harness) stop() {
	h.t.Helper()
	h.cancel()
	select {
	case err, ok := <-h.done:
		if ok && err != nil {
			h.t.Errorf("Run: %v", err)
		}
		if ok {
			close(h.done)
		}
	case <-time.After(20 * time.Second):
		h.t.Fatal("Run did not return after cancel")
	}
}

// waitFor polls cond until it holds or timeout passes.
func (h *harness) waitFor(timeout time.Duration, what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out after %s waiting for %s; status %+v instances %+v", timeout, what, h.g.Status(), h.g.Instances())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// running returns the running instances.
func (h *harness) running() []InstanceStatus {
	var out []InstanceStatus
	for _, in := range h.g.Instances() {
		if in.State == StateRunning {
			out = append(out, in)
		}
	}
	return out
}

func (h *harness) waitRunning(n int) []InstanceStatus {
	h.t.Helper()
	h.waitFor(30*time.Second, "running instances", func() bool {
		s := h.g.Status()
		return s.Running == n && s.State == GroupSteady
	})
	return h.running()
}

// event waits for the next event matching kind and id ("" matches any).
func (h *harness) event(kind, id string) Event {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, e := range h.seen {
		if e.Kind == kind && (id == "" || e.InstanceID == id) {
			h.seen = slices.Delete(h.seen, i, i+1)
			return e
		}
	}
	timeout := time.After(30 * time.Second)
	for {
		select {
		case e := <-h.events:
			if e.Kind == kind && (id == "" || e.InstanceID == id) {
				return e
			}
			h.seen = append(h.seen, e)
		case <-timeout:
			h.t.Fatalf("no %s event for %q; seen %+v", kind, id, h.seen)
		}
	}
}

// checkHosts asserts that exactly the live instances' hosts are allocated.
func (h *harness) checkHosts() {
	h.t.Helper()
	var want []string
	for _, in := range h.g.Instances() {
		if in.State != StateExited {
			want = append(want, strings.Split(in.Addr, ":")[0])
		}
	}
	slices.Sort(want)
	got := h.pool.InUse()
	slices.Sort(got)
	if !slices.Equal(got, want) {
		h.t.Fatalf("hosts in use %v, want %v", got, want)
	}
}

func TestGroupReachesDesired(t *testing.T) {
	h := start(t, testConfig(t, "serve", 4))
	ins := h.waitRunning(4)
	zones := map[string]int{}
	addrs := map[string]bool{}
	for _, in := range ins {
		zones[in.Zone]++
		addrs[in.Addr] = true
		if got := get(t, in.Addr, "/"); got != in.ID {
			t.Errorf("%s answered %q, want its ID %q", in.Addr, got, in.ID)
		}
		if !strings.HasPrefix(in.ID, "i-web-seoul-") || len(in.ID) != len("i-web-seoul-")+6 {
			t.Errorf("ID %q: want i-web-seoul-<6 hex>", in.ID)
		}
		var env map[string]string
		if err := json.Unmarshal([]byte(get(t, in.Addr, "/env")), &env); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{
			"PILOTLIGHT_INSTANCE_ID": in.ID, "PILOTLIGHT_REGION": "seoul", "PILOTLIGHT_ZONE": in.Zone,
			"PILOTLIGHT_ADDR": in.Addr, "PILOTLIGHT_S3_ENDPOINT": "http://127.0.0.1:9000",
			"AWS_ACCESS_KEY_ID": "AKTEST", "AWS_SECRET_ACCESS_KEY": "s3cr3t-value", "AWS_REGION": "seoul",
			"EXTRA": "web@" + in.Zone,
		}
		for k, v := range want {
			if env[k] != v {
				t.Errorf("%s: env %s = %q, want %q", in.ID, k, env[k], v)
			}
		}
		log, err := os.ReadFile(in.LogFile)
		if err != nil || !strings.Contains(string(log), "starting "+in.ID) {
			t.Errorf("log file %s: %v %q", in.LogFile, err, log)
		}
		if strings.Contains(string(log), "s3cr3t") {
			t.Errorf("log file %s contains the secret key", in.LogFile)
		}
	}
	if len(addrs) != 4 {
		t.Errorf("addresses not distinct: %v", addrs)
	}
	if zones["seoul-a"] != 2 || zones["seoul-b"] != 2 {
		t.Errorf("zones %v, want 2 per zone", zones)
	}
	h.checkHosts()
}

func TestKilledInstanceReplaced(t *testing.T) {
	for _, tc := range []struct {
		name string
		kill func(h *harness, in InstanceStatus) error
	}{
		{"Kill", func(h *harness, in InstanceStatus) error { return h.g.Kill(in.ID, syscall.SIGKILL) }},
		{"external SIGKILL", func(_ *harness, in InstanceStatus) error { return syscall.Kill(in.PID, syscall.SIGKILL) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t, testConfig(t, "serve", 2))
			ins := h.waitRunning(2)
			victim, survivor := ins[0], ins[1]
			if err := tc.kill(h, victim); err != nil {
				t.Fatal(err)
			}
			began := time.Now()
			if e := h.event(EventExited, victim.ID); !strings.Contains(e.Reason, "killed") {
				t.Errorf("exit reason %q, want killed", e.Reason)
			}
			rep := h.event(EventReplaced, victim.ID)
			newID := strings.TrimPrefix(rep.Reason, "replaced by ")
			h.event(EventStarted, newID)
			if d := time.Since(began); d > 15*time.Second {
				t.Errorf("replacement took %s", d)
			}
			now := h.waitRunning(2)
			ids := []string{now[0].ID, now[1].ID}
			if !slices.Contains(ids, survivor.ID) || !slices.Contains(ids, newID) || slices.Contains(ids, victim.ID) {
				t.Fatalf("running %v, want %s and replacement %s", ids, survivor.ID, newID)
			}
			for _, in := range now {
				if in.ID == newID && (in.Restarts != 1 || in.Zone != victim.Zone) {
					t.Errorf("replacement %+v: want Restarts 1 in zone %s", in, victim.Zone)
				}
				if got := get(t, in.Addr, "/"); got != in.ID {
					t.Errorf("%s answered %q", in.Addr, got)
				}
			}
			if procAlive(victim.PID) {
				t.Errorf("killed pid %d still alive", victim.PID)
			}
			h.checkHosts()
			if err := h.g.Kill(victim.ID, syscall.SIGKILL); err == nil {
				t.Error("Kill of an exited instance: want error")
			}
		})
	}
}

func TestMarkUnhealthyReplaces(t *testing.T) {
	h := start(t, testConfig(t, "serve", 1))
	old := h.waitRunning(1)[0]
	h.g.MarkUnhealthy(old.ID, "healthz returned 500")
	if e := h.event(EventUnhealthy, old.ID); e.Reason != "unhealthy: healthz returned 500" {
		t.Errorf("unhealthy reason %q", e.Reason)
	}
	h.event(EventStopping, old.ID)
	if e := h.event(EventExited, old.ID); e.Reason != "exit status 0" {
		t.Errorf("graceful stop: exit reason %q, want exit status 0", e.Reason)
	}
	rep := h.event(EventReplaced, old.ID)
	h.event(EventStarted, strings.TrimPrefix(rep.Reason, "replaced by "))
	now := h.waitRunning(1)[0]
	if now.ID == old.ID {
		t.Fatal("instance not replaced")
	}
	h.g.MarkUnhealthy("i-unknown", "ignored") // must not panic or change anything
	h.checkHosts()
}

func TestStartTimeoutReplaces(t *testing.T) {
	c := testConfig(t, "no-listen", 1)
	c.StartTimeout = 400 * time.Millisecond
	h := start(t, c)
	e := h.event(EventUnhealthy, "")
	if !strings.Contains(e.Reason, "start timeout") {
		t.Errorf("reason %q, want start timeout", e.Reason)
	}
	h.event(EventExited, e.InstanceID)
	h.event(EventReplaced, e.InstanceID)
	if s := h.g.Status(); !strings.Contains(s.LastError, "start timeout") {
		t.Errorf("status %+v: want last error start timeout", s)
	}
}

func TestCrashLoopBacksOff(t *testing.T) {
	c := testConfig(t, "crash", 1)
	h := start(t, c)
	exitAt := map[string]time.Time{}
	var order []string
	for len(order) < 6 {
		e := h.event(EventExited, "")
		if e.Reason != "exit status 1" {
			t.Fatalf("exit reason %q", e.Reason)
		}
		exitAt[e.InstanceID] = e.At
		order = append(order, e.InstanceID)
	}
	started := map[string]time.Time{}
	for _, in := range h.g.Instances() {
		started[in.ID] = in.Started
	}
	// gaps[i]: from the exit of crash i to the launch of the next instance.
	var gaps []time.Duration
	for i := 1; i < len(order); i++ {
		gaps = append(gaps, started[order[i]].Sub(exitAt[order[i-1]]))
	}
	t.Logf("backoff before each restart: %v", gaps)
	// Backoff before restart k is Initial*2^k capped at Max, jittered by ±20%.
	for i, g := range gaps {
		want := min(c.Backoff.Initial<<i, c.Backoff.Max)
		if g < want*8/10 {
			t.Errorf("gap %d = %s, want >= %s", i, g, want*8/10)
		}
		if g > want*12/10+time.Second {
			t.Errorf("gap %d = %s, want about %s", i, g, want)
		}
	}
	if gaps[3] < 2*gaps[0] {
		t.Errorf("backoff did not grow: %v", gaps)
	}
	s := h.g.Status()
	if s.State != GroupBackoff || s.Backoff <= 0 || s.LastError != "exit status 1" {
		t.Errorf("status %+v: want backoff with last error", s)
	}
	h.mu.Lock()
	for _, e := range h.seen {
		if e.Kind == EventStarted {
			t.Errorf("crashing instance reported started: %+v", e)
		}
	}
	h.mu.Unlock()
}

func TestSetDesired(t *testing.T) {
	h := start(t, testConfig(t, "serve", 1))
	first := h.waitRunning(1)[0]
	h.g.SetDesired(3)
	if h.g.Desired() != 3 {
		t.Fatalf("Desired() = %d", h.g.Desired())
	}
	h.waitRunning(3)
	h.checkHosts()
	h.g.SetDesired(1)
	for range 2 {
		if e := h.event(EventStopping, ""); e.Reason != "scale-in" || e.InstanceID == first.ID {
			t.Errorf("stopping %+v: want scale-in of a newer instance", e)
		}
	}
	h.waitFor(15*time.Second, "scale-in", func() bool { return len(h.pool.InUse()) == 1 })
	if left := h.waitRunning(1); left[0].ID != first.ID {
		t.Errorf("kept %s, want the oldest %s", left[0].ID, first.ID)
	}
	h.checkHosts()
	h.g.SetDesired(-5)
	h.waitFor(15*time.Second, "scale to zero", func() bool { return len(h.pool.InUse()) == 0 })
	if s := h.g.Status(); s.Desired != 0 || s.State != GroupSteady {
		t.Errorf("status %+v", s)
	}
}

func TestStopEscalatesToSIGKILL(t *testing.T) {
	c := testConfig(t, "ignore-term", 1)
	c.StopTimeout = 400 * time.Millisecond
	h := start(t, c)
	in := h.waitRunning(1)[0]
	h.g.SetDesired(0)
	stopping := h.event(EventStopping, in.ID)
	exited := h.event(EventExited, in.ID)
	if exited.Reason != "signal: killed" {
		t.Errorf("exit reason %q, want signal: killed", exited.Reason)
	}
	if d := exited.At.Sub(stopping.At); d < c.StopTimeout {
		t.Errorf("killed after %s, before the %s grace period", d, c.StopTimeout)
	}
}

func TestZoneDown(t *testing.T) {
	h := start(t, testConfig(t, "serve", 0))
	h.g.SetZoneDown("seoul-a", true)
	h.g.SetDesired(2)
	for _, in := range h.waitRunning(2) {
		if in.Zone != "seoul-b" {
			t.Errorf("%s launched in down zone %s", in.ID, in.Zone)
		}
	}
	h.g.SetZoneDown("seoul-a", false)
	if n := h.g.KillZone("seoul-b"); n != 2 {
		t.Errorf("KillZone killed %d, want 2", n)
	}
	h.waitFor(30*time.Second, "replacements", func() bool {
		ins := h.running()
		return len(ins) == 2 && ins[0].Zone != ins[1].Zone
	})
}

func TestShutdownLeavesNoProcess(t *testing.T) {
	for _, mode := range []string{"spawn-grandchild", "ignore-term"} {
		t.Run(mode, func(t *testing.T) {
			c := testConfig(t, mode, 2)
			c.StopTimeout = 500 * time.Millisecond
			h := start(t, c)
			ins := h.waitRunning(2)
			var pids []int
			for _, in := range ins {
				pids = append(pids, in.PID)
				if mode == "spawn-grandchild" {
					gc := get(t, in.Addr, "/grandchild")
					var pid int
					if err := json.Unmarshal([]byte(gc), &pid); err != nil || !procAlive(pid) {
						t.Fatalf("grandchild %q not running: %v", gc, err)
					}
					pids = append(pids, pid)
				}
			}
			h.stop()
			for _, in := range ins {
				if left := procsInGroup(t, in.PID); len(left) > 0 {
					t.Errorf("process group %d still has %v", in.PID, left)
				}
			}
			for _, pid := range pids {
				if procAlive(pid) {
					t.Errorf("pid %d alive after Run returned", pid)
				}
			}
			if len(h.pool.InUse()) != 0 {
				t.Errorf("hosts still allocated: %v", h.pool.InUse())
			}
			if s := h.g.Status(); s.State != GroupStopped {
				t.Errorf("status %+v, want stopped", s)
			}
			for range h.events { // closed when Run returns
			}
			if err := h.g.Run(context.Background()); err == nil {
				t.Error("second Run: want error")
			}
		})
	}
}

func TestSkipsAddressUsedByAnotherProcess(t *testing.T) {
	c := testConfig(t, "serve", 1)
	h := start(t, c)
	h.g.SetDesired(0)
	// Occupy the lowest host, which the group would otherwise pick.
	ln, err := net.Listen("tcp", net.JoinHostPort(h.pool.host(0), strconv.Itoa(testPort)))
	if err != nil {
		t.Skipf("cannot occupy %s: %v", h.pool.host(0), err)
	}
	defer ln.Close()
	h.g.SetDesired(1)
	in := h.waitRunning(1)[0]
	if strings.HasPrefix(in.Addr, h.pool.host(0)+":") {
		t.Fatalf("instance launched on the busy address %s", in.Addr)
	}
	if got := get(t, in.Addr, "/"); got != in.ID {
		t.Errorf("%s answered %q", in.Addr, got)
	}
	h.stop()
	if len(h.pool.InUse()) != 0 {
		t.Errorf("hosts still allocated after Run: %v", h.pool.InUse())
	}
}
