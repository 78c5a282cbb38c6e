package benchkit

import (
	"strings"
	"testing"
)

func TestTailAndTruncate(t *testing.T) {
	tl := &Tail{Max: 4}
	tl.Write([]byte("abc"))
	tl.Write([]byte("def"))
	if got := tl.String(); got != "cdef" {
		t.Errorf("Tail = %q, want cdef", got)
	}
	if got := Truncate([]byte("  hello world \n"), 5); got != "hello…" {
		t.Errorf("Truncate = %q", got)
	}
	if got := Truncate([]byte("hi"), 5); got != "hi" {
		t.Errorf("Truncate short = %q", got)
	}
}

func TestWriteGoals(t *testing.T) {
	var sb strings.Builder
	WriteGoals(&sb, nil)
	if sb.Len() != 0 {
		t.Errorf("no goals wrote %q", sb.String())
	}
	WriteGoals(&sb, []Goal{
		{Name: "fast", Measured: "2x", Met: true, Known: true},
		{Name: "faster", Measured: "0.5x", Known: true},
		{Name: "lag", Measured: "ignored"},
	})
	want := "\ngoals\n  ✓ fast: 2x\n  ✗ faster: 0.5x\n  ? lag: not measured\n"
	if sb.String() != want {
		t.Errorf("got %q, want %q", sb.String(), want)
	}
}
