package report_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/report"
	"github.com/pilotlight/pilotlight/report/internal/sample"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// failing returns the sample drill with a 5s RTO objective and a 0.1s RPO
// objective: both fail.
func failing() report.Drill {
	d := sample.RegionOutage()
	d.Objectives = report.Objectives{RTOSeconds: 5, RPOSeconds: 0.1}
	d.Verdict = report.Judge(d.Objectives, d.RTO.Seconds, d.RPO.SpanSeconds)
	return d
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it); got:\n%s", name, got)
	}
}

func TestWriteText(t *testing.T) {
	tests := []struct {
		name  string
		drill report.Drill
		want  []string // lines that must appear
	}{
		{"pass", sample.RegionOutage(), []string{
			"Drill drill-20250601-090000-7f3a: PASS",
			"  +0.000s fault        region-outage seoul",
			" -10.000s warmup       20 clients",
		}},
		{"fail", failing(), []string{
			"Drill drill-20250601-090000-7f3a: FAIL",
			"RTO        5s      7.104s    FAIL (over by 2.104s)",
			"RPO        100ms   420ms     FAIL (over by 320ms)",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := report.WriteText(&buf, tt.drill); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("no %q in\n%s", w, buf.String())
				}
			}
			golden(t, tt.name+".txt", buf.Bytes())
		})
	}
}

func TestWriteJSONRoundTrip(t *testing.T) {
	d := sample.RegionOutage()
	var buf bytes.Buffer
	if err := report.WriteJSON(&buf, d); err != nil {
		t.Fatal(err)
	}
	golden(t, "pass.json", buf.Bytes())
	var back report.Drill
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, d) {
		t.Errorf("round trip changed the drill:\n got %+v\nwant %+v", back, d)
	}
	if err := back.Check(); err != nil {
		t.Errorf("round-tripped drill: %v", err)
	}
}

// TestJSONFieldNames pins the JSON names the drill, scripts and
// docs/report.md rely on.
func TestJSONFieldNames(t *testing.T) {
	var buf bytes.Buffer
	if err := report.WriteJSON(&buf, failing()); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{
		"id", "plan", "strategy", "fault.kind", "fault.description", "mode", "primary", "recovery",
		"started", "ended", "objectives.rtoSeconds", "objectives.rpoSeconds",
		"rto.seconds", "rto.detection", "rto.declare", "rto.runbook", "rto.dnsSwitch",
		"rto.clientObserved", "rto.tiers.0.tier", "rto.tiers.0.name", "rto.tiers.0.seconds",
		"rpo.ackedWrites", "rpo.missingWrites", "rpo.spanSeconds", "rpo.lastPresent", "rpo.firstMissing",
		"clientErrors", "verdict.pass", "verdict.failures.0.objective", "verdict.failures.0.target",
		"verdict.failures.0.measured", "verdict.failures.0.over", "verdict.failures.0.message",
		"events.0.time", "events.0.kind", "events.0.message", "events.4.tier",
		"traffic.0.time", "traffic.0.requests", "traffic.0.errors", "traffic.0.p50Ms",
		"traffic.0.p99Ms", "traffic.0.region", "steps.0.id", "steps.0.tier", "steps.0.state",
		"steps.0.attempts", "steps.0.seconds", "cleanup.processes", "cleanup.listeners", "cleanup.ok",
	} {
		if _, ok := lookup(m, path); !ok {
			t.Errorf("no JSON field %s", path)
		}
	}
	if _, ok := lookup(m, "events.0.tier"); ok {
		t.Errorf("events.0.tier is set on a warmup event")
	}
	if v, _ := lookup(m, "rto.seconds"); v != 7.104 {
		t.Errorf("rto.seconds = %v, want float seconds 7.104", v)
	}
}

