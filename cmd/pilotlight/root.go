package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"
)

// globals holds the flags shared by every command.
type globals struct {
	file     string
	output   string
	logLevel string
	stateDir string

	stdout io.Writer
	stderr io.Writer
}

// exitError carries an explicit exit code. silent means the message was
// already printed (for example validation errors written to stdout).
type exitError struct {
	code   int
	err    error
	silent bool
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError marks errors caused by how the command was invoked.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func isUsageError(err error) bool {
	var ue *usageError
	if errors.As(err, &ue) {
		return true
	}
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "flag needs an argument", "invalid argument", "accepts ", "requires at least", "requires at most"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "pilotlight",
		Short: "Disaster recovery from one plan file: protect, route, recover, prove, advise",
		Long: `pilotlight keeps a recovery region ready to take over from a primary region,
proves that it can with drills, and does the take-over when the primary fails.

Everything is driven by one plan file (default pilotlight.yaml). The embedded
"local" provider runs both regions on this machine, on loopback addresses.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			switch g.output {
			case "text", "json":
			default:
				return &usageError{fmt.Errorf("--output must be text or json, not %q", g.output)}
			}
			if _, err := parseLevel(g.logLevel); err != nil {
				return &usageError{err}
			}
			return nil
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVarP(&g.file, "file", "f", "pilotlight.yaml", "plan file")
	pf.StringVarP(&g.output, "output", "o", "text", "output format: text or json")
	pf.StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	pf.StringVar(&g.stateDir, "state-dir", ".pilotlight", "directory for local state (object stores, logs, journals)")

	root.AddCommand(
		newVersionCommand(g),
		newValidateCommand(g),
		newPlanCommand(g),
		newSchemaCommand(g),
		newUpCommand(g),
		newStatusCommand(g),
		newStoreCommand(g),
		newReplicateCommand(g),
		newVerifyCommand(g),
		newHealthCommand(g),
		newDNSCommand(g),
		newRunbookCommand(g),
		newFailoverCommand(g),
		newFailbackCommand(g),
		newDrillCommand(g),
		newChaosCommand(g),
		newAdviseCommand(g),
		newProtectCommand(g),
		newInventoryCommand(g),
		newImagesCommand(g),
		newMirrorCommand(g),
		newSimulateCommand(g),
		newReadinessCommand(g),
		newIAMPolicyCommand(g),
		newNetworkCommand(g),
	)
	return root
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level must be debug, info, warn or error, not %q", s)
	}
	return l, nil
}

// logger returns the structured logger for long-running commands: text on a
// terminal, JSON lines otherwise, on stderr.
func (g *globals) logger() *slog.Logger {
	lvl, _ := parseLevel(g.logLevel)
	opts := &slog.HandlerOptions{Level: lvl}
	if stderrTerminal(g) {
		return slog.New(slog.NewTextHandler(g.stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(g.stderr, opts))
}

// json reports whether machine output was requested.
func (g *globals) json() bool { return g.output == "json" }

// printJSON writes v as indented JSON on stdout.
func (g *globals) printJSON(v any) error {
	enc := json.NewEncoder(g.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
