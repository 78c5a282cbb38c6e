package runbook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"github.com/pilotlight/pilotlight/backoff"
)

// StepContext is what a running step knows about itself.
type StepContext struct {
	runbook, runID, stepID string
	attempt                int
	inputs                 map[string]Output
	log                    *slog.Logger
	clock                  Clock
}

// Key is the step's idempotency key, derived from the runbook name, run ID
// and step ID only: the same on every attempt and after a resume. Providers
// use it as a client token or resource tag so that nothing is created twice.
func (sc *StepContext) Key() string { return StepKey(sc.runbook, sc.runID, sc.stepID) }

// StepKey returns the idempotency key of a step (32 hex characters).
func StepKey(runbook, runID, stepID string) string {
	h := sha256.Sum256([]byte(runbook + "\x00" + runID + "\x00" + stepID))
	return hex.EncodeToString(h[:16])
}

// StepID is the ID of the running step.
func (sc *StepContext) StepID() string { return sc.stepID }

// RunID is the ID of the run.
func (sc *StepContext) RunID() string { return sc.runID }

// Attempt is the number of this call of the step's Run, from 1, counting
// attempts of earlier runs recorded in the journal.
func (sc *StepContext) Attempt() int { return sc.attempt }

// Input returns the output of dependency id (nil if id is not a dependency).
func (sc *StepContext) Input(id string) Output { return sc.inputs[id] }

// Logger returns the engine's logger with the run and step attached.
func (sc *StepContext) Logger() *slog.Logger { return sc.log }

// Clock returns the engine's clock: steps that wait do so on it, so that
// they run in virtual time under the simulator and in tests.
func (sc *StepContext) Clock() Clock { return sc.clock }

// exec runs one step to its end: attempts with retries by class, then
// re-runs as the failure policy says. It runs on its own goroutine.
func (r *run) exec(ctx context.Context, n *node) outcome {
	clock := r.e.o.Clock
	o := outcome{n: n, res: StepResult{ID: n.step.ID, Tier: n.step.Tier, Started: clock.Now()}}
	inputs := make(map[string]Output, len(n.step.DependsOn))
	for _, d := range n.step.DependsOn {
		inputs[d] = r.byID[d].output // written before n became ready
	}
	r.log.Info("step started", "step", n.step.ID, "tier", n.step.Tier)
	r.event(EventStepStarted, n, n.attempt+1, nil, "")
	for rerun := 0; ; rerun++ {
		o.out, o.err = r.attempts(ctx, n, inputs, &o.res.Attempts)
		if o.err == nil {
			break
		}
		if ctx.Err() != nil {
			o.cancelled = true
			break
		}
		o.decision = r.e.o.OnFailure
		if r.e.o.Decide != nil {
			o.decision = r.e.o.Decide(ctx, n.step.ID, o.err)
		} else if o.decision == OnFailureRetry && rerun >= r.e.o.Retries {
			o.decision = OnFailureAbort
		}
		if o.decision != OnFailureRetry {
			break
		}
		r.log.Warn("step failed, retrying", "step", n.step.ID, "err", o.err)
		r.event(EventRetrying, n, n.attempt, o.err, fmt.Sprintf("class=%s rerun=%d", Classify(o.err), rerun+1))
	}
	o.res.Ended = clock.Now()
	o.res.Seconds = o.res.Ended.Sub(o.res.Started).Seconds()
	o.res.Output = o.out
	if o.err != nil {
		o.res.Err = o.err.Error()
	}
	return o
}

// attempts calls the step's Run until it succeeds, retrying throttled and
// transient errors with backoff and capacity errors through the Fallback.
func (r *run) attempts(ctx context.Context, n *node, inputs map[string]Output, count *int) (Output, error) {
	s := n.step
	retries, fallbacks := 0, 0
	for {
		if err := r.wait(ctx, s.API); err != nil {
			return nil, err
		}
		n.attempt++
		*count++
		sc := &StepContext{runbook: r.rb.Name, runID: r.id, stepID: s.ID, attempt: n.attempt, inputs: inputs,
			log: r.log.With("step", s.ID, "attempt", n.attempt), clock: r.e.o.Clock}
		rec := record{Run: r.id, Step: s.ID, Key: sc.Key(), Attempt: n.attempt}
		if s.Mutating {
			rec.Time, rec.Event = r.e.o.Clock.Now(), eventStart
			if err := r.j.write(rec); err != nil {
				return nil, err
			}
		}
		out, err := s.Run(ctx, sc)
		rec.Time = r.e.o.Clock.Now()
		if err == nil {
			rec.Event, rec.Output = eventDone, out
			if jerr := r.j.write(rec); jerr != nil {
				return nil, jerr
			}
			return out, nil
		}
		if s.Mutating {
			rec.Event, rec.Err = eventFailed, err.Error()
			if jerr := r.j.write(rec); jerr != nil {
				return nil, jerr
			}
		}
		if ctx.Err() != nil {
			return nil, err
		}
		class := Classify(err)
		switch {
		case class.retryable() && retries+1 < r.e.o.Backoff.Attempts:
			retries++
			d := r.e.backoff(retries)
			sc.log.Info("step retrying", "class", class, "delay", d, "err", err)
			r.event(EventRetrying, n, n.attempt, err, fmt.Sprintf("class=%s delay=%s", class, d))
			select {
			case <-r.e.o.Clock.After(d):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		case class == ClassCapacity && s.Fallback != nil:
			fallbacks++
			if !s.Fallback(fallbacks) {
				return nil, fmt.Errorf("no fallback left after %d: %w", fallbacks-1, err)
			}
			sc.log.Info("step falling back", "fallback", fallbacks, "err", err)
			r.event(EventFallingBack, n, n.attempt, err, fmt.Sprintf("fallback=%d", fallbacks))
		default:
			return nil, err
		}
	}
}

// backoff returns the delay before retry n (from 1): uniform in [d/2, d],
// d = min(Max, Initial·2^(n-1)).
func (e *Engine) backoff(n int) time.Duration {
	return backoff.Equal(e.o.Backoff.Initial, e.o.Backoff.Max, n)
}

// wait takes a token from api's limiter, waiting on the engine's clock.
func (r *run) wait(ctx context.Context, api string) error {
	lim := r.e.limiter(api)
	if lim == nil {
		return nil
	}
	now := r.e.o.Clock.Now()
	res := lim.ReserveN(now, 1)
	if !res.OK() {
		return fmt.Errorf("runbook: limiter %s: burst exceeded", api)
	}
	d := res.DelayFrom(now)
	if d <= 0 {
		return nil
	}
	select {
	case <-r.e.o.Clock.After(d):
		return nil
	case <-ctx.Done():
		res.CancelAt(r.e.o.Clock.Now())
		return ctx.Err()
	}
}
