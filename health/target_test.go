package health_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/health"
	"github.com/pilotlight/pilotlight/health/healthtest"
)

var start = time.Unix(1000, 0)

// rig runs a Target whose vantage points follow scripts on a fake clock.
type rig struct {
	t       *testing.T
	clock   *healthtest.Clock
	target  *health.Target
	scripts []*script
	events  <-chan health.Event
	stop    func()
	probe   int // index of the next probe of every vantage
}

func newRig(t *testing.T, rule string, fail, pass int, initial health.State, seqs ...string) *rig {
	t.Helper()
	r := &rig{t: t, clock: healthtest.NewClock(start)}
	rl, err := health.ParseRule(rule)
	if err != nil {
		t.Fatal(err)
	}
	o := health.TargetOptions{Rule: rl, Interval: interval, FailureThreshold: fail, SuccessThreshold: pass,
		Initial: initial, Clock: r.clock}
	for i, seq := range seqs {
		s := newScript(seq)
		r.scripts = append(r.scripts, s)
		o.Vantages = append(o.Vantages, health.Vantage{Name: string(rune('a' + i)), Probe: s.probe})
	}
	r.target, err = health.NewTarget("www/primary", health.Check{Target: "127.0.0.1:1"}, o)
	if err != nil {
		t.Fatal(err)
	}
	var unsubscribe func()
	r.events, unsubscribe = r.target.Subscribe(100)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.target.Run(ctx) }()
	r.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v", err)
		}
		unsubscribe()
	}
	t.Cleanup(func() {
		if r.stop != nil {
			r.stop()
		}
	})
	return r
}

// step waits until every vantage point has run its next probe and parked
// on the clock, then advances the clock by one interval.
func (r *rig) step() {
	r.t.Helper()
	r.wait()
	r.clock.Advance(interval)
}

// run steps through n probes but does not advance the clock after the
// last one, so that no further probe runs.
func (r *rig) run(n int) {
	r.t.Helper()
	for i := range n {
		if i < n-1 {
			r.step()
		} else {
			r.wait()
		}
	}
}

// wait waits until every vantage point has run its next probe and parked
// on the clock.
func (r *rig) wait() {
	r.t.Helper()
	for v, s := range r.scripts {
		select {
		case got := <-s.probed:
			if got != r.probe {
				r.t.Fatalf("vantage %d ran probe %d, want %d", v, got, r.probe)
			}
		case <-time.After(5 * time.Second):
			r.t.Fatalf("vantage %d did not run probe %d", v, r.probe)
		}
	}
	if !r.clock.WaitTimers(len(r.scripts), 5*time.Second) {
		r.t.Fatalf("vantages did not park after probe %d", r.probe)
	}
	r.probe++
}

// finish stops the target and returns every event it published.
func (r *rig) finish() []health.Event {
	r.stop()
	r.stop = nil
	var evs []health.Event
	for ev := range r.events {
		evs = append(evs, ev)
	}
	return evs
}

// waitEvent returns the next event or fails after a real-time timeout.
func waitEvent(t *testing.T, ch <-chan health.Event) health.Event {
	t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
	return health.Event{}
}

func noEvent(t *testing.T, ch <-chan health.Event) {
	t.Helper()
	select {
	case ev := <-ch:
		t.Fatalf("unexpected event %+v", ev)
	case <-time.After(20 * time.Millisecond):
	}
}

type wantEvent struct {
	from, to health.State
	probe    int // index of the deciding probe: At is start + probe intervals
	results  int // number of Results
}

func checkEvents(t *testing.T, got []health.Event, want []wantEvent) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d events %+v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		ev := got[i]
		at := start.Add(time.Duration(w.probe) * interval)
		if ev.Target != "www/primary" || ev.From != w.from || ev.To != w.to || !ev.At.Equal(at) || len(ev.Results) != w.results {
			t.Errorf("event %d = %v→%v at %v with %d results (%q), want %v→%v at %v with %d results",
				i, ev.From, ev.To, ev.At.Unix(), len(ev.Results), ev.Reason, w.from, w.to, at.Unix(), w.results)
		}
	}
}

func TestTargetFailoverTiming(t *testing.T) {
	H, U, K := health.Healthy, health.Unhealthy, health.Unknown
	tests := []struct {
		name       string
		rule       string
		fail, pass int
		seqs       []string
		want       []wantEvent
	}{
		{
			// Dies at probe 2: Unhealthy exactly at the 3rd failure (probe
			// 4); back only after 2 passes (probe 6).
			name: "one vantage", rule: "majority", fail: 3, pass: 2,
			seqs: []string{"ppfffpp"},
			want: []wantEvent{{K, H, 1, 2}, {H, U, 4, 3}, {U, H, 6, 2}},
		},
		{
			name: "one vantage high thresholds", rule: "majority", fail: 5, pass: 4,
			seqs: []string{"ppppfffffpppp"},
			want: []wantEvent{{K, H, 3, 4}, {H, U, 8, 5}, {U, H, 12, 4}},
		},
		{
			// a dies first; the target goes down when b, the second of three,
			// reaches its threshold, and up as soon as a is back (2 of 3).
			name: "majority of three", rule: "majority", fail: 3, pass: 2,
			seqs: []string{"ppfffpppp", "pppfffppp", "ppppppppp"},
			want: []wantEvent{{K, H, 1, 2}, {H, U, 5, 3}, {U, H, 6, 2}},
		},
		{
			name: "any of two goes down with the last", rule: "any", fail: 3, pass: 2,
			seqs: []string{"ppfffffff", "ppppfffpp"},
			want: []wantEvent{{K, H, 1, 2}, {H, U, 6, 3}, {U, H, 8, 2}},
		},
		{
			name: "all of two goes down with the first", rule: "all", fail: 3, pass: 2,
			seqs: []string{"ppfffpppp", "ppppppppp"},
			want: []wantEvent{{K, H, 1, 2}, {H, U, 4, 3}, {U, H, 6, 2}},
		},
		{
			name: ">18% of five needs one", rule: ">18%", fail: 2, pass: 2,
			seqs: []string{"ffffff", "ffffff", "ffffff", "ffffff", "ppffpp"},
			want: []wantEvent{{K, H, 1, 2}, {H, U, 3, 2}, {U, H, 5, 2}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, tt.rule, tt.fail, tt.pass, health.Unknown, tt.seqs...)
			r.run(len(tt.seqs[0]))
			checkEvents(t, r.finish(), tt.want)
		})
	}
}

