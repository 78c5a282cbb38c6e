package health_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/health"
	"github.com/pilotlight/pilotlight/health/healthtest"
)

func TestOverrideWinsAndExpires(t *testing.T) {
	r := newRig(t, "majority", 3, 2, health.Healthy, "")
	r.step() // probe 0 passes; the clock now reads start+1s
	now := start.Add(interval)

	until := now.Add(10 * time.Second)
	if err := r.target.SetOverride(health.Unhealthy, until, "drill"); err != nil {
		t.Fatal(err)
	}
	if got := r.target.Health(); got != health.Unhealthy {
		t.Fatalf("Health() under override = %v, want unhealthy", got)
	}
	ev := waitEvent(t, r.events)
	if ev.From != health.Healthy || ev.To != health.Unhealthy || !ev.At.Equal(now) || !strings.Contains(ev.Reason, "drill") {
		t.Fatalf("override event = %+v", ev)
	}
	st := r.target.Status()
	if st.Override == nil || st.Override.State != health.Unhealthy || !st.Override.Until.Equal(until) ||
		st.Override.Reason != "drill" || !st.Override.Set.Equal(now) || !st.Since.Equal(now) {
		t.Fatalf("Status() = %+v override %+v", st, st.Override)
	}

	// The monitor's timer and the expiry timer are pending; the vantage
	// keeps passing. Advancing to the expiry ends the override by itself.
	if !r.clock.WaitTimers(2, 5*time.Second) {
		t.Fatal("expiry timer not armed")
	}
	r.clock.Advance(until.Sub(now))
	ev = waitEvent(t, r.events)
	if ev.From != health.Unhealthy || ev.To != health.Healthy || !ev.At.Equal(until) || !strings.Contains(ev.Reason, "expired") {
		t.Fatalf("expiry event = %+v", ev)
	}
	if st := r.target.Status(); st.State != health.Healthy || st.Override != nil {
		t.Fatalf("after expiry Status() = %+v", st)
	}

	// Without expiry until cleared; clearing twice is a no-op.
	if err := r.target.SetOverride(health.Unhealthy, time.Time{}, ""); err != nil {
		t.Fatal(err)
	}
	if ev := waitEvent(t, r.events); ev.To != health.Unhealthy {
		t.Fatalf("event = %+v", ev)
	}
	if !r.target.ClearOverride() {
		t.Fatal("ClearOverride() = false with an active override")
	}
	if ev := waitEvent(t, r.events); ev.From != health.Unhealthy || ev.To != health.Healthy || !strings.Contains(ev.Reason, "cleared") {
		t.Fatalf("clear event = %+v", ev)
	}
	if r.target.ClearOverride() {
		t.Fatal("second ClearOverride() = true")
	}
	noEvent(t, r.events)

	// Forcing the current state still publishes an event.
	if err := r.target.SetOverride(health.Healthy, time.Time{}, "pin"); err != nil {
		t.Fatal(err)
	}
	if ev := waitEvent(t, r.events); ev.From != health.Healthy || ev.To != health.Healthy || !strings.Contains(ev.Reason, "pin") {
		t.Fatalf("pin event = %+v", ev)
	}
}

func TestOverrideHidesRuleChanges(t *testing.T) {
	r := newRig(t, "majority", 3, 2, health.Unknown, "ppfffpp")
	r.step()
	r.step() // probe 1: healthy
	if ev := waitEvent(t, r.events); ev.To != health.Healthy {
		t.Fatalf("event = %+v", ev)
	}
	if err := r.target.SetOverride(health.Healthy, time.Time{}, "hold"); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, r.events)
	for range 3 { // probes 2..4 fail: the vantage goes unhealthy
		r.step()
	}
	// The clock is not advanced again: wait for the vote to be counted.
	eventually(t, func() bool { return r.target.Status().Votes["a"] == health.Unhealthy })
	noEvent(t, r.events)
	st := r.target.Status()
	if st.State != health.Healthy || st.Votes["a"] != health.Unhealthy {
		t.Fatalf("under override Status() = %+v", st)
	}
	r.target.ClearOverride()
	ev := waitEvent(t, r.events)
	if ev.From != health.Healthy || ev.To != health.Unhealthy || !strings.Contains(ev.Reason, "3 consecutive failures") {
		t.Fatalf("clear event = %+v", ev)
	}
	if got := r.target.Health(); got != health.Unhealthy {
		t.Fatalf("Health() = %v", got)
	}
}

func TestOverrideErrors(t *testing.T) {
	clock := healthtest.NewClock(start)
	tg, err := health.NewTarget("x", health.Check{}, health.TargetOptions{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		state health.State
		until time.Time
		want  string
	}{
		{"unknown state", health.Unknown, time.Time{}, "must be healthy or unhealthy"},
		{"expiry now", health.Healthy, start, "not after now"},
		{"expiry past", health.Unhealthy, start.Add(-time.Second), "not after now"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tg.SetOverride(tt.state, tt.until, "")
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "health: override x: ") {
				t.Fatalf("SetOverride() = %v, want error containing %q", err, tt.want)
			}
		})
	}
	if st := tg.Status(); st.Override != nil {
		t.Fatalf("failed SetOverride left %+v", st.Override)
	}
}

// eventually polls cond until it holds or a real-time timeout elapses.
func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

// A target that is not running still expires its override when read.
func TestOverrideExpiresWhenNotRunning(t *testing.T) {
	clock := healthtest.NewClock(start)
	tg, err := health.NewTarget("x", health.Check{}, health.TargetOptions{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	events, unsubscribe := tg.Subscribe(10)
	defer unsubscribe()
	if err := tg.SetOverride(health.Healthy, start.Add(5*time.Second), "warm"); err != nil {
		t.Fatal(err)
	}
	<-events
	clock.Advance(4 * time.Second)
	if got := tg.Health(); got != health.Healthy {
		t.Fatalf("before expiry Health() = %v", got)
	}
	clock.Advance(time.Second)
	if got := tg.Health(); got != health.Unknown {
		t.Fatalf("after expiry Health() = %v, want unknown (no probe yet)", got)
	}
	ev := <-events
	if ev.From != health.Healthy || ev.To != health.Unknown || !ev.At.Equal(start.Add(5*time.Second)) {
		t.Fatalf("expiry event = %+v", ev)
	}
}
