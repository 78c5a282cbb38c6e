package plan

import (
	"fmt"
	"regexp"
	"strconv"
	"text/template"
)

func (v *validator) services(p *Plan) {
	// local and aws name the first region that uses each provider.
	var local, aws string
	for _, r := range []struct {
		role     string
		provider Provider
	}{{"primary", p.Regions.Primary.Provider}, {"recovery", p.Regions.Recovery.Provider}} {
		if r.provider == ProviderLocal && local == "" {
			local = r.role
		}
		if r.provider == ProviderAWS && aws == "" {
			aws = r.role
		}
	}
	index := make(map[string]int)
	for i := range p.Services {
		s := &p.Services[i]
		path := fmt.Sprintf("services[%d]", i)
		v.label(path+".name", s.Name)
		if j, dup := index[s.Name]; dup && s.Name != "" {
			v.add(path+".name", "duplicate service %q (also services[%d])", s.Name, j)
		} else if s.Name != "" {
			index[s.Name] = i
		}
		v.between(path+".tier", s.Tier, 1, 3)
		v.compute(path+".compute", &s.Compute, p.Strategy, local, aws)
		if lb := s.LoadBalancer; lb != nil {
			lp := path + ".loadBalancer"
			if lb.Port == 0 && v.missing(lp+".port") {
				v.add(lp+".port", "required")
			} else {
				v.between(lp+".port", lb.Port, 1, 65535)
			}
			oneOf(v, lp+".algorithm", lb.Algorithm, Algorithms)
			if hc := lb.HealthCheck; hc != nil {
				v.healthCheck(lp+".healthCheck", hc)
				if hc.Vantages != 0 {
					v.add(lp+".healthCheck.vantages", "only valid for routing records")
				}
				if hc.Rule != "" {
					v.add(lp+".healthCheck.rule", "only valid for routing records")
				}
			}
		}
	}
	for i, s := range p.Services {
		for j, dep := range s.DependsOn {
			if _, ok := index[dep]; !ok {
				v.add(fmt.Sprintf("services[%d].dependsOn[%d]", i, j), "unknown service %q", dep)
			}
		}
	}
	for _, c := range p.cycles() {
		v.add(fmt.Sprintf("services[%d].dependsOn", c[0]), "dependency cycle: %s", p.cyclePath(c))
	}
}

func (v *validator) compute(path string, c *Compute, strategy Strategy, local, aws string) {
	if c.Count == 0 && v.missing(path+".count") {
		v.add(path+".count", "required")
	} else if c.Count < 1 {
		v.add(path+".count", "must be >= 1, got %d", c.Count)
	}
	if c.Standby < 0 || (c.Count >= 1 && c.Standby > c.Count) {
		v.add(path+".standby", "must be between 0 and count (%d), got %d", c.Count, c.Standby)
	} else if strategy == WarmStandby && c.Standby == 0 {
		v.add(path+".standby", "must be > 0 for strategy warm-standby")
	}
	switch {
	case c.Local != nil:
		lp := path + ".local"
		if len(c.Local.Command) == 0 || c.Local.Command[0] == "" {
			v.add(lp+".command", "required")
		}
		for i, arg := range c.Local.Command {
			if _, err := template.New("arg").Option("missingkey=error").Parse(arg); err != nil {
				v.add(fmt.Sprintf("%s.command[%d]", lp, i), "invalid template: %s", templateErr.ReplaceAllString(err.Error(), ""))
			}
		}
		v.between(lp+".port", c.Local.Port, 1, 65535)
		seen := map[string]bool{}
		for i, t := range c.Local.InstanceTypes {
			ip := fmt.Sprintf("%s.instanceTypes[%d]", lp, i)
			switch {
			case !localInstanceType.MatchString(t):
				v.add(ip, "must be a local instance type (local.small, local.medium, local.large, local.xlarge), got %q", t)
			case seen[t]:
				v.add(ip, "duplicate instance type %q", t)
			}
			seen[t] = true
		}
	case local != "":
		v.add(path+".local", "required because the %s region uses provider local", local)
	}
	switch {
	case c.AWS != nil:
		ap := path + ".aws"
		v.requiredString(ap+".launchTemplate", c.AWS.LaunchTemplate)
		if len(c.AWS.InstanceTypes) == 0 {
			if v.missing(ap + ".instanceTypes") {
				v.add(ap+".instanceTypes", "required")
			} else {
				v.add(ap+".instanceTypes", "must list at least one instance type")
			}
		}
		for i, it := range c.AWS.InstanceTypes {
			v.requiredString(fmt.Sprintf("%s.instanceTypes[%d]", ap, i), it)
		}
	case aws != "":
		v.add(path+".aws", "required because the %s region uses provider aws", aws)
	}
}

// templateErr matches the prefix of a text/template parse error.
var templateErr = regexp.MustCompile(`^template: arg:[0-9]+: `)

func (v *validator) healthCheck(path string, hc *HealthCheck) {
	oneOf(v, path+".type", hc.Type, CheckTypes)
	web := hc.Type == CheckHTTP || hc.Type == CheckHTTPS
	switch {
	case !web:
		for _, f := range []struct{ name, val string }{{"path", hc.Path}, {"expectStatus", hc.ExpectStatus}, {"body", hc.Body}} {
			if f.val != "" {
				v.add(path+"."+f.name, "only valid for type http or https")
			}
		}
	case hc.Path == "":
		v.add(path+".path", "required")
	case hc.Path[0] != '/':
		v.add(path+".path", "must start with /, got %q", hc.Path)
	}
	if web && hc.ExpectStatus != "" {
		v.expectStatus(path+".expectStatus", hc.ExpectStatus)
	}
	if hc.InsecureSkipVerify && hc.Type != CheckHTTPS {
		v.add(path+".insecureSkipVerify", "only valid for type https")
	}
	v.between(path+".port", hc.Port, 0, 65535)
	v.positive(path+".interval", hc.Interval)
	v.positive(path+".timeout", hc.Timeout)
	if hc.Interval > 0 && hc.Timeout > hc.Interval {
		v.add(path+".timeout", "must not exceed the interval (%s), got %s", hc.Interval, hc.Timeout)
	}
	v.between(path+".failureThreshold", hc.FailureThreshold, 1, 10)
	v.between(path+".successThreshold", hc.SuccessThreshold, 1, 10)
}

func (v *validator) expectStatus(path, s string) {
	m := statusRE.FindStringSubmatch(s)
	if m != nil && m[3] != "" {
		lo, _ := strconv.Atoi(m[1])
		hi, _ := strconv.Atoi(m[3])
		if lo > hi {
			m = nil
		}
	}
	if m == nil {
		v.add(path, "must be a status code or a range like 200-399, got %q", s)
	}
}
