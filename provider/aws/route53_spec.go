package aws

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
)

// Route 53 failover roles, as in ResourceRecordSet.Failover.
const (
	rolePrimary   = "primary"
	roleSecondary = "secondary"
)

// RecordSet is one Route 53 resource record set in the driver's normalized
// form (names lower case with a trailing dot).
type RecordSet struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	SetID string `json:"setId,omitempty"`
	// TTL in seconds (0 for aliases).
	TTL    int64        `json:"ttl,omitempty"`
	Values []string     `json:"values,omitempty"`
	Alias  *AliasTarget `json:"alias,omitempty"`
	// Failover is PRIMARY or SECONDARY for failover records.
	Failover string `json:"failover,omitempty"`
	// Weight of a weighted member (nil otherwise).
	Weight *int64 `json:"weight,omitempty"`
	// HealthCheckID binds the set to a Route 53 health check.
	HealthCheckID string `json:"healthCheckId,omitempty"`
	// HealthCheckKey names the health check of the change set this set
	// uses when its ID is known only once Apply has created it.
	HealthCheckKey string `json:"healthCheckKey,omitempty"`
}

// key identifies a record set within a zone.
func (r RecordSet) key() string { return r.Name + " " + r.Type + " " + r.SetID }

// policy names the set's routing policy, which UPSERT cannot change.
func (r RecordSet) policy() string {
	switch {
	case r.Failover != "":
		return PolicyFailover
	case r.Weight != nil:
		return PolicyWeighted
	}
	return PolicySimple
}

// HealthCheckSettings is one Route 53 health check's configuration.
type HealthCheckSettings struct {
	// Type is HTTP, HTTPS, HTTP_STR_MATCH, HTTPS_STR_MATCH or TCP.
	Type             string `json:"type"`
	FQDN             string `json:"fqdn,omitempty"`
	IP               string `json:"ip,omitempty"`
	Port             int    `json:"port"`
	Path             string `json:"path,omitempty"`
	Interval         int    `json:"interval"`
	FailureThreshold int    `json:"failureThreshold"`
	SearchString     string `json:"searchString,omitempty"`
}

// target is the probed endpoint for display.
func (s HealthCheckSettings) target() string {
	host := s.IP
	if s.FQDN != "" {
		host = s.FQDN
	}
	return fmt.Sprintf("%s %s:%d%s", s.Type, host, s.Port, s.Path)
}

