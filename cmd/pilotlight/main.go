// Command pilotlight is a disaster-recovery control plane: it protects data in a
// recovery region, routes traffic with health-checked DNS, recovers with a
// resumable runbook, proves it with drills and advises a strategy.
//
// This file is the thin entry point: it wires signals to a context, runs the
// cobra command tree and maps errors to exit codes (0 ok, 1 failure or
// invalid input, 2 usage error).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

func main() {
	if path := os.Getenv("PILOTLIGHT_CPUPROFILE"); path != "" {
		// A developer aid for benchmarks: PILOTLIGHT_CPUPROFILE=cpu.out.
		if f, err := os.Create(path); err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCommand(os.Stdout, os.Stderr).ExecuteContext(ctx)
	stop()
	code := exitCode(err, os.Stderr)
	pprof.StopCPUProfile()
	os.Exit(code)
}

// exitCode prints err (unless it was already reported) and returns the
// process exit code for it.
func exitCode(err error, stderr *os.File) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if !ee.silent {
			fmt.Fprintf(stderr, "pilotlight: %v\n", ee.err)
		}
		return ee.code
	}
	if isUsageError(err) {
		fmt.Fprintf(stderr, "pilotlight: %v\nRun 'pilotlight --help' for usage.\n", err)
		return 2
	}
	fmt.Fprintf(stderr, "pilotlight: %v\n", err)
	return 1
}
