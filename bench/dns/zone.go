package main

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
)

// benchZone is the zone both servers serve in the throughput measurement.
const benchZone = "bench.test."

// Health-check timing of the failover records, the same for both servers.
// gdnsd's smallest interval is 2 s.
const (
	checkIntervalSeconds = 2
	checkFailures        = 3
	checkSuccesses       = 2
)

// Loopback networks of the failover records' fixed targets: the primary
// target of record fN is primaryNet.(N+1), its recovery target
// recoveryNet.(N+1).
var (
	primaryNet  = netip.MustParseAddr("127.0.241.0")
	recoveryNet = netip.MustParseAddr("127.0.242.0")
)

// maxFailover is the most failover records: one address per record in each
// /24.
const maxFailover = 250

// zoneSpec is the record set of the throughput measurement: simple A
// records r0…r(N-1), each with one fixed address, and failover records
// f0…f(M-1) with one fixed target per region, health-checked over HTTP on
// checkPort.
type zoneSpec struct {
	Simple    int
	Failover  int
	CheckPort int
}

// simpleName and failoverName are the relative names of record i.
func simpleName(i int) string   { return fmt.Sprintf("r%d", i) }
func failoverName(i int) string { return fmt.Sprintf("f%d", i) }

// simpleAddr is the address of simple record i, in 10.0.0.0/8.
func simpleAddr(i int) string {
	return fmt.Sprintf("10.%d.%d.%d", (i>>16)&0xff, (i>>8)&0xff, i&0xff)
}

// failoverTargets are the primary and recovery addresses of failover record i.
func failoverTargets(i int) (primary, recovery netip.Addr) {
	return nthHost(primaryNet, i+1), nthHost(recoveryNet, i+1)
}

// nthHost is the address n after base.
func nthHost(base netip.Addr, n int) netip.Addr {
	a := base.As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v += uint32(n)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func (z zoneSpec) validate() error {
	switch {
	case z.Simple < 0 || z.Failover < 0:
		return fmt.Errorf("record counts must be >= 0")
	case z.Simple > 1<<24:
		return fmt.Errorf("at most %d simple records", 1<<24)
	case z.Failover > maxFailover:
		return fmt.Errorf("at most %d failover records (one loopback address each per region)", maxFailover)
	case z.Failover > 0 && (z.CheckPort < 1 || z.CheckPort > 65535):
		return fmt.Errorf("health-check port %d out of range", z.CheckPort)
	}
	return nil
}

// expected is the answer each name should get while every target is
// healthy: the fixed address of a simple record, the primary target of a
// failover record. Names are absolute.
func (z zoneSpec) expected() map[string]string {
	m := make(map[string]string, z.Simple+z.Failover)
	for i := range z.Simple {
		m[simpleName(i)+"."+benchZone] = simpleAddr(i)
	}
	for i := range z.Failover {
		p, _ := failoverTargets(i)
		m[failoverName(i)+"."+benchZone] = p.String()
	}
	return m
}

// probeName is a name of the zone that has an A record.
func (z zoneSpec) probeName() string {
	if z.Simple > 0 {
		return simpleName(0) + "." + benchZone
	}
	return failoverName(0) + "." + benchZone
}

// planYAML is a plan with two local regions whose routing block holds the
// zone's records, for `pilotlight dns serve`.
func (z zoneSpec) planYAML() string {
	var b strings.Builder
	b.WriteString(`apiVersion: pilotlight/v1
kind: Plan
name: bench-dns
objectives: {rto: 2m, rpo: 5s}
strategy: active-active
regions:
  primary: {name: seoul, provider: local, network: 127.0.221.0/24}
  recovery: {name: virginia, provider: local, network: 127.0.222.0/24}
routing:
  zone: ` + benchZone + `
  records:
`)
	for i := range z.Simple {
		fmt.Fprintf(&b, "    - {name: %s, type: A, ttl: 60, values: [%s]}\n", simpleName(i), simpleAddr(i))
	}
	for i := range z.Failover {
		p, r := failoverTargets(i)
		fmt.Fprintf(&b, "    - {name: %s, type: A, policy: failover, ttl: 5, primary: [%s], recovery: [%s],\n", failoverName(i), p, r)
		fmt.Fprintf(&b, "       healthCheck: {type: http, path: /healthz, port: %d, interval: %ds, timeout: 1s, failureThreshold: %d, successThreshold: %d}}\n",
			z.CheckPort, checkIntervalSeconds, checkFailures, checkSuccesses)
	}
	return b.String()
}

// gdnsdConfig is gdnsd's config file: listen on listen (host:port), keep
// run and state directories under dir, and define each failover record as a
// metafo resource (datacenters primary then recovery, each address checked
// by http_status with the same path, port and thresholds as pilotlight's).
func (z zoneSpec) gdnsdConfig(dir, listen string, udpThreads int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `options => {
  listen => [ %s ]
  run_dir => %q
  state_dir => %q
  udp_threads => %d
  tcp_threads => 1
}
`, listen, dir+"/run", dir+"/state", udpThreads)
	if z.Failover == 0 {
		return b.String()
	}
	// gdnsd's anti-flap: down after down_thresh failures among the last
	// ok_thresh probes once one has failed; up after up_thresh successes.
	fmt.Fprintf(&b, `service_types => {
  bench_http => {
    plugin => http_status
    port => %d
    url_path => /healthz
    interval => %d
    timeout => 1
    down_thresh => %d
    ok_thresh => %d
    up_thresh => %d
  }
}
plugins => {
  metafo => {
    service_types => bench_http
    resources => {
`, z.CheckPort, checkIntervalSeconds, checkFailures, checkFailures, checkSuccesses)
	for i := range z.Failover {
		p, r := failoverTargets(i)
		fmt.Fprintf(&b, "      %s => { datacenters => [ primary, recovery ], dcmap => { primary => %s, recovery => %s } }\n",
			failoverName(i), p, r)
	}
	b.WriteString("    }\n  }\n}\n")
	return b.String()
}

// gdnsdZone is the RFC 1035 zone file of benchZone for gdnsd: the same SOA
// and NS as pilotlight serves by default, the simple records as A records
// and the failover records as DYNA records of the metafo plugin.
func (z zoneSpec) gdnsdZone() string {
	var b strings.Builder
	b.WriteString("@ 60 SOA ns1 hostmaster 1 3600 600 86400 60\n@ 60 NS ns1\nns1 60 A 127.0.0.1\n")
	for i := range z.Simple {
		fmt.Fprintf(&b, "%s 60 A %s\n", simpleName(i), simpleAddr(i))
	}
	for i := range z.Failover {
		fmt.Fprintf(&b, "%s 5/5 DYNA metafo!%s\n", failoverName(i), failoverName(i))
	}
	return b.String()
}

// queryFile is a dnsperf input file: "NAME A" lines naming each record of
// the set (simple or failover) repeat times, shuffled with seed.
func (z zoneSpec) queryFile(set string, repeat int, seed uint64) (string, error) {
	var n int
	var name func(int) string
	switch set {
	case setSimple:
		n, name = z.Simple, simpleName
	case setFailover:
		n, name = z.Failover, failoverName
	default:
		return "", fmt.Errorf("unknown record set %q", set)
	}
	if n == 0 {
		return "", fmt.Errorf("record set %s is empty", set)
	}
	lines := make([]string, 0, n*repeat)
	for range repeat {
		for i := range n {
			lines = append(lines, name(i)+"."+benchZone+" A")
		}
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	rng.Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
	return strings.Join(lines, "\n") + "\n", nil
}

// The record sets measured.
const (
	setSimple   = "simple"
	setFailover = "failover"
)
