package objstore

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// gone reports whether no process with pid exists any more.
func gone(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return errors.Is(err, os.ErrNotExist)
}

// groupGone reports whether the process group pgid has no members within
// 5 s. Members that were not our children are reaped by init, which may take
// a moment; until then they count as members.
func groupGone(pgid int) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH) {
			return true
		}
	}
	return false
}

func TestStopLeavesNoProcess(t *testing.T) {
	o := testOptions(t)
	s := startStore(t, o)
	pid := s.Pid()
	if gone(pid) {
		t.Fatalf("store pid %d not running after Start", pid)
	}
	if err := s.Stop(testCtx(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.Wait(); err != nil {
		t.Errorf("Wait after Stop = %v, want a clean exit", err)
	}
	if !gone(pid) || !groupGone(pid) {
		t.Errorf("store pid %d or its group still exists after Stop", pid)
	}
	if err := s.Stop(testCtx(t, time.Second)); err != nil {
		t.Errorf("second Stop = %v, want nil", err)
	}
}

func TestWaitObservesKill(t *testing.T) {
	s := startStore(t, testOptions(t))
	s.killed = true
	if err := syscall.Kill(s.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "signal: killed") {
			t.Fatalf("Wait = %v, want signal: killed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return after SIGKILL")
	}
	if err := s.Stop(testCtx(t, time.Second)); err != nil {
		t.Errorf("Stop after exit = %v, want nil", err)
	}
}

func TestSecretNotOnCommandLine(t *testing.T) {
	o := testOptions(t)
	s := startStore(t, o)
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(s.Pid()) + "/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(cmdline), o.SecretKey) || strings.Contains(string(cmdline), o.AccessKey) {
		t.Errorf("credentials on the command line: %q", cmdline)
	}
	environ, err := os.ReadFile("/proc/" + strconv.Itoa(s.Pid()) + "/environ")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(environ), EnvSecretKey+"="+o.SecretKey+"\x00") {
		t.Error("secret key not passed in the environment")
	}
}

func TestStartFailures(t *testing.T) {
	// Another server holds the address and even answers the health path.
	busy := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer busy.Close()
	script := func(body string) Spec {
		return Spec{Exe: "/bin/sh", Args: []string{"-c", body, "sh"}, Options: testOptions(t)}
	}
	tests := []struct {
		name    string
		spec    func() Spec
		timeout time.Duration
		want    []string
	}{
		{
			name: "address in use",
			spec: func() Spec {
				o := testOptions(t)
				o.Listen = busy.Listener.Addr().String()
				return Spec{Exe: os.Args[0], Options: o, Env: childTestEnv,
					LogFile: filepath.Join(t.TempDir(), "log")}
			},
			timeout: 20 * time.Second,
			want:    []string{"exited before it was ready", "address already in use"},
		},
		{
			name:    "child exits",
			spec:    func() Spec { return script("echo broken config >&2; exit 3") },
			timeout: 20 * time.Second,
			want:    []string{"exit status 3", "broken config"},
		},
		{
			name:    "missing executable",
			spec:    func() Spec { return Spec{Exe: "/nonexistent/pilotlight", Options: testOptions(t)} },
			timeout: time.Second,
			want:    []string{"no such file"},
		},
		{
			name: "missing keys",
			spec: func() Spec {
				s := script("true")
				s.Options.SecretKey = ""
				return s
			},
			timeout: time.Second,
			want:    []string{"access key and secret key are required"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Start(testCtx(t, tc.timeout), tc.spec())
			if err == nil {
				p.Stop(context.Background())
				t.Fatal("Start succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestStartTimeoutKillsGroup: a child that never becomes healthy is killed
// with everything it started when ctx ends.
func TestStartTimeoutKillsGroup(t *testing.T) {
	spec := Spec{Exe: "/bin/sh", Args: []string{"-c", "echo shell $$; sleep 30 & echo sleeper $!; wait", "sh"}, Options: testOptions(t)}
	start := time.Now()
	_, err := Start(testCtx(t, 500*time.Millisecond), spec)
	if err == nil {
		t.Fatal("Start succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Start took %v after its deadline", d)
	}
	if !strings.Contains(err.Error(), "deadline exceeded") {
		t.Errorf("error %q: want deadline exceeded", err)
	}
	m := regexp.MustCompile(`shell (\d+)\s+sleeper (\d+)`).FindStringSubmatch(err.Error())
	if m == nil {
		t.Fatalf("error %q lacks the log tail", err)
	}
	shell, _ := strconv.Atoi(m[1])
	sleeper, _ := strconv.Atoi(m[2])
	waitGone(t, sleeper) // not our child: reaped by init, give it a moment
	if !gone(shell) || !groupGone(shell) {
		t.Errorf("shell %d or its group survived", shell)
	}
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !gone(pid); {
		if time.Now().After(deadline) {
			t.Fatalf("pid %d still exists", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestStopEscalates: a child that ignores SIGTERM is killed when Stop's
// context ends.
func TestStopEscalates(t *testing.T) {
	cmd := exec.Command("/bin/sh", "-c", "trap '' TERM; echo ready; sleep 30 & wait; sleep 30")
	cmd.SysProcAttr = sysProcAttr()
	p := &Process{cmd: cmd, done: make(chan struct{}), tail: &tailBuffer{max: tailBytes}}
	cmd.Stdout = p.tail
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(string(p.tail.Bytes()), "ready") { // trap installed
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	err := p.Stop(testCtx(t, 300*time.Millisecond))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stop = %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Stop took %v", d)
	}
	if err := p.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("Wait = %v, want killed", err)
	}
	if !gone(p.Pid()) || !groupGone(p.Pid()) {
		t.Errorf("process group %d survived Stop", p.Pid())
	}
}

func TestTailBuffer(t *testing.T) {
	b := &tailBuffer{max: 8}
	for _, s := range []string{"abc", "defgh", "ijk"} {
		b.Write([]byte(s))
	}
	if got := string(b.Bytes()); got != "defghijk" {
		t.Errorf("tail = %q, want defghijk", got)
	}
}
