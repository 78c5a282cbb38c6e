package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pilotlight/pilotlight/bench/internal/benchkit"
)

// Results are everything one benchmark run measured (the -out JSON).
type Results struct {
	Config  ConfigSummary `json:"config"`
	Started time.Time     `json:"started"`
	Seconds float64       `json:"seconds"`
	Cases   []CaseResult  `json:"cases"`
	Lag     *LagResult    `json:"lag,omitempty"`
}

// ConfigSummary records the workload.
type ConfigSummary struct {
	Small      int     `json:"small"`
	SmallSize  int64   `json:"smallSize"`
	Large      int     `json:"large"`
	LargeSize  int64   `json:"largeSize"`
	Workers    int     `json:"workers"`
	LagRate    float64 `json:"lagRate"`
	LagSeconds float64 `json:"lagSeconds"`
}

// CaseResult compares the tools on one workload.
type CaseResult struct {
	Name       string      `json:"name"`
	Objects    int         `json:"objects"`
	ObjectSize int64       `json:"objectSize"`
	Pilotlight *ToolResult `json:"pilotlight,omitempty"`
	Rclone     *ToolResult `json:"rclone,omitempty"`
}

// ToolResult is one tool's figures on one workload. Seconds are wall-clock
// times of the whole command, measured by the benchmark for both tools.
type ToolResult struct {
	Tool             string       `json:"tool"`
	Objects          int          `json:"objects"`
	Bytes            int64        `json:"bytes"`
	Seconds          float64      `json:"seconds"`
	ObjectsPerSecond float64      `json:"objectsPerSecond"`
	MBPerSecond      float64      `json:"mbPerSecond"` // 10^6 bytes
	NoopSeconds      float64      `json:"noopSeconds"`
	Reported         *passSummary `json:"reported,omitempty"` // pilotlight's own summary
}

func (r *ToolResult) fillRates() {
	if r.Seconds > 0 {
		r.ObjectsPerSecond = float64(r.Objects) / r.Seconds
		r.MBPerSecond = float64(r.Bytes) / 1e6 / r.Seconds
	}
}

// LagResult is the continuous-mode lag: from PUT acknowledged by the source
// to the object readable (HEAD 200) in the replica.
type LagResult struct {
	Objects    int     `json:"objects"`
	Missing    int     `json:"missing"` // not readable within the poll bound
	WriteRate  float64 `json:"writeRate"`
	P50Seconds float64 `json:"p50Seconds"`
	P99Seconds float64 `json:"p99Seconds"`
	MaxSeconds float64 `json:"maxSeconds"`
}

// Goal is one target of the issue and whether it was met.
type Goal = benchkit.Goal

// Goals evaluates the targets: at least 1.5x rclone's objects/s on
// small objects, at least rclone's MB/s on large ones, p99 lag under 1 s.
func Goals(r Results) []Goal {
	var gs []Goal
	for _, c := range r.Cases {
		switch c.Name {
		case "small":
			g := Goal{Name: "small objects: pilotlight obj/s >= 1.5x rclone"}
			if c.Pilotlight != nil && c.Rclone != nil && c.Rclone.ObjectsPerSecond > 0 {
				x := c.Pilotlight.ObjectsPerSecond / c.Rclone.ObjectsPerSecond
				g.Measured, g.Met, g.Known = fmt.Sprintf("%.2fx", x), x >= 1.5, true
			}
			gs = append(gs, g)
		case "large":
			g := Goal{Name: "large objects: pilotlight MB/s >= rclone"}
			if c.Pilotlight != nil && c.Rclone != nil && c.Rclone.MBPerSecond > 0 {
				x := c.Pilotlight.MBPerSecond / c.Rclone.MBPerSecond
				g.Measured, g.Met, g.Known = fmt.Sprintf("%.2fx", x), x >= 1, true
			}
			gs = append(gs, g)
		}
	}
	if r.Lag != nil {
		gs = append(gs, Goal{
			Name:     "continuous mode: p99 lag < 1s",
			Measured: fmt.Sprintf("%.3fs (%d missing)", r.Lag.P99Seconds, r.Lag.Missing),
			Met:      r.Lag.P99Seconds < 1 && r.Lag.Missing == 0,
			Known:    true,
		})
	}
	return gs
}

// FormatReport renders the results as the table the benchmark prints.
func FormatReport(r Results) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "pilotlight replicate vs rclone sync (%d workers each)\n\n", r.Config.Workers)
	tw := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "case\tpilotlight obj/s\tpilotlight MB/s\trclone obj/s\trclone MB/s\tratio obj/s\tratio MB/s")
	for _, c := range r.Cases {
		row := []string{caseLabel(c), "-", "-", "-", "-", "-", "-"}
		pl, rc := c.Pilotlight, c.Rclone
		if pl != nil {
			row[1], row[2] = num(pl.ObjectsPerSecond), num(pl.MBPerSecond)
		}
		if rc != nil {
			row[3], row[4] = num(rc.ObjectsPerSecond), num(rc.MBPerSecond)
		}
		if pl != nil && rc != nil {
			row[5], row[6] = ratio(pl.ObjectsPerSecond, rc.ObjectsPerSecond), ratio(pl.MBPerSecond, rc.MBPerSecond)
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()

	sb.WriteString("\n")
	tw = tabwriter.NewWriter(&sb, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "case\tpilotlight pass s\tpilotlight no-op s\trclone pass s\trclone no-op s")
	for _, c := range r.Cases {
		row := []string{caseLabel(c), "-", "-", "-", "-"}
		if pl := c.Pilotlight; pl != nil {
			row[1], row[2] = secs(pl.Seconds), secs(pl.NoopSeconds)
		}
		if rc := c.Rclone; rc != nil {
			row[3], row[4] = secs(rc.Seconds), secs(rc.NoopSeconds)
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()

	if l := r.Lag; l != nil {
		fmt.Fprintf(&sb, "\ncontinuous mode, %d objects written at %.0f/s: lag p50 %.3fs  p99 %.3fs  max %.3fs  missing %d\n",
			l.Objects, l.WriteRate, l.P50Seconds, l.P99Seconds, l.MaxSeconds, l.Missing)
	}
	benchkit.WriteGoals(&sb, Goals(r))
	return sb.String()
}

// caseLabel names a workload: "small 10000 x 4KiB".
func caseLabel(c CaseResult) string {
	return fmt.Sprintf("%s %d x %s", c.Name, c.Objects, sizeLabel(c.ObjectSize))
}

func sizeLabel(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

func num(f float64) string {
	if f >= 100 {
		return fmt.Sprintf("%.0f", f)
	}
	return fmt.Sprintf("%.1f", f)
}

func secs(f float64) string { return fmt.Sprintf("%.2f", f) }

func ratio(a, b float64) string {
	if b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", a/b)
}
