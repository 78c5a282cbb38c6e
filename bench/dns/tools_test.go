package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseDNSPerf(t *testing.T) {
	real, err := os.ReadFile("testdata/dnsperf.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		out  string
		want perfResult
		err  string
	}{
		{name: "dnsperf 2.10", out: string(real), want: perfResult{
			QPS: 299116.073661, Sent: 897423, Completed: 897423, NoError: 897423, RunSeconds: 3.000250, AvgLatency: 0.000121,
		}},
		{name: "losses and several rcodes", out: `Statistics:
  Queries sent:         1000
  Queries completed:    990 (99.00%)
  Queries lost:         10 (1.00%)
  Response codes:       NOERROR 980 (98.99%), NXDOMAIN 10 (1.01%)
  Run time (s):         1.5
  Queries per second:   660.0
`, want: perfResult{QPS: 660, Sent: 1000, Completed: 990, Lost: 10, NoError: 980, RunSeconds: 1.5}},
		{name: "no statistics", out: "[Fatal] invalid server address\n", err: `no "Queries per second" line`},
		{name: "bad number", out: "  Queries sent:  many\n  Queries per second: 1\n", err: "Queries sent:  many"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseDNSPerf([]byte(tc.out))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestDNSPerfArgs(t *testing.T) {
	got, err := dnsperfArgs("127.0.0.1:5353", "/q.txt", 10*time.Second, 4, 0)
	want := []string{"-s", "127.0.0.1", "-p", "5353", "-d", "/q.txt", "-l", "10", "-c", "4"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("got %q, %v; want %q", got, err, want)
	}
	got, _ = dnsperfArgs("127.0.0.1:53", "/q", 1400*time.Millisecond, 1, 5000)
	if !slices.Equal(got[6:], []string{"-l", "1", "-c", "1", "-Q", "5000"}) {
		t.Errorf("got %q", got)
	}
	if _, err := dnsperfArgs("localhost", "/q", time.Second, 1, 0); err == nil {
		t.Error("address without a port accepted")
	}
}

func TestChildFailsWhileTheFileExists(t *testing.T) {
	addr, err := freeDNSAddr()
	if err != nil {
		t.Fatal(err)
	}
	fail := filepath.Join(t.TempDir(), "fail-seoul")
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- runChild(ctx, []string{"-addr", addr, "-fail-file", fail}) }()
	defer func() {
		cancel()
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}()
	c := &http.Client{Timeout: time.Second}
	defer c.CloseIdleConnections()
	status := func() int {
		for range 100 { // until it listens
			resp, err := c.Get("http://" + addr + "/healthz")
			if err == nil {
				resp.Body.Close()
				return resp.StatusCode
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatal("child does not answer")
		return 0
	}
	for _, step := range []struct {
		create bool
		want   int
	}{{false, 200}, {true, 503}, {false, 200}} {
		if step.create {
			writeFile(t, fail, "")
		} else {
			_ = os.Remove(fail)
		}
		if got := status(); got != step.want {
			t.Fatalf("fail file %v: status %d, want %d", step.create, got, step.want)
		}
	}
	if err := runChild(ctx, nil); err == nil {
		t.Error("child without -addr accepted")
	}
}

func TestTargetsServeEveryAddress(t *testing.T) {
	addrs := []string{"127.0.241.201", "127.0.242.201"}
	tg, err := startTargets(addrs, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.close()
	c := &http.Client{Timeout: time.Second}
	defer c.CloseIdleConnections()
	for _, a := range addrs {
		resp, err := c.Get("http://" + net.JoinHostPort(a, strconv.Itoa(tg.port)) + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: status %d", a, resp.StatusCode)
		}
	}
	// A taken port is an error, and nothing stays listening.
	if _, err := startTargets([]string{"127.0.241.202", addrs[0]}, tg.port); err == nil {
		t.Error("listening twice on one address succeeded")
	}
}

func TestCheckAnswersCountsWrongAnswers(t *testing.T) {
	z := zoneSpec{Simple: 4, Failover: 3, CheckPort: 1}
	exp := z.expected()
	addr := startFakeDNS(t, func(name string) string {
		switch name {
		case "r1." + benchZone:
			return "10.9.9.9"
		case "f2." + benchZone:
			_, r := failoverTargets(2)
			return r.String()
		case "r3." + benchZone:
			return ""
		}
		return exp[name]
	})
	bad, err := checkAnswers(context.Background(), addr, exp)
	if err != nil {
		t.Fatal(err)
	}
	if bad[setSimple] != 2 || bad[setFailover] != 1 {
		t.Errorf("mismatches %v, want simple 2, failover 1", bad)
	}
}

func TestWaitAnswer(t *testing.T) {
	var n atomic.Int32
	addr := startFakeDNS(t, func(string) string {
		if n.Add(1) < 3 {
			return "127.0.0.9"
		}
		return "127.0.0.10"
	})
	ctx := context.Background()
	if err := waitAnswer(ctx, addr, "www.x.", "127.0.0.10", 5*time.Second, 10*time.Millisecond, nil); err != nil {
		t.Fatal(err)
	}
	err := waitAnswer(ctx, addr, "www.x.", "127.0.0.11", 200*time.Millisecond, 10*time.Millisecond, nil)
	if err == nil || !strings.Contains(err.Error(), "last: answer [127.0.0.10]") {
		t.Fatalf("err %v", err)
	}
}
