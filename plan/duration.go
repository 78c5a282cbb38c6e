package plan

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/invopop/jsonschema"
	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written as a string such as "90s", "2m",
// "4h" or "1d" (24 hours) in plan files and JSON.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String returns the short form of d: "2m" rather than "2m0s".
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// ParseDuration parses a duration such as "90s", "2m", "1h30m" or "1d";
// "d" is 24 hours and may only lead, as in "1d12h".
func ParseDuration(s string) (Duration, error) {
	rest, days := s, int64(0)
	neg := strings.HasPrefix(rest, "-")
	if neg {
		rest = rest[1:]
	}
	if i := strings.IndexByte(rest, 'd'); i >= 0 {
		n, err := strconv.ParseInt(rest[:i], 10, 64)
		if err != nil || n < 0 || n > 100000 || (n > 0 && strings.HasPrefix(rest[:i], "+")) {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		days, rest = n, rest[i+1:]
	}
	var d time.Duration
	if rest != "" {
		var err error
		if d, err = time.ParseDuration(rest); err != nil || strings.HasPrefix(rest, "-") || strings.HasPrefix(rest, "+") {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
	} else if days == 0 {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	if day := 24 * time.Hour; d > time.Duration(1<<63-1)-time.Duration(days)*day {
		return 0, fmt.Errorf("invalid duration %q: too long", s)
	}
	d += time.Duration(days) * 24 * time.Hour
	if neg {
		d = -d
	}
	return Duration(d), nil
}

// MarshalYAML writes d in its short form.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalYAML reads a duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalJSON writes d as a JSON string in its short form.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("plan: duration: %w", err)
	}
	v, err := ParseDuration(s)
	if err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	*d = v
	return nil
}

// JSONSchema describes Duration as a string in the JSON Schema.
func (Duration) JSONSchema() *jsonschema.Schema {
	return &jsonschema.Schema{
		Type:        "string",
		Pattern:     `^([0-9]+d)?([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))*$`,
		Description: `A duration such as "90s", "2m", "4h" or "1d".`,
		Examples:    []any{"90s", "2m", "4h", "1d"},
	}
}
