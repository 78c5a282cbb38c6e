//go:build unix && !linux

package objstore

import "syscall"

// sysProcAttr puts the child in its own process group. Without Pdeathsig the
// child outlives a parent killed with SIGKILL.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
