package drill

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/recovery"
	"github.com/pilotlight/pilotlight/report"
	"github.com/pilotlight/pilotlight/runbook"
)

// KindDNSNotSwitched is the event of an isolated drill that says the DNS
// records clients use were left alone.
const KindDNSNotSwitched = "dns-not-switched"

// IsolatedOptions are the parts of an isolated drill: a recovery in the
// recovery region that production never sees.
type IsolatedOptions struct {
	// ID is the drill ID: the run ID of the runbook and the tag of what it
	// creates. Required.
	ID string
	// Plan drilled. Required.
	Plan *plan.Plan
	// Provider recovers the plan; it must implement recovery.Smoke and
	// tag what it creates with ID. Required.
	Provider recovery.Provider
	// Extend, when set, adds provider steps to the runbook (database and
	// volume restores of provider/aws, for example).
	Extend func(rb *runbook.Runbook) error
	// Fault is the fault in place during the drill (api-throttle), for the
	// report; Kind "" reports "none".
	Fault report.Fault
	// Engine configures the runbook engine (its Clock times the drill).
	Engine runbook.Options
	// HealthyTimeout and Poll shape the runbook's waits (recovery.Options).
	HealthyTimeout, Poll time.Duration
	// Teardown deletes everything the drill created and returns what it
	// removed. It is always called, also when ctx is cancelled (with a
	// context that is not). Required.
	Teardown func(ctx context.Context) ([]string, error)
	// Progress receives one line per drill phase (nil: none).
	Progress func(format string, a ...any)
}

// Isolated runs an isolated drill: the plan's failover runbook built with
// recovery.Options.Isolated (no fence, sync, promotion or DNS switch;
// smoke checks of the recovered load balancers), then the teardown,
// always. The RTO is from the drill's start to the end of the runbook,
// whose last steps are the smoke checks; the RPO is not measured (no
// traffic). The report is filled as far as the drill got, also on error.
func Isolated(ctx context.Context, o IsolatedOptions) (report.Drill, runbook.Result, error) {
	if o.Progress == nil {
		o.Progress = func(string, ...any) {}
	}
	clock := o.Engine.Clock
	if clock == nil {
		clock = wallClock{}
	}
	d := NewIsolatedReport(o.ID, o.Plan, o.Fault, clock.Now())
	res, runErr := runIsolated(ctx, o)
	o.Progress("tearing down everything tagged with drill %s", o.ID)
	removed, tdErr := o.Teardown(context.WithoutCancel(ctx))
	if tdErr != nil {
		tdErr = fmt.Errorf("drill: teardown %s: %w", o.ID, tdErr)
	}
	FillIsolated(&d, res, runErr, removed, tdErr, clock.Now())
	return d, res, errors.Join(runErr, tdErr)
}

