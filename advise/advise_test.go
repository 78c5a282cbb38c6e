package advise

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/provider/sim"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// plans are the example plans and the strategy each must be advised.
var plans = []struct {
	file string
	want plan.Strategy
}{
	{"testdata/startup.yaml", plan.BackupRestore},
	{"testdata/shop.yaml", plan.PilotLight},
	{"testdata/seasonal.yaml", plan.WarmStandby},
	{"testdata/finance.yaml", plan.ActiveActive},
	{"../examples/ticketing/pilotlight.yaml", plan.WarmStandby},
}

func advise(t *testing.T, file string) *Report {
	t.Helper()
	p, err := plan.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Advise(p, DefaultPrices(), sim.DefaultModel())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRecommendation(t *testing.T) {
	for _, tt := range plans {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			r := advise(t, tt.file)
			if r.Recommendation != tt.want {
				t.Fatalf("recommendation = %q, want %q: %s", r.Recommendation, tt.want, r.Explanation)
			}
			// The recommendation is the cheapest option that meets both
			// objectives, and each verdict follows from the figures.
			var best *Option
			for i, o := range r.Options {
				if o.Strategy != plan.Strategies[i] {
					t.Errorf("option %d is %s", i, o.Strategy)
				}
				if o.MeetsRTO != (o.RTO <= r.Objectives.RTO) || o.MeetsRPO != (o.RPO <= r.Objectives.RPO) || o.Meets != (o.MeetsRTO && o.MeetsRPO) {
					t.Errorf("%s: verdicts %v %v %v for RTO %s, RPO %s", o.Strategy, o.MeetsRTO, o.MeetsRPO, o.Meets, o.RTO, o.RPO)
				}
				if o.Meets && (best == nil || o.Cost.Normal.Total < best.Cost.Normal.Total) {
					best = &r.Options[i]
				}
				if !o.Meets && len(o.Misses) == 0 {
					t.Errorf("%s misses an objective without saying why", o.Strategy)
				}
			}
			if best == nil || best.Strategy != r.Recommendation {
				t.Errorf("cheapest meeting option %+v, recommendation %s", best, r.Recommendation)
			}
			if !strings.HasPrefix(r.Explanation, string(tt.want)+" is the cheapest strategy that meets") {
				t.Errorf("explanation: %s", r.Explanation)
			}
		})
	}
}

// TestStrategyOrder checks what holds for any plan under the default model
// and prices: each warmer strategy recovers at least as fast, and costs at
// least as much in normal times.
func TestStrategyOrder(t *testing.T) {
	for _, tt := range plans {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			r := advise(t, tt.file)
			for i := 1; i < len(r.Options); i++ {
				a, b := r.Options[i-1], r.Options[i]
				if b.RTO > a.RTO || b.RPO > a.RPO {
					t.Errorf("%s (RTO %s, RPO %s) slower than %s (RTO %s, RPO %s)", b.Strategy, b.RTO, b.RPO, a.Strategy, a.RTO, a.RPO)
				}
				if b.Cost.Normal.Total < a.Cost.Normal.Total {
					t.Errorf("%s ($%.2f) cheaper than %s ($%.2f)", b.Strategy, b.Cost.Normal.Total, a.Strategy, a.Cost.Normal.Total)
				}
			}
		})
	}
}

func TestNoneMeets(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(p *plan.Plan, m *sim.Model)
		want   []string
	}{
		{"rto out of reach", func(p *plan.Plan, m *sim.Model) { p.Objectives.RTO = plan.Duration(20e9) },
			[]string{"No strategy meets RTO 20s and RPO 1s.", "RTO 20s is out of reach: the fastest, active-active, takes about 40s, most of it detect (30s", "shorter record health checks"}},
		{"rpo out of reach", func(p *plan.Plan, m *sim.Model) { m.MultiRegionWrite = plan.Duration(2e9) },
			[]string{"No strategy meets RTO 1m and RPO 1s.", "RPO 1s is out of reach: the closest, active-active, gives 2s, limited by bucket finance-statements"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := plan.Load("testdata/finance.yaml")
			if err != nil {
				t.Fatal(err)
			}
			m := sim.DefaultModel()
			tt.mutate(p, m)
			r, err := Advise(p, DefaultPrices(), m)
			if err != nil {
				t.Fatal(err)
			}
			if r.Recommendation != "" {
				t.Errorf("recommendation %s", r.Recommendation)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.Explanation, w) {
					t.Errorf("explanation lacks %q:\n%s", w, r.Explanation)
				}
			}
		})
	}
}

func TestMisses(t *testing.T) {
	r := advise(t, "testdata/finance.yaml")
	want := map[plan.Strategy][]string{
		plan.BackupRestore: {"RTO 1m needs active-active (about 40s); backup-restore takes about 58m20s, most of it data 50m",
			"RPO 1s needs multi-region writes (active-active); batch copies every 1h give at best 1h15m (bucket finance-statements)"},
		plan.WarmStandby: {"RTO 1m needs active-active (about 40s); warm-standby takes about 2m40s",
			"RPO 1s needs multi-region writes (active-active); continuous replication gives at best 15s (bucket finance-statements)"},
		plan.ActiveActive: nil,
	}
	for _, o := range r.Options {
		w, ok := want[o.Strategy]
		if !ok {
			continue
		}
		if len(o.Misses) != len(w) {
			t.Fatalf("%s misses %q, want %q", o.Strategy, o.Misses, w)
		}
		for i := range w {
			if !strings.HasPrefix(o.Misses[i], w[i]) {
				t.Errorf("%s miss %d = %q, want prefix %q", o.Strategy, i, o.Misses[i], w[i])
			}
		}
	}
}

func TestUnknownInstanceType(t *testing.T) {
	p, err := plan.Load("testdata/shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p.Services[1].Compute.AWS.InstanceTypes = []string{"p5.48xlarge"}
	_, err = Advise(p, DefaultPrices(), sim.DefaultModel())
	if err == nil || !strings.Contains(err.Error(), `no price for instance type "p5.48xlarge" in region us-west-2`) {
		t.Fatalf("err = %v", err)
	}
	p.Services[1].Compute.AWS.InstanceTypes = []string{"r6i.large"}
	p.Regions.Recovery.Name = "sa-east-1"
	if _, err = Advise(p, DefaultPrices(), sim.DefaultModel()); err == nil || !strings.Contains(err.Error(), `no region "sa-east-1"`) {
		t.Fatalf("err = %v", err)
	}
}

// TestGolden compares the text and JSON reports of every example plan with
// testdata/NAME.txt and NAME.json; run with -update after a deliberate
// change.
func TestGolden(t *testing.T) {
	for _, tt := range plans {
		name := strings.TrimSuffix(filepath.Base(tt.file), ".yaml")
		if name == "pilotlight" {
			name = "ticketing"
		}
		t.Run(name, func(t *testing.T) {
			r := advise(t, tt.file)
			var text bytes.Buffer
			if err := r.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			js, err := json.MarshalIndent(r, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "testdata/"+name+".txt", text.Bytes())
			golden(t, "testdata/"+name+".json", append(js, '\n'))
		})
	}
}

func golden(t *testing.T, file string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs; run go test ./advise -update to accept\ngot:\n%s", file, got)
	}
}
