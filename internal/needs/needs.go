// Package needs lets a test use an outside program (rclone, dnsperf,
// gdnsd, ...): on a developer machine without it the test is skipped with
// a clear message, but in CI (CI=true), where scripts/test installs every
// such program, a missing program fails the test, so that a skipped check
// never passes for a green one.
package needs

import (
	"os"
	"os/exec"
	"testing"
)

// Program returns the path of the program name, installed by the Debian
// package pkg. It skips the test when the program is missing, or fails it
// when CI=true.
func Program(t testing.TB, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	msg := name + " is not installed (apt-get install " + pkg + "; scripts/test installs it when run as root)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}
