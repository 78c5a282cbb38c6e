package health

import (
	"context"
	"fmt"
	"time"
)

// Override forces a target's decided state, like a routing control.
type Override struct {
	// State is the forced state, Healthy or Unhealthy.
	State State `json:"state"`
	// Until is when the override expires by itself; zero means never.
	Until time.Time `json:"until,omitzero"`
	// Reason is the operator's reason.
	Reason string `json:"reason,omitempty"`
	// Set is when the override was set.
	Set time.Time `json:"set"`
}

// String returns e.g. "unhealthy until 15:04:05" or "healthy".
func (o Override) String() string {
	if o.Until.IsZero() {
		return o.State.String()
	}
	return o.State.String() + " until " + o.Until.Format(time.TimeOnly)
}

// SetOverride forces the decided state to state (Healthy or Unhealthy)
// until the given time (zero: until ClearOverride), replacing any earlier
// override. An event is published at once, even when the state does not
// change. When the override expires the state returns to the rule's
// outcome, with an event. It fails on another state or an expiry that is
// not in the future.
func (t *Target) SetOverride(state State, until time.Time, reason string) error {
	if state != Healthy && state != Unhealthy {
		return fmt.Errorf("health: override %s: state must be healthy or unhealthy, not %s", t.id, state)
	}
	now := t.clock.Now()
	if !until.IsZero() && !until.After(now) {
		return fmt.Errorf("health: override %s: expiry %s is not after now (%s)", t.id,
			until.Format(time.RFC3339), now.Format(time.RFC3339))
	}
	t.mu.Lock()
	t.override = &Override{State: state, Until: until, Reason: reason, Set: now}
	desc := "override " + t.override.String()
	if reason != "" {
		desc += ": " + reason
	}
	t.decideLocked(state, now, desc, desc, nil)
	t.mu.Unlock()
	t.kick()
	return nil
}

// ClearOverride removes the override, if any, and returns the decided
// state to the rule's outcome with an event. It reports whether an
// override was active.
func (t *Target) ClearOverride() bool {
	t.mu.Lock()
	active := t.override != nil
	if active {
		t.leaveOverrideLocked(t.clock.Now(), "cleared")
	}
	t.mu.Unlock()
	t.kick()
	return active
}

// kick wakes the expiry loop so that it re-reads the override.
func (t *Target) kick() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

func (t *Target) leaveOverrideLocked(at time.Time, how string) {
	o := t.override
	t.override = nil
	t.decideLocked(t.outcome, at, fmt.Sprintf("override %s %s; rule %s", o.State, how, t.ruleReason), t.ruleReason, nil)
}

// expireLocked ends an override whose expiry has passed.
func (t *Target) expireLocked() {
	o := t.override
	if o == nil || o.Until.IsZero() {
		return
	}
	if now := t.clock.Now(); !now.Before(o.Until) {
		t.leaveOverrideLocked(o.Until, "expired")
	}
}

// expiryLoop ends overrides at their expiry, on the injected clock, until
// ctx is done. Reads of the state also expire overrides, so a target that
// is not running still reports the right state.
func (t *Target) expiryLoop(ctx context.Context) {
	for {
		t.mu.Lock()
		t.expireLocked()
		var until time.Time
		if t.override != nil {
			until = t.override.Until
		}
		t.mu.Unlock()
		var fire <-chan time.Time
		var timer Timer
		if !until.IsZero() {
			timer = t.clock.NewTimer(until.Sub(t.clock.Now()))
			fire = timer.C()
		}
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return
		case <-t.wake:
			if timer != nil {
				timer.Stop()
			}
		case <-fire:
		}
	}
}
