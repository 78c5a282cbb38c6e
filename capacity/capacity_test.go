package capacity

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/pilotlight/pilotlight/runbook"
)

func mustLookup(t *testing.T, name string) Type {
	t.Helper()
	ty, ok := Lookup(name)
	if !ok {
		t.Fatalf("lookup %s: not found", name)
	}
	return ty
}

func TestLookup(t *testing.T) {
	tests := []struct {
		name   string
		want   Type
		wantOK bool
	}{
		{"local.small", Type{"local.small", "local", 1, 2048}, true},
		{"local.xlarge", Type{"local.xlarge", "local", 8, 16384}, true},
		{"t3.large", Type{"t3.large", "t3", 2, 8192}, true},
		{"m5.xlarge", Type{"m5.xlarge", "m5", 4, 16384}, true},
		{"m6i.4xlarge", Type{"m6i.4xlarge", "m6i", 16, 65536}, true},
		{"c6i.2xlarge", Type{"c6i.2xlarge", "c6i", 8, 16384}, true},
		{"r5.large", Type{"r5.large", "r5", 2, 16384}, true},
		{"r6i.4xlarge", Type{"r6i.4xlarge", "r6i", 16, 131072}, true},
		{"t3.4xlarge", Type{}, false},
		{"p5.48xlarge", Type{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Lookup(tt.name)
			if ok != tt.wantOK || got != tt.want {
				t.Fatalf("Lookup = %+v, %v", got, ok)
			}
		})
	}
	if n := len(Names()); n != 4+3+6*4 {
		t.Fatalf("catalogue has %d types", n)
	}
}

func TestRecompute(t *testing.T) {
	tests := []struct {
		name     string
		count    int
		from, to string
		want     int
	}{
		{"same type", 5, "m5.xlarge", "m5.xlarge", 5},
		{"one size down doubles", 3, "m6i.xlarge", "m6i.large", 6},
		{"two sizes down quadruples", 2, "m6i.2xlarge", "m6i.large", 8},
		{"one size up halves", 4, "m6i.xlarge", "m6i.2xlarge", 2},
		{"one size up rounds up", 3, "m6i.xlarge", "m6i.2xlarge", 2},
		{"never below one", 1, "local.small", "local.xlarge", 1},
		{"local down doubles", 2, "local.medium", "local.small", 4},
		{"sideways same shape", 4, "m6i.xlarge", "m5.xlarge", 4},
		{"memory-bound: general to compute", 4, "m5.xlarge", "c5.xlarge", 8},
		{"memory-bound: up a size, still more", 3, "m5.large", "c5.xlarge", 3},
		{"memory-bound: memory to bigger general", 4, "r5.xlarge", "m5.2xlarge", 4},
		{"cpu-bound: compute to smaller memory", 4, "c5.xlarge", "r5.large", 8},
		{"cpu-bound: compute to memory", 6, "c5.2xlarge", "r5.xlarge", 12},
		{"memory-bound: memory to general", 4, "r5.xlarge", "m5.xlarge", 8},
		{"memory-bound: burstable from memory", 3, "r6i.large", "t3.large", 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Recompute(tt.count, mustLookup(t, tt.from), mustLookup(t, tt.to)); got != tt.want {
				t.Fatalf("Recompute(%d, %s, %s) = %d, want %d", tt.count, tt.from, tt.to, got, tt.want)
			}
		})
	}
	t.Run("missing dimensions", func(t *testing.T) {
		from := Type{VCPU: 4, MemoryMiB: 8192}
		if got := Recompute(3, from, Type{VCPU: 8}); got != 2 {
			t.Errorf("cpu only = %d", got)
		}
		if got := Recompute(3, from, Type{}); got != 3 {
			t.Errorf("no dimensions = %d", got)
		}
	})
}

