package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	mdns "github.com/miekg/dns"
)

// The servers compared.
const (
	serverPilotlight = "pilotlight"
	serverGdnsd      = "gdnsd"
)

// gdnsdFailoverMethod says how gdnsd serves the failover records.
const gdnsdFailoverMethod = "metafo plugin (datacenters primary, recovery) over http_status checks of /healthz"

// nobody is the user gdnsd runs as when the benchmark runs as root.
const nobodyID = 65534

// measureThroughput starts the health targets, then each server in turn
// serving z, checks its answers and runs dnsperf on every record set.
func (b *bench) measureThroughput(ctx context.Context, res *Results) error {
	z := zoneSpec{Simple: b.cfg.simple, Failover: b.cfg.failover}
	var addrs []string
	for i := range z.Failover {
		p, r := failoverTargets(i)
		addrs = append(addrs, p.String(), r.String())
	}
	if len(addrs) > 0 {
		t, err := startTargets(addrs, 0)
		if err != nil {
			return err
		}
		defer t.close()
		z.CheckPort = t.port
		b.log.Info("health targets up", "addresses", len(addrs), "port", t.port)
	}
	if err := z.validate(); err != nil {
		return err
	}
	dir := filepath.Join(b.dir, "throughput")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("throughput: %w", err)
	}
	var sets []string
	queryFiles := map[string]string{}
	for _, set := range []string{setSimple, setFailover} {
		n := map[string]int{setSimple: z.Simple, setFailover: z.Failover}[set]
		if n == 0 {
			continue
		}
		q, err := z.queryFile(set, max(1, 10000/n), b.cfg.seed)
		if err != nil {
			return err
		}
		f := filepath.Join(dir, "queries-"+set+".txt")
		if err := os.WriteFile(f, []byte(q), 0o644); err != nil {
			return fmt.Errorf("throughput: write query file: %w", err)
		}
		sets, queryFiles[set] = append(sets, set), f
		res.Throughput = append(res.Throughput, ThroughputResult{Set: set, Records: n})
	}
	servers := []struct {
		name  string
		skip  bool
		start func(context.Context, zoneSpec, string) (*daemon, string, error)
	}{
		{serverPilotlight, b.cfg.skipPL, b.startPilotlightDNS},
		{serverGdnsd, b.cfg.skipGdnsd, b.startGdnsd},
	}
	for _, s := range servers {
		if s.skip {
			res.skip(s.name+" throughput", "skipped by flag")
			continue
		}
		d, addr, err := s.start(ctx, z, dir)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			res.skip(s.name+" throughput", err.Error())
			b.log.Warn("server not measured", "server", s.name, "err", err)
			continue
		}
		mismatches, err := checkAnswers(ctx, addr, z.expected())
		if err != nil {
			d.stop(10 * time.Second)
			return fmt.Errorf("%s: check answers: %w", s.name, err)
		}
		for i, set := range sets {
			b.log.Info("dnsperf", "server", s.name, "set", set, "seconds", b.cfg.duration.Seconds(), "clients", b.cfg.clients)
			args, err := dnsperfArgs(addr, queryFiles[set], b.cfg.duration, b.cfg.clients, b.cfg.maxQPS)
			if err != nil {
				d.stop(10 * time.Second)
				return err
			}
			out, err := runCmd(ctx, b.cfg.dnsperf, args, nil)
			if err == nil {
				_ = os.WriteFile(filepath.Join(dir, s.name+"-"+set+".dnsperf.txt"), out, 0o644)
			}
			var pr perfResult
			if err == nil {
				pr, err = parseDNSPerf(out)
			}
			if err != nil {
				d.stop(10 * time.Second)
				return fmt.Errorf("%s %s: %w", s.name, set, err)
			}
			r := &ServerResult{Server: s.name, perfResult: pr, Mismatches: mismatches[set]}
			if s.name == serverGdnsd {
				res.Throughput[i].Gdnsd = r
			} else {
				res.Throughput[i].Pilotlight = r
			}
			b.log.Info("measured", "server", s.name, "set", set, "qps", pr.QPS, "lost", pr.Lost)
		}
		d.stop(10 * time.Second)
	}
	if z.Failover > 0 && !b.cfg.skipGdnsd {
		res.GdnsdFailover = gdnsdFailoverMethod
	}
	return nil
}

