//go:build unix && !linux

package compute

import "syscall"

// sysProcAttr puts the child in its own process group, so stopping it reaches
// its descendants too. Pdeathsig is Linux-only.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
