package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/provider/aws"
)

// fakeProtector returns canned results, counting its runs.
type fakeProtector struct {
	results []aws.Result
	err     error
	runs    int
}

func (f *fakeProtector) Run(context.Context) ([]aws.Result, error) {
	f.runs++
	return f.results, f.err
}

func protectTestPlan() *plan.Plan {
	return &plan.Plan{Name: "ticketing", Objectives: plan.Objectives{RTO: plan.Duration(time.Hour), RPO: plan.Duration(5 * time.Minute)}}
}

func TestProtectLoop(t *testing.T) {
	now := time.Now()
	results := []aws.Result{
		{Kind: aws.KindVolume, Source: "vol-1", SourceSnapshot: "snap-a", Copy: "snap-b", DataTime: now.Add(-time.Minute), State: aws.StateCompleted},
		{Kind: aws.KindDBInstance, Source: "orders", SourceSnapshot: "rds:orders", Copy: "pl-rds-orders", DataTime: now.Add(-time.Hour), State: aws.StateCompleted},
		{Kind: aws.KindImage, Source: "ami-1", State: aws.StateFailed, Error: "AccessDenied"},
	}
	tests := []struct {
		name     string
		output   string
		err      error
		wantCode int
		check    func(t *testing.T, out string)
	}{
		{"table", "text", nil, 0, func(t *testing.T, out string) {
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 4 || !strings.Contains(lines[0], "AGE/RPO 5m") {
				t.Fatalf("table:\n%s", out)
			}
			for i, want := range []string{"snap-b", "1h0m0s over", "failed: AccessDenied"} {
				if !strings.Contains(lines[i+1], want) {
					t.Fatalf("line %q lacks %q", lines[i+1], want)
				}
			}
			if !strings.Contains(lines[1], "1m0s ok") {
				t.Fatalf("line %q", lines[1])
			}
		}},
		{"json", "json", nil, 0, func(t *testing.T, out string) {
			var o protectOutput
			if err := json.Unmarshal([]byte(out), &o); err != nil {
				t.Fatal(err)
			}
			if o.RPO != "5m" || len(o.Resources) != 3 || !o.Resources[0].WithinRPO || o.Resources[1].WithinRPO || o.Resources[0].Copy != "snap-b" {
				t.Fatalf("output %+v", o)
			}
		}},
		{"a failed job exits 1", "text", errors.New("1 of 3 jobs failed"), 1, func(t *testing.T, out string) {
			if !strings.Contains(out, "ami-1") {
				t.Fatalf("table:\n%s", out)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			g := &globals{output: tt.output, stdout: &stdout, stderr: &stderr}
			fp := &fakeProtector{results: results, err: tt.err}
			err := protectLoop(context.Background(), g, fp, protectTestPlan(), true, time.Hour)
			var ee *exitError
			code := 0
			if errors.As(err, &ee) {
				code = ee.code
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantCode || fp.runs != 1 {
				t.Fatalf("code %d (want %d), %d runs", code, tt.wantCode, fp.runs)
			}
			tt.check(t, stdout.String())
		})
	}
}

// TestProtectLoopRepeats runs without --once until the context ends.
func TestProtectLoopRepeats(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	stdout := &syncBuffer{}
	g := &globals{output: "text", stdout: stdout, stderr: &bytes.Buffer{}}
	fp := &fakeProtector{}
	done := make(chan error, 1)
	go func() { done <- protectLoop(ctx, g, fp, protectTestPlan(), false, time.Millisecond) }()
	deadline := time.After(10 * time.Second)
	for strings.Count(stdout.String(), "KIND") < 3 {
		select {
		case <-deadline:
			t.Fatal("fewer than 3 runs in 10s")
		case <-time.After(time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestProtectNeedsAWS(t *testing.T) {
	var stdout, stderr bytes.Buffer
	g := &globals{file: "../../examples/ticketing/pilotlight.yaml", output: "text", stdout: &stdout, stderr: &stderr, stateDir: t.TempDir()}
	cmd := newProtectCommand(g)
	cmd.SetArgs([]string{"--once"})
	err := cmd.ExecuteContext(context.Background())
	var ue *usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "provider aws") {
		t.Fatalf("err %v", err)
	}
}
