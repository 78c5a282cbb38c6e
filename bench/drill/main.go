// Command drill benchmarks pilotlight's main job: it runs the example
// drill (pilot light, region outage) several times on this machine and
// prints the median and worst RTO, detection time and RPO, next to the
// reference points: the floor of a Route 53 health-checked failover
// (interval × threshold + TTL) and the RTO AWS Elastic Disaster Recovery
// quotes.
//
//	go run ./bench/drill -pilotlight bin/pilotlight -runs 5
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/pilotlight/pilotlight/bench/internal/benchkit"
	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/report"
)

func main() {
	bin := flag.String("pilotlight", "bin/pilotlight", "pilotlight binary (with ticketing next to it)")
	planFile := flag.String("plan", "examples/ticketing/pilotlight.yaml", "plan to drill")
	runs := flag.Int("runs", 5, "drills to run")
	fault := flag.String("fault", "region-outage", "fault to inject")
	out := flag.String("out", "", "also write the figures as JSON to this file")
	flag.Parse()
	p, err := plan.Load(*planFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var ds []report.Drill
	for i := range *runs {
		d, err := runDrill(*bin, *planFile, *fault)
		if err != nil {
			fmt.Fprintf(os.Stderr, "drill %d: %v\n", i+1, err)
			os.Exit(1)
		}
		fmt.Fprintf(os.Stderr, "drill %d/%d: RTO %.2fs (detection %.2fs), RPO %.3fs, %d/%d writes missing\n",
			i+1, *runs, d.RTO.Seconds, d.RTO.Detection, d.RPO.SpanSeconds, d.RPO.MissingWrites, d.RPO.AckedWrites)
		ds = append(ds, d)
	}
	s := summarize(ds, recordTTL(p))
	fmt.Print(s.text())
	if *out != "" {
		b, _ := json.MarshalIndent(s, "", "  ")
		if err := os.WriteFile(*out, b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

func runDrill(bin, planFile, fault string) (report.Drill, error) {
	var d report.Drill
	state, err := os.MkdirTemp("", "pilotlight-bench-drill-")
	if err != nil {
		return d, err
	}
	defer os.RemoveAll(state)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "drill", "-f", planFile, "--fault", fault, "--state-dir", state, "-o", "json")
	var stdout bytes.Buffer
	stderr := &benchkit.Tail{Max: 4000}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	if err := cmd.Run(); err != nil {
		return d, fmt.Errorf("%v\n%s", err, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), &d); err != nil {
		return d, fmt.Errorf("decode report: %w", err)
	}
	return d, d.Check()
}

// Reference points (see ../shared/REFERENCE.md): Route 53's fastest health
// check is every 10 s; with a failure threshold of 1 and the plan's TTL that
// is the floor of a DNS failover; AWS DRS quotes an RTO of 5 to 20 minutes.
const (
	route53Interval = 10 * time.Second
	drsRTOLow       = 5 * time.Minute
)

// summary is what the benchmark prints and writes.
type summary struct {
	Runs            int     `json:"runs"`
	RTOMedian       float64 `json:"rtoMedianSeconds"`
	RTOWorst        float64 `json:"rtoWorstSeconds"`
	DetectionMedian float64 `json:"detectionMedianSeconds"`
	DetectionWorst  float64 `json:"detectionWorstSeconds"`
	RPOMedian       float64 `json:"rpoMedianSeconds"`
	RPOWorst        float64 `json:"rpoWorstSeconds"`
	MissingWorst    int     `json:"missingWritesWorst"`
	AckedMedian     float64 `json:"ackedWritesMedian"`
	Route53Floor    float64 `json:"route53FloorSeconds"`
	ObjectiveRTO    float64 `json:"objectiveRtoSeconds"`
	ObjectiveRPO    float64 `json:"objectiveRpoSeconds"`
	DNSTTL          float64 `json:"dnsTtlSeconds"`
	AllPassed       bool    `json:"allPassed"`
}

func summarize(ds []report.Drill, ttl time.Duration) summary {
	s := summary{Runs: len(ds), AllPassed: true}
	pick := func(f func(report.Drill) float64) (med, worst float64) {
		xs := make([]float64, 0, len(ds))
		for _, d := range ds {
			xs = append(xs, f(d))
		}
		return median(xs), slices.Max(append(xs, 0))
	}
	s.RTOMedian, s.RTOWorst = pick(func(d report.Drill) float64 { return d.RTO.Seconds })
	s.DetectionMedian, s.DetectionWorst = pick(func(d report.Drill) float64 { return d.RTO.Detection })
	s.RPOMedian, s.RPOWorst = pick(func(d report.Drill) float64 { return d.RPO.SpanSeconds })
	s.AckedMedian, _ = pick(func(d report.Drill) float64 { return float64(d.RPO.AckedWrites) })
	for _, d := range ds {
		s.MissingWorst = max(s.MissingWorst, d.RPO.MissingWrites)
		s.AllPassed = s.AllPassed && d.Verdict.Pass
		s.ObjectiveRTO, s.ObjectiveRPO = d.Objectives.RTOSeconds, d.Objectives.RPOSeconds
	}
	s.DNSTTL = ttl.Seconds()
	s.Route53Floor = route53Interval.Seconds() + s.DNSTTL
	return s
}

// recordTTL is the TTL of the plan's first failover record, which the
// drill's clients resolve.
func recordTTL(p *plan.Plan) time.Duration {
	if p.Routing != nil {
		for _, r := range p.Routing.Records {
			if r.Policy == plan.PolicyFailover {
				return time.Duration(r.TTL) * time.Second
			}
		}
	}
	return 0
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func (s summary) text() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "example drill (pilot light, region outage), %d runs\n", s.Runs)
	fmt.Fprintf(&sb, "  %-28s %10s %10s\n", "", "median", "worst")
	fmt.Fprintf(&sb, "  %-28s %9.2fs %9.2fs\n", "RTO (fault → recovered)", s.RTOMedian, s.RTOWorst)
	fmt.Fprintf(&sb, "  %-28s %9.2fs %9.2fs\n", "detection", s.DetectionMedian, s.DetectionWorst)
	fmt.Fprintf(&sb, "  %-28s %9.3fs %9.3fs\n", "RPO (acknowledged writes)", s.RPOMedian, s.RPOWorst)
	fmt.Fprintf(&sb, "  %-28s %10d %10s\n", "missing writes (worst)", s.MissingWorst, "")
	fmt.Fprintf(&sb, "\nreference points\n")
	fmt.Fprintf(&sb, "  Route 53 failover floor (10s × 1 + TTL %gs): %.0fs; pilotlight median RTO is %.2f× that floor\n",
		s.DNSTTL, s.Route53Floor, s.RTOMedian/s.Route53Floor)
	fmt.Fprintf(&sb, "  AWS Elastic Disaster Recovery quotes an RTO of 5–20 min: pilotlight median is %.0f× shorter than 5 min\n",
		drsRTOLow.Seconds()/s.RTOMedian)
	var gs []benchkit.Goal
	gs = append(gs,
		benchkit.Goal{Name: "RTO under 10 s", Measured: fmt.Sprintf("median %.2fs, worst %.2fs", s.RTOMedian, s.RTOWorst), Met: s.RTOWorst < 10, Known: s.Runs > 0},
		benchkit.Goal{Name: "detection under 3 s", Measured: fmt.Sprintf("median %.2fs, worst %.2fs", s.DetectionMedian, s.DetectionWorst), Met: s.DetectionWorst < 3, Known: s.Runs > 0},
		benchkit.Goal{Name: "RPO under 1 s of acknowledged writes", Measured: fmt.Sprintf("worst %.3fs, %d writes missing", s.RPOWorst, s.MissingWorst), Met: s.RPOWorst < 1, Known: s.Runs > 0},
	)
	benchkit.WriteGoals(&sb, gs)
	return sb.String()
}
