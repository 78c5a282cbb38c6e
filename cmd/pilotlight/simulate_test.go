package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// runInProcess runs cmd (built on globals g) with args, in this process.
func runInProcess(t *testing.T, g *globals, cmd interface {
	SetArgs([]string)
	ExecuteContext(context.Context) error
}, args ...string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if c, ok := cmd.(*cobra.Command); ok {
		c.SilenceUsage, c.SilenceErrors = true, true // the tests check the errors
	}
	cmd.SetArgs(args)
	return cmd.ExecuteContext(ctx)
}

func TestPlanGenerateAndSimulate(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "plan.yaml")
	var out, errb bytes.Buffer
	g := &globals{output: "text", stdout: &out, stderr: &errb}
	if err := runInProcess(t, g, newPlanGenerateCommand(g), "--instances", "120", "--services", "6", "--lbs", "6",
		"--records", "30", "--databases", "2", "--out", file); err != nil {
		t.Fatalf("plan generate: %v", err)
	}
	g.file = file

	tests := []struct {
		name   string
		output string
		args   []string
		check  func(t *testing.T, s string)
	}{
		{"text", "text", []string{"--short", "m6i.xlarge", "--seed", "3"}, func(t *testing.T, s string) {
			for _, want := range []string{"simulated failover of synthetic (seed 3, ungraceful)", "short of capacity: m6i.xlarge in every zone",
				"RTO", "API calls", "compute tier 1", "ec2:RunInstances", "m6i.xlarge → m5.xlarge"} {
				if !strings.Contains(s, want) {
					t.Errorf("missing %q in\n%s", want, s)
				}
			}
		}},
		{"json", "json", []string{"--short", "m6i.xlarge@tokyoa"}, func(t *testing.T, s string) {
			var rep struct {
				RTO        float64 `json:"rtoSeconds"`
				TotalCalls int     `json:"totalCalls"`
				Bound      struct {
					MinCalls int     `json:"minCalls"`
					Seconds  float64 `json:"seconds"`
				} `json:"bound"`
				Tiers []struct{ Name string } `json:"tiers"`
				Error string                  `json:"error"`
			}
			if err := json.Unmarshal([]byte(s), &rep); err != nil {
				t.Fatalf("%v in %s", err, s)
			}
			if rep.Error != "" || rep.RTO < rep.Bound.Seconds || rep.Bound.Seconds <= 0 || rep.TotalCalls < rep.Bound.MinCalls || len(rep.Tiers) < 5 {
				t.Errorf("report %+v", rep)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out.Reset()
			g.output = tt.output
			if err := runInProcess(t, g, newSimulateCommand(g), tt.args...); err != nil {
				t.Fatalf("simulate: %v\n%s", err, errb.String())
			}
			tt.check(t, out.String())
		})
	}

	t.Run("local plan needs --provider sim", func(t *testing.T) {
		g.file, g.output = filepath.Join("..", "..", "examples", "ticketing", "pilotlight.yaml"), "text"
		err := runInProcess(t, g, newSimulateCommand(g))
		if err == nil || !strings.Contains(err.Error(), "--provider sim") {
			t.Fatalf("err %v", err)
		}
		out.Reset()
		if err := runInProcess(t, g, newSimulateCommand(g), "--provider", "sim", "--short", "local.medium"); err != nil {
			t.Fatalf("--provider sim: %v", err)
		}
		if !strings.Contains(out.String(), "local.medium → local.small") {
			t.Errorf("no fallback in\n%s", out.String())
		}
	})
	if _, err := os.Stat(file); err != nil {
		t.Fatal(err)
	}
}
