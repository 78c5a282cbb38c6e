package compute

import "syscall"

// sysProcAttr puts the child in its own process group, so stopping it reaches
// its descendants too, and has the kernel SIGKILL it if the thread that
// started it dies (see spawner for the thread caveat).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
