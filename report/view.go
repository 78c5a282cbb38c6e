package report

import (
	"cmp"
	"fmt"
	"slices"
)

// objectiveRow is one objective against its measurement, for every format.
type objectiveRow struct {
	Name     string // "rto" or "rpo"
	Target   float64
	Measured float64
	Failure  *Failure // nil when the objective was met
	// NotMeasured: the drill did not measure it (not judged).
	NotMeasured bool
}

// Pass reports whether the objective was met.
func (o objectiveRow) Pass() bool { return o.Failure == nil }

// Result is "PASS" or "FAIL (over by 2.3s)".
func (o objectiveRow) Result() string {
	if o.NotMeasured {
		return "NOT MEASURED"
	}
	if o.Failure == nil {
		return "PASS"
	}
	return "FAIL (over by " + secs(o.Failure.Over) + ")"
}

// objectiveRows pairs the objectives with their measurements and the
// verdict's failures.
func (d Drill) objectiveRows() []objectiveRow {
	rows := []objectiveRow{
		{Name: ObjectiveRTO, Target: d.Objectives.RTOSeconds, Measured: d.RTO.Seconds},
		{Name: ObjectiveRPO, Target: d.Objectives.RPOSeconds, Measured: d.RPO.SpanSeconds, NotMeasured: d.RPO.NotMeasured != ""},
	}
	for i := range rows {
		for j := range d.Verdict.Failures {
			if d.Verdict.Failures[j].Objective == rows[i].Name {
				rows[i].Failure = &d.Verdict.Failures[j]
			}
		}
	}
	return rows
}

// phase is one part of the RTO: from Start to End seconds after the fault.
type phase struct {
	Name       string
	Start, End float64
}

// Seconds is how long the phase took.
func (p phase) Seconds() float64 { return p.End - p.Start }

// Label is the phase's duration: "3.012s".
func (p phase) Label() string { return fmt.Sprintf("%.3fs", p.Seconds()) }

// phases splits the RTO at its parts, in time order: each phase ends at
// the moment it is named after and starts where the previous one ended.
// Parts that did not happen (0) are left out.
func (d Drill) phases() []phase {
	r := d.RTO
	parts := []phase{
		{Name: "detected", End: r.Detection},
		{Name: "declared", End: r.Declare},
		{Name: "runbook done", End: r.Runbook},
		{Name: "DNS switched", End: r.DNSSwitch},
		{Name: "first recovery answer", End: r.ClientObserved},
		{Name: "recovered", End: r.Seconds},
	}
	parts = slices.DeleteFunc(parts, func(p phase) bool { return p.End <= 0 })
	slices.SortStableFunc(parts, func(a, b phase) int { return cmp.Compare(a.End, b.End) })
	last := 0.0
	for i := range parts {
		parts[i].Start, last = last, parts[i].End
	}
	return parts
}
