package plan

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// Load reads, decodes and validates the plan file at path. When the plan
// is invalid the error is of type Errors and lists every problem.
func Load(path string) (*Plan, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("plan: load %s: %w", path, err)
	}
	return Parse(path, data)
}

// Parse decodes and validates a plan read from file (used in error
// messages and by Plan.Dir). It applies defaults, decodes strictly, fills
// the defaults that depend on other fields and validates. When the plan is
// invalid the error is of type Errors, sorted by position, and the plan is
// nil.
func Parse(file string, data []byte) (*Plan, error) {
	root, errs := parseYAML(data)
	if errs != nil {
		for _, e := range errs {
			e.File = file
		}
		return nil, errs
	}
	p := &Plan{file: file}
	d := newDecoder()
	d.decode(root, root, "", reflect.ValueOf(p).Elem())
	p.resolve()

	present := func(path string) bool {
		pos, ok := d.pos[path]
		return ok && !pos.null
	}
	all := d.errs
	v := p.validate(present)
	for _, e := range v.errs {
		if d.covers(e.Path) {
			continue
		}
		e.Line, e.Col = d.position(e.Path)
		all = append(all, e)
	}
	for _, w := range v.warns {
		w.File = file
		w.Line, w.Col = d.position(w.Path)
	}
	sortErrors(v.warns)
	p.parsed, p.warnings = true, v.warns
	if len(all) > 0 {
		for _, e := range all {
			e.File = file
		}
		sortErrors(all)
		return nil, all
	}
	return p, nil
}

// covers reports whether path lies under a value that failed to decode.
func (d *decoder) covers(path string) bool {
	for _, b := range d.bad {
		if underPath(path, b) {
			return true
		}
	}
	return false
}

// position returns the position of path, or of the nearest enclosing
// field present in the file.
func (d *decoder) position(path string) (line, col int) {
	for {
		if pos, ok := d.pos[path]; ok {
			return pos.line, pos.col
		}
		if path == "" {
			return 1, 1
		}
		path = parentPath(path)
	}
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML parses the single document of a plan into its root node.
func parseYAML(data []byte) (root *yaml.Node, errs Errors) {
	defer func() {
		// The YAML parser is third-party code fed untrusted input: turn a
		// panic into an error rather than crash the caller.
		if r := recover(); r != nil {
			root, errs = nil, Errors{{Line: 1, Col: 1, Msg: fmt.Sprintf("invalid YAML: %v", r)}}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Errors{{Line: 1, Col: 1, Msg: "empty plan"}}
		}
		return nil, Errors{syntaxError(err)}
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		return nil, Errors{{Line: next.Line, Col: next.Column, Msg: "a plan file holds one YAML document"}}
	} else if !errors.Is(err, io.EOF) {
		return nil, Errors{syntaxError(err)}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, Errors{{Line: 1, Col: 1, Msg: "empty plan"}}
	}
	return doc.Content[0], nil
}

// syntaxError turns a YAML parser error into a FieldError.
func syntaxError(err error) *FieldError {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &FieldError{Line: max(line, 1), Col: 1, Msg: m[2]}
	}
	if len(msg) > 6 && msg[:6] == "yaml: " {
		msg = msg[6:]
	}
	return &FieldError{Line: 1, Col: 1, Msg: msg}
}
