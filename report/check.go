package report

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// tolerance is how far a reported figure may be from its timeline.
const tolerance = time.Millisecond

// Check verifies that d agrees with its own timeline: events are sorted by
// time; there is one fault event; RTO.Seconds is the "recovered" event's
// offset from the fault and RTO.Detection the "detected" event's, both
// within a millisecond (and so are Declare and DNSSwitch when those events
// exist); without a "recovered" event the verdict fails on rto; and the verdict is
// the one Judge gives for the objectives and the measured RTO and RPO. It
// returns every inconsistency, joined.
func (d Drill) Check() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("report: check %s: "+format, append([]any{d.ID}, args...)...))
	}
	if !slices.IsSortedFunc(d.Events, func(a, b Event) int { return a.Time.Compare(b.Time) }) {
		bad("events are not sorted by time")
	}
	if !slices.IsSortedFunc(d.Traffic, func(a, b Sample) int { return a.Time.Compare(b.Time) }) {
		bad("traffic samples are not sorted by time")
	}
	faults := d.count(KindFault)
	if faults != 1 {
		bad("%d fault events, want 1", faults)
		return errors.Join(errs...)
	}
	fault, _ := d.first(KindFault)
	part := func(kind, name string, got float64, required bool) {
		at, ok := d.first(kind)
		if !ok {
			if required {
				bad("no %q event for %s %s", kind, name, secs(got))
			}
			return
		}
		want := at.Sub(fault).Seconds()
		if math.Abs(got-want) > tolerance.Seconds() {
			bad("%s is %s, but the %q event is at +%s", name, secs(got), kind, secs(want))
		}
	}
	// A fault the service absorbs (no failover) has no detection: 0.
	part(KindDetected, "rto.detection", d.RTO.Detection, d.RTO.Detection != 0)
	part(KindDeclared, "rto.declare", d.RTO.Declare, d.Mode == ModeDeclared)
	part(KindDNSSwitched, "rto.dnsSwitch", d.RTO.DNSSwitch, false)
	_, recovered := d.first(KindRecovered)
	if recovered {
		part(KindRecovered, "rto.seconds", d.RTO.Seconds, true)
	} else if d.Verdict.Pass {
		bad("verdict passes, but there is no %q event", KindRecovered)
	}

	want := Judge(d.Objectives, d.RTO.Seconds, d.RPO.SpanSeconds)
	if !recovered {
		want.Pass = false
	}
	if d.Verdict.Pass != want.Pass {
		bad("verdict pass is %t, objectives vs measured say %t", d.Verdict.Pass, want.Pass)
	}
	got := make(map[string]Failure, len(d.Verdict.Failures))
	for _, f := range d.Verdict.Failures {
		got[f.Objective] = f
	}
	if _, ok := got[ObjectiveRTO]; !recovered && !ok {
		bad("the service did not recover, but the verdict has no rto failure")
	}
	for _, w := range want.Failures {
		g, ok := got[w.Objective]
		switch {
		case !ok:
			bad("verdict lacks the %s failure: %s", w.Objective, w.Message)
		case !near(g.Target, w.Target) || !near(g.Measured, w.Measured) || !near(g.Over, w.Over):
			bad("%s failure says %s over %s, measured %s over %s", w.Objective,
				secs(g.Measured), secs(g.Target), secs(w.Measured), secs(w.Target))
		}
		delete(got, w.Objective)
	}
	for name := range got {
		if name != ObjectiveRTO || recovered {
			bad("verdict fails %s, but it is within its objective", name)
		}
	}
	return errors.Join(errs...)
}

// near reports whether two second counts agree within the tolerance.
func near(a, b float64) bool { return math.Abs(a-b) <= tolerance.Seconds() }

// count returns how many events are of kind.
func (d Drill) count(kind string) int {
	n := 0
	for _, e := range d.Events {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

// first returns the time of the first event of kind.
func (d Drill) first(kind string) (time.Time, bool) {
	for _, e := range d.Events {
		if e.Kind == kind {
			return e.Time, true
		}
	}
	return time.Time{}, false
}

// FaultTime returns the time of the fault event, or Started when there is
// none.
func (d Drill) FaultTime() time.Time {
	if t, ok := d.first(KindFault); ok {
		return t
	}
	return d.Started
}