// hash is a short digest of the settings, part of the CallerReference.
func (s HealthCheckSettings) hash() string {
	b, _ := json.Marshal(s)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// sdk converts the settings to the SDK's configuration.
func (s HealthCheckSettings) sdk() *types.HealthCheckConfig {
	c := &types.HealthCheckConfig{
		Type:             types.HealthCheckType(s.Type),
		Port:             sdkaws.Int32(int32(s.Port)),
		RequestInterval:  sdkaws.Int32(int32(s.Interval)),
		FailureThreshold: sdkaws.Int32(int32(s.FailureThreshold)),
	}
	if s.FQDN != "" {
		c.FullyQualifiedDomainName = sdkaws.String(s.FQDN)
	}
	if s.IP != "" {
		c.IPAddress = sdkaws.String(s.IP)
	}
	if s.Path != "" {
		c.ResourcePath = sdkaws.String(s.Path)
	}
	if s.SearchString != "" {
		c.SearchString = sdkaws.String(s.SearchString)
	}
	return c
}

// settingsOf reads an existing health check's configuration.
func settingsOf(c *types.HealthCheckConfig) HealthCheckSettings {
	if c == nil {
		return HealthCheckSettings{}
	}
	return HealthCheckSettings{Type: string(c.Type), FQDN: sdkaws.ToString(c.FullyQualifiedDomainName),
		IP: sdkaws.ToString(c.IPAddress), Port: int(sdkaws.ToInt32(c.Port)), Path: sdkaws.ToString(c.ResourcePath),
		Interval: int(sdkaws.ToInt32(c.RequestInterval)), FailureThreshold: int(sdkaws.ToInt32(c.FailureThreshold)),
		SearchString: sdkaws.ToString(c.SearchString)}
}

// desiredCheck is a health check a record needs.
type desiredCheck struct {
	key      string // "<fqdn>/<role>"
	settings HealthCheckSettings
}

// desired expands the specs into record sets and health checks, checking
// each spec.
func desired(specs []RecordSpec) ([]RecordSet, []desiredCheck, error) {
	var sets []RecordSet
	var checks []desiredCheck
	seen := make(map[string]bool)
	for i, s := range specs {
		rs, cs, err := expand(s)
		if err != nil {
			return nil, nil, fmt.Errorf("route53: record %d %s: %w: %w", i, s.Name, ErrConfig, err)
		}
		for _, r := range rs {
			if seen[r.key()] {
				return nil, nil, fmt.Errorf("route53: record %d %s: %w: %s %s is declared twice", i, s.Name, ErrConfig, r.Name, r.Type)
			}
			seen[r.key()] = true
		}
		sets = append(sets, rs...)
		checks = append(checks, cs...)
	}
	return sets, checks, nil
}

// expand turns one spec into its record sets and health checks.
func expand(s RecordSpec) ([]RecordSet, []desiredCheck, error) {
	if s.Name == "" {
		return nil, nil, fmt.Errorf("name is required")
	}
	name, typ, policy := fqdn(s.Name), strings.ToUpper(s.Type), s.Policy
	if typ == "" {
		typ = "A"
	}
	if policy == "" {
		policy = PolicySimple
	}
	switch typ {
	case "A", "AAAA", "CNAME", "TXT":
	default:
		return nil, nil, fmt.Errorf("type %q: want A, AAAA, CNAME or TXT", s.Type)
	}
	ttl := s.TTL
	if ttl == 0 {
		ttl = 60
	}
	if ttl < 0 || ttl > 2147483647 {
		return nil, nil, fmt.Errorf("ttl %d out of range", s.TTL)
	}
	member := func(role string, values []string, alias *AliasTarget) (RecordSet, error) {
		r := RecordSet{Name: name, Type: typ}
		switch {
		case alias != nil:
			if alias.DNSName == "" || alias.HostedZoneID == "" {
				return r, fmt.Errorf("%s alias needs a DNS name and a hosted zone ID", role)
			}
			a := *alias
			a.DNSName = fqdn(a.DNSName)
			r.Alias = &a
		case len(values) == 0:
			return r, fmt.Errorf("%s has no values", role)
		case typ == "CNAME" && len(values) > 1:
			return r, fmt.Errorf("%s: a CNAME has exactly one value", role)
		default:
			r.TTL, r.Values = ttl, normalizeValues(typ, values)
		}
		if policy != PolicySimple {
			r.SetID = strings.TrimSuffix(name, ".") + "-" + role
		}
		return r, nil
	}
	switch policy {
	case PolicySimple:
		if s.HealthCheck != nil {
			return nil, nil, fmt.Errorf("a simple record cannot have a health check")
		}
		r, err := member(rolePrimary, s.Primary, s.PrimaryAlias)
		return []RecordSet{r}, nil, err
	case PolicyFailover, PolicyWeighted:
	default:
		return nil, nil, fmt.Errorf("policy %q: want simple, failover or weighted", s.Policy)
	}
	p, err := member(rolePrimary, s.Primary, s.PrimaryAlias)
	if err != nil {
		return nil, nil, err
	}
	sec, err := member(roleSecondary, s.Secondary, s.SecondaryAlias)
	if err != nil {
		return nil, nil, err
	}
	if policy == PolicyFailover {
		p.Failover, sec.Failover = "PRIMARY", "SECONDARY"
		if s.HealthCheck == nil && (p.Alias == nil || !p.Alias.EvaluateTargetHealth) {
			return nil, nil, fmt.Errorf("a failover record needs a health check (or a primary alias that evaluates target health)")
		}
	} else {
		for _, w := range s.Weights {
			if w < 0 || w > 255 {
				return nil, nil, fmt.Errorf("weight %d: want 0..255", w)
			}
		}
		if s.Weights == [2]int64{} {
			return nil, nil, fmt.Errorf("a weighted record needs a non-zero weight")
		}
		p.Weight, sec.Weight = sdkaws.Int64(s.Weights[0]), sdkaws.Int64(s.Weights[1])
	}
	if s.HealthCheck == nil {
		return []RecordSet{p, sec}, nil, nil
	}
	var checks []desiredCheck
	for _, m := range []struct {
		set  *RecordSet
		role string
		ep   Endpoint
	}{{&p, rolePrimary, s.HealthCheck.Primary}, {&sec, roleSecondary, s.HealthCheck.Secondary}} {
		st, err := checkSettings(*s.HealthCheck, m.ep, m.set.Values)
		if err != nil {
			return nil, nil, fmt.Errorf("%s health check: %w", m.role, err)
		}
		m.set.HealthCheckKey = name + "/" + m.role
		checks = append(checks, desiredCheck{key: m.set.HealthCheckKey, settings: st})
	}
	return []RecordSet{p, sec}, checks, nil
}

// checkSettings fills in a health check's defaults and checks its limits.
func checkSettings(h HealthCheckSpec, ep Endpoint, values []string) (HealthCheckSettings, error) {
	st := HealthCheckSettings{Type: strings.ToUpper(h.Type), FQDN: ep.FQDN, IP: ep.IP, Port: h.Port, Path: h.Path,
		Interval: h.Interval, FailureThreshold: h.FailureThreshold, SearchString: h.Body}
	if st.FQDN == "" && st.IP == "" && len(values) > 0 {
		if _, err := netip.ParseAddr(values[0]); err == nil {
			st.IP = values[0]
		}
	}
	if st.FQDN == "" && st.IP == "" {
		return st, fmt.Errorf("no endpoint: set an FQDN or IP address")
	}
	if st.IP != "" {
		if _, err := netip.ParseAddr(st.IP); err != nil {
			return st, fmt.Errorf("ip %q: %w", st.IP, err)
		}
	}
	switch st.Type {
	case "HTTP", "HTTPS":
		if st.Port == 0 {
			st.Port = map[string]int{"HTTP": 80, "HTTPS": 443}[st.Type]
		}
		if st.Path == "" {
			st.Path = "/"
		}
		if !strings.HasPrefix(st.Path, "/") {
			st.Path = "/" + st.Path
		}
		if st.SearchString != "" {
			st.Type += "_STR_MATCH"
		}
	case "TCP":
		if st.Port == 0 || st.Path != "" || st.SearchString != "" {
			return st, fmt.Errorf("a TCP check needs a port and takes no path or body")
		}
	default:
		return st, fmt.Errorf("type %q: want HTTP, HTTPS or TCP", h.Type)
	}
	if st.Interval == 0 {
		st.Interval = 10
	}
	if st.FailureThreshold == 0 {
		st.FailureThreshold = 3
	}
	switch {
	case st.Port < 1 || st.Port > 65535:
		return st, fmt.Errorf("port %d out of range", st.Port)
	case st.Interval != 10 && st.Interval != 30:
		return st, fmt.Errorf("interval %d: Route 53 checks every 10 or 30 seconds", st.Interval)
	case st.FailureThreshold < 1 || st.FailureThreshold > 10:
		return st, fmt.Errorf("failure threshold %d: want 1..10", st.FailureThreshold)
	case len(st.SearchString) > 255:
		return st, fmt.Errorf("body is longer than 255 characters")
	case len(st.Path) > 255:
		return st, fmt.Errorf("path is longer than 255 characters")
	}
	return st, nil
}

// normalizeValues quotes TXT strings that are not quoted yet.
func normalizeValues(typ string, values []string) []string {
	out := append([]string(nil), values...)
	if typ == "TXT" {
		for i, v := range out {
			if !strings.HasPrefix(v, `"`) {
				out[i] = `"` + strings.ReplaceAll(v, `"`, `\"`) + `"`
			}
		}
	}
	return out
}
