package main

import (
	"strings"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/report"
)

func TestSummarize(t *testing.T) {
	var ds []report.Drill
	for _, rto := range []float64{7, 6, 9} {
		d := report.Drill{Verdict: report.Verdict{Pass: true}, Objectives: report.Objectives{RTOSeconds: 120, RPOSeconds: 5}}
		d.RTO.Seconds, d.RTO.Detection, d.RPO.SpanSeconds, d.RPO.AckedWrites = rto, rto/3, 0.1*rto, 50
		ds = append(ds, d)
	}
	s := summarize(ds, 5*time.Second)
	if s.RTOMedian != 7 || s.RTOWorst != 9 || s.DetectionWorst != 3 || !s.AllPassed || s.Route53Floor != 15 {
		t.Fatalf("summary %+v", s)
	}
	txt := s.text()
	for _, want := range []string{"✓ RTO under 10 s", "✗ detection under 3 s", "✓ RPO under 1 s", "Route 53 failover floor"} {
		if !strings.Contains(txt, want) {
			t.Errorf("summary text lacks %q:\n%s", want, txt)
		}
	}
	if median([]float64{4, 1, 3, 2}) != 2.5 {
		t.Error("median of an even count")
	}
}
