package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Chart geometry, in SVG user units.
const (
	chartW     = 1100.0
	plotLeft   = 56.0
	plotRight  = chartW - 60
	plotH      = 260.0
	rowH       = 15.0 // one row of marker labels
	maxRows    = 4    // rows of marker labels before they share
	laneH      = 22.0 // the runbook tier lane under the plot
	axisBottom = 34.0 // x axis labels and title
	charW      = 6.6  // estimated width of one label character
	noAnswer   = "#fde2e2"
)

// bandFills colour the regions that answered, primary first.
var bandFills = []string{"#dbeafe", "#dcfce7", "#fef3c7", "#ede9fe", "#e0f2fe"}

// markerKinds are the events drawn as vertical markers, with their labels.
var markerKinds = map[string]string{
	KindFault:       "fault",
	KindDetected:    "detected",
	KindDeclared:    "declared",
	KindTierStarted: "start",
	KindTierDone:    "done",
	KindDNSSwitched: "DNS switch",
	KindRecovered:   "recovered",
}

// timelineChart is the geometry of the traffic chart.
type timelineChart struct {
	Width, Height      float64
	PlotTop, PlotBot   float64
	PlotLeft, PlotRght float64
	LaneY              float64
	Bands              []band
	Success, P99       string // SVG path data
	XTicks, YTicks     []tick
	Y2Ticks            []tick
	Markers            []marker
	Tiers              []tierBar
	Legend             []band
	Empty              bool // no traffic to draw
}

// band is a stretch of time answered by one region.
type band struct {
	X, W  float64
	Fill  string
	Label string
}

// tick is one axis label.
type tick struct {
	Pos   float64
	Label string
}

// marker is one event drawn as a vertical line.
type marker struct {
	X      float64
	Kind   string
	Label  string
	LabelY float64
	Title  string // tooltip: offset, kind and message
	Tier   bool   // a tier marker: dotted, labelled in the tier lane
	row    int    // label row, from the top
}

// tierBar is one runbook tier in the lane under the plot.
type tierBar struct {
	X, W  float64
	Label string // "T2", empty when it does not fit
	Title string
}

// newTimeline lays out the traffic chart of d.
func newTimeline(d Drill) timelineChart {
	fault := d.FaultTime()
	start, end := d.chartSpan()
	span := end.Sub(start).Seconds()
	xOf := func(t time.Time) float64 {
		return plotLeft + (t.Sub(start).Seconds()/span)*(plotRight-plotLeft)
	}

	c := timelineChart{Width: chartW, PlotLeft: plotLeft, PlotRght: plotRight, Empty: len(d.Traffic) == 0}
	ms := d.markers(fault, xOf)
	rows := placeLabels(ms)
	c.PlotTop = 8 + float64(rows)*rowH + 6
	c.PlotBot = c.PlotTop + plotH
	c.LaneY = c.PlotBot + 6
	c.Height = c.LaneY + laneH + axisBottom
	for i := range ms {
		ms[i].LabelY = 8 + float64(ms[i].row+1)*rowH - 3
	}
	c.Markers = ms

	// Region bands and the legend.
	fills := d.regionFills()
	bucket := d.bucket()
	for _, s := range d.Traffic {
		x0, x1 := xOf(s.Time), xOf(s.Time.Add(bucket))
		fill, label := noAnswer, "no region answered"
		if s.Region != "" {
			fill, label = fills[s.Region], s.Region
		}
		if n := len(c.Bands); n > 0 && c.Bands[n-1].Label == label && math.Abs(c.Bands[n-1].X+c.Bands[n-1].W-x0) < 0.01 {
			c.Bands[n-1].W = x1 - c.Bands[n-1].X
			continue
		}
		c.Bands = append(c.Bands, band{X: x0, W: x1 - x0, Fill: fill, Label: label})
		if !slices.ContainsFunc(c.Legend, func(b band) bool { return b.Label == label }) {
			if s.Region != "" {
				label = "answered by " + label
			}
			c.Legend = append(c.Legend, band{Fill: fill, Label: label})
		}
	}

	// Success rate (left axis, %) and p99 latency (right axis, ms).
	maxP99 := 0.0
	for _, s := range d.Traffic {
		maxP99 = max(maxP99, s.P99Ms)
	}
	step := niceCeil(maxP99 / 4)
	top := step * max(math.Ceil(maxP99/step), 1)
	yPct := func(p float64) float64 { return c.PlotBot - p/100*plotH }
	yMs := func(v float64) float64 { return c.PlotBot - v/top*plotH }
	var succ, p99 pathBuilder
	for _, s := range d.Traffic {
		x := xOf(s.Time.Add(bucket / 2))
		if s.Requests == 0 {
			succ.gap()
			p99.gap()
			continue
		}
		y := yPct(100 * float64(s.Requests-s.Errors) / float64(s.Requests))
		succ.point(xOf(s.Time), y)
		succ.point(xOf(s.Time.Add(bucket)), y)
		if s.Requests > s.Errors {
			p99.point(x, yMs(s.P99Ms))
		} else {
			p99.gap()
		}
	}
	c.Success, c.P99 = succ.String(), p99.String()
	for p := 0.0; p <= 100; p += 25 {
		c.YTicks = append(c.YTicks, tick{Pos: yPct(p), Label: fmt.Sprintf("%.0f%%", p)})
	}
	for v := 0.0; v <= top+1e-9; v += step {
		c.Y2Ticks = append(c.Y2Ticks, tick{Pos: yMs(v), Label: strconv.FormatFloat(v, 'f', -1, 64) + " ms"})
	}
	xStep := niceCeil(span / 8)
	for s := math.Ceil(start.Sub(fault).Seconds()/xStep) * xStep; s <= end.Sub(fault).Seconds()+1e-9; s += xStep {
		label := fmt.Sprintf("%+gs", s)
		if s == 0 {
			label = "0"
		}
		c.XTicks = append(c.XTicks, tick{Pos: xOf(fault.Add(time.Duration(s * float64(time.Second)))), Label: label})
	}
	c.Tiers = d.tierBars(fault, xOf)
	return c
}

