// Package capacity knows instance types by their capacity units (vCPUs and
// memory) and falls back from one type to the next when a region has no
// capacity left for it, rescaling the instance count so that the fleet keeps
// at least the capacity first asked for.
package capacity

import (
	"fmt"
	"sort"

	"github.com/pilotlight/pilotlight/runbook"
)

// Type is an instance type and its capacity.
type Type struct {
	Name      string `json:"name"`
	Family    string `json:"family"`
	VCPU      int    `json:"vcpu"`
	MemoryMiB int    `json:"memoryMiB"`
}

const gib = 1024

// catalogue holds the types Lookup knows: the local provider's and a subset
// of AWS's general purpose (t3, m5, m6i), compute (c5, c6i) and memory (r5,
// r6i) families, with their published vCPU and memory figures.
var catalogue = func() map[string]Type {
	m := map[string]Type{}
	add := func(family string, sizes []string, vcpu []int, memGiB []int) {
		for i, size := range sizes {
			name := family + "." + size
			m[name] = Type{Name: name, Family: family, VCPU: vcpu[i], MemoryMiB: memGiB[i] * gib}
		}
	}
	add("local", []string{"small", "medium", "large", "xlarge"}, []int{1, 2, 4, 8}, []int{2, 4, 8, 16})
	sizes := []string{"large", "xlarge", "2xlarge", "4xlarge"}
	vcpu := []int{2, 4, 8, 16}
	add("t3", sizes[:3], vcpu[:3], []int{8, 16, 32})
	for _, f := range []string{"m5", "m6i"} {
		add(f, sizes, vcpu, []int{8, 16, 32, 64})
	}
	for _, f := range []string{"c5", "c6i"} {
		add(f, sizes, vcpu, []int{4, 8, 16, 32})
	}
	for _, f := range []string{"r5", "r6i"} {
		add(f, sizes, vcpu, []int{16, 32, 64, 128})
	}
	return m
}()

// Lookup returns the type called name, if the catalogue has it.
func Lookup(name string) (Type, bool) {
	t, ok := catalogue[name]
	return t, ok
}

// Names returns the names of every type in the catalogue, sorted.
func Names() []string {
	names := make([]string, 0, len(catalogue))
	for n := range catalogue {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Recompute returns how many instances of type to give at least the vCPUs
// and the memory of count instances of type from: the larger of the two
// ratios, rounded up, and at least 1. One size down doubles the count, one
// size up halves it, rounding up. A dimension that to lacks (zero) is not
// compared; if to has neither, count is returned.
func Recompute(count int, from, to Type) int {
	n := 0
	if to.VCPU > 0 {
		n = max(n, ceilDiv(count*from.VCPU, to.VCPU))
	}
	if to.MemoryMiB > 0 {
		n = max(n, ceilDiv(count*from.MemoryMiB, to.MemoryMiB))
	}
	if to.VCPU <= 0 && to.MemoryMiB <= 0 {
		n = count
	}
	return max(n, 1)
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// InsufficientCapacityError says a zone (or the region, when Zone is empty)
// has no capacity for an instance type. runbook.Classify returns
// runbook.ClassCapacity for it, so the engine calls the step's Fallback.
type InsufficientCapacityError struct {
	Type string
	Zone string
}

func (e *InsufficientCapacityError) Error() string {
	if e.Zone == "" {
		return fmt.Sprintf("capacity: insufficient capacity for %s", e.Type)
	}
	return fmt.Sprintf("capacity: insufficient capacity for %s in %s", e.Type, e.Zone)
}

// Class returns runbook.ClassCapacity.
func (e *InsufficientCapacityError) Class() runbook.Class { return runbook.ClassCapacity }
