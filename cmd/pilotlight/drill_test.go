package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/report"
)

// runDrillCmd runs `pilotlight drill` with args and returns its JSON report,
// stderr and exit code.
func runDrillCmd(t *testing.T, args ...string) (report.Drill, string, int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "pilotlight"), append([]string{"drill", "-o", "json"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(4 * time.Minute):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("drill did not finish in 4m\n%s", tail(stderr.String(), 4000))
	}
	var d report.Drill
	if err := json.Unmarshal(stdout.Bytes(), &d); err != nil {
		t.Fatalf("drill -o json: %v\nstdout: %s\nstderr: %s", err, tail(stdout.String(), 2000), tail(stderr.String(), 4000))
	}
	return d, stderr.String(), cmd.ProcessState.ExitCode()
}

// TestDrillFaults runs the example drill with each fault and checks that it
// passes, that its report agrees with its own timeline and that nothing is
// left behind.
func TestDrillFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	for i, tc := range []struct {
		fault    string
		failover bool
	}{
		{"region-outage", true},
		{"network", true},
		{"zone-outage", false},
		{"instance-kill", false},
		{"store-outage", true},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			prim, rec := 220+2*i, 221+2*i
			planFile := testPlan(t, netOf(prim), netOf(rec))
			stateDir, reportDir := t.TempDir(), t.TempDir()
			d, stderr, code := runDrillCmd(t, "-f", planFile, "--state-dir", stateDir, "--fault", tc.fault,
				"--dns-listen", "127.0."+strconv.Itoa(prim)+".53:5353", "--warmup", "3s", "--stable", "2s", "--report", reportDir)
			if code != 0 {
				t.Fatalf("drill --fault %s exit %d\n%s", tc.fault, code, tail(stderr, 6000))
			}
			if err := d.Check(); err != nil {
				t.Errorf("report inconsistent with its timeline: %v", err)
			}
			if !d.Verdict.Pass || d.RPO.MissingWrites != 0 || d.RPO.AckedWrites == 0 {
				t.Errorf("verdict %+v rpo %+v", d.Verdict, d.RPO)
			}
			failedOver := false
			for _, e := range d.Events {
				failedOver = failedOver || e.Kind == report.KindDNSSwitched
			}
			if failedOver != tc.failover {
				t.Errorf("failed over = %v, want %v (events %+v)", failedOver, tc.failover, d.Events)
			}
			if !d.Cleanup.OK {
				t.Errorf("cleanup %+v", d.Cleanup)
			}
			if _, err := os.Stat(filepath.Join(reportDir, d.ID+".html")); err != nil {
				t.Errorf("HTML report: %v", err)
			}
			if left := processesMentioning(stateDir); len(left) > 0 {
				t.Errorf("processes left: %v", left)
			}
			t.Logf("%s: RTO %.2fs (detection %.2fs, runbook %.2fs), RPO %.3fs, %d acked writes, %d client errors",
				tc.fault, d.RTO.Seconds, d.RTO.Detection, d.RTO.Runbook, d.RPO.SpanSeconds, d.RPO.AckedWrites, d.ClientErrors)
		})
	}
}

// syncBuffer is a bytes.Buffer safe to read while a process writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func netOf(n int) string { return "127.0." + strconv.Itoa(n) + ".0/24" }

