package aws

import (
	"context"
	"fmt"
	"slices"
	"strings"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/servicequotas"

	"github.com/pilotlight/pilotlight/capacity"
	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/readiness"
)

// vcpuQuota is an EC2 Running On-Demand instances quota, in vCPUs.
type vcpuQuota struct {
	Code, Name string
}

// onDemandQuotas maps an instance family prefix (the letters before the
// generation digit) to its Running On-Demand vCPU quota in Service Quotas.
var onDemandQuotas = func() map[string]vcpuQuota {
	m := map[string]vcpuQuota{}
	add := func(q vcpuQuota, prefixes ...string) {
		for _, p := range prefixes {
			m[p] = q
		}
	}
	add(vcpuQuota{"L-1216C47A", "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances"},
		"a", "c", "d", "h", "i", "im", "is", "m", "r", "t", "z")
	add(vcpuQuota{"L-DB2E81BA", "Running On-Demand G and VT instances"}, "g", "vt")
	add(vcpuQuota{"L-417A185B", "Running On-Demand P instances"}, "p")
	add(vcpuQuota{"L-7295265B", "Running On-Demand X instances"}, "x")
	add(vcpuQuota{"L-74FC7D96", "Running On-Demand F instances"}, "f")
	add(vcpuQuota{"L-1945791B", "Running On-Demand Inf instances"}, "inf")
	add(vcpuQuota{"L-6E869C2A", "Running On-Demand DL instances"}, "dl")
	add(vcpuQuota{"L-2C3B7624", "Running On-Demand Trn instances"}, "trn")
	add(vcpuQuota{"L-43DA4232", "Running On-Demand High Memory instances"}, "u")
	add(vcpuQuota{"L-F7808C92", "Running On-Demand HPC instances"}, "hpc")
	return m
}()

// quotaOf returns the vCPU quota of instance type t.
func quotaOf(t string) (vcpuQuota, bool) {
	family, _, _ := strings.Cut(t, ".")
	family = strings.TrimSuffix(family, "-")
	i := strings.IndexFunc(family, func(c rune) bool { return c >= '0' && c <= '9' || c == '-' })
	if i > 0 {
		family = family[:i]
	}
	q, ok := onDemandQuotas[family]
	return q, ok
}

// computeServices are the plan's services with AWS compute.
func (r *Readiness) computeServices() []plan.Service {
	var out []plan.Service
	for _, s := range r.Plan.Services {
		if s.Compute.AWS != nil && len(s.Compute.AWS.InstanceTypes) > 0 {
			out = append(out, s)
		}
	}
	return out
}

// capacityChecks returns the quota check and one instance-type offering
// check per service with AWS compute.
func (r *Readiness) capacityChecks() []readiness.Check {
	services := r.computeServices()
	if len(services) == 0 {
		return []readiness.Check{readiness.Skipped(readiness.CheckQuota, "ec2", "the plan has no service with compute.aws")}
	}
	out := []readiness.Check{{ID: readiness.CheckQuota, Subject: "ec2 on-demand vCPUs", Run: func(ctx context.Context) ([]readiness.Result, error) {
		return r.quotas(ctx, services)
	}}}
	for _, s := range services {
		out = append(out, readiness.Check{ID: readiness.CheckInstanceType, Subject: "service " + s.Name, Run: func(ctx context.Context) ([]readiness.Result, error) {
			return r.offerings(ctx, s)
		}})
	}
	return out
}

