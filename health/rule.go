package health

import (
	"fmt"
	"strconv"
	"strings"
)

// Rule kinds.
const (
	RuleAny      = "any"
	RuleAll      = "all"
	RuleMajority = "majority"
	RulePercent  = "percent"
)

// Rule decides a target's health from the votes of its vantage points. Each
// vote is the vantage point's own threshold-decided State (see Tracker).
//
// A Rule is evaluated three-valued, so that vantage points that have not
// decided yet (Unknown, typically at start-up) never cause a spurious verdict.
// With h Healthy votes, k Unknown votes and n votes in all:
//
//   - the target is Healthy when the rule holds counting only the h Healthy
//     votes (Unknown votes never count as healthy);
//   - it is Unhealthy when the rule fails even if all k Unknown votes were
//     Healthy;
//   - otherwise it is Unknown: the outcome depends on undecided vantage points.
//
// The rules, for a count c of healthy votes out of n:
//
//	any       c >= 1
//	all       c == n
//	majority  c > n/2 (strictly more than half: 2 of 2, 2 of 3, 3 of 4)
//	>P%       c*100 > P*n (more than P percent; Route 53 uses >18%)
//
// With no votes at all the outcome is Unknown.
type Rule struct {
	// Kind is "any", "all", "majority" or "percent" (default majority).
	Kind string
	// Percent, for Kind "percent", 0 to 99: healthy when more than Percent
	// percent of the vantage points say healthy.
	Percent int
}

// ParseRule parses "any", "all", "majority" or ">N%" (N from 0 to 99). An
// empty string is the default rule, majority.
func ParseRule(s string) (Rule, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "", RuleMajority:
		return Rule{Kind: RuleMajority}, nil
	case RuleAny, RuleAll:
		return Rule{Kind: s}, nil
	}
	if num, ok := strings.CutPrefix(s, ">"); ok {
		if num, ok = strings.CutSuffix(num, "%"); ok {
			p, err := strconv.Atoi(num)
			if err == nil {
				r := Rule{Kind: RulePercent, Percent: p}
				return r, r.Validate()
			}
		}
	}
	return Rule{}, fmt.Errorf("health: parse rule %q: want any, all, majority or >N%%", s)
}

// Validate reports whether r (after defaults) is a known rule.
func (r Rule) Validate() error {
	switch r.withDefaults().Kind {
	case RuleAny, RuleAll, RuleMajority:
		return nil
	case RulePercent:
		if r.Percent < 0 || r.Percent > 99 {
			return fmt.Errorf("health: validate rule %s: percent must be 0 to 99", r)
		}
		return nil
	}
	return fmt.Errorf("health: validate rule %q: unknown kind (want any, all, majority or percent)", r.Kind)
}

func (r Rule) withDefaults() Rule {
	if r.Kind == "" {
		r.Kind = RuleMajority
	}
	return r
}

// String returns the rule as ParseRule reads it: "majority", ">18%", ...
func (r Rule) String() string {
	r = r.withDefaults()
	if r.Kind == RulePercent {
		return ">" + strconv.Itoa(r.Percent) + "%"
	}
	return r.Kind
}

// MarshalText implements encoding.TextMarshaler.
func (r Rule) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseRule.
func (r *Rule) UnmarshalText(b []byte) error {
	v, err := ParseRule(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// holds reports whether the rule is satisfied by c healthy votes out of n.
func (r Rule) holds(c, n int) bool {
	switch r.withDefaults().Kind {
	case RuleAny:
		return c >= 1
	case RuleAll:
		return c == n
	case RulePercent:
		return c*100 > r.Percent*n
	default: // majority
		return 2*c > n
	}
}

// Decide returns the target's state for the given votes (see Rule).
func (r Rule) Decide(votes []State) State {
	if len(votes) == 0 {
		return Unknown
	}
	v := Count(votes)
	switch {
	case r.holds(v.Healthy, v.Total()):
		return Healthy
	case !r.holds(v.Healthy+v.Unknown, v.Total()):
		return Unhealthy
	}
	return Unknown
}

// Tally counts votes by state.
type Tally struct {
	Healthy, Unhealthy, Unknown int
}

// Count tallies votes.
func Count(votes []State) Tally {
	var v Tally
	for _, s := range votes {
		switch s {
		case Healthy:
			v.Healthy++
		case Unhealthy:
			v.Unhealthy++
		default:
			v.Unknown++
		}
	}
	return v
}

// Total returns the number of votes.
func (v Tally) Total() int { return v.Healthy + v.Unhealthy + v.Unknown }

// String returns e.g. "2/3 healthy, 1 unhealthy, 0 unknown".
func (v Tally) String() string {
	return fmt.Sprintf("%d/%d healthy, %d unhealthy, %d unknown", v.Healthy, v.Total(), v.Unhealthy, v.Unknown)
}
