package rpo

import (
	"fmt"
	"time"
)

// Status is a point-in-time view of a bucket's replication, as shown by
// `pilotlight status -o json`. Zero times are omitted.
type Status struct {
	Bucket      string `json:"bucket"`
	Source      string `json:"source,omitempty"`
	Destination string `json:"destination,omitempty"`
	State       State  `json:"state"`
	// Reason explains a stalled state ("no progress for 1m30s",
	// "5 consecutive failures").
	Reason string `json:"reason,omitempty"`
	// LagSeconds is now minus the oldest pending change (0 when none).
	LagSeconds float64 `json:"lagSeconds"`
	// RPOBoundSeconds is max(Lag, now - start of the last complete pass):
	// the age of the oldest change that could be missing from the replica
	// even if change notifications were lost. -1 until a pass completes
	// (unknown: objects listed by no pass may be missing).
	RPOBoundSeconds float64 `json:"rpoBoundSeconds"`
	// Pending counts keys with changes not yet in the replica.
	Pending       int       `json:"pending"`
	OldestPending time.Time `json:"oldestPending,omitzero"`
	// LastPass is the end of the last complete pass (no failures);
	// LastPassStarted is its start.
	LastPass        time.Time `json:"lastPass,omitzero"`
	LastPassStarted time.Time `json:"lastPassStarted,omitzero"`
	// LastProgress is the time of the last replicated object.
	LastProgress        time.Time `json:"lastProgress,omitzero"`
	ConsecutiveFailures int       `json:"consecutiveFailures"`
	LastError           string    `json:"lastError,omitempty"`
	// ObjectiveSeconds is the plan's RPO (0: none); ObjectiveExceeded is
	// true while LagSeconds is above it.
	ObjectiveSeconds  float64 `json:"objectiveSeconds"`
	ObjectiveExceeded bool    `json:"objectiveExceeded"`
	// Replicated and Failed count objects since the tracker was created.
	Replicated uint64 `json:"replicated"`
	Failed     uint64 `json:"failed"`
}

// Snapshot returns the bucket's current status. Like [Tracker.Check], it
// logs an alert when the objective or stall state changed since the last
// evaluation.
func (t *Tracker) Snapshot() Status {
	s, alerts := t.evaluate()
	for _, a := range alerts {
		a()
	}
	return s
}

// Check evaluates the bucket's status and logs the alerts due; the
// continuous loop calls it periodically (every second or so) so that a
// breach is logged even when nobody reads the status. Alerts are logged on
// transitions only:
//
//   - Warn "RPO objective exceeded" when Lag rises above Objective, and Info
//     "RPO objective met again" when it falls back;
//   - Warn "replication stalled" on entering the stalled state, and Info
//     "replication resumed" on leaving it.
//
// It returns the status it evaluated.
func (t *Tracker) Check() Status { return t.Snapshot() }

// evaluate computes the status and updates the alert state under the lock;
// it returns the log calls to make once the lock is released.
func (t *Tracker) evaluate() (Status, []func()) {
	now := t.o.Clock()
	t.mu.Lock()
	defer t.mu.Unlock()

	s := Status{
		Bucket:              t.o.Bucket,
		Source:              t.o.Source,
		Destination:         t.o.Destination,
		Pending:             len(t.pending),
		LastPass:            t.lastPass,
		LastPassStarted:     t.lastPassStarted,
		LastProgress:        t.lastProgress,
		ConsecutiveFailures: t.consecFailures,
		LastError:           t.lastError,
		ObjectiveSeconds:    t.o.Objective.Seconds(),
		Replicated:          t.replicated,
		Failed:              t.failed,
		RPOBoundSeconds:     -1,
	}
	var lag time.Duration
	if s.Pending > 0 {
		s.OldestPending = t.oldestLocked()
		lag = max(now.Sub(s.OldestPending), 0)
	}
	s.LagSeconds = lag.Seconds()
	if t.completePasses > 0 {
		s.RPOBoundSeconds = max(lag, now.Sub(t.lastPassStarted), 0).Seconds()
	}
	s.State, s.Reason = t.stateLocked(now)
	s.ObjectiveExceeded = t.o.Objective > 0 && lag > t.o.Objective

	var alerts []func()
	log := t.o.Logger
	if s.ObjectiveExceeded != t.breached {
		t.breached = s.ObjectiveExceeded
		objective := t.o.Objective
		if s.ObjectiveExceeded {
			alerts = append(alerts, func() {
				log.Warn("RPO objective exceeded", "lag", lag, "objective", objective, "pending", s.Pending)
			})
		} else {
			alerts = append(alerts, func() {
				log.Info("RPO objective met again", "lag", lag, "objective", objective)
			})
		}
	}
	if stalled := s.State == StateStalled; stalled != t.stalled {
		t.stalled = stalled
		if stalled {
			alerts = append(alerts, func() {
				log.Warn("replication stalled", "reason", s.Reason, "pending", s.Pending, "lastError", s.LastError)
			})
		} else {
			alerts = append(alerts, func() {
				log.Info("replication resumed", "state", string(s.State), "pending", s.Pending)
			})
		}
	}
	return s, alerts
}

// stateLocked derives the state; t.mu is held.
func (t *Tracker) stateLocked(now time.Time) (State, string) {
	if t.consecFailures >= t.o.ErrorsToStall {
		return StateStalled, fmt.Sprintf("%d consecutive failures", t.consecFailures)
	}
	if len(t.pending) > 0 {
		// Progress is measured from the later of the last replicated
		// object and the moment the backlog began, so a bucket that was
		// idle for hours is not stalled by its first new change.
		since := t.behindSince
		if t.lastProgress.After(since) {
			since = t.lastProgress
		}
		window := time.Duration(t.o.StallAfter) * t.o.Interval
		if idle := now.Sub(since); idle >= window {
			return StateStalled, "no progress for " + idle.Round(time.Second).String()
		}
		return StateLagging, ""
	}
	if t.completePasses == 0 {
		return StateUnknown, ""
	}
	return StateInSync, ""
}
