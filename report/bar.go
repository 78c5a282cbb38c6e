package report

import (
	"fmt"
	"time"
)

// RTO bar geometry, in SVG user units.
const (
	barW    = 1100.0
	barLeft = 10.0
	barRght = barW - 20
	barY    = 22.0 // top of the phase bar
	barH    = 30.0
	tierH   = 16.0 // the tier row under it
)

// phaseFills colour the RTO phases by the part that ends them.
var phaseFills = map[string]string{
	"detected":              "#f59e0b",
	"declared":              "#a855f7",
	"runbook done":          "#3b82f6",
	"DNS switched":          "#06b6d4",
	"first recovery answer": "#14b8a6",
	"recovered":             "#22c55e",
}

// rtoBar is the geometry of the RTO breakdown: the phases as one stacked
// bar, the runbook tiers under it, and the objective as a line.
type rtoBar struct {
	Width, Height float64
	Phases        []segment
	Tiers         []segment
	Ticks         []tick
	TickY         float64
	ObjectiveX    float64
	Objective     string // label of the objective line, "" when off the bar
}

// segment is one stretch of the bar.
type segment struct {
	X, W     float64
	Fill     string
	Name     string
	Label    string // shown inside when it fits
	From, To float64
	Seconds  float64
}

// newRTOBar lays out the RTO breakdown of d. The scale runs to the larger
// of the RTO and its objective, so the headroom shows.
func newRTOBar(d Drill) rtoBar {
	ps := d.phases()
	end := max(d.RTO.Seconds, d.Objectives.RTOSeconds)
	if n := len(ps); n > 0 {
		end = max(end, ps[n-1].End)
	}
	if end <= 0 {
		end = 1
	}
	end *= 1.02
	xOf := func(s float64) float64 { return barLeft + s/end*(barRght-barLeft) }
	b := rtoBar{Width: barW, TickY: barY + barH + tierH + 20}
	b.Height = b.TickY + 8
	fit := func(s *segment, text string) {
		if s.W >= float64(len(text))*charW+6 {
			s.Label = text
		}
	}
	for _, p := range ps {
		s := segment{X: xOf(p.Start), W: xOf(p.End) - xOf(p.Start), Fill: phaseFills[p.Name],
			Name: p.Name, From: p.Start, To: p.End, Seconds: p.Seconds()}
		fit(&s, p.Name)
		b.Phases = append(b.Phases, s)
	}
	fault := d.FaultTime()
	for _, t := range d.tierBars(fault, func(at time.Time) float64 { return xOf(at.Sub(fault).Seconds()) }) {
		s := segment{X: t.X, W: t.W, Fill: "#93c5fd", Name: t.Title}
		fit(&s, t.Label)
		b.Tiers = append(b.Tiers, s)
	}
	if o := d.Objectives.RTOSeconds; o > 0 {
		b.ObjectiveX = xOf(o)
		b.Objective = "objective " + secs(o)
	}
	step := niceCeil(end / 10)
	for s := 0.0; s <= end; s += step {
		b.Ticks = append(b.Ticks, tick{Pos: xOf(s), Label: fmt.Sprintf("%gs", s)})
	}
	return b
}
