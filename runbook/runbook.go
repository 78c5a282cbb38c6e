// Package runbook is the recovery engine: it runs a runbook, a graph of steps
// in priority tiers with dependencies, in parallel up to a bound, through
// per-API rate limiters, retrying by error class, with a durable journal that
// lets an interrupted run resume without repeating finished work, and reports
// the time of every step and tier (the measured RTO).
package runbook

import (
	"context"
	"errors"
	"fmt"
	"sort"
)

// Output is what a step reports, recorded in the journal and handed to the
// steps that depend on it.
type Output map[string]string

// Step is one unit of work in a runbook.
type Step struct {
	// ID names the step, unique in the runbook.
	ID string
	// Tier orders steps by priority: no step of tier T starts before every
	// step of a lower tier has finished.
	Tier int
	// DependsOn lists the IDs of steps that must be done before this one starts.
	DependsOn []string
	// API is the limiter key of the provider call the step makes, e.g.
	// "ec2:RunInstances"; empty means not rate limited.
	API string
	// Mutating steps change the world: the journal is fsync'd before and after.
	Mutating bool
	// Describe says what the step does, for dry runs and progress.
	Describe string
	// Run does the work. It must honour ctx and use sc.Key() as the
	// idempotency key of any mutating call.
	Run func(ctx context.Context, sc *StepContext) (Output, error)
	// Fallback is called on a capacity error with the fallback attempt
	// (1, 2, ...); it switches the step to its next option and returns false
	// when none is left. Optional.
	Fallback func(attempt int) bool
}

// Runbook is a named graph of steps.
type Runbook struct {
	Name  string
	Steps []Step
}

// ErrInvalid is wrapped by every Validate error.
var ErrInvalid = errors.New("invalid runbook")

// Validate checks that step IDs are unique and non-empty, every step has a
// Run function, dependencies are known, there is no cycle, and no step
// depends on a step of a later tier.
func (rb Runbook) Validate() error {
	fail := func(id, format string, a ...any) error {
		return fmt.Errorf("runbook: validate %s: step %q: %s: %w", rb.Name, id, fmt.Sprintf(format, a...), ErrInvalid)
	}
	byID := make(map[string]*Step, len(rb.Steps))
	for i := range rb.Steps {
		s := &rb.Steps[i]
		if s.ID == "" {
			return fail("", "step %d has no ID", i)
		}
		if _, dup := byID[s.ID]; dup {
			return fail(s.ID, "duplicate ID")
		}
		if s.Run == nil {
			return fail(s.ID, "no Run function")
		}
		byID[s.ID] = s
	}
	for _, s := range rb.Steps {
		for _, d := range s.DependsOn {
			dep, ok := byID[d]
			if !ok {
				return fail(s.ID, "unknown dependency %q", d)
			}
			if dep.Tier > s.Tier {
				return fail(s.ID, "depends on %q of later tier %d (own tier %d)", d, dep.Tier, s.Tier)
			}
		}
	}
	// Cycle detection by depth-first search with colours.
	const (
		white = iota
		grey
		black
	)
	colour := make(map[string]int, len(rb.Steps))
	var visit func(id string) error
	visit = func(id string) error {
		colour[id] = grey
		for _, d := range byID[id].DependsOn {
			switch colour[d] {
			case grey:
				return fail(id, "dependency cycle through %q", d)
			case white:
				if err := visit(d); err != nil {
					return err
				}
			}
		}
		colour[id] = black
		return nil
	}
	for _, s := range rb.Steps {
		if colour[s.ID] == white {
			if err := visit(s.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// Wave is a set of steps that can run together: same tier, all dependencies
// in earlier waves.
type Wave struct {
	Tier  int      `json:"tier"`
	Steps []string `json:"steps"`
}

// Plan returns the order in which the runbook would run: tiers ascending,
// each split into waves of steps whose dependencies are in earlier waves.
// Steps keep their runbook order inside a wave.
func Plan(rb Runbook) ([]Wave, error) {
	if err := rb.Validate(); err != nil {
		return nil, err
	}
	tiers := map[int][]Step{}
	for _, s := range rb.Steps {
		tiers[s.Tier] = append(tiers[s.Tier], s)
	}
	keys := make([]int, 0, len(tiers))
	for t := range tiers {
		keys = append(keys, t)
	}
	sort.Ints(keys)
	placed := map[string]bool{}
	var waves []Wave
	for _, t := range keys {
		left := tiers[t]
		for len(left) > 0 {
			w := Wave{Tier: t}
			var rest []Step
			for _, s := range left {
				ready := true
				for _, d := range s.DependsOn {
					if !placed[d] {
						ready = false
						break
					}
				}
				if ready {
					w.Steps = append(w.Steps, s.ID)
				} else {
					rest = append(rest, s)
				}
			}
			for _, id := range w.Steps {
				placed[id] = true
			}
			waves = append(waves, w)
			left = rest
		}
	}
	return waves, nil
}