// lookup follows a dotted path of keys and indexes through decoded JSON.
func lookup(v any, path string) (any, bool) {
	for _, k := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[k]; !ok {
				return nil, false
			}
		case []any:
			i := 0
			for _, c := range k {
				i = i*10 + int(c-'0')
			}
			if i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

func TestJudge(t *testing.T) {
	tests := []struct {
		name     string
		rto, rpo float64
		pass     bool
		failed   []string
		over     []float64
	}{
		{"within", 10, 0.5, true, nil, nil},
		{"exactly at", 30, 1, true, nil, nil},
		{"rto over", 32.3, 0, false, []string{"rto"}, []float64{2.3}},
		{"rpo over", 1, 4, false, []string{"rpo"}, []float64{3}},
		{"both", 31, 2, false, []string{"rto", "rpo"}, []float64{1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := report.Judge(report.Objectives{RTOSeconds: 30, RPOSeconds: 1}, tt.rto, tt.rpo)
			if v.Pass != tt.pass || len(v.Failures) != len(tt.failed) {
				t.Fatalf("verdict %+v", v)
			}
			for i, f := range v.Failures {
				if f.Objective != tt.failed[i] || f.Over < tt.over[i]-1e-9 || f.Over > tt.over[i]+1e-9 || f.Message == "" {
					t.Errorf("failure %d: %+v", i, f)
				}
			}
		})
	}
}

func TestCheck(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	tests := []struct {
		name   string
		change func(d *report.Drill)
		want   string // substring of the error; "" for none
	}{
		{"sample", func(*report.Drill) {}, ""},
		{"failing sample", func(d *report.Drill) { *d = failing() }, ""},
		{"rto within 1ms", func(d *report.Drill) { d.RTO.Seconds += 0.0009 }, ""},
		{"rto off", func(d *report.Drill) { d.RTO.Seconds += 0.002 }, "rto.seconds is 7.106s"},
		{"detection off", func(d *report.Drill) { d.RTO.Detection = 2 }, "rto.detection is 2s"},
		{"dns switch off", func(d *report.Drill) { d.RTO.DNSSwitch = 6 }, "rto.dnsSwitch"},
		{"unsorted", func(d *report.Drill) {
			d.Events[0].Time = d.Events[len(d.Events)-1].Time.Add(ms(1))
		}, "events are not sorted"},
		{"no fault", func(d *report.Drill) { d.Events = d.Events[:1] }, "0 fault events"},
		{"no detection", func(d *report.Drill) { d.Events = drop(d.Events, report.KindDetected) }, `no "detected" event`},
		{"declared mode without declared event", func(d *report.Drill) {
			d.Mode = report.ModeDeclared
			d.Events = drop(d.Events, report.KindDeclared)
		}, `no "declared" event`},
		{"pass despite failure", func(d *report.Drill) { d.Objectives.RTOSeconds = 5 }, "verdict pass is true"},
		{"fail without reason", func(d *report.Drill) { d.Verdict.Pass = false }, "verdict pass is false"},
		{"spurious failure", func(d *report.Drill) {
			d.Verdict = report.Verdict{Failures: []report.Failure{{Objective: "rpo", Target: 1, Measured: 0.42}}}
		}, "verdict fails rpo"},
		{"wrong measured", func(d *report.Drill) {
			*d = failing()
			d.Verdict.Failures[0].Measured = 9
		}, "rto failure says 9s"},
		{"not recovered but passes", func(d *report.Drill) { d.Events = drop(d.Events, report.KindRecovered) }, `no "recovered" event`},
		{"not recovered, no rto failure", func(d *report.Drill) {
			d.Events = drop(d.Events, report.KindRecovered)
			d.Verdict = report.Verdict{}
		}, "has no rto failure"},
		{"not recovered and fails", func(d *report.Drill) {
			d.Events = drop(d.Events, report.KindRecovered)
			d.Verdict = report.Verdict{Failures: []report.Failure{{Objective: "rto", Target: 30, Measured: 7.104, Message: "not recovered"}}}
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := sample.RegionOutage()
			tt.change(&d)
			err := d.Check()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Check: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Check: %v, want an error with %q", err, tt.want)
			}
		})
	}
}

// drop returns events without those of kind.
func drop(events []report.Event, kind string) []report.Event {
	var out []report.Event
	for _, e := range events {
		if e.Kind != kind {
			out = append(out, e)
		}
	}
	return out
}