// FillIsolated completes the report d of an isolated drill that started
// at d.Started from the runbook's result and the teardown's: the timeline
// (start, tiers, the smoke checks passing, teardown), the RTO (start → end
// of the runbook, whose last steps are the smoke checks; per tier), the
// steps, the cleanup and the verdict. The simulator fills its drills'
// reports with it too.
func FillIsolated(d *report.Drill, res runbook.Result, runErr error, removed []string, tdErr error, ended time.Time) {
	start := d.Started
	event := func(at time.Time, kind, msg string) {
		d.Events = append(d.Events, report.Event{Time: at, Kind: kind, Message: msg})
	}
	event(start, report.KindFault, "isolated drill started: recovery in "+d.Recovery+" beside production")
	event(start, report.KindDeclared, "drill declared")
	event(start, KindDNSNotSwitched, "DNS not switched (isolated): production traffic stays in "+d.Primary)
	for _, t := range res.Tiers {
		name := recovery.TierName(t.Tier)
		if !t.Started.IsZero() {
			d.Events = append(d.Events, report.TierEvent(t.Started, report.KindTierStarted, t.Tier, name+" started"))
		}
		if !t.Ended.IsZero() {
			d.Events = append(d.Events, report.TierEvent(t.Ended, report.KindTierDone, t.Tier, name+" done"))
		}
		d.RTO.Tiers = append(d.RTO.Tiers, report.TierTime{Tier: t.Tier, Name: name, Seconds: t.Seconds})
	}
	for _, s := range res.Steps {
		d.Steps = append(d.Steps, report.Step{ID: s.ID, Tier: s.Tier, State: string(s.State), Attempts: s.Attempts, Seconds: s.Seconds, Error: s.Err})
	}
	recovered := runErr == nil && !res.Ended.IsZero()
	if recovered {
		d.RTO.Runbook = res.Ended.Sub(start).Seconds()
		d.RTO.Seconds = d.RTO.Runbook
		event(res.Ended, report.KindRecovered, "every smoke check of the recovered endpoints passed")
	} else {
		d.RTO.Seconds = ended.Sub(start).Seconds()
	}
	d.Cleanup = report.Cleanup{OK: tdErr == nil, Removed: removed}
	msg := fmt.Sprintf("removed %d resources tagged with the drill ID", len(removed))
	if tdErr != nil {
		msg += ": " + tdErr.Error()
	}
	event(ended, report.KindTeardown, msg)
	sort.SliceStable(d.Events, func(i, j int) bool { return d.Events[i].Time.Before(d.Events[j].Time) })
	d.RPO.NotMeasured = "an isolated drill sends no synthetic writes; the age of its recovery points is what 'pilotlight readiness' checks"
	d.Verdict = report.Judge(d.Objectives, d.RTO.Seconds, 0)
	if !recovered {
		d.Verdict = report.Verdict{Failures: []report.Failure{{Objective: report.ObjectiveRTO, Target: d.Objectives.RTOSeconds, Measured: d.RTO.Seconds,
			Message: fmt.Sprintf("the isolated recovery did not complete (%.3fs after the start)", d.RTO.Seconds)}}}
	}
	d.Ended = ended
}

// NewIsolatedReport returns the report of isolated drill id of p, started
// at start with fault in place, for FillIsolated.
func NewIsolatedReport(id string, p *plan.Plan, fault report.Fault, start time.Time) report.Drill {
	if fault.Kind == "" {
		fault = report.Fault{Kind: "none", Description: "no fault: an isolated recovery"}
	}
	return report.Drill{
		ID: id, Plan: p.Name, Strategy: string(p.Strategy), Mode: report.ModeDeclared, Fault: fault,
		Primary: p.Regions.Primary.Name, Recovery: p.Regions.Recovery.Name, Started: start,
		Objectives: report.Objectives{RTOSeconds: p.Objectives.RTO.D().Seconds(), RPOSeconds: p.Objectives.RPO.D().Seconds()},
		Events:     []report.Event{}, Traffic: []report.Sample{}, Steps: []report.Step{},
	}
}

// wallClock is the runbook clock of a drill without one.
type wallClock struct{}

func (wallClock) Now() time.Time                         { return time.Now() }
func (wallClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// runIsolated builds and runs the isolated runbook.
func runIsolated(ctx context.Context, o IsolatedOptions) (runbook.Result, error) {
	rb, err := recovery.Build(o.Plan, o.Provider, recovery.Options{Direction: recovery.Failover, Mode: recovery.Ungraceful,
		Isolated: true, DrillID: o.ID, HealthyTimeout: o.HealthyTimeout, Poll: o.Poll})
	if err != nil {
		return runbook.Result{}, fmt.Errorf("drill: %w", err)
	}
	if o.Extend != nil {
		if err := o.Extend(&rb); err != nil {
			return runbook.Result{}, fmt.Errorf("drill: %w", err)
		}
	}
	eo := o.Engine
	eng, err := runbook.New(eo)
	if err != nil {
		return runbook.Result{}, err
	}
	o.Progress("isolated recovery of %s in %s started (%d steps; DNS is not switched)", o.Plan.Name, o.Plan.Regions.Recovery.Name, len(rb.Steps))
	res, err := eng.Run(ctx, rb, o.ID)
	if err != nil {
		return res, fmt.Errorf("drill: isolated runbook: %w", err)
	}
	return res, nil
}
