package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestSpread(t *testing.T) {
	for _, tc := range []struct {
		xs   []float64
		want Spread
	}{
		{nil, Spread{}},
		{[]float64{2}, Spread{2, 2, 2}},
		{[]float64{3, 1, 2}, Spread{1, 2, 3}},
		{[]float64{4, 1, 3, 2}, Spread{1, 2.5, 4}},
	} {
		if got := spread(tc.xs); got != tc.want {
			t.Errorf("spread(%v) = %+v, want %+v", tc.xs, got, tc.want)
		}
	}
}

func sampleResults() Results {
	return Results{
		Config: ConfigSummary{SimpleRecords: 1000, FailoverRecords: 100, Seconds: 10, Clients: 4, Runs: 3},
		Throughput: []ThroughputResult{
			{Set: setSimple, Records: 1000,
				Pilotlight: &ServerResult{Server: serverPilotlight, perfResult: perfResult{QPS: 310000}},
				Gdnsd:      &ServerResult{Server: serverGdnsd, perfResult: perfResult{QPS: 300000, Lost: 2}}},
			{Set: setFailover, Records: 100,
				Pilotlight: &ServerResult{Server: serverPilotlight, perfResult: perfResult{QPS: 150000}, Mismatches: 4},
				Gdnsd:      &ServerResult{Server: serverGdnsd, perfResult: perfResult{QPS: 300000}}},
		},
		GdnsdFailover: gdnsdFailoverMethod,
		Failover: newFailoverResult([]FailoverRun{
			{FailoverSeconds: 3.2, FailbackSeconds: 2.1}, {FailoverSeconds: 3.9, FailbackSeconds: 2.3}, {FailoverSeconds: 3.5, FailbackSeconds: 2.2},
		}),
		NotRun: []NotRun{{"something", "because"}},
	}
}

func TestGoals(t *testing.T) {
	gs := Goals(sampleResults())
	want := []struct {
		met, known bool
		measured   string
	}{{true, true, "1.03x"}, {false, true, "0.50x"}, {true, true, "max 3.90s"}}
	if len(gs) != len(want) {
		t.Fatalf("%d goals", len(gs))
	}
	for i, w := range want {
		if gs[i].Met != w.met || gs[i].Known != w.known || gs[i].Measured != w.measured {
			t.Errorf("goal %d %+v, want %+v", i, gs[i], w)
		}
	}
	slow := sampleResults()
	slow.Failover = newFailoverResult([]FailoverRun{{FailoverSeconds: 4.5}})
	slow.Throughput[0].Pilotlight = nil
	gs = Goals(slow)
	if gs[0].Known || gs[2].Met {
		t.Errorf("goals %+v", gs)
	}
	if gs := Goals(Results{}); len(gs) != 1 || gs[0].Known {
		t.Errorf("goals of nothing %+v", gs)
	}
}

func TestFormatReport(t *testing.T) {
	out := FormatReport(sampleResults())
	for _, want := range []string{
		"dnsperf -l 10 -c 4 (unbounded)",
		"simple (1000)   310000",
		"300000     1.03x",
		"150000 (4 wrong answers)",
		"0.50x",
		"gdnsd failover records: metafo plugin",
		"failover  3.20   3.50      3.90   3.00     35.00",
		"failback  2.10   2.20      2.30   2.00     -",
		"✓ simple records: pilotlight QPS >= gdnsd: 1.03x",
		"✗ failover records: pilotlight QPS >= gdnsd: 0.50x",
		"✓ failover within interval x threshold + one interval (4s): max 3.90s",
		"not run\n  something: because",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	empty := FormatReport(Results{Config: ConfigSummary{Seconds: 1, Clients: 1, MaxQPS: 500}})
	if !strings.Contains(empty, "(-Q 500)") || !strings.Contains(empty, "? failover within") || strings.Contains(empty, "failback") {
		t.Errorf("empty report:\n%s", empty)
	}
}

func TestResultsJSON(t *testing.T) {
	data, err := json.Marshal(sampleResults())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"qps":310000`, `"mismatches":4`, `"route53FloorSeconds":35`, `"failover":{"min":3.2,"median":3.5,"max":3.9}`, `"notRun":[{"what":"something"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("JSON lacks %s: %s", want, data)
		}
	}
}
