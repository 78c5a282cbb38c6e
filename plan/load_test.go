package plan

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the expected outputs in testdata")

func TestLoadGood(t *testing.T) {
	files, err := filepath.Glob("testdata/good/*.yaml")
	if err != nil || len(files) < 4 {
		t.Fatalf("good fixtures: %v, %v", files, err)
	}
	files = append(files, "../examples/ticketing/pilotlight.yaml")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			p, err := Load(f)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if p.File() != f || p.Dir() != filepath.Dir(f) {
				t.Errorf("File, Dir = %q, %q", p.File(), p.Dir())
			}
			if err := p.Validate(); err != nil {
				t.Errorf("Validate after Load: %v", err)
			}
		})
	}
}

func TestLoadBad(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil || len(files) < 17 {
		t.Fatalf("bad fixtures: %v, %v", files, err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Parse(f, data)
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", p)
			}
			if p != nil {
				t.Errorf("Parse returned a plan with an error")
			}
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error %T is not a non-empty Errors: %v", err, err)
			}
			for _, e := range errs {
				if e.File != f || e.Line < 1 || e.Col < 1 {
					t.Errorf("error without position: %#v", e)
				}
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(f, ".yaml") + ".err"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("errors differ\ngot:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) || !strings.HasPrefix(err.Error(), "plan: load ") {
		t.Fatalf("Load missing file: %v", err)
	}
}

func TestDefaultsApplied(t *testing.T) {
	p, err := Load("testdata/good/local.yaml")
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"strategy", p.Strategy, PilotLight},
		{"primary provider", p.Regions.Primary.Provider, ProviderLocal},
		{"primary network", p.Regions.Primary.Network, DefaultPrimaryNetwork},
		{"recovery network", p.Regions.Recovery.Network, "127.0.9.0/24"},
		{"bucket replica", p.Data.Buckets[0].Replica, "shop-assets"},
		{"bucket deletes", p.Data.Buckets[0].Deletes, DeletesKeep},
		{"bucket archived", p.Data.Buckets[0].Archived, ArchivedSkip},
		{"bucket explicit replica", p.Data.Buckets[1].RecoveryName(), "shop-orders-dr"},
		{"tier", p.Services[2].Tier, 1},
		{"local port", p.Services[1].Compute.Local.Port, DefaultLocalPort},
		{"explicit local port", p.Services[0].Compute.Local.Port, 5432},
		{"lb algorithm", p.Services[2].LoadBalancer.Algorithm, RoundRobin},
		{"lb default health check", p.Services[2].LoadBalancer.HealthCheck.Path, DefaultCheckPath},
		{"tcp check path", p.Services[1].LoadBalancer.HealthCheck.Path, ""},
		{"tcp check thresholds", p.Services[1].LoadBalancer.HealthCheck.FailureThreshold, DefaultFailureThreshold},
		{"zone dot", p.Routing.Zone, "shop.test."},
		{"record policy", p.Routing.Records[0].Policy, PolicySimple},
		{"record ttl", p.Routing.Records[0].TTL, DefaultTTL},
		{"explicit ttl 0", p.Routing.Records[1].TTL, 0},
		{"apex fqdn", p.Routing.Records[1].FQDN(p.Routing.Zone), "shop.test."},
		{"fqdn", p.Routing.Records[0].FQDN("shop.test"), "www.shop.test."},
		{"rpo", p.Objectives.RPO.D(), time.Minute},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	w, err := Load("testdata/good/warm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	hc := w.Routing.Records[0].HealthCheck
	want := HealthCheck{Type: CheckHTTP, Path: "/healthz", Interval: Duration(2 * time.Second),
		Timeout: Duration(time.Second), FailureThreshold: 3, SuccessThreshold: 2, ExpectStatus: "200-399",
		Vantages: DefaultVantages, Rule: DefaultRule}
	if *hc != want {
		t.Errorf("empty health check = %+v, want %+v", *hc, want)
	}
}

// TestParseErrorPositions checks that a problem with an absent field is
// reported at the nearest enclosing node.
func TestParseErrorPositions(t *testing.T) {
	src := "apiVersion: pilotlight/v1\nkind: Plan\nname: a\nobjectives: {rto: 1m, rpo: 1m}\n" +
		"regions:\n  primary: {name: a}\n  recovery: {name: b}\nservices:\n  - name: web\n    compute:\n      local: {command: [x]}\n"
	_, err := Parse("p.yaml", []byte(src))
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 1 {
		t.Fatalf("Parse: %v", err)
	}
	want := FieldError{File: "p.yaml", Line: 10, Col: 5, Path: "services[0].compute.count", Msg: "required"}
	if *errs[0] != want {
		t.Errorf("got %#v, want %#v", *errs[0], want)
	}
}

func TestFieldErrorFormat(t *testing.T) {
	tests := []struct {
		e    FieldError
		want string
	}{
		{FieldError{File: "f.yaml", Line: 3, Col: 7, Path: "a.b", Msg: "bad"}, "f.yaml:3:7: a.b: bad"},
		{FieldError{File: "f.yaml", Line: 3, Col: 1, Msg: "syntax"}, "f.yaml:3:1: syntax"},
		{FieldError{Path: "a[0].b", Msg: "required"}, "a[0].b: required"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	es := Errors{{Line: 5, Col: 1, Msg: "b"}, {Line: 2, Col: 9, Msg: "a2"}, {Line: 2, Col: 3, Msg: "a1"}}
	if got, want := es.Error(), ":2:3: a1\n:2:9: a2\n:5:1: b"; got != want {
		t.Errorf("Errors.Error() = %q, want %q", got, want)
	}
	if es[0].Msg != "b" {
		t.Error("Errors.Error() reordered its receiver")
	}
}
