package runbook

import (
	"sort"
	"time"
)

// State is the outcome of a step.
type State string

// Step states.
const (
	// StateDone: the step ran and succeeded in this run.
	StateDone State = "done"
	// StateFailed: the step failed after its retries and the run aborted.
	StateFailed State = "failed"
	// StateSkipped: the step failed under the skip policy, or a dependency was skipped.
	StateSkipped State = "skipped"
	// StateCancelled: the step did not finish because the run was cancelled or aborted.
	StateCancelled State = "cancelled"
	// StateResumed: the journal of an earlier attempt of the run says the step is done.
	StateResumed State = "resumed"
	// StatePlanned: dry run; the step would run.
	StatePlanned State = "planned"
)

// StepResult records one step of a run. Times come from the engine's clock:
// Started is when the step was launched (limiter waits and backoff count),
// Ended when its last attempt returned; a step that did not run in this run
// (resumed, skipped, cancelled before start) has zero times.
type StepResult struct {
	ID       string    `json:"id"`
	Tier     int       `json:"tier"`
	State    State     `json:"state"`
	Attempts int       `json:"attempts"`
	Started  time.Time `json:"started,omitzero"`
	Ended    time.Time `json:"ended,omitzero"`
	Seconds  float64   `json:"seconds"`
	Err      string    `json:"error,omitempty"`
	Output   Output    `json:"output,omitempty"`
}

// TierResult spans the steps of a tier that ran in this run: from the first
// start to the last end.
type TierResult struct {
	Tier    int       `json:"tier"`
	Started time.Time `json:"started,omitzero"`
	Ended   time.Time `json:"ended,omitzero"`
	Seconds float64   `json:"seconds"`
}

// Result is the record of a run: the measured RTO is Seconds.
type Result struct {
	RunID   string       `json:"runId"`
	Runbook string       `json:"runbook"`
	DryRun  bool         `json:"dryRun,omitempty"`
	Started time.Time    `json:"started"`
	Ended   time.Time    `json:"ended"`
	Seconds float64      `json:"seconds"`
	Steps   []StepResult `json:"steps"`
	Tiers   []TierResult `json:"tiers"`
	// Plan is the order of a dry run: tiers and waves.
	Plan []Wave `json:"plan,omitempty"`
}

// Step returns the result of the step with the given ID.
func (r Result) Step(id string) (StepResult, bool) {
	for _, s := range r.Steps {
		if s.ID == id {
			return s, true
		}
	}
	return StepResult{}, false
}

// summarize fills the tier spans and total duration from the step results.
func (r *Result) summarize(started, ended time.Time) {
	r.Started, r.Ended = started, ended
	r.Seconds = ended.Sub(started).Seconds()
	byTier := map[int]*TierResult{}
	for _, s := range r.Steps {
		t, ok := byTier[s.Tier]
		if !ok {
			t = &TierResult{Tier: s.Tier}
			byTier[s.Tier] = t
		}
		if s.Started.IsZero() {
			continue
		}
		if t.Started.IsZero() || s.Started.Before(t.Started) {
			t.Started = s.Started
		}
		if s.Ended.After(t.Ended) {
			t.Ended = s.Ended
		}
	}
	r.Tiers = r.Tiers[:0]
	for _, t := range byTier {
		if !t.Started.IsZero() {
			t.Seconds = t.Ended.Sub(t.Started).Seconds()
		}
		r.Tiers = append(r.Tiers, *t)
	}
	sort.Slice(r.Tiers, func(i, j int) bool { return r.Tiers[i].Tier < r.Tiers[j].Tier })
}
