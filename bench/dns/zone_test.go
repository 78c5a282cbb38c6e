package main

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/internal/needs"
	"github.com/pilotlight/pilotlight/plan"
)

func TestPlanYAMLIsAValidPlan(t *testing.T) {
	for _, z := range []zoneSpec{
		{Simple: 3, Failover: 2, CheckPort: 8080},
		{Simple: 1000, Failover: maxFailover, CheckPort: 1},
		{Simple: 0, Failover: 1, CheckPort: 65535},
	} {
		p, err := plan.Parse("bench.yaml", []byte(z.planYAML()))
		if err != nil {
			t.Fatalf("%+v: %v", z, err)
		}
		if got := len(p.Routing.Records); got != z.Simple+z.Failover {
			t.Fatalf("%+v: %d records", z, got)
		}
		exp := z.expected()
		for _, r := range p.Routing.Records {
			want, ok := exp[r.FQDN(p.Routing.Zone)]
			if !ok {
				t.Fatalf("unexpected record %s", r.Name)
			}
			switch r.Policy {
			case plan.PolicySimple:
				if !slices.Equal(r.Values, []string{want}) {
					t.Errorf("%s values %v, want [%s]", r.Name, r.Values, want)
				}
			case plan.PolicyFailover:
				i, _ := strconv.Atoi(r.Name[1:])
				_, rec := failoverTargets(i)
				if r.Primary[0] != want || r.Recovery[0] != rec.String() || r.TTL != 5 {
					t.Errorf("%s targets %v %v", r.Name, r.Primary, r.Recovery)
				}
				hc := r.HealthCheck
				if hc.Port != z.CheckPort || hc.Path != "/healthz" || hc.FailureThreshold != checkFailures || hc.SuccessThreshold != checkSuccesses {
					t.Errorf("%s health check %+v", r.Name, hc)
				}
			default:
				t.Errorf("%s policy %s", r.Name, r.Policy)
			}
		}
	}
}

func TestZoneSpecValidate(t *testing.T) {
	for _, tc := range []struct {
		z   zoneSpec
		err string
	}{
		{zoneSpec{Simple: 10}, ""},
		{zoneSpec{Failover: 1, CheckPort: 80}, ""},
		{zoneSpec{Simple: -1}, ">= 0"},
		{zoneSpec{Failover: maxFailover + 1, CheckPort: 80}, "at most 250"},
		{zoneSpec{Failover: 1}, "port 0"},
	} {
		err := tc.z.validate()
		if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%+v: err %v, want %q", tc.z, err, tc.err)
		}
	}
}

func TestAddresses(t *testing.T) {
	for _, tc := range []struct {
		i       int
		simple  string
		primary string
	}{{0, "10.0.0.0", "127.0.241.1"}, {255, "10.0.0.255", "127.0.242.0"}, {256, "10.0.1.0", "127.0.242.1"}, {70000, "10.1.17.112", "127.2.2.113"}} {
		if got := simpleAddr(tc.i); got != tc.simple {
			t.Errorf("simpleAddr(%d) = %s, want %s", tc.i, got, tc.simple)
		}
		if got := nthHost(primaryNet, tc.i+1).String(); got != tc.primary {
			t.Errorf("nthHost(%d) = %s, want %s", tc.i+1, got, tc.primary)
		}
	}
}