func TestTargetFlappingDoesNotFlap(t *testing.T) {
	flap := "pp" + strings.Repeat("fp", 10)
	flop := "pp" + strings.Repeat("pf", 10)
	tests := []struct {
		name string
		rule string
		seqs []string
		want []wantEvent
	}{
		{"one vantage", "majority", []string{flap}, []wantEvent{{health.Unknown, health.Healthy, 1, 2}}},
		{"three vantages out of phase", "majority", []string{flap, flop, flap},
			[]wantEvent{{health.Unknown, health.Healthy, 1, 2}}},
		{"all rule", "all", []string{flap, flop}, []wantEvent{{health.Unknown, health.Healthy, 1, 2}}},
		{"never decided", "majority", []string{strings.Repeat("fp", 10)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, tt.rule, 2, 2, health.Unknown, tt.seqs...)
			r.run(len(tt.seqs[0]))
			want := health.Healthy
			if tt.want == nil {
				want = health.Unknown
			}
			if got := r.target.Health(); got != want {
				t.Errorf("Health() = %v, want %v", got, want)
			}
			checkEvents(t, r.finish(), tt.want)
		})
	}
}

func TestTargetStatus(t *testing.T) {
	r := newRig(t, "majority", 2, 1, health.Unknown, "pfff", "pppp", "pfff")
	r.run(4)
	evs := r.finish()
	st := r.target.Status()
	if st.ID != "www/primary" || st.State != health.Unhealthy || st.Override != nil {
		t.Fatalf("Status() = %+v", st)
	}
	wantVotes := map[string]health.State{"a": health.Unhealthy, "b": health.Healthy, "c": health.Unhealthy}
	for k, v := range wantVotes {
		if st.Votes[k] != v {
			t.Errorf("Votes[%s] = %v, want %v (%v)", k, st.Votes[k], v, st.Votes)
		}
	}
	if len(st.Votes) != 3 {
		t.Errorf("Votes = %v", st.Votes)
	}
	if !st.Since.Equal(start.Add(2 * interval)) {
		t.Errorf("Since = %v, want probe 2", st.Since)
	}
	last := evs[len(evs)-1]
	for _, part := range []string{"majority", "1/3 healthy, 2 unhealthy, 0 unknown", "2 consecutive failures: status 503"} {
		if !strings.Contains(last.Reason, part) || !strings.Contains(st.Reason, part) {
			t.Errorf("reason %q / status %q lacks %q", last.Reason, st.Reason, part)
		}
	}
}

func TestTargetRunTwice(t *testing.T) {
	r := newRig(t, "majority", 2, 2, health.Unknown, "pp")
	r.step()
	if err := r.target.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("second Run() = %v, want ErrRunning", err)
	}
}

func TestNewTargetErrors(t *testing.T) {
	tests := []struct {
		name string
		id   string
		o    health.TargetOptions
		want string
	}{
		{"empty id", "", health.TargetOptions{}, "empty id"},
		{"bad rule", "x", health.TargetOptions{Rule: health.Rule{Kind: "most"}}, "unknown kind"},
		{"unnamed vantage", "x", health.TargetOptions{Vantages: []health.Vantage{{Name: "a"}, {}}}, "no name"},
		{"duplicate vantage", "x", health.TargetOptions{Vantages: []health.Vantage{{Name: "a"}, {Name: "a"}}}, "duplicate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := health.NewTarget(tt.id, health.Check{}, tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewTarget() = %v, want error containing %q", err, tt.want)
			}
		})
	}
	tg, err := health.NewTarget("x", health.Check{}, health.TargetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st := tg.Status(); len(st.Votes) != 1 || st.Votes["local"] != health.Unknown || tg.Rule().String() != "majority" {
		t.Fatalf("default target status %+v rule %v", st, tg.Rule())
	}
}

func TestLocalVantages(t *testing.T) {
	if vs := health.LocalVantages(0); len(vs) != 1 || vs[0].Name != "local" {
		t.Fatalf("LocalVantages(0) = %+v", vs)
	}
	vs := health.LocalVantages(3)
	if len(vs) != 3 || vs[0].Name != "local-1" || vs[2].Name != "local-3" || vs[1].Probe != nil {
		t.Fatalf("LocalVantages(3) = %+v", vs)
	}
}
