package compute

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestBackoffDelay(t *testing.T) {
	b := BackoffConfig{Initial: 500 * time.Millisecond, Max: 30 * time.Second, Jitter: 0.2}
	for _, tc := range []struct {
		streak int
		r      float64
		want   time.Duration
	}{
		{0, 0.5, 0},
		{1, 0.5, 500 * time.Millisecond},
		{2, 0.5, time.Second},
		{3, 0.5, 2 * time.Second},
		{1, 0, 400 * time.Millisecond},
		{1, 1, 600 * time.Millisecond},
		{7, 0.5, 30 * time.Second},
		{50, 0.5, 30 * time.Second},
		{50, 0, 24 * time.Second},
		{50, 1, 30 * time.Second}, // jitter never exceeds Max
	} {
		if got := b.delay(tc.streak, tc.r); got != tc.want {
			t.Errorf("delay(%d, %v) = %s, want %s", tc.streak, tc.r, got, tc.want)
		}
	}
}

// fakeClock is a settable clock for logic that does not wait.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time                       { return c.now }
func (c *fakeClock) After(time.Duration) <-chan time.Time { return nil }

func TestRecordFailureStreak(t *testing.T) {
	clk := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	pool, _ := NewHostPool(netip.MustParsePrefix("127.0.203.0/24"), 10, 20)
	g, err := NewGroup(GroupConfig{
		Service: "web", Region: "r", Zones: []string{"r-a"}, Template: Template{Command: []string{"x"}},
		StateDir: t.TempDir(), Addrs: pool, Clock: clk,
		Backoff: BackoffConfig{Initial: time.Second, Max: 8 * time.Second, Reset: 30 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	g.rand = func() float64 { return 0.5 } // no jitter
	crash := func(uptime time.Duration) {
		in := &instance{InstanceStatus: InstanceStatus{Started: clk.now.Add(-uptime)}}
		g.recordFailure(in, clk.now, "exit status 1")
	}
	steps := []struct {
		uptime     time.Duration
		wantStreak int
		wantDelay  time.Duration
	}{
		{time.Second, 1, time.Second},
		{time.Second, 2, 2 * time.Second},
		{time.Second, 3, 4 * time.Second},
		{time.Second, 4, 8 * time.Second},
		{time.Second, 5, 8 * time.Second},
		{31 * time.Second, 0, 0}, // stayed up past Reset: not a crash loop
		{time.Second, 1, time.Second},
	}
	for i, s := range steps {
		crash(s.uptime)
		if g.streak != s.wantStreak || g.curDelay != s.wantDelay {
			t.Fatalf("step %d: streak %d delay %s, want %d %s", i, g.streak, g.curDelay, s.wantStreak, s.wantDelay)
		}
		if s.wantStreak > 0 && !g.nextStart.Equal(clk.now.Add(s.wantDelay)) {
			t.Fatalf("step %d: next start %s", i, g.nextStart)
		}
		if st := g.Status(); st.Backoff != s.wantDelay || st.LastError != "exit status 1" {
			t.Fatalf("step %d: status %+v", i, st)
		}
	}
}

func TestPickZone(t *testing.T) {
	g := &Group{cfg: GroupConfig{Zones: []string{"a", "b", "c"}}, live: map[string]*instance{}, lastZone: -1, downZones: map[string]bool{}}
	var got []string
	for i := range 7 {
		z, _ := g.pickZone()
		got = append(got, z)
		g.live[string(rune('0'+i))] = &instance{InstanceStatus: InstanceStatus{Zone: z, State: StateRunning}}
	}
	if want := []string{"a", "b", "c", "a", "b", "c", "a"}; !slices.Equal(got, want) {
		t.Errorf("placement %v, want %v", got, want)
	}
	// Zone b lost its instances: it is the least populated.
	for id, in := range g.live {
		if in.Zone == "b" {
			delete(g.live, id)
		}
	}
	if z, _ := g.pickZone(); z != "b" {
		t.Errorf("picked %s, want the emptiest zone b", z)
	}
	g.downZones["a"], g.downZones["b"], g.downZones["c"] = true, true, true
	if _, ok := g.pickZone(); ok {
		t.Error("all zones down: want no zone")
	}
}

func TestHostPool(t *testing.T) {
	p, err := NewHostPool(netip.MustParsePrefix("127.0.203.77/24"), 10, 12)
	if err != nil {
		t.Fatal(err)
	}
	var hosts []string
	for range 3 {
		h, err := p.Allocate()
		if err != nil {
			t.Fatal(err)
		}
		hosts = append(hosts, h)
	}
	if want := []string{"127.0.203.10", "127.0.203.11", "127.0.203.12"}; !slices.Equal(hosts, want) {
		t.Fatalf("hosts %v, want %v", hosts, want)
	}
	if _, err := p.Allocate(); !errors.Is(err, ErrNoHosts) {
		t.Fatalf("exhausted pool: err %v, want ErrNoHosts", err)
	}
	p.Release("127.0.203.11")
	p.Release("10.0.0.11")     // foreign: ignored
	p.Release("not-an-addr")   // ignored
	p.Release("127.0.203.200") // outside range: ignored
	if h, _ := p.Allocate(); h != "127.0.203.11" {
		t.Errorf("reallocated %s, want the released 127.0.203.11", h)
	}

	for _, tc := range []struct {
		prefix      string
		first, last int
	}{
		{"::1/128", 10, 20},
		{"127.0.203.0/25", 10, 20},
		{"127.0.203.0/24", 0, 20},
		{"127.0.203.0/24", 10, 255},
		{"127.0.203.0/24", 30, 20},
	} {
		if _, err := NewHostPool(netip.MustParsePrefix(tc.prefix), tc.first, tc.last); err == nil {
			t.Errorf("NewHostPool(%s, %d, %d): want error", tc.prefix, tc.first, tc.last)
		}
	}
}

func TestNewGroupErrors(t *testing.T) {
	pool, _ := NewHostPool(netip.MustParsePrefix("127.0.203.0/24"), 10, 20)
	valid := func() GroupConfig {
		return GroupConfig{
			Service: "web", Region: "r", Zones: []string{"r-a", "r-b"}, StateDir: t.TempDir(), Addrs: pool,
			Template: Template{Command: []string{"{{.Bin}}/app", "--addr", "{{.Addr}}"}, Env: map[string]string{"X": "{{.Endpoint}}"}},
		}
	}
	for _, tc := range []struct {
		name   string
		modify func(*GroupConfig)
		want   string
	}{
		{"unknown key in command", func(c *GroupConfig) { c.Template.Command = []string{"app", "{{.Nope}}"} }, "command[1]"},
		{"unknown key names the field", func(c *GroupConfig) { c.Template.Command = []string{"app", "{{.Nope}}"} }, "Nope"},
		{"unknown key in env", func(c *GroupConfig) { c.Template.Env = map[string]string{"A": "{{.Secret}}"} }, "env A"},
		{"parse error", func(c *GroupConfig) { c.Template.Command = []string{"app", "{{.Addr"} }, "parse command[1]"},
		{"empty command", func(c *GroupConfig) { c.Template.Command = nil }, "command is empty"},
		{"empty program", func(c *GroupConfig) { c.Template.Command = []string{"{{if false}}x{{end}}"} }, "empty program name"},
		{"bad env name", func(c *GroupConfig) { c.Template.Env = map[string]string{"A=B": "x"} }, "invalid variable name"},
		{"no zones", func(c *GroupConfig) { c.Zones = nil }, "no zones"},
		{"no allocator", func(c *GroupConfig) { c.Addrs = nil }, "no address allocator"},
		{"no dirs", func(c *GroupConfig) { c.StateDir = "" }, "log dir"},
		{"negative desired", func(c *GroupConfig) { c.Desired = -1 }, "negative"},
		{"no service", func(c *GroupConfig) { c.Service = "" }, "service name is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.modify(&c)
			_, err := NewGroup(c)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "compute: new group ") {
				t.Fatalf("err %v, want compute: new group ... %q", err, tc.want)
			}
		})
	}
	if _, err := NewGroup(valid()); err != nil {
		t.Fatalf("valid config: %v", err)
	}
}

func TestInstanceEnvNeverLeaksSecretInOtherVars(t *testing.T) {
	c := Credentials{AccessKey: "AK", SecretKey: "SK"}
	env := instanceEnv(Vars{ID: "i-1", Region: "seoul"}, c, []string{"AWS_REGION=override"})
	var secret []string
	for _, kv := range env {
		if strings.Contains(kv, "SK") && !strings.HasPrefix(kv, "AWS_SECRET_ACCESS_KEY=") {
			secret = append(secret, kv)
		}
	}
	if len(secret) > 0 {
		t.Errorf("secret in %v", secret)
	}
	if last := env[len(env)-1]; last != "AWS_REGION=override" {
		t.Errorf("template env must come last (wins): %s", last)
	}
	if !slices.Contains(env, "AWS_REGION=seoul") {
		t.Error("AWS_REGION defaults to the group region")
	}
	if s := c.String(); strings.Contains(s, "SK") {
		t.Errorf("Credentials.String leaks the secret: %s", s)
	}
}

func TestHubNeverBlocks(t *testing.T) {
	var h hub
	slow, cancelSlow := h.subscribe(1)
	fast, cancelFast := h.subscribe(10)
	for i := range 5 {
		h.publish(Event{Kind: EventStarted, InstanceID: string(rune('a' + i))})
	}
	if len(slow) != 1 || len(fast) != 5 || h.dropped != 4 {
		t.Fatalf("slow %d fast %d dropped %d", len(slow), len(fast), h.dropped)
	}
	cancelSlow()
	cancelSlow() // idempotent
	h.publish(Event{Kind: EventExited})
	h.close()
	n := 0
	for range fast {
		n++
	}
	if n != 6 {
		t.Errorf("fast subscriber got %d events, want 6", n)
	}
	cancelFast() // after close: no panic
	if n := len(slices.Collect(chanSeq(slow))); n != 1 {
		t.Errorf("cancelled subscriber: %d buffered events then closed, want 1", n)
	}
	late, _ := h.subscribe(1)
	if _, ok := <-late; ok {
		t.Error("subscription after close: want closed channel")
	}
}

func chanSeq(ch <-chan Event) func(func(Event) bool) {
	return func(yield func(Event) bool) {
		for e := range ch {
			if !yield(e) {
				return
			}
		}
	}
}