func TestGdnsdConfig(t *testing.T) {
	z := zoneSpec{Simple: 3, Failover: 2, CheckPort: 18080}
	cfg := z.gdnsdConfig("/d", "127.0.0.1:5353", 2)
	for _, want := range []string{
		"listen => [ 127.0.0.1:5353 ]", `run_dir => "/d/run"`, `state_dir => "/d/state"`, "udp_threads => 2",
		"plugin => http_status", "port => 18080", "url_path => /healthz", "interval => 2", "down_thresh => 3", "up_thresh => 2",
		"f0 => { datacenters => [ primary, recovery ], dcmap => { primary => 127.0.241.1, recovery => 127.0.242.1 } }",
		"f1 => { datacenters => [ primary, recovery ], dcmap => { primary => 127.0.241.2, recovery => 127.0.242.2 } }",
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config lacks %q:\n%s", want, cfg)
		}
	}
	if strings.Contains((zoneSpec{Simple: 1}).gdnsdConfig("/d", "127.0.0.1:1", 1), "plugins") {
		t.Error("config of simple records only has plugins")
	}
	zf := z.gdnsdZone()
	for _, want := range []string{"@ 60 SOA ns1 hostmaster", "r0 60 A 10.0.0.0\n", "r2 60 A 10.0.0.2\n", "f1 5/5 DYNA metafo!f1\n"} {
		if !strings.Contains(zf, want) {
			t.Errorf("zone lacks %q:\n%s", want, zf)
		}
	}
	if n := strings.Count(zf, "\n"); n != 3+5 {
		t.Errorf("zone has %d lines, want 8", n)
	}

	// gdnsd itself accepts the configuration, when installed.
	exe, err := exec.LookPath("gdnsd")
	if err != nil {
		t.Log("gdnsd not installed: not checking the config with gdnsd checkconf")
		return
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "zones"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "config"), z.gdnsdConfig(dir, "127.0.0.1:5353", 1))
	writeFile(t, filepath.Join(dir, "zones", "bench.test"), zf)
	if out, err := exec.Command(exe, "-c", dir, "checkconf").CombinedOutput(); err != nil {
		t.Fatalf("gdnsd checkconf: %v\n%s", err, out)
	}
}

func TestQueryFile(t *testing.T) {
	z := zoneSpec{Simple: 50, Failover: 5, CheckPort: 1}
	a, err := z.queryFile(setSimple, 3, 7)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(a, "\n"), "\n")
	if len(lines) != 150 {
		t.Fatalf("%d lines, want 150", len(lines))
	}
	count := map[string]int{}
	for _, l := range lines {
		name, typ, ok := strings.Cut(l, " ")
		if !ok || typ != "A" || !strings.HasSuffix(name, "."+benchZone) || name[0] != 'r' {
			t.Fatalf("bad line %q", l)
		}
		count[name]++
	}
	for i := range 50 {
		if n := count[simpleName(i)+"."+benchZone]; n != 3 {
			t.Errorf("%s appears %d times, want 3", simpleName(i), n)
		}
	}
	if again, _ := z.queryFile(setSimple, 3, 7); again != a {
		t.Error("same seed, different file")
	}
	if other, _ := z.queryFile(setSimple, 3, 8); other == a {
		t.Error("different seed, same order")
	}
	f, err := z.queryFile(setFailover, 1, 7)
	if err != nil || strings.Count(f, "\n") != 5 || !strings.Contains(f, "f4."+benchZone+" A\n") {
		t.Errorf("failover file %q, %v", f, err)
	}
	if _, err := z.queryFile("weighted", 1, 1); err == nil {
		t.Error("unknown set accepted")
	}
	if _, err := (zoneSpec{Simple: 1}).queryFile(setFailover, 1, 1); err == nil {
		t.Error("empty set accepted")
	}
}

func writeFile(t *testing.T, name, data string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestGdnsdFailsOver checks that gdnsd, configured as the benchmark
// configures it, is a failover peer: it answers the recovery target once
// the primary stops answering its health check.
func TestGdnsdFailsOver(t *testing.T) {
	needs.Program(t, "gdnsd", "gdnsd")
	p, r := failoverTargets(200) // away from the other tests' addresses
	tg, err := startTargets([]string{p.String(), r.String()}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.close()
	z := zoneSpec{Failover: 201, CheckPort: tg.port}
	b := &bench{cfg: config{gdnsd: "gdnsd"}, dir: t.TempDir(), log: slog.New(slog.DiscardHandler), now: time.Now}
	defer b.close()
	ctx := context.Background()
	d, addr, err := b.startGdnsd(ctx, z, b.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.stop(5 * time.Second)
	name := failoverName(200) + "." + benchZone
	if err := waitAnswer(ctx, addr, name, p.String(), 10*time.Second, 50*time.Millisecond, d); err != nil {
		t.Fatal(err)
	}
	_ = tg.servers[0].Close() // the primary target goes down
	start := time.Now()
	if err := waitAnswer(ctx, addr, name, r.String(), 30*time.Second, 50*time.Millisecond, d); err != nil {
		t.Fatal(err)
	}
	t.Logf("gdnsd failed over in %s", time.Since(start).Round(10*time.Millisecond))
}
