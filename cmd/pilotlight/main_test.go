package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// binDir holds the pilotlight and ticketing binaries built once for the
// end-to-end tests of this package.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pilotlight-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	build := exec.CommandContext(ctx, "go", "build", "-o", dir+string(os.PathSeparator), "./cmd/pilotlight", "./examples/ticketing")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		cancel()
		fmt.Fprintf(os.Stderr, "building binaries: %v\n%s", err, out)
		os.Exit(1)
	}
	cancel()
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// run runs the built pilotlight binary and returns stdout, stderr and the
// exit code.
func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "pilotlight"), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run pilotlight %s: %v", strings.Join(args, " "), err)
	}
	return stdout.String(), stderr.String(), code
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string // substring of stdout+stderr
	}{
		{"version", []string{"version"}, 0, "pilotlight "},
		{"valid plan", []string{"validate", "-f", "../../examples/ticketing/pilotlight.yaml"}, 0, "ok"},
		{"missing plan", []string{"validate", "-f", "testdata/nope.yaml"}, 1, "nope.yaml"},
		{"invalid plan", []string{"validate", "-f", "testdata/bad.yaml"}, 1, "testdata/bad.yaml:"},
		{"unknown command", []string{"frobnicate"}, 2, "unknown command"},
		{"unknown flag", []string{"validate", "--nope"}, 2, "unknown flag"},
		{"bad output", []string{"version", "-o", "yaml"}, 2, "--output must be text or json"},
		{"extra args", []string{"version", "x"}, 2, "unknown command"},
		{"status without up", []string{"status", "--state-dir", t.TempDir()}, 1, "nothing is running"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := run(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit code = %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errOut)
			}
			if !strings.Contains(out+errOut, tt.want) {
				t.Errorf("output does not contain %q\nstdout: %s\nstderr: %s", tt.want, out, errOut)
			}
		})
	}
}
