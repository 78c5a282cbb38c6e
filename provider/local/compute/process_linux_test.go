package compute

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runSpawnerChild starts `sleep 60` through a spawner, retires a few locked
// OS threads (which would kill a child tied to one of them), prints the
// sleep's PID and waits to be killed.
func runSpawnerChild() int {
	s := newSpawner()
	cmd := exec.Command("sleep", "60")
	if err := s.start(cmd); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 4
	}
	for range 8 {
		done := make(chan struct{})
		go func() {
			defer close(done)
			runtime.LockOSThread() // never unlocked: the thread is retired
		}()
		<-done
	}
	fmt.Println(cmd.Process.Pid)
	time.Sleep(time.Minute)
	return 0
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return len(f) > 2 && f[2] != "Z"
}

// A child started by the spawner survives the retirement of other locked
// threads, runs in its own process group, and dies when pilotlight dies,
// even by SIGKILL (its parent-death signal).
func TestSpawnedChildDiesWithParent(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	parent := exec.Command(exe, "-test.run=^$")
	parent.Env = append(os.Environ(), childEnv+"=spawner")
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = parent.Process.Kill(); _ = parent.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("read child pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("child pid %q: %v", line, err)
	}
	time.Sleep(200 * time.Millisecond)
	if !alive(pid) {
		t.Fatal("child died when other locked threads were retired")
	}
	if pg, err := syscall.Getpgid(pid); err != nil || pg != pid {
		t.Errorf("child process group %d (%v), want its own %d", pg, err, pid)
	}
	if err := parent.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = parent.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatal("child survived the SIGKILL of its parent")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
