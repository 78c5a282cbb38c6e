package sim

import (
	"sync"

	"github.com/pilotlight/pilotlight/runbook"
)

// Steps returns a runbook.Options.Observer that counts the steps of a run
// of rb as participants of the clock. A step is counted from the moment
// it becomes ready (its dependencies done, every lower tier finished) —
// when the step that made it ready ends, before the engine's goroutine
// for it exists — until it ends, so that the clock never sees a gap
// between a step's end and the start of the steps waiting for it. The
// engine must have room to start every ready step at once (Concurrency at
// least the number of steps).
func (c *Clock) Steps(rb runbook.Runbook) func(runbook.Event) {
	t := &stepTracker{clock: c, rb: rb, state: map[string]stepState{}}
	return t.observe
}

type stepState int

const (
	stepPending stepState = iota
	stepCounted           // ready or running, counted active
	stepDone              // succeeded (done or resumed)
	stepOver              // ended otherwise
)

type stepTracker struct {
	mu      sync.Mutex
	clock   *Clock
	rb      runbook.Runbook
	state   map[string]stepState
	started bool
}

func (t *stepTracker) observe(ev runbook.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case ev.Kind == runbook.EventResumed:
		t.state[ev.Step] = stepDone
	case ev.Kind == runbook.EventStepStarted:
		if !t.started {
			// The first start: every resumed step is known, the engine
			// starts the whole first wave now.
			t.started = true
			t.countReady()
		}
		if t.state[ev.Step] != stepCounted {
			t.state[ev.Step] = stepCounted
			t.clock.Enter()
		}
	case ev.Kind.Final() && ev.Step != "":
		was := t.state[ev.Step]
		if ev.Kind == runbook.EventDone {
			t.state[ev.Step] = stepDone
		} else {
			t.state[ev.Step] = stepOver
		}
		if ev.Kind != runbook.EventCancelled && ev.Kind != runbook.EventFailed {
			t.countReady() // before the Leave: no moment with nobody active
		}
		if was == stepCounted {
			t.clock.markEnded()
			t.clock.Leave()
		}
	case ev.Kind == runbook.EventRunEnded:
		for id, st := range t.state {
			if st == stepCounted {
				t.state[id] = stepOver
				t.clock.Leave()
			}
		}
	}
}

// countReady counts the pending steps that the engine will start now.
func (t *stepTracker) countReady() {
	for _, s := range t.rb.Steps {
		if t.state[s.ID] != stepPending || !t.ready(s) {
			continue
		}
		t.state[s.ID] = stepCounted
		t.clock.Enter()
	}
}

// ready is the engine's rule: dependencies done, no lower tier running
// or pending.
func (t *stepTracker) ready(s runbook.Step) bool {
	for _, d := range s.DependsOn {
		if t.state[d] != stepDone {
			return false
		}
	}
	for _, m := range t.rb.Steps {
		if m.Tier < s.Tier {
			if st := t.state[m.ID]; st == stepPending || st == stepCounted {
				return false
			}
		}
	}
	return true
}
