package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/provider/local"
)

// startUp runs `pilotlight up` for planFile until the test ends and waits
// until the primary web service is healthy.
func startUp(t *testing.T, planFile, stateDir, dnsAddr string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	up := exec.Command(filepath.Join(binDir, "pilotlight"), "up", "-f", planFile, "--state-dir", stateDir, "--dns-listen", dnsAddr)
	up.Stdout, up.Stderr = &stdout, &stderr
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- up.Wait() }()
	t.Cleanup(func() {
		_ = up.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = up.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("up stderr (tail):\n%s", tail(stderr.String(), 6000))
		}
	})
	waitFor(t, 90*time.Second, "2 healthy web instances in the primary region", func() bool {
		select {
		case err := <-exited:
			t.Fatalf("up exited early: %v\n%s", err, tail(stderr.String(), 4000))
		default:
		}
		st, ok := fetchStatus(t, stateDir)
		return ok && healthyWeb(st, 2)
	})
}

// TestFailoverResumeAndFailback fails the example over with `pilotlight
// failover`, killing it with SIGKILL after its first compute step and
// resuming it, then fails back, checking DNS, orders and that nothing was
// created twice.
func TestFailoverResumeAndFailback(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	planFile := testPlan(t, "127.0.213.0/24", "127.0.214.0/24")
	stateDir := t.TempDir()
	const dnsAddr = "127.0.213.53:5353"
	startUp(t, planFile, stateDir, dnsAddr)
	primaryLB, recoveryLB := "http://127.0.213.2:8080", "http://127.0.214.2:8080"

	resp := mustDo(t, http.MethodPost, primaryLB+"/orders", `{"client":"fo","seq":1,"item":"before","qty":1}`)
	if resp.status != http.StatusCreated {
		t.Fatalf("POST /orders = %d %s", resp.status, resp.body)
	}

	// The dry run changes nothing and needs no approval.
	out, errOut, code := run(t, "failover", "-f", planFile, "--state-dir", stateDir, "--dry-run")
	if code != 0 || !strings.Contains(out, "scale-web") || !strings.Contains(out, "compute tier 1") {
		t.Fatalf("failover --dry-run = %d\n%s\n%s", code, out, errOut)
	}
	if st, _ := fetchStatus(t, stateDir); webService(st, local.Recovery) != nil {
		t.Fatal("dry run started web in the recovery region")
	}

	// A chaos experiment is rolled back when interrupted.
	chaos := exec.Command(filepath.Join(binDir, "pilotlight"), "chaos", "run", "region-outage", "-f", planFile, "--state-dir", stateDir, "--duration", "1m")
	if err := chaos.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the region outage", func() bool {
		_, err := do(http.MethodGet, primaryLB+"/", "")
		return err != nil // connection refused
	})
	out, _, _ = run(t, "chaos", "list", "-f", planFile, "--state-dir", stateDir)
	if !strings.Contains(out, "region-outage") {
		t.Errorf("chaos list = %q, want the region outage", out)
	}
	_ = chaos.Process.Signal(syscall.SIGINT)
	if err := chaos.Wait(); err != nil {
		t.Errorf("chaos run after Ctrl-C: %v", err)
	}
	waitFor(t, 60*time.Second, "the primary to serve again after the rollback", func() bool {
		st, ok := fetchStatus(t, stateDir)
		return ok && healthyWeb(st, 2)
	})

	// Failover, killed with SIGKILL once the compute step is journaled; the
	// recovery region has no capacity for the first instance type.
	fo := exec.Command(filepath.Join(binDir, "pilotlight"), "failover", "-f", planFile, "--state-dir", stateDir, "--approve", "--no-capacity", "local.medium")
	var foErr bytes.Buffer
	fo.Stderr = &foErr
	if err := fo.Start(); err != nil {
		t.Fatal(err)
	}
	var runID string
	waitFor(t, 60*time.Second, "the failover journal to record scale-web done", func() bool {
		files, _ := filepath.Glob(filepath.Join(stateDir, "runs", "*.journal"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			for _, line := range strings.Split(string(b), "\n") {
				if strings.Contains(line, `"step":"scale-web"`) && strings.Contains(line, `"event":"done"`) {
					runID = strings.TrimSuffix(filepath.Base(f), ".journal")
					return true
				}
			}
		}
		return false
	})
	_ = fo.Process.Signal(syscall.SIGKILL)
	_ = fo.Wait()

	out, errOut, code = run(t, "failover", "-f", planFile, "--state-dir", stateDir, "--resume", runID, "-o", "json")
	if code != 0 {
		t.Fatalf("failover --resume = %d\n%s\n%s\nfirst run:\n%s", code, out, errOut, foErr.String())
	}
	var rep recoverReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("failover -o json: %v\n%s", err, out)
	}
	if s, _ := rep.Result.Step("scale-web"); s.State != "resumed" {
		t.Errorf("scale-web after resume: %+v, want resumed", s)
	}
	if rep.Mode != "graceful" {
		t.Errorf("mode %s, want graceful (the primary answers)", rep.Mode)
	}
	addrs, err := lookupA(dnsAddr, "www.ticketing.test.")
	if err != nil || len(addrs) != 1 || addrs[0] != "127.0.214.2" {
		t.Errorf("after failover www = %v (%v), want 127.0.214.2", addrs, err)
	}
	resp = mustDo(t, http.MethodGet, recoveryLB+"/orders/fo-000000000001", "")
	if resp.status != http.StatusOK || resp.header.Get(local.RegionHeader) != "virginia" {
		t.Errorf("order written before the failover, read in virginia: %d %s", resp.status, resp.body)
	}
	if r := mustDo(t, http.MethodPost, primaryLB+"/orders", `{"client":"fo","seq":9,"item":"x","qty":1}`); r.status != http.StatusServiceUnavailable {
		t.Errorf("write to the fenced primary = %d, want 503", r.status)
	}
	st, _ := fetchStatus(t, stateDir)
	web := webService(st, local.Recovery)
	// 2 × local.medium had no capacity: 4 × local.small run instead.
	if web == nil || web.Group.Desired != 4 || len(liveInstances(web)) != 4 {
		t.Fatalf("recovery web after failover: %+v", web)
	}
	if s, _ := rep.Result.Step("scale-web"); s.Output["instanceType"] != "local.small" || s.Output["count"] != "4" {
		t.Errorf("scale-web output %v, want 4 × local.small", s.Output)
	}

	// A write in the recovery region must survive the failback.
	resp = mustDo(t, http.MethodPost, recoveryLB+"/orders", `{"client":"fo","seq":2,"item":"during","qty":1}`)
	if resp.status != http.StatusCreated {
		t.Fatalf("POST /orders in virginia = %d %s", resp.status, resp.body)
	}
	out, errOut, code = run(t, "failback", "-f", planFile, "--state-dir", stateDir, "--approve")
	if code != 0 {
		t.Fatalf("failback = %d\n%s\n%s", code, out, errOut)
	}
	addrs, err = lookupA(dnsAddr, "www.ticketing.test.")
	if err != nil || len(addrs) != 1 || addrs[0] != "127.0.213.2" {
		t.Errorf("after failback www = %v (%v), want 127.0.213.2", addrs, err)
	}
	for _, id := range []string{"fo-000000000001", "fo-000000000002"} {
		resp = mustDo(t, http.MethodGet, primaryLB+"/orders/"+id, "")
		if resp.status != http.StatusOK || resp.header.Get(local.RegionHeader) != "seoul" {
			t.Errorf("order %s after failback, in seoul: %d %s", id, resp.status, resp.body)
		}
	}
	if r := mustDo(t, http.MethodPost, primaryLB+"/orders", `{"client":"fo","seq":3,"item":"after","qty":1}`); r.status != http.StatusCreated {
		t.Errorf("write to the primary after failback = %d, want 201", r.status)
	}
	st, _ = fetchStatus(t, stateDir)
	if web := webService(st, local.Recovery); web == nil || web.Group.Desired != 0 {
		t.Errorf("recovery web after failback: %+v, want desired 0", web)
	}
}
