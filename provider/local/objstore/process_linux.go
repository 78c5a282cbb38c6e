package objstore

import "syscall"

// sysProcAttr puts the child in its own process group and has the kernel
// kill it when the parent dies, so a kill -9 of pilotlight leaves no store
// behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
