//go:build !unix

package runbook

import "os/exec"

// processGroup does nothing where process groups do not exist: cancellation
// kills the process only.
func processGroup(*exec.Cmd) {}
