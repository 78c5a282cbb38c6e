package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"testing"

	mdns "github.com/miekg/dns"
	"go.uber.org/goleak"

	"github.com/pilotlight/pilotlight/plan"
)

// The test binary doubles as the pilotlight binary the benchmark runs:
// `dns serve` answers the plan's records with their first value (a
// stand-in for the server being benchmarked), and `up --dns-listen`
// answers www with the primary or, while the primary's fail file exists,
// the recovery load balancer.
const childEnvVar = "BENCH_DNS_TEST_CHILD"

var childEnv = []string{childEnvVar + "=1", "GORACE=atexit_sleep_ms=0"}

func TestMain(m *testing.M) {
	if os.Getenv(childEnvVar) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		err := fakePilotlight(ctx, os.Args[1:])
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

func fakePilotlight(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("fake", flag.ContinueOnError)
	file := fs.String("f", "", "")
	listen := fs.String("listen", "", "")
	dnsListen := fs.String("dns-listen", "", "")
	fs.String("log-level", "", "")
	fs.String("state-dir", "", "")
	fs.Bool("no-replicate", false, "")
	help := slices.Contains(args, "--help")
	switch {
	case os.Getenv("FAKE_NO_DNS") == "1" && len(args) > 0 && args[0] == "dns":
		return errors.New(`unknown command "dns" for "pilotlight"`)
	case help && len(args) >= 2 && args[0] == "dns" && args[1] == "serve":
		return nil
	case len(args) >= 2 && args[0] == "dns" && args[1] == "serve":
		if err := fs.Parse(args[2:]); err != nil {
			return err
		}
		p, err := plan.Load(*file)
		if err != nil {
			return err
		}
		answers := map[string]string{}
		for _, r := range p.Routing.Records {
			v := append(r.Values, r.Primary...)
			answers[strings.ToLower(r.FQDN(p.Routing.Zone))] = v[0]
		}
		return serveFake(ctx, *listen, func(name string) string { return answers[name] })
	case len(args) >= 1 && args[0] == "up":
		if os.Getenv("FAKE_UP_DNS") != "1" {
			return errors.New("unknown flag: --dns-listen")
		}
		if help {
			fmt.Println("      --dns-listen string   serve the plan's zone on this address")
			return nil
		}
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		p, err := plan.Load(*file)
		if err != nil {
			return err
		}
		var fail string
		cmd := p.Services[0].Compute.Local.Command
		for i := range cmd[:len(cmd)-1] {
			if cmd[i] == "-fail-file" {
				fail = strings.ReplaceAll(cmd[i+1], "{{.Region}}", p.Regions.Primary.Name)
			}
		}
		return serveFake(ctx, *dnsListen, func(name string) string {
			if name != foName {
				return ""
			}
			if _, err := os.Stat(fail); err == nil {
				return foRecoveryLB
			}
			return foPrimaryLB
		})
	}
	return fmt.Errorf("fake pilotlight: unexpected arguments %q", args)
}

// serveFake answers A queries on addr (UDP) with answer(name), NXDOMAIN
// when it is empty, until ctx ends.
func serveFake(ctx context.Context, addr string, answer func(name string) string) error {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return err
	}
	return serveFakeConn(ctx, pc, answer)
}

func serveFakeConn(ctx context.Context, pc net.PacketConn, answer func(name string) string) error {
	started := make(chan struct{})
	s := &mdns.Server{PacketConn: pc, Handler: fakeHandler(answer), NotifyStartedFunc: func() { close(started) }}
	errc := make(chan error, 1)
	go func() { errc <- s.ActivateAndServe() }()
	select { // Shutdown fails before the server has started
	case err := <-errc:
		return err
	case <-started:
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		_ = s.Shutdown()
		<-errc
		return nil
	}
}

func fakeHandler(answer func(name string) string) mdns.HandlerFunc {
	return func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(r)
		m.Authoritative = true
		q := r.Question[0]
		a := answer(strings.ToLower(q.Name))
		switch {
		case a == "":
			m.Rcode = mdns.RcodeNameError
		case q.Qtype == mdns.TypeA:
			m.Answer = append(m.Answer, &mdns.A{
				Hdr: mdns.RR_Header{Name: q.Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 5},
				A:   net.ParseIP(a),
			})
		}
		_ = w.WriteMsg(m)
	}
}

// startFakeDNS serves answer on a free loopback port for the test's life.
func startFakeDNS(t *testing.T, answer func(name string) string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- serveFakeConn(ctx, pc, answer) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Error(err)
		}
	})
	return pc.LocalAddr().String()
}
