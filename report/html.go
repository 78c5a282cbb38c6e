package report

import (
	"bufio"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"time"
)

//go:embed report.html.tmpl
var htmlSource string

// htmlTemplate renders one self-contained page: inline CSS and SVG, no
// scripts and no outside resources.
var htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"secs":    secs,
	"f1":      func(f float64) string { return fmt.Sprintf("%.1f", f) },
	"f3":      func(f float64) string { return fmt.Sprintf("%.3f", f) },
	"stamp":   func(t time.Time) string { return t.Format("2006-01-02 15:04:05.000 MST") },
	"verdict": verdictWord,
	"add":     func(a, b float64) float64 { return a + b },
	"sub":     func(a, b float64) float64 { return a - b },
	"div":     func(a, b float64) float64 { return a / b },
}).Parse(htmlSource))

// htmlView is what the template renders.
type htmlView struct {
	D          Drill
	Objectives []objectiveRow
	Duration   float64 // seconds from Started to Ended
	Timeline   timelineChart
	Breakdown  rtoBar
	Events     []eventRow
	Recovered  bool
}

// eventRow is one event with its offset from the fault.
type eventRow struct {
	Offset string
	Event
}

// WriteHTML writes d as one self-contained HTML page: the verdict, the
// objectives against the measurements, a timeline chart of the traffic with
// the drill's events (svg#timeline, one .marker per event drawn), the RTO
// breakdown as a stacked bar, the RPO, the events and the runbook's steps.
func WriteHTML(w io.Writer, d Drill) error {
	v := htmlView{
		D:          d,
		Objectives: d.objectiveRows(),
		Duration:   d.Ended.Sub(d.Started).Seconds(),
		Timeline:   newTimeline(d),
		Breakdown:  newRTOBar(d),
	}
	_, v.Recovered = d.first(KindRecovered)
	fault := d.FaultTime()
	for _, e := range d.Events {
		v.Events = append(v.Events, eventRow{Offset: offset(e.Time.Sub(fault)), Event: e})
	}
	bw := bufio.NewWriter(w)
	err := htmlTemplate.Execute(bw, v)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return fmt.Errorf("report: write html %s: %w", d.ID, err)
	}
	return nil
}
