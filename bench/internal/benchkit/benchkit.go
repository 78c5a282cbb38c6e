// Package benchkit holds what the benchmarks under bench/ share: the goals
// they check and print, and helpers to keep a child process's output short.
package benchkit

import (
	"fmt"
	"strings"
)

// Goal is one target of an issue's benchmark and whether it was met.
type Goal struct {
	Name     string
	Measured string
	Met      bool
	Known    bool // false when a figure is missing
}

// WriteGoals appends a "goals" section to sb: ✓ met, ✗ missed, ? not
// measured.
func WriteGoals(sb *strings.Builder, gs []Goal) {
	if len(gs) == 0 {
		return
	}
	sb.WriteString("\ngoals\n")
	for _, g := range gs {
		mark := "✗"
		switch {
		case !g.Known:
			mark, g.Measured = "?", "not measured"
		case g.Met:
			mark = "✓"
		}
		fmt.Fprintf(sb, "  %s %s: %s\n", mark, g.Name, g.Measured)
	}
}

// Tail is an io.Writer that keeps the last Max bytes written to it, for
// quoting the end of a child's log in an error.
type Tail struct {
	Max int
	buf []byte
}

func (t *Tail) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.Max {
		t.buf = t.buf[len(t.buf)-t.Max:]
	}
	return len(p), nil
}

func (t *Tail) String() string { return string(t.buf) }

// Truncate returns b trimmed and cut to at most n bytes, marked with "…".
func Truncate(b []byte, n int) string {
	s := strings.TrimSpace(string(b))
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}
