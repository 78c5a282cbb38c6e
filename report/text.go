package report

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteText writes d as a terminal summary: the verdict, objectives against
// measurements, the RTO breakdown, the RPO, client errors, the timeline as
// offsets from the fault and the runbook's steps.
func WriteText(w io.Writer, d Drill) error {
	bw := bufio.NewWriter(w)
	t := &textWriter{w: bw}
	t.header(d)
	t.objectives(d)
	t.breakdown(d)
	t.rpo(d)
	t.timeline(d)
	t.steps(d)
	t.cleanup(d)
	if t.err == nil {
		t.err = bw.Flush()
	}
	if t.err != nil {
		return fmt.Errorf("report: write text %s: %w", d.ID, t.err)
	}
	return nil
}

// textWriter writes lines and keeps the first error.
type textWriter struct {
	w   io.Writer
	err error
}

func (t *textWriter) printf(format string, args ...any) {
	if t.err == nil {
		_, t.err = fmt.Fprintf(t.w, format, args...)
	}
}

// table writes rows of tab-separated cells, aligned, with indent.
func (t *textWriter) table(indent string, rows [][]string) {
	if t.err != nil {
		return
	}
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintf(tw, "%s%s\n", indent, strings.Join(r, "\t"))
	}
	tw.Flush() // writes to memory: cannot fail
	for line := range strings.Lines(buf.String()) {
		t.printf("%s\n", strings.TrimRight(line, " \n"))
	}
}

func (t *textWriter) header(d Drill) {
	t.printf("Drill %s: %s\n", d.ID, verdictWord(d.Verdict.Pass))
	t.printf("  plan %s (%s), %s → %s, %s failover\n", d.Plan, d.Strategy, d.Primary, d.Recovery, d.Mode)
	t.printf("  fault %s: %s\n", d.Fault.Kind, d.Fault.Description)
	t.printf("  started %s, ended %s (%s)\n", d.Started.Format(time.RFC3339), d.Ended.Format(time.RFC3339),
		secs(d.Ended.Sub(d.Started).Seconds()))
}

func (t *textWriter) objectives(d Drill) {
	t.printf("\n")
	rows := [][]string{{"OBJECTIVE", "TARGET", "MEASURED", "RESULT"}}
	for _, o := range d.objectiveRows() {
		measured := secs(o.Measured)
		if o.NotMeasured {
			measured = "-"
		}
		rows = append(rows, []string{strings.ToUpper(o.Name), secs(o.Target), measured, o.Result()})
	}
	t.table("", rows)
}

func (t *textWriter) breakdown(d Drill) {
	t.printf("\nRTO breakdown (seconds from the fault)\n")
	var rows [][]string
	for _, p := range d.phases() {
		rows = append(rows, []string{p.Name, fmt.Sprintf("+%.3fs", p.End), "(" + p.Label() + ")"})
	}
	t.table("  ", rows)
	if len(d.RTO.Tiers) > 0 {
		rows = rows[:0]
		for _, tt := range d.RTO.Tiers {
			rows = append(rows, []string{fmt.Sprintf("tier %d", tt.Tier), tt.Name, fmt.Sprintf("%.3fs", tt.Seconds)})
		}
		t.printf("  runbook tiers\n")
		t.table("    ", rows)
	}
}

func (t *textWriter) rpo(d Drill) {
	r := d.RPO
	if r.NotMeasured != "" {
		t.printf("\nRPO not measured: %s\n", r.NotMeasured)
		return
	}
	t.printf("\nRPO %.3fs: %d of %d acknowledged writes missing", r.SpanSeconds, r.MissingWrites, r.AckedWrites)
	if r.LastPresent != "" || r.FirstMissing != "" {
		t.printf(" (last present %s, first missing %s)", orNone(r.LastPresent), orNone(r.FirstMissing))
	}
	t.printf("\nClient errors: %d\n", d.ClientErrors)
}

func (t *textWriter) timeline(d Drill) {
	t.printf("\nTimeline (offset from the fault)\n")
	fault := d.FaultTime()
	for _, e := range d.Events {
		t.printf("  %9s %-12s %s\n", offset(e.Time.Sub(fault)), e.Kind, e.Message)
	}
}

func (t *textWriter) steps(d Drill) {
	if len(d.Steps) == 0 {
		return
	}
	t.printf("\nRunbook steps\n")
	rows := [][]string{{"STEP", "TIER", "STATE", "ATTEMPTS", "SECONDS", "ERROR"}}
	for _, s := range d.Steps {
		rows = append(rows, []string{s.ID, fmt.Sprint(s.Tier), s.State, fmt.Sprint(s.Attempts),
			fmt.Sprintf("%.3f", s.Seconds), oneLine(s.Error)})
	}
	t.table("  ", rows)
}

func (t *textWriter) cleanup(d Drill) {
	c := d.Cleanup
	word := "OK"
	if !c.OK {
		word = "LEFTOVERS"
	}
	t.printf("\nCleanup: %s (%d processes, %d listeners left)\n", word, c.Processes, c.Listeners)
	if len(c.Removed) > 0 {
		t.printf("  removed %d resources tagged with the drill ID: %s\n", len(c.Removed), strings.Join(c.Removed, ", "))
	}
}

// offset formats a signed offset from the fault: "+0.000s", "-10.000s".
func offset(d time.Duration) string {
	return fmt.Sprintf("%+.3fs", d.Seconds())
}

func verdictWord(pass bool) string {
	if pass {
		return "PASS"
	}
	return "FAIL"
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// oneLine keeps a multi-line error on one table row.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