// chartSpan is the time the chart covers: every traffic bucket and every
// marked event.
func (d Drill) chartSpan() (start, end time.Time) {
	start, end = d.FaultTime(), d.FaultTime()
	if n := len(d.Traffic); n > 0 {
		start = minTime(start, d.Traffic[0].Time)
		end = maxTime(end, d.Traffic[n-1].Time.Add(d.bucket()))
	}
	for _, e := range d.Events {
		if _, ok := markerKinds[e.Kind]; ok {
			start, end = minTime(start, e.Time), maxTime(end, e.Time)
		}
	}
	if !end.After(start) {
		end = start.Add(time.Second)
	}
	return start, end
}

// bucket is the traffic bucket width: the smallest gap between samples.
func (d Drill) bucket() time.Duration {
	b := time.Duration(0)
	for i := 1; i < len(d.Traffic); i++ {
		if g := d.Traffic[i].Time.Sub(d.Traffic[i-1].Time); g > 0 && (b == 0 || g < b) {
			b = g
		}
	}
	if b == 0 {
		b = time.Second
	}
	return b
}

// regionFills gives each answering region a colour: the primary, then the
// recovery region, then the others in order of appearance.
func (d Drill) regionFills() map[string]string {
	fills := map[string]string{}
	add := func(r string) {
		if _, ok := fills[r]; r != "" && !ok {
			fills[r] = bandFills[len(fills)%len(bandFills)]
		}
	}
	add(d.Primary)
	add(d.Recovery)
	for _, s := range d.Traffic {
		add(s.Region)
	}
	return fills
}

// markers returns one marker per marked event, in time order.
func (d Drill) markers(fault time.Time, xOf func(time.Time) float64) []marker {
	var ms []marker
	for _, e := range d.Events {
		label, ok := markerKinds[e.Kind]
		if !ok {
			continue
		}
		m := marker{X: xOf(e.Time), Kind: e.Kind, Label: label,
			Title: offset(e.Time.Sub(fault)) + " " + e.Kind + " " + e.Message}
		if e.Tier != nil {
			m.Tier = true
			m.Label = fmt.Sprintf("T%d %s", *e.Tier, label)
		}
		ms = append(ms, m)
	}
	slices.SortStableFunc(ms, func(a, b marker) int { return cmp.Compare(a.X, b.X) })
	return ms
}

// placeLabels puts the labels of the non-tier markers into rows so that they
// do not overlap and returns the number of rows.
func placeLabels(ms []marker) int {
	var ends []float64 // right end of the last label in each row
	for i := range ms {
		if ms[i].Tier {
			continue
		}
		x, w := ms[i].X+3, float64(len(ms[i].Label))*charW
		row := slices.IndexFunc(ends, func(e float64) bool { return e+6 < x })
		if row < 0 && len(ends) < maxRows {
			row, ends = len(ends), append(ends, 0)
		}
		if row < 0 {
			row = 0
			for r := range ends {
				if ends[r] < ends[row] {
					row = r
				}
			}
		}
		ends[row] = x + w
		ms[i].row = row
	}
	return max(len(ends), 1)
}

// tierBars pairs tier-started and tier-done events into bars.
func (d Drill) tierBars(fault time.Time, xOf func(time.Time) float64) []tierBar {
	var bars []tierBar
	open := map[int]time.Time{}
	for _, e := range d.Events {
		if e.Tier == nil {
			continue
		}
		switch e.Kind {
		case KindTierStarted:
			open[*e.Tier] = e.Time
		case KindTierDone:
			t0, ok := open[*e.Tier]
			if !ok {
				continue
			}
			delete(open, *e.Tier)
			b := tierBar{X: xOf(t0), W: max(xOf(e.Time)-xOf(t0), 1)}
			name := fmt.Sprintf("T%d", *e.Tier)
			if b.W >= float64(len(name))*charW+4 {
				b.Label = name
			}
			b.Title = fmt.Sprintf("tier %d %s, %s → %s (%.3fs)", *e.Tier, d.tierName(*e.Tier),
				offset(t0.Sub(fault)), offset(e.Time.Sub(fault)), e.Time.Sub(t0).Seconds())
			bars = append(bars, b)
		}
	}
	return bars
}

// tierName returns the name RTO.Tiers gives tier, or "".
func (d Drill) tierName(tier int) string {
	for _, t := range d.RTO.Tiers {
		if t.Tier == tier {
			return t.Name
		}
	}
	return ""
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten (1 for v ≤ 0).
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v-1e-9 {
			return m * p
		}
	}
	return 10 * p
}

// pathBuilder builds SVG path data from points, breaking the line at gaps.
type pathBuilder struct {
	b   strings.Builder
	pen bool // the next point continues the line
}

func (p *pathBuilder) point(x, y float64) {
	cmd := "L"
	if !p.pen {
		cmd = "M"
	}
	if p.b.Len() > 0 {
		p.b.WriteByte(' ')
	}
	fmt.Fprintf(&p.b, "%s%.1f %.1f", cmd, x, y)
	p.pen = true
}

func (p *pathBuilder) gap()           { p.pen = false }
func (p *pathBuilder) String() string { return p.b.String() }

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
