package compute

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// The parent-death signal is tied to the spawner's locked thread: when the
// spawner ends, its thread exits and the kernel kills what it started.
func TestSpawnerThreadExitKillsChildren(t *testing.T) {
	s := newSpawner()
	cmd := exec.Command("sleep", "60")
	if err := s.start(cmd); err != nil {
		t.Fatal(err)
	}
	if pg, err := syscall.Getpgid(cmd.Process.Pid); err != nil || pg != cmd.Process.Pid {
		t.Errorf("child process group %d (%v), want its own %d", pg, err, cmd.Process.Pid)
	}
	s.close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil || err.Error() != "signal: killed" {
			t.Errorf("child exit %v, want signal: killed", err)
		}
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatal("child survived its spawner thread")
	}
}
