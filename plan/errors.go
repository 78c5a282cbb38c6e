package plan

import (
	"fmt"
	"slices"
	"strings"
)

// FieldError is one problem in a plan. File, Line and Col are set when the
// plan was parsed from a file (Line and Col are 1-based); Path is the field
// path, such as services[0].compute.count, or empty for a YAML syntax error.
type FieldError struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	Col  int    `json:"col,omitempty"`
	Path string `json:"path,omitempty"`
	Msg  string `json:"msg"`
	// Warning marks a problem that does not make the plan invalid.
	Warning bool `json:"warning,omitempty"`
}

// Error formats e as FILE:LINE:COL: path: message (FILE:LINE:COL: warning:
// path: message for a warning), leaving out the position when it is unknown
// and the path when it is empty.
func (e *FieldError) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "%s:%d:%d: ", e.File, e.Line, e.Col)
	}
	if e.Warning {
		b.WriteString("warning: ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors are all the problems found in a plan.
type Errors []*FieldError

// Error joins the errors with newlines, sorted by line then column.
func (es Errors) Error() string {
	sorted := slices.Clone(es)
	sortErrors(sorted)
	lines := make([]string, len(sorted))
	for i, e := range sorted {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// sortErrors orders errors by line then column, keeping the order of
// errors at the same place.
func sortErrors(es Errors) {
	slices.SortStableFunc(es, func(a, b *FieldError) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Col - b.Col
	})
}

// err returns es as an error, nil when it is empty.
func (es Errors) err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// parentPath returns the path of the node that encloses path:
// "a.b[2].c" → "a.b[2]" → "a.b" → "a" → "".
func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// underPath reports whether path is p or lies inside it.
func underPath(path, p string) bool {
	if p == "" || path == p {
		return true
	}
	return strings.HasPrefix(path, p) && (path[len(p)] == '.' || path[len(p)] == '[')
}
