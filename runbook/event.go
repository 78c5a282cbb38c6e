package runbook

import (
	"sync"
	"time"
)

// EventKind names what happened in an Event.
type EventKind string

// Event kinds, in the order a step usually sees them.
const (
	// EventRunStarted: the run began (Step empty).
	EventRunStarted EventKind = "run-started"
	// EventRunEnded: the run ended (Step empty; Err set if it failed).
	EventRunEnded EventKind = "run-ended"
	// EventStepStarted: the step was launched.
	EventStepStarted EventKind = "step-started"
	// EventRetrying: an attempt failed with a retryable error; Detail has
	// the class and the delay before the next attempt.
	EventRetrying EventKind = "retrying"
	// EventFallingBack: an attempt failed for lack of capacity and the
	// step's Fallback switched option; Detail has the fallback number.
	EventFallingBack EventKind = "falling-back"
	// EventDone: the step succeeded.
	EventDone EventKind = "done"
	// EventFailed: the step failed after its retries.
	EventFailed EventKind = "failed"
	// EventSkipped: the step was skipped (skip policy or skipped dependency).
	EventSkipped EventKind = "skipped"
	// EventResumed: the journal says the step is done; it will not run.
	EventResumed EventKind = "resumed"
	// EventCancelled: the step was cancelled, or never started because the
	// run was cancelled or aborted.
	EventCancelled EventKind = "cancelled"
)

// Event is one thing that happened during a run, reported to
// Options.Observer. Time comes from the engine's clock.
type Event struct {
	Time    time.Time `json:"time"`
	Kind    EventKind `json:"kind"`
	Run     string    `json:"run"`
	Step    string    `json:"step,omitempty"`
	Tier    int       `json:"tier"`
	Attempt int       `json:"attempt,omitempty"`
	Err     string    `json:"error,omitempty"`
	Detail  string    `json:"detail,omitempty"`
}

// Final reports whether the event ends a step (done, failed, skipped,
// resumed or cancelled).
func (k EventKind) Final() bool {
	switch k {
	case EventDone, EventFailed, EventSkipped, EventResumed, EventCancelled:
		return true
	}
	return false
}

// observer serialises calls to Options.Observer: steps report from their own
// goroutines, but the observer never sees two events at once.
type observer struct {
	mu sync.Mutex
	fn func(Event)
}

func (o *observer) emit(ev Event) {
	if o == nil || o.fn == nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.fn(ev)
}
