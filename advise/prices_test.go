package advise

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pilotlight/pilotlight/capacity"
)

func TestDefaultPrices(t *testing.T) {
	pr := DefaultPrices()
	for _, region := range []string{"us-east-1", "us-west-2", "eu-west-1", "ap-northeast-2"} {
		r, err := pr.Region(region)
		if err != nil {
			t.Fatal(err)
		}
		// Every type the capacity catalogue knows has a price.
		for _, name := range capacity.Names() {
			if _, err := pr.Instance(r, region, name); err != nil {
				t.Errorf("%s: %v", region, err)
			}
		}
	}
	r, _ := pr.Region("us-east-1")
	small, _ := pr.Instance(r, "us-east-1", "local.small")
	medium, _ := pr.Instance(r, "us-east-1", "local.medium")
	if medium != r.Instances["m6i.large"] || small != medium/2 {
		t.Errorf("local.small %v, local.medium %v, m6i.large %v", small, medium, r.Instances["m6i.large"])
	}
}

func TestLoadPrices(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		edit func(string) string
		want []string // substrings of the error, none when valid
	}{
		{"valid", func(s string) string { return s }, nil},
		{"unknown field", func(s string) string { return s + "discount: 0.1\n" },
			[]string{"advise: parsing prices", "field discount not found"}},
		{"negative price", func(s string) string { return strings.Replace(s, "x.large: 0.2", "x.large: -0.2", 1) },
			[]string{"regions.r-away.instances.x.large: must be above zero, got -0.2"}},
		{"missing type", func(s string) string {
			return strings.Replace(s, "instances: {x.large: 0.2}", "instances: {y.large: 0.2}", 1)
		},
			[]string{"regions.r-away.instances: must price every instance type another region prices, got x.large", "regions.r-home.instances: must price every instance type another region prices, got y.large", "equivalents.local.small.type"}},
		{"default region", func(s string) string { return strings.Replace(s, "defaultRegion: r-home", "defaultRegion: mars", 1) },
			[]string{`defaultRegion: must be one of the regions, got "mars"`}},
		{"no date", func(s string) string { return strings.Replace(s, "date: 2025-01-01", "", 1) },
			[]string{"date: required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".yaml")
			if err := os.WriteFile(f, []byte(tt.edit(testPrices)), 0o644); err != nil {
				t.Fatal(err)
			}
			pr, err := LoadPrices(f)
			if tt.want == nil {
				if err != nil || pr.Regions["r-away"].Instances["x.large"] != 0.2 {
					t.Fatalf("LoadPrices = %+v, %v", pr, err)
				}
				return
			}
			if err == nil {
				t.Fatal("LoadPrices succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
	if _, err := LoadPrices(filepath.Join(dir, "none.yaml")); err == nil || !strings.HasPrefix(err.Error(), "advise: load prices") {
		t.Errorf("missing file: %v", err)
	}
}
