package runbook

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	rec := &recorder{}
	tests := []struct {
		name  string
		steps []Step
		want  string // substring of the error; "" = valid
	}{
		{"ok", []Step{okStep(rec, "a", 0), okStep(rec, "b", 1, "a")}, ""},
		{"duplicate", []Step{okStep(rec, "a", 0), okStep(rec, "a", 0)}, "duplicate ID"},
		{"empty id", []Step{okStep(rec, "", 0)}, "has no ID"},
		{"no run", []Step{{ID: "a"}}, "no Run"},
		{"unknown dep", []Step{okStep(rec, "a", 0, "x")}, `unknown dependency "x"`},
		{"cycle", []Step{okStep(rec, "a", 0, "c"), okStep(rec, "b", 0, "a"), okStep(rec, "c", 0, "b")}, "cycle"},
		{"self cycle", []Step{okStep(rec, "a", 0, "a")}, "cycle"},
		{"later tier", []Step{okStep(rec, "a", 0, "b"), okStep(rec, "b", 1)}, "later tier"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Runbook{Name: "rb", Steps: tt.steps}.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate = %v, want error containing %q wrapping ErrInvalid", err, tt.want)
			}
		})
	}
}

func TestPlan(t *testing.T) {
	rec := &recorder{}
	rb := Runbook{Name: "rb", Steps: []Step{
		okStep(rec, "lb", 2, "web", "api"),
		okStep(rec, "net", 0),
		okStep(rec, "db", 0, "net"),
		okStep(rec, "web", 1),
		okStep(rec, "api", 1),
		okStep(rec, "dns", 2, "lb"),
	}}
	got, err := Plan(rb)
	if err != nil {
		t.Fatal(err)
	}
	want := []Wave{
		{0, []string{"net"}}, {0, []string{"db"}},
		{1, []string{"web", "api"}},
		{2, []string{"lb"}}, {2, []string{"dns"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Plan = %v, want %v", got, want)
	}
}

func TestClassify(t *testing.T) {
	base := errors.New("boom")
	tests := []struct {
		err  error
		want Class
	}{
		{nil, ClassFatal},
		{base, ClassFatal},
		{Throttled(base), ClassThrottled},
		{fmt.Errorf("ec2: run instances: %w", Capacity(base)), ClassCapacity},
		{NotFound(base), ClassNotFound},
		{Conflict(base), ClassConflict},
		{Transient(base), ClassTransient},
		{Fatal(base), ClassFatal},
	}
	for _, tt := range tests {
		t.Run(tt.want.String(), func(t *testing.T) {
			if got := Classify(tt.err); got != tt.want {
				t.Fatalf("Classify(%v) = %v, want %v", tt.err, got, tt.want)
			}
			if tt.err != nil && !errors.Is(tt.err, base) {
				t.Fatalf("%v does not wrap the cause", tt.err)
			}
		})
	}
	if Throttled(nil) != nil {
		t.Fatal("Throttled(nil) != nil")
	}
}
