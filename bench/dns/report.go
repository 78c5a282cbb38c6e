package main

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pilotlight/pilotlight/bench/internal/benchkit"
)

// Results are everything one benchmark run measured (the -out JSON).
type Results struct {
	Config        ConfigSummary      `json:"config"`
	Started       time.Time          `json:"started"`
	Seconds       float64            `json:"seconds"`
	Throughput    []ThroughputResult `json:"throughput,omitempty"`
	GdnsdFailover string             `json:"gdnsdFailover,omitempty"` // how gdnsd serves the failover records
	Failover      *FailoverResult    `json:"failover,omitempty"`
	NotRun        []NotRun           `json:"notRun,omitempty"`
}

// NotRun is a measurement that did not run, and why.
type NotRun struct {
	What   string `json:"what"`
	Reason string `json:"reason"`
}

func (r *Results) skip(what, reason string) { r.NotRun = append(r.NotRun, NotRun{what, reason}) }

// ConfigSummary records the workload.
type ConfigSummary struct {
	SimpleRecords   int     `json:"simpleRecords"`
	FailoverRecords int     `json:"failoverRecords"`
	Seconds         float64 `json:"seconds"` // dnsperf -l
	Clients         int     `json:"clients"` // dnsperf -c
	MaxQPS          int     `json:"maxQPS"`  // dnsperf -Q, 0: unbounded
	Runs            int     `json:"runs"`
}

// ThroughputResult compares the servers on one record set.
type ThroughputResult struct {
	Set        string        `json:"set"`
	Records    int           `json:"records"`
	Pilotlight *ServerResult `json:"pilotlight,omitempty"`
	Gdnsd      *ServerResult `json:"gdnsd,omitempty"`
}

// Ratio is pilotlight's QPS over gdnsd's, 0 when either is missing.
func (t ThroughputResult) Ratio() float64 {
	if t.Pilotlight == nil || t.Gdnsd == nil || t.Gdnsd.QPS <= 0 {
		return 0
	}
	return t.Pilotlight.QPS / t.Gdnsd.QPS
}

// ServerResult is one server's dnsperf figures on one record set.
type ServerResult struct {
	Server string `json:"server"`
	perfResult
	// Mismatches counts the names whose answer, checked once before the
	// load, was not the expected address.
	Mismatches int `json:"mismatches"`
}

// FailoverRun is one failover and failback, timed from the change of the
// primary's health to the first DNS answer naming the other region.
type FailoverRun struct {
	FailoverSeconds float64 `json:"failoverSeconds"`
	FailbackSeconds float64 `json:"failbackSeconds"`
	Lost            int     `json:"lostPolls"` // polls without an answer
}

// FailoverResult summarises the runs next to the floors.
type FailoverResult struct {
	Runs     []FailoverRun `json:"runs"`
	Failover Spread        `json:"failover"`
	Failback Spread        `json:"failback"`
	// FloorSeconds is interval x failureThreshold of the record's check.
	FloorSeconds float64 `json:"floorSeconds"`
	// FailbackFloorSeconds is interval x successThreshold.
	FailbackFloorSeconds float64 `json:"failbackFloorSeconds"`
	// Route53FloorSeconds is Route 53's fastest check (10 s) x
	// failureThreshold + the record's TTL.
	Route53FloorSeconds float64 `json:"route53FloorSeconds"`
	TTL                 int     `json:"ttl"`
}

// Spread is the min, median and max of a set of durations in seconds.
type Spread struct {
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	Max    float64 `json:"max"`
}

