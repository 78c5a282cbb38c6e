package plan

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
)

// Validate checks a plan and returns every problem as Errors, or nil. On a
// plan built in Go the errors carry paths but no positions; call Default
// first to fill in the defaults.
func (p *Plan) Validate() error {
	return p.validate(nil).errs.err()
}

// Warnings returns the problems that do not make the plan invalid, such as
// a record TTL above the recovery time objective, sorted by position. For
// a plan from Parse or Load they carry positions; for a plan built in Go
// they are computed afresh, with paths only.
func (p *Plan) Warnings() Errors {
	if p.parsed {
		return p.warnings
	}
	return p.validate(nil).warns
}

// validator collects problems by field path. present tells whether a path
// appears in the file, to tell a missing field ("required") from a wrong
// one; nil means nothing is known to be present.
type validator struct {
	errs    Errors
	warns   Errors
	present func(path string) bool
}

func (v *validator) add(path, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// warn records a problem that does not make the plan invalid.
func (v *validator) warn(path, format string, args ...any) {
	v.warns = append(v.warns, &FieldError{Path: path, Msg: fmt.Sprintf(format, args...), Warning: true})
}

// missing reports whether a zero-valued field is absent rather than set.
func (v *validator) missing(path string) bool {
	return v.present == nil || !v.present(path)
}

// requiredString reports an empty required string; it returns false then.
func (v *validator) requiredString(path, s string) bool {
	if s == "" {
		v.add(path, "required")
		return false
	}
	return true
}

// positive checks a duration that must be above zero.
func (v *validator) positive(path string, d Duration) {
	switch {
	case d == 0 && v.missing(path):
		v.add(path, "required")
	case d <= 0:
		v.add(path, "must be positive, got %s", d)
	}
}

// between checks lo <= n <= hi.
func (v *validator) between(path string, n, lo, hi int) {
	if n < lo || n > hi {
		v.add(path, "must be between %d and %d, got %d", lo, hi, n)
	}
}

// oneOf checks an enumerated value.
func oneOf[T ~string](v *validator, path string, val T, valid []T) {
	for _, ok := range valid {
		if val == ok {
			return
		}
	}
	names := make([]string, len(valid))
	for i, ok := range valid {
		names[i] = string(ok)
	}
	v.add(path, "must be one of %s; got %q", strings.Join(names, ", "), val)
}

var (
	dnsLabel   = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	awsRegion  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	iamRoleARN = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$`)
	bucketRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	dnsName    = regexp.MustCompile(`^(\*|[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$`)
	statusRE   = regexp.MustCompile(`^([1-5][0-9][0-9])(-([1-5][0-9][0-9]))?$`)
)

const labelRule = "must be lowercase letters, digits and hyphens, starting and ending with a letter or digit, at most 63 characters"

// label checks a required DNS-label-like name.
func (v *validator) label(path, s string) {
	if v.requiredString(path, s) && !dnsLabel.MatchString(s) {
		v.add(path, "%s; got %q", labelRule, s)
	}
}

// validate returns every problem of the plan, errors and warnings.
func (p *Plan) validate(present func(string) bool) *validator {
	v := &validator{present: present}
	if v.requiredString("apiVersion", p.APIVersion) && p.APIVersion != APIVersion {
		v.add("apiVersion", "must be %q, got %q", APIVersion, p.APIVersion)
	}
	if v.requiredString("kind", p.Kind) && p.Kind != KindPlan {
		v.add("kind", "must be %q, got %q", KindPlan, p.Kind)
	}
	v.label("name", p.Name)
	v.positive("objectives.rto", p.Objectives.RTO)
	v.positive("objectives.rpo", p.Objectives.RPO)
	oneOf(v, "strategy", p.Strategy, Strategies)
	v.regions(&p.Regions)
	v.data(&p.Data)
	v.snapshots(&p.Data)
	v.inventory(&p.Data)
	v.networkBlock(p)
	v.native(p)
	v.services(p)
	v.hooks(p.Hooks)
	if p.Routing != nil {
		v.routing(p)
	}
	return v
}

func (v *validator) regions(rs *Regions) {
	v.region("regions.primary", &rs.Primary)
	v.region("regions.recovery", &rs.Recovery)
	p, r := &rs.Primary, &rs.Recovery
	if p.Name != "" && p.Name == r.Name {
		v.add("regions.recovery.name", "must differ from the primary region (%q)", p.Name)
	}
	if p.Provider == ProviderLocal && r.Provider == ProviderLocal && p.Network != "" {
		pp, err1 := netip.ParsePrefix(p.Network)
		rp, err2 := netip.ParsePrefix(r.Network)
		if err1 == nil && err2 == nil && pp.Masked() == rp.Masked() {
			v.add("regions.recovery.network", "must differ from the primary region's network (%s)", p.Network)
		}
	}
}

func (v *validator) region(path string, r *Region) {
	oneOf(v, path+".provider", r.Provider, Providers)
	if v.requiredString(path+".name", r.Name) {
		if r.Provider == ProviderAWS {
			if !awsRegion.MatchString(r.Name) {
				v.add(path+".name", "must be an AWS region code like ap-northeast-2, got %q", r.Name)
			}
		} else if !dnsLabel.MatchString(r.Name) {
			v.add(path+".name", "%s; got %q", labelRule, r.Name)
		}
	}
	if r.Provider == ProviderAWS {
		if r.RoleARN != "" && !iamRoleARN.MatchString(r.RoleARN) {
			v.add(path+".roleArn", "must be an IAM role ARN like arn:aws:iam::123456789012:role/name, got %q", r.RoleARN)
		}
		if r.Endpoint != "" {
			if u, err := url.Parse(r.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				v.add(path+".endpoint", "must be an http or https URL, got %q", r.Endpoint)
			}
		}
	} else {
		for _, f := range []struct{ name, val string }{{"profile", r.Profile}, {"roleArn", r.RoleARN}, {"endpoint", r.Endpoint}} {
			if f.val != "" {
				v.add(path+"."+f.name, "only valid for provider aws")
			}
		}
	}
	switch {
	case r.Provider == ProviderLocal:
		v.network(path+".network", r.Network)
		for i, t := range r.NoCapacity {
			if !localInstanceType.MatchString(t) {
				v.add(fmt.Sprintf("%s.noCapacity[%d]", path, i), "must be a local instance type like local.large, got %q", t)
			}
		}
	case r.Network != "":
		v.add(path+".network", "only valid for provider local")
	}
	if r.Provider != ProviderLocal && len(r.NoCapacity) > 0 {
		v.add(path+".noCapacity", "only valid for provider local")
	}
}

// localInstanceType matches the instance types of the local provider.
var localInstanceType = regexp.MustCompile(`^local\.(small|medium|large|xlarge)$`)

// network checks the loopback /24 of a local region.
func (v *validator) network(path, s string) {
	if !v.requiredString(path, s) {
		return
	}
	pfx, err := netip.ParsePrefix(s)
	switch {
	case err != nil:
		v.add(path, "must be a CIDR like 127.0.2.0/24, got %q", s)
	case !pfx.Addr().Is4() || pfx.Bits() != 24 || pfx.Addr().As4()[0] != 127:
		v.add(path, "must be a /24 inside 127.0.0.0/8, got %q", s)
	case pfx != pfx.Masked():
		v.add(path, "must be a network address like %s, got %q", pfx.Masked(), s)
	}
}

func (v *validator) data(d *Data) {
	seen := make(map[string]int)
	for i, b := range d.Buckets {
		path := fmt.Sprintf("data.buckets[%d]", i)
		if v.requiredString(path+".name", b.Name) {
			v.bucketName(path+".name", b.Name)
			if j, dup := seen[b.Name]; dup {
				v.add(path+".name", "duplicate bucket %q (also data.buckets[%d])", b.Name, j)
			} else {
				seen[b.Name] = i
			}
		}
		if b.Replica != "" {
			v.bucketName(path+".replica", b.Replica)
		}
		oneOf(v, path+".deletes", b.Deletes, DeletePolicies)
		oneOf(v, path+".archived", b.Archived, ArchivedPolicies)
		v.sizes(path, b.SizeGB, b.ChangeRateGBPerDay)
	}
	for i, vol := range d.Volumes {
		path := fmt.Sprintf("data.volumes[%d]", i)
		if len(vol.Selector) == 0 {
			v.requiredString(path+".id", vol.ID)
		}
		v.sizes(path, vol.SizeGB, vol.ChangeRateGBPerDay)
	}
	for i, db := range d.Databases {
		path := fmt.Sprintf("data.databases[%d]", i)
		v.requiredString(path+".id", db.ID)
		v.sizes(path, db.SizeGB, db.ChangeRateGBPerDay)
	}
	v.images(d.Images)
	v.repositories(d.Repositories)
}

// sizes checks the size and change rate of a data source: both at least 0
// and finite (NaN and infinities fail the comparisons).
func (v *validator) sizes(path string, sizeGB, changeGBPerDay float64) {
	for _, f := range []struct {
		name string
		val  float64
	}{{"sizeGB", sizeGB}, {"changeRateGBPerDay", changeGBPerDay}} {
		if !(f.val >= 0 && f.val <= maxGB) {
			v.add(path+"."+f.name, "must be a number between 0 and 1e9, got %g", f.val)
		}
	}
}

// maxGB bounds sizes and change rates: an exabyte, far beyond any plan.
const maxGB = 1e9

// bucketName checks the S3 bucket naming rules.
func (v *validator) bucketName(path, s string) {
	if !bucketRE.MatchString(s) || strings.Contains(s, "..") {
		v.add(path, "must be 3 to 63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit; got %q", s)
		return
	}
	if _, err := netip.ParseAddr(s); err == nil {
		v.add(path, "must not be an IP address, got %q", s)
	}
}
