package sim

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/plan"
)

func TestDefaultModel(t *testing.T) {
	m := DefaultModel()
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		got  time.Duration
		want time.Duration
	}{
		{"launch m6i", m.Launch("m6i.xlarge"), 40 * time.Second},
		{"launch local as m6i", m.Launch("local.medium"), m.Launch("m6i.large")},
		{"launch unknown family", m.Launch("p5.48xlarge"), time.Minute},
		{"database restore 100 GB", m.Database.Restore.For(100), 10*time.Minute + 300*time.Second},
		{"volume restore 0 GB", m.Volume.Restore.For(0), time.Minute},
		{"snapshot copy 1.5 GB", m.Snapshot.Copy.For(1.5), 2*time.Minute + 15*time.Second},
		{"promote cluster", m.Database.Promote.Of(true), time.Minute},
		{"promote instance", m.Database.Promote.Of(false), 5 * time.Minute},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %s, want %s", tt.name, tt.got, tt.want)
		}
	}
	// DefaultModel returns a copy the caller may change.
	m.Instance.Launch.Families["m6i"] = plan.Duration(time.Hour)
	if DefaultModel().Launch("m6i.large") != 40*time.Second {
		t.Error("DefaultModel shares its families map")
	}
}

func TestLoadModel(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		edit func(string) string
		want []string
	}{
		{"override", func(s string) string { return strings.Replace(s, "propagation: 60s", "propagation: 5s", 1) }, nil},
		{"unknown field", func(s string) string { return s + "warp: 1s\n" }, []string{"sim: parsing model", "field warp not found"}},
		{"bad duration", func(s string) string { return strings.Replace(s, "boot: 30s", "boot: soon", 1) }, []string{`invalid duration "soon"`}},
		{"zero and missing", func(s string) string {
			s = strings.Replace(s, "scaleOut: 10s", "scaleOut: 0s", 1)
			return strings.Replace(s, "  minCheckInterval: 10s\n", "", 1)
		}, []string{"autoScaling.scaleOut: must be positive, got 0s", "dns.minCheckInterval: must be positive, got 0s"}},
		{"bucket", func(s string) string {
			return strings.Replace(s, "runInstances: {burst: 1000, perSecond: 2}", "runInstances: {burst: 0, perSecond: -1}", 1)
		}, []string{"instance.runInstances.burst: must be >= 1, got 0", "instance.runInstances.perSecond: must be positive, got -1"}},
		{"negative write point", func(s string) string { return strings.Replace(s, "multiRegionWrite: 0s", "multiRegionWrite: -1s", 1) },
			[]string{"multiRegionWrite: must not be negative, got -1s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".yaml")
			if err := os.WriteFile(f, []byte(tt.edit(string(defaultModel))), 0o644); err != nil {
				t.Fatal(err)
			}
			m, err := LoadModel(f)
			if tt.want == nil {
				if err != nil || m.DNS.Propagation.D() != 5*time.Second {
					t.Fatalf("LoadModel = %+v, %v", m, err)
				}
				return
			}
			if err == nil {
				t.Fatal("LoadModel succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
	if _, err := LoadModel(filepath.Join(dir, "none.yaml")); err == nil || !strings.HasPrefix(err.Error(), "sim: load model") {
		t.Errorf("missing file: %v", err)
	}
}
