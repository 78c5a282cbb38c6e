package plan

import (
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// position is where a field path appears in a plan file.
type position struct {
	line, col int
	null      bool // the field is present with an empty (null) value
}

// decoder walks a YAML node tree alongside the Go type it decodes into,
// reporting every unknown field, duplicate key and wrong type, and
// recording the position of every field path it meets. Aliases are
// rejected, so the work is linear in the size of the input.
type decoder struct {
	errs Errors
	pos  map[string]position
	bad  []string // paths whose value could not be decoded
}

// defaulter is a struct that can fill its zero fields with defaults; the
// decoder calls it before decoding a struct's fields.
type defaulter interface{ setDefaults() }

var durationType = reflect.TypeFor[Duration]()

func newDecoder() *decoder { return &decoder{pos: make(map[string]position)} }

func (d *decoder) fail(at *yaml.Node, path, format string, args ...any) {
	d.errs = append(d.errs, &FieldError{Line: at.Line, Col: at.Column, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// badValue reports a value that cannot be decoded; validation problems
// under its path are then not reported, as they would only repeat it.
func (d *decoder) badValue(at *yaml.Node, path, format string, args ...any) {
	d.fail(at, path, format, args...)
	d.bad = append(d.bad, path)
}

// decode decodes n into v. at is the node that marks path in the file: the
// key of a mapping entry, or n itself.
func (d *decoder) decode(n, at *yaml.Node, path string, v reflect.Value) {
	null := n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
	d.pos[path] = position{line: at.Line, col: at.Column, null: null}
	if n.Kind == yaml.AliasNode {
		d.badValue(at, path, "aliases are not supported")
		return
	}
	if null {
		return
	}
	if v.Type() == durationType {
		d.decodeDuration(n, at, path, v)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, at, path, v.Elem())
	case reflect.Struct:
		d.decodeStruct(n, at, path, v)
	case reflect.Slice:
		d.decodeSlice(n, at, path, v)
	case reflect.Map:
		d.decodeMap(n, at, path, v)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.badValue(at, path, "expected a string, got %s", describe(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Int:
		var i int
		if n.Kind != yaml.ScalarNode || n.Decode(&i) != nil {
			d.badValue(at, path, "expected an integer, got %s", describe(n))
			return
		}
		v.SetInt(int64(i))
	case reflect.Float64:
		var f float64
		if n.Kind != yaml.ScalarNode || n.Decode(&f) != nil {
			d.badValue(at, path, "expected a number, got %s", describe(n))
			return
		}
		v.SetFloat(f)
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
			d.badValue(at, path, "expected true or false, got %s", describe(n))
			return
		}
		v.SetBool(b)
	default:
		d.badValue(at, path, "cannot decode into %s", v.Type())
	}
}

func (d *decoder) decodeDuration(n, at *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.ScalarNode {
		d.badValue(at, path, `expected a duration like "90s" or "2m", got %s`, describe(n))
		return
	}
	dur, err := ParseDuration(n.Value)
	if err != nil {
		d.badValue(at, path, `expected a duration like "90s" or "2m", got %s`, describe(n))
		return
	}
	v.SetInt(int64(dur))
}

func (d *decoder) decodeStruct(n, at *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.badValue(at, path, "expected a mapping, got %s", describe(n))
		return
	}
	if df, ok := v.Addr().Interface().(defaulter); ok {
		df.setDefaults()
	}
	fields := yamlFields(v.Type())
	seen := make(map[string]*yaml.Node)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		name, ok := d.key(k, seen, path, "field")
		if !ok {
			continue
		}
		idx, known := fields[name]
		if !known {
			if name == "<<" {
				d.fail(k, path, "merge keys are not supported")
			} else {
				d.fail(k, path, "unknown field %q", name)
			}
			continue
		}
		d.decode(val, k, joinPath(path, name), v.Field(idx))
	}
}

// key checks a mapping key: a scalar, not seen before in the mapping.
func (d *decoder) key(k *yaml.Node, seen map[string]*yaml.Node, path, what string) (string, bool) {
	if k.Kind != yaml.ScalarNode {
		d.fail(k, path, "expected a %s name, got %s", what, describe(k))
		return "", false
	}
	if first, dup := seen[k.Value]; dup {
		d.fail(k, path, "duplicate %s %q (first on line %d)", what, k.Value, first.Line)
		return "", false
	}
	seen[k.Value] = k
	return k.Value, true
}

func (d *decoder) decodeSlice(n, at *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.SequenceNode {
		d.badValue(at, path, "expected a list, got %s", describe(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.decode(item, item, fmt.Sprintf("%s[%d]", path, i), s.Index(i))
	}
	v.Set(s)
}

func (d *decoder) decodeMap(n, at *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.badValue(at, path, "expected a mapping, got %s", describe(n))
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	seen := make(map[string]*yaml.Node)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		name, ok := d.key(k, seen, path, "key")
		if !ok {
			continue
		}
		elem := reflect.New(v.Type().Elem()).Elem()
		d.decode(val, k, joinPath(path, name), elem)
		m.SetMapIndex(reflect.ValueOf(name).Convert(v.Type().Key()), elem)
	}
	v.Set(m)
}

// yamlFields maps the yaml names of a struct's exported fields to their
// indexes.
func yamlFields(t reflect.Type) map[string]int {
	fields := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = i
	}
	return fields
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// describe names a node for an error message: a quoted scalar, "a
// mapping" or "a list".
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	s := n.Value
	if len(s) > 40 {
		s = s[:37] + "..."
	}
	return fmt.Sprintf("%q", s)
}
