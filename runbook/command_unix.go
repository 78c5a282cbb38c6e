//go:build unix

package runbook

import (
	"os/exec"
	"syscall"
)

// processGroup starts cmd in its own process group and makes cancellation
// kill the whole group, so that a script's children die with it.
func processGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}
