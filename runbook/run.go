package runbook

import (
	"context"
	"fmt"
	"log/slog"
)

// run is the state of one Run call.
type run struct {
	e    *Engine
	rb   Runbook
	id   string
	log  *slog.Logger
	j    *journal
	hist map[string]stepHistory
	obs  *observer

	nodes []*node
	byID  map[string]*node
}

// node is a step and its progress. Only the scheduler goroutine touches
// state and res; a step's goroutine owns attempt while it runs.
type node struct {
	step    *Step
	state   State // "" pending, "running", or a final State
	res     StepResult
	attempt int // attempts so far, including earlier runs in the journal
	output  Output
}

const stateRunning State = "running"

// finalEvent maps a step's final state to its event.
var finalEvent = map[State]EventKind{
	StateDone:      EventDone,
	StateFailed:    EventFailed,
	StateSkipped:   EventSkipped,
	StateCancelled: EventCancelled,
	StateResumed:   EventResumed,
}

// outcome is what a step's goroutine reports back to the scheduler.
type outcome struct {
	n         *node
	out       Output
	err       error
	decision  string
	cancelled bool
	res       StepResult
}

// event reports an event of step n (nil for the run) to the observer.
func (r *run) event(kind EventKind, n *node, attempt int, err error, detail string) {
	if r.obs == nil || r.obs.fn == nil {
		return
	}
	ev := Event{Time: r.e.o.Clock.Now(), Kind: kind, Run: r.id, Attempt: attempt, Detail: detail}
	if n != nil {
		ev.Step, ev.Tier = n.step.ID, n.step.Tier
	}
	if err != nil {
		ev.Err = err.Error()
	}
	r.obs.emit(ev)
}

func (r *run) execute(ctx context.Context, res Result) (Result, error) {
	clock := r.e.o.Clock
	started := clock.Now()
	r.event(EventRunStarted, nil, 0, nil, r.rb.Name)
	r.byID = make(map[string]*node, len(r.rb.Steps))
	for i := range r.rb.Steps {
		s := &r.rb.Steps[i]
		n := &node{step: s, res: StepResult{ID: s.ID, Tier: s.Tier}}
		if h, ok := r.hist[s.ID]; ok {
			n.attempt = h.attempt
			if h.last == eventDone {
				n.state, n.output = StateResumed, h.output
				n.res.State, n.res.Output = StateResumed, h.output
			}
		}
		r.nodes = append(r.nodes, n)
		r.byID[s.ID] = n
		if n.state == StateResumed {
			r.event(EventResumed, n, n.attempt, nil, "")
		}
	}

	results := make(chan outcome)
	running := 0
	stop := false
	var runErr error
	ctxDone := ctx.Done()
	for {
		if !stop {
			r.skipOrphans()
			for _, n := range r.nodes {
				if running >= r.e.o.Concurrency {
					break
				}
				if n.state == "" && r.ready(n) {
					n.state = stateRunning
					running++
					go func() { results <- r.exec(ctx, n) }()
				}
			}
		}
		if running == 0 {
			break
		}
		select {
		case o := <-results:
			running--
			if err := r.finish(o); err != nil && runErr == nil {
				runErr, stop = err, true
			}
		case <-ctxDone:
			stop, ctxDone = true, nil
		}
	}
	if runErr == nil && ctx.Err() != nil {
		runErr = ctx.Err()
	}
	for _, n := range r.nodes {
		if n.state == "" {
			n.state, n.res.State = StateCancelled, StateCancelled
			r.event(EventCancelled, n, 0, nil, "not started")
		}
		res.Steps = append(res.Steps, n.res)
	}
	if runErr == nil {
		for _, n := range r.nodes {
			if n.state == StateCancelled {
				runErr = fmt.Errorf("runbook: run %s: step %s could not start", r.id, n.step.ID)
				break
			}
		}
	}
	res.summarize(started, clock.Now())
	r.event(EventRunEnded, nil, 0, runErr, fmt.Sprintf("%.1fs", res.Seconds))
	return res, runErr
}

// ready reports whether every dependency of n is done and every step of a
// lower tier has finished.
func (r *run) ready(n *node) bool {
	for _, d := range n.step.DependsOn {
		if s := r.byID[d].state; s != StateDone && s != StateResumed {
			return false
		}
	}
	for _, m := range r.nodes {
		if m.step.Tier < n.step.Tier && (m.state == "" || m.state == stateRunning) {
			return false
		}
	}
	return true
}

// skipOrphans marks skipped every pending step with a skipped dependency.
func (r *run) skipOrphans() {
	for changed := true; changed; {
		changed = false
		for _, n := range r.nodes {
			if n.state != "" {
				continue
			}
			for _, d := range n.step.DependsOn {
				if r.byID[d].state == StateSkipped {
					n.state, n.res.State = StateSkipped, StateSkipped
					n.res.Err = fmt.Sprintf("dependency %s skipped", d)
					r.event(EventSkipped, n, 0, nil, n.res.Err)
					changed = true
					break
				}
			}
		}
	}
}

// finish records a step's outcome and returns the run's error if it must stop.
func (r *run) finish(o outcome) error {
	n := o.n
	n.res = o.res
	switch {
	case o.err == nil:
		n.state, n.output = StateDone, o.out
	case o.cancelled:
		n.state = StateCancelled
	case o.decision == OnFailureSkip:
		n.state = StateSkipped
	default:
		n.state = StateFailed
	}
	n.res.State = n.state
	r.event(finalEvent[n.state], n, n.attempt, o.err, "")
	r.log.Info("step ended", "step", n.step.ID, "state", n.state, "attempts", n.res.Attempts, "seconds", n.res.Seconds)
	if n.state == StateFailed {
		return fmt.Errorf("runbook: run %s: step %s: %w", r.id, n.step.ID, o.err)
	}
	return nil
}
