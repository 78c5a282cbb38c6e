package runbook

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Clock is the engine's source of time, injected so that tests and the
// simulator can run in virtual time.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Limit is a token bucket for one provider API.
type Limit struct {
	// Rate is the refill rate in calls per second; fractions are allowed.
	Rate float64
	// Burst is the bucket size (default 1).
	Burst int
}

// Backoff is the retry policy for throttled and transient errors: the n-th
// retry waits a random time in [d/2, d], d = min(Max, Initial·2^(n-1)).
type Backoff struct {
	// Initial is the first delay (default 200ms).
	Initial time.Duration
	// Max caps the delay (default 20s).
	Max time.Duration
	// Attempts is the most Run calls per step for retryable errors (default 5).
	Attempts int
}

// Non-interactive failure policies (Options.OnFailure).
const (
	OnFailureAbort = "abort"
	OnFailureSkip  = "skip"
	OnFailureRetry = "retry"
)

// Options configure an Engine.
type Options struct {
	// Concurrency bounds the steps running at once (default 8).
	Concurrency int
	// Limits maps a step's API to its token bucket; APIs not listed are not limited.
	Limits map[string]Limit
	// Backoff is the retry policy for throttled and transient errors.
	Backoff Backoff
	// OnFailure is the policy when a step fails after its retries: "abort"
	// (default) stops the run, "skip" skips the step and its dependents,
	// "retry" re-runs the step up to Retries more times, then aborts.
	OnFailure string
	// Retries is the number of re-runs under OnFailure "retry" (default 2).
	Retries int
	// Decide, when set, is asked on every failed step (after its retries)
	// and returns "abort", "skip" or "retry" (unbounded); it is how an
	// operator pauses the run and chooses. It overrides OnFailure.
	Decide func(ctx context.Context, stepID string, err error) string
	// Journal is the path of the run's journal; "" keeps none.
	Journal string
	// Clock is the source of time (default the wall clock).
	Clock Clock
	// Logger receives step start/end lines (nil discards).
	Logger *slog.Logger
	// DryRun plans the run and runs nothing.
	DryRun bool
	// Observer, when set, is called for every Event of a run (see
	// EventKind). Calls are serialised and synchronous: the engine waits
	// for it, so it must be cheap and must not block.
	Observer func(Event)
}

// Engine runs runbooks. Its limiters are shared by all runs of the engine.
type Engine struct {
	o        Options
	log      *slog.Logger
	mu       sync.Mutex
	limiters map[string]*rate.Limiter
}

// New returns an Engine with defaults filled in.
func New(o Options) (*Engine, error) {
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.Backoff.Initial <= 0 {
		o.Backoff.Initial = 200 * time.Millisecond
	}
	if o.Backoff.Max <= 0 {
		o.Backoff.Max = 20 * time.Second
	}
	if o.Backoff.Max < o.Backoff.Initial {
		o.Backoff.Max = o.Backoff.Initial
	}
	if o.Backoff.Attempts <= 0 {
		o.Backoff.Attempts = 5
	}
	switch o.OnFailure {
	case "":
		o.OnFailure = OnFailureAbort
	case OnFailureAbort, OnFailureSkip, OnFailureRetry:
	default:
		return nil, fmt.Errorf("runbook: new engine: on-failure %q: want abort, skip or retry", o.OnFailure)
	}
	if o.Retries <= 0 {
		o.Retries = 2
	}
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	e := &Engine{o: o, log: log.With("component", "runbook"), limiters: map[string]*rate.Limiter{}}
	for api, l := range o.Limits {
		if l.Rate <= 0 {
			return nil, fmt.Errorf("runbook: new engine: limit %s: rate %v must be > 0", api, l.Rate)
		}
		if l.Burst <= 0 {
			l.Burst = 1
		}
		e.limiters[api] = rate.NewLimiter(rate.Limit(l.Rate), l.Burst)
	}
	return e, nil
}

// Run executes rb as run runID. A step starts when the steps it depends on
// are done and every step of a lower tier has finished; independent steps
// run in parallel up to Options.Concurrency. With a journal, Run first reads
// it: steps recorded done for runID are not run again (their outputs are
// restored), steps started but not finished are run again with the same
// idempotency key. Cancelling ctx stops new steps from starting, waits for
// running ones and returns ctx's error. The Result is valid even with an
// error.
func (e *Engine) Run(ctx context.Context, rb Runbook, runID string) (Result, error) {
	res := Result{RunID: runID, Runbook: rb.Name, DryRun: e.o.DryRun}
	if err := rb.Validate(); err != nil {
		return res, err
	}
	if e.o.DryRun {
		waves, _ := Plan(rb)
		res.Plan = waves
		for _, s := range rb.Steps {
			res.Steps = append(res.Steps, StepResult{ID: s.ID, Tier: s.Tier, State: StatePlanned})
		}
		now := e.o.Clock.Now()
		res.summarize(now, now)
		return res, nil
	}
	r := &run{e: e, rb: rb, id: runID, log: e.log.With("run", runID), obs: &observer{fn: e.o.Observer}}
	if e.o.Journal != "" {
		j, hist, err := openJournal(e.o.Journal, runID)
		if err != nil {
			return res, err
		}
		defer j.close()
		r.j, r.hist = j, hist
	}
	return r.execute(ctx, res)
}

// limiter returns the limiter of api, or nil when it is not limited.
func (e *Engine) limiter(api string) *rate.Limiter {
	if api == "" {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.limiters[api]
}
