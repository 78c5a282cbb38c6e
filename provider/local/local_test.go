package local

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pilotlight/pilotlight/plan"
)

func TestDesiredCount(t *testing.T) {
	svc := &plan.Service{Name: "web", Compute: plan.Compute{Count: 4, Standby: 1}}
	tests := []struct {
		strategy plan.Strategy
		role     Role
		want     int
	}{
		{plan.BackupRestore, Primary, 4},
		{plan.BackupRestore, Recovery, 0},
		{plan.PilotLight, Primary, 4},
		{plan.PilotLight, Recovery, 0},
		{plan.WarmStandby, Recovery, 1},
		{plan.ActiveActive, Recovery, 4},
	}
	for _, tt := range tests {
		if got := DesiredCount(tt.strategy, tt.role, svc); got != tt.want {
			t.Errorf("DesiredCount(%s, %s) = %d, want %d", tt.strategy, tt.role, got, tt.want)
		}
	}
}

func TestCredentials(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	c1, err := LoadOrCreateCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c1.AccessKey == "" || c1.SecretKey == "" {
		t.Fatalf("empty credentials: %v", c1)
	}
	if strings.Contains(c1.String(), c1.SecretKey) {
		t.Errorf("String() leaks the secret: %s", c1)
	}
	fi, err := os.Stat(filepath.Join(dir, "credentials.json"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("credentials mode = %v, want 0600", fi.Mode().Perm())
	}
	c2, err := LoadOrCreateCredentials(dir)
	if err != nil || c2 != c1 {
		t.Errorf("second load = %v, %v; want the same keys", c2, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "credentials.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateCredentials(dir); err == nil || !strings.Contains(err.Error(), "malformed") {
		t.Errorf("malformed file: err = %v", err)
	}
}

func TestReadRuntime(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadRuntime(dir); !errors.Is(err, ErrNotRunning) {
		t.Errorf("no file: err = %v, want ErrNotRunning", err)
	}
	// A runtime file left by a process that no longer exists is stale.
	stale := `{"pid": 999999999, "statusURL": "http://127.0.0.1:1/v1/status"}`
	if err := os.WriteFile(filepath.Join(dir, "up.json"), []byte(stale), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadRuntime(dir); !errors.Is(err, ErrNotRunning) {
		t.Errorf("stale file: err = %v, want ErrNotRunning", err)
	}
	live := `{"pid": ` + strconv.Itoa(os.Getpid()) + `, "plan": "p", "statusURL": "http://127.0.0.1:1/v1/status"}`
	if err := os.WriteFile(filepath.Join(dir, "up.json"), []byte(live), 0o644); err != nil {
		t.Fatal(err)
	}
	rt, err := ReadRuntime(dir)
	if err != nil || rt.Plan != "p" {
		t.Errorf("live file: %+v, %v", rt, err)
	}
}

func TestNewRegionRejects(t *testing.T) {
	p := &plan.Plan{Name: "p", Regions: plan.Regions{
		Primary:  plan.Region{Name: "a", Provider: plan.ProviderAWS},
		Recovery: plan.Region{Name: "b", Provider: plan.ProviderLocal, Network: "10.0.0.0/24"},
	}}
	if _, err := NewRegion(p, Primary, Credentials{}, Options{StateDir: t.TempDir(), Exe: "/bin/true"}); err == nil || !strings.Contains(err.Error(), "not local") {
		t.Errorf("aws region: err = %v", err)
	}
	p.Regions.Recovery.Network = "127.0.9.0/25"
	if _, err := NewRegion(p, Recovery, Credentials{}, Options{StateDir: t.TempDir(), Exe: "/bin/true"}); err == nil || !strings.Contains(err.Error(), "/24") {
		t.Errorf("a /25 is too small for the host layout: err = %v", err)
	}
}

func TestLBAddrFunc(t *testing.T) {
	p, err := plan.Load("../../examples/ticketing/pilotlight.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f := LBAddrFunc(p)
	for role, want := range map[string]string{"primary": "127.0.1.2:8080", "recovery": "127.0.2.2:8080"} {
		got, err := f(role, p.Service("web"))
		if err != nil || got.String() != want {
			t.Errorf("%s: %v, %v; want %s", role, got, err, want)
		}
	}
	if _, err := f("primary", &plan.Service{Name: "nope", LoadBalancer: &plan.LoadBalancer{Port: 1}}); err == nil {
		t.Error("a service outside the plan has an address")
	}
}