func spread(xs []float64) Spread {
	if len(xs) == 0 {
		return Spread{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Spread{Min: s[0], Median: med, Max: s[len(s)-1]}
}

func newFailoverResult(runs []FailoverRun) *FailoverResult {
	var fo, fb []float64
	for _, r := range runs {
		fo, fb = append(fo, r.FailoverSeconds), append(fb, r.FailbackSeconds)
	}
	return &FailoverResult{
		Runs: runs, Failover: spread(fo), Failback: spread(fb),
		FloorSeconds:         (foInterval * foFailures).Seconds(),
		FailbackFloorSeconds: (foInterval * foSuccesses).Seconds(),
		Route53FloorSeconds:  (10*time.Second*foFailures + foTTL*time.Second).Seconds(),
		TTL:                  foTTL,
	}
}

// FormatReport renders the results as the tables the benchmark prints.
func FormatReport(r Results) string {
	var sb strings.Builder
	c := r.Config
	qps := "unbounded"
	if c.MaxQPS > 0 {
		qps = fmt.Sprintf("-Q %d", c.MaxQPS)
	}
	fmt.Fprintf(&sb, "DNS throughput: dnsperf -l %.0f -c %d (%s), UDP, loopback\n\n", c.Seconds, c.Clients, qps)
	tw := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "record set\tpilotlight QPS\tgdnsd QPS\tratio\tpilotlight lost\tgdnsd lost")
	for _, t := range r.Throughput {
		row := []string{fmt.Sprintf("%s (%d)", t.Set, t.Records), "-", "-", "-", "-", "-"}
		if p := t.Pilotlight; p != nil {
			row[1], row[4] = qpsLabel(p), fmt.Sprint(p.Lost)
		}
		if g := t.Gdnsd; g != nil {
			row[2], row[5] = qpsLabel(g), fmt.Sprint(g.Lost)
		}
		if x := t.Ratio(); x > 0 {
			row[3] = fmt.Sprintf("%.2fx", x)
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()
	if r.GdnsdFailover != "" {
		fmt.Fprintf(&sb, "gdnsd failover records: %s\n", r.GdnsdFailover)
	}

	if f := r.Failover; f != nil {
		fmt.Fprintf(&sb, "\nfailover time, local provider, record TTL %ds, %d runs (DNS polled every %s)\n\n", f.TTL, len(f.Runs), pollEvery)
		tw = tabwriter.NewWriter(&sb, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "\tmin s\tmedian s\tmax s\tfloor s\tRoute 53 floor s")
		fmt.Fprintf(tw, "failover\t%s\t%s\t%s\t%s\t%s\n", secs(f.Failover.Min), secs(f.Failover.Median), secs(f.Failover.Max), secs(f.FloorSeconds), secs(f.Route53FloorSeconds))
		fmt.Fprintf(tw, "failback\t%s\t%s\t%s\t%s\t-\n", secs(f.Failback.Min), secs(f.Failback.Median), secs(f.Failback.Max), secs(f.FailbackFloorSeconds))
		tw.Flush()
		fmt.Fprintf(&sb, "floor: interval x failureThreshold (failback: x successThreshold); Route 53: 10 s x failureThreshold + TTL\n")
	}

	benchkit.WriteGoals(&sb, Goals(r))
	if len(r.NotRun) > 0 {
		sb.WriteString("\nnot run\n")
		for _, n := range r.NotRun {
			fmt.Fprintf(&sb, "  %s: %s\n", n.What, n.Reason)
		}
	}
	return sb.String()
}

// Goal is one target of the issue and whether it was met.
type Goal = benchkit.Goal

// Goals evaluates the targets: at least gdnsd's QPS on every
// record set, and failover within interval x threshold + one interval.
func Goals(r Results) []Goal {
	var gs []Goal
	for _, t := range r.Throughput {
		g := Goal{Name: t.Set + " records: pilotlight QPS >= gdnsd"}
		if x := t.Ratio(); x > 0 {
			g.Measured, g.Met, g.Known = fmt.Sprintf("%.2fx", x), x >= 1, true
		}
		gs = append(gs, g)
	}
	g := Goal{Name: fmt.Sprintf("failover within interval x threshold + one interval (%s)", foInterval*(foFailures+1))}
	if f := r.Failover; f != nil && len(f.Runs) > 0 {
		bound := (foInterval * (foFailures + 1)).Seconds()
		g.Measured, g.Met, g.Known = fmt.Sprintf("max %ss", secs(f.Failover.Max)), f.Failover.Max <= bound, true
	}
	return append(gs, g)
}

func qpsLabel(s *ServerResult) string {
	l := fmt.Sprintf("%.0f", s.QPS)
	if s.Mismatches > 0 {
		l += fmt.Sprintf(" (%d wrong answers)", s.Mismatches)
	}
	return l
}

func secs(f float64) string { return fmt.Sprintf("%.2f", f) }
