package health

import (
	"fmt"
	"time"
)

// State is the health verdict for one target.
type State int32

// States. The zero value is Unknown.
const (
	Unknown State = iota
	Healthy
	Unhealthy
)

// String returns "unknown", "healthy" or "unhealthy".
func (s State) String() string {
	switch s {
	case Unknown:
		return "unknown"
	case Healthy:
		return "healthy"
	case Unhealthy:
		return "unhealthy"
	}
	return fmt.Sprintf("state(%d)", int32(s))
}

// MarshalText implements encoding.TextMarshaler.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler, the inverse of
// MarshalText, so that status snapshots round-trip through JSON.
func (s *State) UnmarshalText(b []byte) error {
	switch string(b) {
	case "unknown":
		*s = Unknown
	case "healthy":
		*s = Healthy
	case "unhealthy":
		*s = Unhealthy
	default:
		return fmt.Errorf("health: unknown state %q", b)
	}
	return nil
}

// Event reports one state transition of one target.
type Event struct {
	Target   string    // a Monitor's check target (host:port), or a Target's ID
	From, To State     // previous and new state
	At       time.Time // time of the probe that completed the threshold (or of the override change)
	Reason   string    // e.g. "3 consecutive failures: status 503"
	Results  []Result  // the consecutive results that reached the threshold, oldest first (none for overrides)
}

// Default thresholds.
const (
	DefaultFailureThreshold = 3
	DefaultSuccessThreshold = 2
)

// Tracker is the threshold state machine: it counts consecutive passes and
// failures and changes state only when a threshold is reached (hysteresis).
//
// From Unknown the first decision is made after SuccessThreshold consecutive
// passes (→ Healthy) or FailureThreshold consecutive failures (→ Unhealthy);
// a mixed sequence keeps the state Unknown. A Healthy target becomes
// Unhealthy after FailureThreshold consecutive failures, an Unhealthy one
// Healthy after SuccessThreshold consecutive passes.
//
// A Tracker is not safe for concurrent use; Monitor serialises access.
type Tracker struct {
	failureThreshold int
	successThreshold int
	state            State
	passes, failures int
}

// NewTracker returns a tracker in state initial. Thresholds below 1 take the
// defaults (3 failures, 2 passes).
func NewTracker(initial State, failureThreshold, successThreshold int) *Tracker {
	if failureThreshold < 1 {
		failureThreshold = DefaultFailureThreshold
	}
	if successThreshold < 1 {
		successThreshold = DefaultSuccessThreshold
	}
	return &Tracker{failureThreshold: failureThreshold, successThreshold: successThreshold, state: initial}
}

// State returns the current state.
func (t *Tracker) State() State { return t.state }

// Streak returns the length of the current run of passes (ok true) or
// failures (ok false).
func (t *Tracker) Streak() (ok bool, n int) {
	if t.passes > 0 {
		return true, t.passes
	}
	return false, t.failures
}

// Observe records one probe outcome and returns the previous state and
// whether the state changed.
func (t *Tracker) Observe(ok bool) (from State, changed bool) {
	from = t.state
	if ok {
		t.passes++
		t.failures = 0
		if t.state != Healthy && t.passes >= t.successThreshold {
			t.state = Healthy
		}
	} else {
		t.failures++
		t.passes = 0
		if t.state != Unhealthy && t.failures >= t.failureThreshold {
			t.state = Unhealthy
		}
	}
	return from, t.state != from
}