// startPilotlightDNS writes the plan and runs `pilotlight dns serve` on it.
func (b *bench) startPilotlightDNS(ctx context.Context, z zoneSpec, dir string) (*daemon, string, error) {
	if _, err := b.runPilotlight(ctx, "dns", "serve", "--help"); err != nil {
		return nil, "", fmt.Errorf("pilotlight has no `dns serve` command yet: %w", err)
	}
	planFile := filepath.Join(dir, "pilotlight.yaml")
	if err := os.WriteFile(planFile, []byte(z.planYAML()), 0o644); err != nil {
		return nil, "", fmt.Errorf("write plan: %w", err)
	}
	addr, err := freeDNSAddr()
	if err != nil {
		return nil, "", err
	}
	args := []string{"dns", "serve", "-f", planFile, "--listen", addr, "--log-level", "warn"}
	d, err := startDaemon(b.cfg.pilotlight, args, append(os.Environ(), b.childEnv...), filepath.Join(dir, "pilotlight-dns.log"), nil)
	if err != nil {
		return nil, "", err
	}
	if err := waitAnswer(ctx, addr, z.probeName(), "", 30*time.Second, 100*time.Millisecond, d); err != nil {
		d.stop(5 * time.Second)
		return nil, "", fmt.Errorf("pilotlight dns serve: %w", err)
	}
	b.log.Info("server up", "server", serverPilotlight, "addr", addr)
	return d, addr, nil
}

// startGdnsd writes gdnsd's config directory and runs `gdnsd -c DIR start`
// in the foreground, as nobody when the benchmark runs as root.
func (b *bench) startGdnsd(ctx context.Context, z zoneSpec, dir string) (*daemon, string, error) {
	exe, err := exec.LookPath(b.cfg.gdnsd)
	if err != nil {
		return nil, "", fmt.Errorf("gdnsd not installed (apt-get install gdnsd): %w", err)
	}
	gd := filepath.Join(dir, "gdnsd")
	if os.Geteuid() == 0 {
		// gdnsd runs as nobody, which must reach its directory: a new one
		// in the system's temporary directory rather than opening up
		// the work directory's parents.
		if gd, err = os.MkdirTemp("", "pilotlight-bench-gdnsd-"); err != nil {
			return nil, "", fmt.Errorf("gdnsd config: %w", err)
		}
		if err := os.Chmod(gd, 0o755); err != nil {
			return nil, "", fmt.Errorf("gdnsd config: %w", err)
		}
		b.cleanup = append(b.cleanup, func() { _ = os.RemoveAll(gd) })
		b.log.Info("gdnsd directory", "dir", gd)
	}
	addr, err := freeDNSAddr()
	if err != nil {
		return nil, "", err
	}
	if err := os.MkdirAll(filepath.Join(gd, "zones"), 0o755); err != nil {
		return nil, "", fmt.Errorf("gdnsd config: %w", err)
	}
	files := map[string]string{
		filepath.Join(gd, "config"):                                    z.gdnsdConfig(gd, addr, runtime.NumCPU()),
		filepath.Join(gd, "zones", strings.TrimSuffix(benchZone, ".")): z.gdnsdZone(),
	}
	for f, data := range files {
		if err := os.WriteFile(f, []byte(data), 0o644); err != nil {
			return nil, "", fmt.Errorf("gdnsd config: %w", err)
		}
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		// gdnsd needs to own its run and state directories.
		cred = &syscall.Credential{Uid: nobodyID, Gid: nobodyID}
		if err := filepath.Walk(gd, func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return os.Chown(p, nobodyID, nobodyID)
		}); err != nil {
			return nil, "", fmt.Errorf("gdnsd config: %w", err)
		}
	}
	d, err := startDaemon(exe, []string{"-c", gd, "start"}, os.Environ(), filepath.Join(dir, "gdnsd.log"), cred)
	if err != nil {
		return nil, "", err
	}
	if err := waitAnswer(ctx, addr, z.probeName(), "", 60*time.Second, 100*time.Millisecond, d); err != nil {
		d.stop(5 * time.Second)
		return nil, "", fmt.Errorf("gdnsd: %w", err)
	}
	b.log.Info("server up", "server", serverGdnsd, "addr", addr)
	return d, addr, nil
}

// runPilotlight runs a short pilotlight command, such as a --help that
// tells whether a command exists, for at most 20 s.
func (b *bench) runPilotlight(ctx context.Context, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	return runCmd(ctx, b.cfg.pilotlight, args, append(os.Environ(), b.childEnv...))
}

// checkAnswers asks server for every name of want once and counts, per
// record set, the names whose first A record is not the expected address.
func checkAnswers(ctx context.Context, server string, want map[string]string) (map[string]int, error) {
	c := &mdns.Client{Net: "udp", Timeout: time.Second}
	bad := map[string]int{}
	for name, addr := range want {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		set := setSimple
		if name[0] == 'f' {
			set = setFailover
		}
		var got []string
		var err error
		for range 3 { // UDP: retry a lost datagram
			if got, _, err = lookupA(ctx, c, server, name); err == nil {
				break
			}
		}
		if err != nil {
			return nil, fmt.Errorf("query %s: %w", name, err)
		}
		if len(got) == 0 || got[0] != addr {
			bad[set]++
		}
	}
	return bad, nil
}