// A drill whose RTO objective cannot be met exits 1 and says by how much.
func TestDrillMissedObjective(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	planFile := testPlan(t, netOf(230), netOf(231))
	b, _ := os.ReadFile(planFile)
	if err := os.WriteFile(planFile, bytes.Replace(b, []byte("rto: 2m"), []byte("rto: 1s"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	d, stderr, code := runDrillCmd(t, "-f", planFile, "--state-dir", t.TempDir(), "--dns-listen", "127.0.230.53:5353", "--warmup", "3s", "--stable", "1s")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, tail(stderr, 4000))
	}
	if d.Verdict.Pass || len(d.Verdict.Failures) == 0 || d.Verdict.Failures[0].Objective != report.ObjectiveRTO || d.Verdict.Failures[0].Over <= 0 {
		t.Errorf("verdict %+v", d.Verdict)
	}
	if !strings.Contains(stderr, "rto") || !strings.Contains(stderr, "over the objective 1s by") {
		t.Errorf("stderr does not say which objective failed by how much:\n%s", tail(stderr, 2000))
	}
}

// Killing pilotlight in the middle of a drill leaves children that die with
// it; `drill cleanup` then finds the drill's state by ID and leaves no
// process, listener or state behind.
func TestDrillKilledThenCleanup(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	planFile := testPlan(t, netOf(232), netOf(233))
	stateDir := t.TempDir()
	cmd := exec.Command(filepath.Join(binDir, "pilotlight"), "drill", "-f", planFile, "--state-dir", stateDir, "--dns-listen", "127.0.232.53:5353", "--warmup", "30s")
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 90*time.Second, "the drill to start its traffic", func() bool {
		return strings.Contains(stderr.String(), "warm-up")
	})
	drills, _ := filepath.Glob(filepath.Join(stateDir, "drills", "drill-*"))
	if len(drills) != 1 {
		t.Fatalf("drill state dirs %v", drills)
	}
	id := filepath.Base(drills[0])
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	out, errOut, code := run(t, "drill", "cleanup", "-f", planFile, "--state-dir", stateDir, "-o", "json")
	if code != 0 {
		t.Fatalf("drill cleanup = %d\n%s\n%s", code, out, errOut)
	}
	var res []cleanupResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res) != 1 || res[0].ID != id || !res[0].Removed || res[0].Listeners != 0 {
		t.Fatalf("cleanup result %s (%v)", out, err)
	}
	if n := killMarked(id, false); n != 0 {
		t.Errorf("%d processes still marked with %s", n, id)
	}
	if _, err := os.Stat(drills[0]); !os.IsNotExist(err) {
		t.Errorf("drill state still there: %v", err)
	}
	if left := processesMentioning(stateDir); len(left) > 0 {
		t.Errorf("processes left: %v", left)
	}
}

// With --declare the failover waits for the operator's answer, and the
// report says the disaster was declared.
func TestDrillDeclared(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	planFile := testPlan(t, netOf(234), netOf(235))
	cmd := exec.Command(filepath.Join(binDir, "pilotlight"), "drill", "-o", "json", "-f", planFile, "--state-dir", t.TempDir(),
		"--dns-listen", "127.0.234.53:5353", "--warmup", "3s", "--stable", "1s", "--declare")
	cmd.Stdin = strings.NewReader("y\n")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("drill --declare: %v\n%s", err, tail(stderr.String(), 4000))
	}
	var d report.Drill
	if err := json.Unmarshal(stdout.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	if d.Mode != report.ModeDeclared || d.RTO.Declare < d.RTO.Detection || d.Check() != nil {
		t.Errorf("mode %s, detection %.3f, declare %.3f, check %v", d.Mode, d.RTO.Detection, d.RTO.Declare, d.Check())
	}
	if !strings.Contains(stderr.String(), "Declare a disaster and fail over?") {
		t.Errorf("no declaration prompt:\n%s", tail(stderr.String(), 2000))
	}
}

// Ctrl-C in the middle of a drill rolls the fault back and tears
// everything down: no process and no drill state is left.
func TestDrillInterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	planFile := testPlan(t, netOf(236), netOf(237))
	stateDir := t.TempDir()
	cmd := exec.Command(filepath.Join(binDir, "pilotlight"), "drill", "-f", planFile, "--state-dir", stateDir,
		"--dns-listen", "127.0.236.53:5353", "--warmup", "2s", "--fault", "network")
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 90*time.Second, "the fault to be injected", func() bool {
		return strings.Contains(stderr.String(), "fault injected")
	})
	_ = cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("an interrupted drill exited 0")
		}
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("the drill did not stop after Ctrl-C\n%s", tail(stderr.String(), 4000))
	}
	if left := processesMentioning(stateDir); len(left) > 0 {
		t.Errorf("processes left: %v", left)
	}
	if ds, _ := filepath.Glob(filepath.Join(stateDir, "drills", "drill-*")); len(ds) != 0 {
		t.Errorf("drill state left: %v", ds)
	}
	if !strings.Contains(stderr.String(), "rolled back") && !strings.Contains(stderr.String(), "rollback") {
		t.Logf("stderr tail:\n%s", tail(stderr.String(), 3000))
	}
}
