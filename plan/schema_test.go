package plan

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/invopop/jsonschema"
	"go.yaml.in/yaml/v3"
)

// TestSchemaComments checks that schema_comments.json matches the doc
// comments of the source; run with -update after changing a comment.
func TestSchemaComments(t *testing.T) {
	r := &jsonschema.Reflector{}
	if err := r.AddGoComments(schemaPackage, "."); err != nil {
		t.Fatal(err)
	}
	exported := make(map[string]string)
	for k, v := range r.CommentMap {
		// Keep the package's exported types; test helpers are left out.
		if name := strings.TrimPrefix(k, schemaPackage+"."); name != "" && unicode.IsUpper(rune(name[0])) {
			exported[k] = v
		}
	}
	got, err := json.MarshalIndent(exported, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *update {
		if err := os.WriteFile("schema_comments.json", got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, schemaComments) && !*update {
		t.Error("schema_comments.json is stale: run go test ./plan -run TestSchemaComments -update")
	}
}

// schemaNode is the part of a JSON Schema the tests look at.
type schemaNode struct {
	Ref                  string                 `json:"$ref"`
	Type                 string                 `json:"type"`
	Enum                 []string               `json:"enum"`
	Required             []string               `json:"required"`
	Properties           map[string]*schemaNode `json:"properties"`
	Items                *schemaNode            `json:"items"`
	AdditionalProperties *json.RawMessage       `json:"additionalProperties"`
	Minimum              *float64               `json:"minimum"`
	Maximum              *float64               `json:"maximum"`
	Description          string                 `json:"description"`
}

type schemaDoc struct {
	schemaNode
	Schema string                 `json:"$schema"`
	Defs   map[string]*schemaNode `json:"$defs"`
}

func (d *schemaDoc) resolve(n *schemaNode) *schemaNode {
	for n != nil && n.Ref != "" {
		n = d.Defs[n.Ref[len("#/$defs/"):]]
	}
	return n
}

func loadSchema(t *testing.T) *schemaDoc {
	t.Helper()
	out, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	var doc schemaDoc
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("schema is not valid JSON: %v", err)
	}
	return &doc
}

func TestSchema(t *testing.T) {
	doc := loadSchema(t)
	if doc.Schema != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %q", doc.Schema)
	}
	enums := []struct {
		def  string
		want []string
	}{
		{"Strategy", []string{"backup-restore", "pilot-light", "warm-standby", "active-active"}},
		{"Provider", []string{"local", "aws", "sim"}},
		{"DeletePolicy", []string{"keep", "replicate"}},
		{"ArchivedPolicy", []string{"skip", "copy"}},
		{"Policy", []string{"simple", "failover", "weighted"}},
		{"CheckType", []string{"http", "https", "tcp"}},
		{"Algorithm", []string{"round-robin", "least-connections"}},
	}
	for _, e := range enums {
		if d := doc.Defs[e.def]; d == nil || !slices.Equal(d.Enum, e.want) {
			t.Errorf("$defs.%s enum = %+v, want %v", e.def, d, e.want)
		}
	}
	for _, req := range []string{"apiVersion", "kind", "name", "objectives", "regions"} {
		if !slices.Contains(doc.Required, req) {
			t.Errorf("root does not require %q: %v", req, doc.Required)
		}
	}
	if slices.Contains(doc.Required, "strategy") {
		t.Error("strategy has a default but is required")
	}
	for name, def := range doc.Defs {
		if def.Type == "object" && (def.AdditionalProperties == nil || string(*def.AdditionalProperties) != "false") {
			t.Errorf("$defs.%s allows additional properties", name)
		}
	}
	lb := doc.Defs["LoadBalancer"]
	if p := lb.Properties["port"]; p == nil || p.Minimum == nil || *p.Minimum != 1 || *p.Maximum != 65535 {
		t.Errorf("loadBalancer.port bounds: %+v", p)
	}
	if d := doc.Properties["strategy"].Description; d == "" {
		t.Error("strategy has no description")
	}
}

// TestSchemaAcceptsExample walks the example plan against the schema: every
// key must be a known property, every required key present and every
// enumerated value listed.
func TestSchemaAcceptsExample(t *testing.T) {
	doc := loadSchema(t)
	for _, f := range []string{"../examples/ticketing/pilotlight.yaml", "testdata/good/local.yaml", "testdata/good/weighted.yaml", "testdata/good/records.yaml"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := yaml.Unmarshal(data, &v); err != nil {
			t.Fatal(err)
		}
		checkSchema(t, doc, &doc.schemaNode, v, f)
	}
}

func checkSchema(t *testing.T, doc *schemaDoc, n *schemaNode, v any, path string) {
	t.Helper()
	n = doc.resolve(n)
	if n == nil {
		t.Errorf("%s: no schema", path)
		return
	}
	switch v := v.(type) {
	case map[string]any:
		for _, req := range n.Required {
			if _, ok := v[req]; !ok {
				t.Errorf("%s: missing required %q", path, req)
			}
		}
		for k, val := range v {
			p := n.Properties[k]
			if p == nil && n.Properties != nil {
				t.Errorf("%s: schema has no property %q", path, k)
				continue
			}
			if p != nil {
				checkSchema(t, doc, p, val, path+"."+k)
			}
		}
	case []any:
		for _, item := range v {
			if n.Items != nil {
				checkSchema(t, doc, n.Items, item, path+"[]")
			}
		}
	case string:
		if len(n.Enum) > 0 && !slices.Contains(n.Enum, v) {
			t.Errorf("%s: %q not in enum %v", path, v, n.Enum)
		}
		if n.Type != "" && n.Type != "string" {
			t.Errorf("%s: string where schema wants %s", path, n.Type)
		}
	case int:
		// Every integer is a JSON Schema number too.
		if n.Type != "integer" && n.Type != "number" {
			t.Errorf("%s: integer where schema wants %s", path, n.Type)
		}
	case float64:
		if n.Type != "number" {
			t.Errorf("%s: number where schema wants %s", path, n.Type)
		}
	}
}
