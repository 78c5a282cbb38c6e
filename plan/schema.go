package plan

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/invopop/jsonschema"
)

// schemaComments maps Go type and field names to their doc comments; it
// becomes the descriptions of the schema. TestSchemaComments regenerates
// it from the source with -update.
//
//go:embed schema_comments.json
var schemaComments []byte

// schemaPackage is the import path the comment map is keyed by.
const schemaPackage = "github.com/pilotlight/pilotlight/plan"

// Schema returns a JSON Schema (draft 2020-12) of the plan file, for
// editors: `pilotlight schema > pilotlight.schema.json`. Property names are
// the YAML keys; descriptions are the fields' doc comments.
func Schema() ([]byte, error) {
	comments := make(map[string]string)
	if err := json.Unmarshal(schemaComments, &comments); err != nil {
		return nil, fmt.Errorf("plan: schema comments: %w", err)
	}
	for k, v := range comments {
		comments[k] = strings.Join(strings.Fields(v), " ") // one line each
	}
	r := &jsonschema.Reflector{
		Anonymous:                  true,
		ExpandedStruct:             true,
		RequiredFromJSONSchemaTags: true,
		FieldNameTag:               "yaml",
		CommentMap:                 comments,
	}
	s := r.ReflectFromType(reflect.TypeFor[Plan]())
	s.Title = "pilotlight plan"
	out, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("plan: marshal schema: %w", err)
	}
	return append(out, '\n'), nil
}

// enumSchema describes a string enumeration.
func enumSchema[T ~string](values []T) *jsonschema.Schema {
	s := &jsonschema.Schema{Type: "string"}
	for _, v := range values {
		s.Enum = append(s.Enum, string(v))
	}
	return s
}

// JSONSchema lists the strategies in the JSON Schema.
func (Strategy) JSONSchema() *jsonschema.Schema { return enumSchema(Strategies) }

// JSONSchema lists the providers in the JSON Schema.
func (Provider) JSONSchema() *jsonschema.Schema { return enumSchema(Providers) }

// JSONSchema lists the delete policies in the JSON Schema.
func (DeletePolicy) JSONSchema() *jsonschema.Schema { return enumSchema(DeletePolicies) }

// JSONSchema lists the archived-object policies in the JSON Schema.
func (ArchivedPolicy) JSONSchema() *jsonschema.Schema { return enumSchema(ArchivedPolicies) }

// JSONSchema lists the load-balancing algorithms in the JSON Schema.
func (Algorithm) JSONSchema() *jsonschema.Schema { return enumSchema(Algorithms) }

// JSONSchema lists the health-check types in the JSON Schema.
func (CheckType) JSONSchema() *jsonschema.Schema { return enumSchema(CheckTypes) }

// JSONSchema lists the routing policies in the JSON Schema.
func (Policy) JSONSchema() *jsonschema.Schema { return enumSchema(Policies) }

// JSONSchema lists the record types in the JSON Schema.
func (RecordType) JSONSchema() *jsonschema.Schema { return enumSchema(RecordTypes) }