func TestChooser(t *testing.T) {
	c, err := NewChooser([]string{"m6i.xlarge", "m5.xlarge", "m6i.2xlarge", "c6i.large"}, 5)
	if err != nil {
		t.Fatal(err)
	}
	want := []Choice{{"m6i.xlarge", 5}, {"m5.xlarge", 5}, {"m6i.2xlarge", 3}, {"c6i.large", 20}}
	for i, w := range want {
		if got := c.Current(); got != w {
			t.Fatalf("choice %d = %+v, want %+v", i, got, w)
		}
		if got := c.Tried(); !reflect.DeepEqual(got, want[:i]) {
			t.Fatalf("tried after %d = %+v", i, got)
		}
		if more := c.Next(); more != (i < len(want)-1) {
			t.Fatalf("Next after %d = %v", i, more)
		}
	}
	if got := c.Current(); got != want[len(want)-1] {
		t.Fatalf("after the end: %+v", got)
	}
}

func TestNewChooserErrors(t *testing.T) {
	tests := []struct {
		name  string
		prefs []string
		count int
		want  string
	}{
		{"unknown type", []string{"m5.xlarge", "m9.huge"}, 2, `unknown instance type "m9.huge"`},
		{"no types", nil, 2, "no instance types"},
		{"zero count", []string{"m5.xlarge"}, 0, "count 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewChooser(tt.prefs, tt.count); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want %q", err, tt.want)
			}
		})
	}
}

func TestInsufficientCapacityClass(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&InsufficientCapacityError{Type: "m5.xlarge", Zone: "us-east-1a"}, "capacity: insufficient capacity for m5.xlarge in us-east-1a"},
		{&InsufficientCapacityError{Type: "local.large"}, "capacity: insufficient capacity for local.large"},
		{fmt.Errorf("aws: run instances: %w", &InsufficientCapacityError{Type: "c5.large"}), "aws: run instances: capacity: insufficient capacity for c5.large"},
	}
	for _, tt := range tests {
		if runbook.Classify(tt.err) != runbook.ClassCapacity || tt.err.Error() != tt.want {
			t.Errorf("%v: class %v", tt.err, runbook.Classify(tt.err))
		}
	}
}

// TestChooserDrivesEngineFallback runs a step whose provider has no
// capacity for the first two types: the engine falls back through the
// chooser and the step launches the third with a rescaled count.
func TestChooserDrivesEngineFallback(t *testing.T) {
	c, err := NewChooser([]string{"m6i.xlarge", "m5.xlarge", "m6i.large"}, 4)
	if err != nil {
		t.Fatal(err)
	}
	full := map[string]bool{"m6i.xlarge": true, "m5.xlarge": true}
	step := runbook.Step{ID: "web", Mutating: true, Fallback: c.Fallback(),
		Run: func(ctx context.Context, sc *runbook.StepContext) (runbook.Output, error) {
			ch := c.Current()
			if full[ch.Type] {
				return nil, fmt.Errorf("launch %d x %s: %w", ch.Count, ch.Type, &InsufficientCapacityError{Type: ch.Type, Zone: "z1"})
			}
			return runbook.Output{"type": ch.Type, "count": fmt.Sprint(ch.Count)}, nil
		}}
	e, err := runbook.New(runbook.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Run(context.Background(), runbook.Runbook{Name: "rb", Steps: []runbook.Step{step}}, "r")
	if err != nil {
		t.Fatal(err)
	}
	if out := res.Steps[0].Output; out["type"] != "m6i.large" || out["count"] != "8" || res.Steps[0].Attempts != 3 {
		t.Fatalf("result %+v", res.Steps[0])
	}
	if got := c.Tried(); len(got) != 2 {
		t.Fatalf("tried %+v", got)
	}

	// With every type full the step fails with a capacity error.
	full["m6i.large"] = true
	c2, _ := NewChooser([]string{"m6i.xlarge", "m5.xlarge", "m6i.large"}, 4)
	c = c2
	step.Fallback = c2.Fallback()
	_, err = e.Run(context.Background(), runbook.Runbook{Name: "rb", Steps: []runbook.Step{step}}, "r2")
	var ice *InsufficientCapacityError
	if !errors.As(err, &ice) || ice.Type != "m6i.large" || runbook.Classify(err) != runbook.ClassCapacity {
		t.Fatalf("err %v", err)
	}
}
