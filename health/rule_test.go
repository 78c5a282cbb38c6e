package health_test

import (
	"encoding/json"
	"testing"

	"github.com/pilotlight/pilotlight/health"
)

func TestParseRule(t *testing.T) {
	tests := []struct {
		in      string
		want    health.Rule
		str     string
		wantErr bool
	}{
		{"", health.Rule{Kind: health.RuleMajority}, "majority", false},
		{"majority", health.Rule{Kind: health.RuleMajority}, "majority", false},
		{"any", health.Rule{Kind: health.RuleAny}, "any", false},
		{"all", health.Rule{Kind: health.RuleAll}, "all", false},
		{">18%", health.Rule{Kind: health.RulePercent, Percent: 18}, ">18%", false},
		{" >0% ", health.Rule{Kind: health.RulePercent, Percent: 0}, ">0%", false},
		{">99%", health.Rule{Kind: health.RulePercent, Percent: 99}, ">99%", false},
		{">100%", health.Rule{}, "", true},
		{">-1%", health.Rule{}, "", true},
		{"18%", health.Rule{}, "", true},
		{">18", health.Rule{}, "", true},
		{">x%", health.Rule{}, "", true},
		{"most", health.Rule{}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := health.ParseRule(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseRule(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if got != tt.want || got.String() != tt.str {
				t.Fatalf("ParseRule(%q) = %+v (%s), want %+v (%s)", tt.in, got, got, tt.want, tt.str)
			}
		})
	}
}

func TestRuleJSONRoundTrip(t *testing.T) {
	in := struct{ Rule health.Rule }{health.Rule{Kind: health.RulePercent, Percent: 18}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"Rule":"\u003e18%"}` { // encoding/json escapes >
		t.Fatalf("json = %s", b)
	}
	var out struct{ Rule health.Rule }
	if err := json.Unmarshal(b, &out); err != nil || out != in {
		t.Fatalf("round trip = %+v, %v; want %+v", out, err, in)
	}
	if err := json.Unmarshal([]byte(`{"Rule":"some"}`), &out); err == nil {
		t.Fatal("unmarshal of an unknown rule succeeded")
	}
}

func TestRuleValidate(t *testing.T) {
	for _, r := range []health.Rule{{}, {Kind: "any"}, {Kind: "percent", Percent: 50}} {
		if err := r.Validate(); err != nil {
			t.Errorf("%+v.Validate() = %v", r, err)
		}
	}
	for _, r := range []health.Rule{{Kind: "some"}, {Kind: "percent", Percent: 100}, {Kind: "percent", Percent: -5}} {
		if err := r.Validate(); err == nil {
			t.Errorf("%+v.Validate() = nil, want error", r)
		}
	}
}

// votes builds votes from a string: h healthy, u unhealthy, ? unknown.
func votes(s string) []health.State {
	vs := make([]health.State, len(s))
	for i, c := range s {
		switch c {
		case 'h':
			vs[i] = health.Healthy
		case 'u':
			vs[i] = health.Unhealthy
		}
	}
	return vs
}

func TestRuleDecide(t *testing.T) {
	const (
		H = health.Healthy
		U = health.Unhealthy
		K = health.Unknown
	)
	tests := []struct {
		rule  string
		votes string
		want  health.State
	}{
		{"any", "", K},
		{"any", "h", H},
		{"any", "u", U},
		{"any", "?", K},
		{"any", "uuh", H},
		{"any", "uuu", U},
		{"any", "uu?", K}, // the undecided one could still say healthy
		{"any", "?h", H},

		{"all", "hhh", H},
		{"all", "hhu", U},
		{"all", "hh?", K}, // unknown never counts as healthy
		{"all", "uu?", U},
		{"all", "???", K},

		{"majority", "h", H},
		{"majority", "hu", U}, // half is not a majority
		{"majority", "hh", H},
		{"majority", "hhu", H},
		{"majority", "huu", U},
		{"majority", "h??", K},
		{"majority", "hh?", H},
		{"majority", "uu?", U},
		{"majority", "hu?", K},
		{"majority", "hhuu", U},
		{"majority", "hhhu", H},
		{"majority", "hh??", K},

		{">18%", "huuuu", H},  // 20% > 18%
		{">18%", "huuuuu", U}, // 16.7%
		{">18%", "u?????", K},
		{">18%", "uuuuuu", U},
		{">50%", "hu", U},
		{">49%", "hu", H},
		{">0%", "uuuh", H},
		{">0%", "uuuu", U},
		{">99%", "hhhhhhhhhh", H},
		{">99%", "hhhhhhhhhu", U},
		{">99%", "hhhhhhhhh?", K},
	}
	for _, tt := range tests {
		t.Run(tt.rule+"/"+tt.votes, func(t *testing.T) {
			r, err := health.ParseRule(tt.rule)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Decide(votes(tt.votes)); got != tt.want {
				t.Fatalf("%s.Decide(%s) = %v, want %v", tt.rule, tt.votes, got, tt.want)
			}
		})
	}
}

func TestTally(t *testing.T) {
	v := health.Count(votes("hhu?"))
	if v != (health.Tally{Healthy: 2, Unhealthy: 1, Unknown: 1}) || v.Total() != 4 {
		t.Fatalf("Count = %+v", v)
	}
	if got, want := v.String(), "2/4 healthy, 1 unhealthy, 1 unknown"; got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
}