// instanceTypes returns the capacity of each of names: from the capacity
// package's catalogue, else from DescribeInstanceTypes in the recovery
// region.
func (r *Readiness) instanceTypes(ctx context.Context, names []string) (map[string]capacity.Type, error) {
	out := map[string]capacity.Type{}
	var unknown []string
	for _, n := range names {
		if t, ok := capacity.Lookup(n); ok {
			out[n] = t
		} else if !slices.Contains(unknown, n) {
			unknown = append(unknown, n)
		}
	}
	for len(unknown) > 0 {
		batch := unknown[:min(len(unknown), 100)]
		unknown = unknown[len(batch):]
		in := &ec2.DescribeInstanceTypesInput{}
		for _, n := range batch {
			in.InstanceTypes = append(in.InstanceTypes, ec2types.InstanceType(n))
		}
		err := readPages(ctx, r, "ec2 describe instance types", ec2.NewDescribeInstanceTypesPaginator(r.Clients.Recovery, in), func(o *ec2.DescribeInstanceTypesOutput) {
			for _, it := range o.InstanceTypes {
				t := capacity.Type{Name: string(it.InstanceType)}
				if it.VCpuInfo != nil {
					t.VCPU = int(sdkaws.ToInt32(it.VCpuInfo.DefaultVCpus))
				}
				if it.MemoryInfo != nil {
					t.MemoryMiB = int(sdkaws.ToInt64(it.MemoryInfo.SizeInMiB))
				}
				out[t.Name] = t
			}
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// choice is one way to run a service: a type, its count and its vCPUs.
type choice struct {
	Type  string
	Count int
	VCPUs int
	Quota vcpuQuota
}

// quotas compares the vCPUs each quota must cover — every service's count
// of its first instance type, else of the first fallback that fits — with
// the quota's value in the recovery region.
func (r *Readiness) quotas(ctx context.Context, services []plan.Service) ([]readiness.Result, error) {
	var names []string
	for _, s := range services {
		names = append(names, s.Compute.AWS.InstanceTypes...)
	}
	types, err := r.instanceTypes(ctx, names)
	if err != nil {
		return nil, err
	}
	var out []readiness.Result
	options := make([][]choice, len(services))
	codes := map[string]vcpuQuota{}
	for i, s := range services {
		first, ok := types[s.Compute.AWS.InstanceTypes[0]]
		if !ok || first.VCPU == 0 {
			out = append(out, readiness.Failf(readiness.CheckQuota, "service "+s.Name, "instance type %s is unknown in %s: fix compute.aws.instanceTypes",
				s.Compute.AWS.InstanceTypes[0], r.recoveryRegion()))
			continue
		}
		for _, n := range s.Compute.AWS.InstanceTypes {
			t, ok := types[n]
			q, known := quotaOf(n)
			if !ok || !known {
				out = append(out, readiness.Warnf(readiness.CheckQuota, "service "+s.Name, "no known vCPU quota for instance type %s: not checked", n))
				continue
			}
			count := capacity.Recompute(s.Compute.Count, first, t)
			options[i] = append(options[i], choice{Type: n, Count: count, VCPUs: count * t.VCPU, Quota: q})
			codes[q.Code] = q
		}
	}
	limits := map[string]float64{}
	for _, code := range sortedKeys(codes) {
		v, err := r.quotaValue(ctx, code)
		if err != nil {
			return nil, err
		}
		limits[code] = v
	}
	return append(out, judgeQuotas(services, options, codes, limits)...), nil
}

// judgeQuotas assigns each service, in plan order, its first choice that
// fits in what is left of its quota, and reports per quota: pass when
// every service got its first choice, warn when some only fit after a
// fallback, fail when some did not fit at all.
func judgeQuotas(services []plan.Service, options [][]choice, codes map[string]vcpuQuota, limits map[string]float64) []readiness.Result {
	used := map[string]int{}
	preferred := map[string]int{}
	fallbacks := map[string][]string{}
	misfits := map[string][]string{}
	for i, s := range services {
		if len(options[i]) == 0 {
			continue
		}
		pref := options[i][0]
		preferred[pref.Quota.Code] += pref.VCPUs
		placed := false
		for j, c := range options[i] {
			if float64(used[c.Quota.Code]+c.VCPUs) <= limits[c.Quota.Code] {
				used[c.Quota.Code] += c.VCPUs
				placed = true
				if j > 0 {
					fallbacks[pref.Quota.Code] = append(fallbacks[pref.Quota.Code], fmt.Sprintf("%s → %d × %s", s.Name, c.Count, c.Type))
				}
				break
			}
		}
		if !placed {
			misfits[pref.Quota.Code] = append(misfits[pref.Quota.Code], fmt.Sprintf("%s %d vCPUs (%d × %s)", s.Name, pref.VCPUs, pref.Count, pref.Type))
		}
	}
	var out []readiness.Result
	for _, code := range sortedKeys(codes) {
		q, limit := codes[code], limits[code]
		subject := code + " " + q.Name
		switch {
		case len(misfits[code]) > 0:
			out = append(out, readiness.Failf(readiness.CheckQuota, subject,
				"quota %.0f vCPUs cannot hold %s (preferred types need %d): request an increase of %s in Service Quotas",
				limit, strings.Join(misfits[code], ", "), preferred[code], code))
		case len(fallbacks[code]) > 0:
			out = append(out, readiness.Warnf(readiness.CheckQuota, subject,
				"quota %.0f vCPUs < %d the preferred types need; fits only after fallback (%s): request an increase of %s",
				limit, preferred[code], strings.Join(fallbacks[code], ", "), code))
		default:
			out = append(out, readiness.Passf(readiness.CheckQuota, subject, "%d of %.0f vCPUs needed (current usage not subtracted)", used[code], limit))
		}
	}
	return out
}

// quotaValue reads an EC2 quota's applied value in the recovery region.
func (r *Readiness) quotaValue(ctx context.Context, code string) (float64, error) {
	var v float64
	err := r.call(ctx, "servicequotas get ec2 quota "+code, func() error {
		out, err := r.Clients.Quotas.GetServiceQuota(ctx, &servicequotas.GetServiceQuotaInput{ServiceCode: sdkaws.String("ec2"), QuotaCode: sdkaws.String(code)})
		if err == nil && out.Quota != nil {
			v = sdkaws.ToFloat64(out.Quota.Value)
		}
		return err
	})
	return v, err
}

// offerings checks that one of the service's instance types is offered in
// a zone of its subnets (every zone of the recovery region without
// subnets): fail when none is, warn when the preferred one is missing
// from some zone.
func (r *Readiness) offerings(ctx context.Context, s plan.Service) ([]readiness.Result, error) {
	subject := "service " + s.Name
	types := s.Compute.AWS.InstanceTypes
	in := &ec2.DescribeInstanceTypeOfferingsInput{LocationType: ec2types.LocationTypeAvailabilityZone,
		Filters: []ec2types.Filter{filter("instance-type", types...)}}
	var zones []string
	if len(s.Compute.AWS.Subnets) > 0 {
		var subnets []ec2types.Subnet
		err := readPages(ctx, r, "ec2 describe subnets of service "+s.Name, ec2.NewDescribeSubnetsPaginator(r.Clients.Recovery,
			&ec2.DescribeSubnetsInput{SubnetIds: s.Compute.AWS.Subnets}), func(o *ec2.DescribeSubnetsOutput) { subnets = append(subnets, o.Subnets...) })
		if errorCode(err) == "InvalidSubnetID.NotFound" {
			return []readiness.Result{readiness.Failf(readiness.CheckInstanceType, subject, "subnets %s: not all found in %s: fix compute.aws.subnets (%v)",
				strings.Join(s.Compute.AWS.Subnets, ", "), r.recoveryRegion(), err)}, nil
		}
		if err != nil {
			return nil, err
		}
		for _, sn := range subnets {
			if z := sdkaws.ToString(sn.AvailabilityZone); !slices.Contains(zones, z) {
				zones = append(zones, z)
			}
		}
		slices.Sort(zones)
		in.Filters = append(in.Filters, filter("location", zones...))
	}
	offered := map[string][]string{} // type → zones
	var allZones []string
	err := readPages(ctx, r, "ec2 describe instance type offerings", ec2.NewDescribeInstanceTypeOfferingsPaginator(r.Clients.Recovery, in),
		func(o *ec2.DescribeInstanceTypeOfferingsOutput) {
			for _, off := range o.InstanceTypeOfferings {
				z := sdkaws.ToString(off.Location)
				offered[string(off.InstanceType)] = append(offered[string(off.InstanceType)], z)
				if !slices.Contains(allZones, z) {
					allZones = append(allZones, z)
				}
			}
		})
	if err != nil {
		return nil, err
	}
	if zones == nil {
		zones = allZones
		slices.Sort(zones)
	}
	where := "zones " + strings.Join(zones, ", ")
	if len(zones) == 0 {
		where = r.recoveryRegion()
	}
	var usable []string
	for _, t := range types {
		if len(offered[t]) > 0 {
			usable = append(usable, t)
		}
	}
	if len(usable) == 0 {
		return []readiness.Result{readiness.Failf(readiness.CheckInstanceType, subject, "none of %s is offered in %s: add an instance type offered there",
			strings.Join(types, ", "), where)}, nil
	}
	var missing []string
	for _, z := range zones {
		if !slices.Contains(offered[types[0]], z) {
			missing = append(missing, z)
		}
	}
	if len(missing) > 0 {
		return []readiness.Result{readiness.Warnf(readiness.CheckInstanceType, subject, "preferred %s is not offered in %s: the recovery falls back to %s there",
			types[0], strings.Join(missing, ", "), strings.Join(usable, ", "))}, nil
	}
	return []readiness.Result{readiness.Passf(readiness.CheckInstanceType, subject, "%s offered in %s", types[0], where)}, nil
}
