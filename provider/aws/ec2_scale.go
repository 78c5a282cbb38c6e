package aws

import (
	"context"
	"fmt"
	"slices"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/pilotlight/pilotlight/capacity"
	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/runbook"
)

// instance is what a recovery needs to know of one EC2 instance.
type instance struct {
	ID, Type, State, Zone, Subnet, VPC string
	// StepKey is the pilotlight:step-key tag: the step that launched it.
	StepKey string
}

func (in instance) live() bool { return in.State == "pending" || in.State == "running" }

// held reports whether the instance is the service's, running or not.
func (in instance) held() bool { return in.live() || in.State == "stopping" || in.State == "stopped" }

// describeInstances lists the plan's instances of services (pending to
// stopped) in one paginated DescribeInstances filtered by tag, grouped by
// service; every service asked for is in the result.
func (r *Recovery) describeInstances(ctx context.Context, api EC2API, services []string) (map[string][]instance, error) {
	out := make(map[string][]instance, len(services))
	for _, s := range services {
		out[s] = nil
	}
	in := &ec2.DescribeInstancesInput{
		Filters: []ec2types.Filter{
			{Name: sdkaws.String("tag:" + TagPlan), Values: []string{r.Plan.Name}},
			{Name: sdkaws.String("tag:" + TagService), Values: services},
			{Name: sdkaws.String("instance-state-name"), Values: []string{"pending", "running", "stopping", "stopped"}},
		},
		MaxResults: sdkaws.Int32(1000),
	}
	in.Filters = append(in.Filters, r.drillFilters()...)
	for {
		page, err := api.DescribeInstances(ctx, in)
		if err != nil {
			return nil, callError("ec2 describe instances", fmt.Sprint(services), err)
		}
		for _, res := range page.Reservations {
			for _, i := range res.Instances {
				inst := instance{ID: sdkaws.ToString(i.InstanceId), Type: string(i.InstanceType),
					Subnet: sdkaws.ToString(i.SubnetId), VPC: sdkaws.ToString(i.VpcId)}
				if i.State != nil {
					inst.State = string(i.State.Name)
				}
				if i.Placement != nil {
					inst.Zone = sdkaws.ToString(i.Placement.AvailabilityZone)
				}
				svc := ""
				for _, t := range i.Tags {
					switch sdkaws.ToString(t.Key) {
					case TagService:
						svc = sdkaws.ToString(t.Value)
					case TagStepKey:
						inst.StepKey = sdkaws.ToString(t.Value)
					}
				}
				if _, ok := out[svc]; ok {
					out[svc] = append(out[svc], inst)
				}
			}
		}
		if sdkaws.ToString(page.NextToken) == "" {
			return out, nil
		}
		in.NextToken = page.NextToken
	}
}

// instances returns the service's instances in region, through the cache;
// fresh drops what the cache holds first.
func (r *Recovery) instances(ctx context.Context, region string, rc RegionClients, service string, fresh bool) ([]instance, error) {
	c := r.cache(region, rc)
	if fresh {
		c.instances.Invalidate(service)
	}
	return c.instances.Get(ctx, service)
}

// Scale runs count instances of instanceType for service in region and
// registers them with the service's load balancer, creating it when
// missing (so that the recovery package's healthy step, which polls
// Service, finds healthy targets). It is idempotent for a given key:
//
//   - Warm standby and active-active plans whose service has an Auto
//     Scaling group (tagged pilotlight:plan and pilotlight:service) set the
//     group's desired capacity; a type other than the group's becomes a
//     mixed instances override (UpdateAutoScalingGroup).
//   - Otherwise stopped instances of the type tagged for the service (the
//     pilot light) are started (StartInstances), and the rest is launched
//     from the service's launch template with the type override
//     (RunInstances), spread over the service's subnets, in calls of at
//     most MaxLaunch instances with MinCount = MaxCount. Each call's
//     ClientToken derives from key, type, subnet and batch, and the
//     number to launch only from instances the step did not launch itself,
//     so an attempt after a crash or a retry never launches twice.
//   - A count below what runs stops the surplus pilot-light instances and
//     terminates the surplus instances a recovery launched. An empty
//     instanceType keeps whatever type runs.
//
// A shortage of the type (InsufficientInstanceCapacity and the like) is a
// capacity-classed *capacity.InsufficientCapacityError, so the engine falls
// back to the next type; throttling is throttled-classed.
func (r *Recovery) Scale(ctx context.Context, region, service, instanceType string, count int, key string) error {
	if count < 0 {
		return runbook.Fatal(fmt.Errorf("aws: scale %s in %s: count %d < 0", service, region, count))
	}
	rc, err := r.region(region)
	if err != nil {
		return err
	}
	svc, err := r.service(service)
	if err != nil {
		return err
	}
	if (r.Plan.Strategy == plan.WarmStandby || r.Plan.Strategy == plan.ActiveActive) && rc.AutoScaling != nil && r.DrillID == "" {
		g, ok, err := r.findGroup(ctx, rc, service)
		if err != nil {
			return err
		}
		if ok {
			return r.scaleGroup(ctx, region, rc, svc, g, instanceType, count)
		}
	}
	insts, err := r.instances(ctx, region, rc, service, true)
	if err != nil {
		return err
	}
	defer r.cache(region, rc).instances.Invalidate(service)
	typ := instanceType
	if typ == "" {
		typ = currentType(insts, svc)
	}
	if n := countLive(insts, instanceType); n > count {
		return r.scaleDown(ctx, region, rc, service, insts, instanceType, n-count)
	}

	// Instances the step did not launch, of the type: they count towards
	// count whatever their state, so the number to launch does not depend
	// on how visible the step's own launches already are.
	var existing, stopped, targets []string
	running := 0
	for _, in := range insts {
		if in.Type != typ || !in.held() {
			continue
		}
		if in.StepKey == key {
			if in.live() {
				targets = append(targets, in.ID)
			}
			continue
		}
		existing = append(existing, in.ID)
		switch {
		case in.live():
			running++
			targets = append(targets, in.ID)
		case in.State == "stopped" || in.State == "stopping":
			stopped = append(stopped, in.ID)
		}
	}
	if start := stopped[:min(len(stopped), max(0, count-running))]; len(start) > 0 {
		if err := r.start(ctx, rc, service, typ, start); err != nil {
			return err
		}
		targets = append(targets, start...)
	}
	launched, err := r.launch(ctx, rc, svc, typ, max(0, count-len(existing)), key)
	if err != nil {
		return err
	}
	for _, in := range launched {
		targets = append(targets, in.ID)
	}
	r.log().Info("scaled", "region", region, "service", service, "type", typ, "count", count,
		"started", min(len(stopped), max(0, count-running)), "launched", len(launched))
	if svc.LoadBalancer == nil || len(targets) == 0 {
		return nil
	}
	vpc, subnets := network(svc, insts, launched)
	lb, err := r.ensureLoadBalancer(ctx, region, rc, svc, vpc, subnets)
	if err != nil {
		return err
	}
	return r.register(ctx, rc, lb, dedupe(targets))
}

// currentType is the type most of the service's live instances have, or
// the plan's first.
func currentType(insts []instance, svc *plan.Service) string {
	n := map[string]int{}
	best := ""
	for _, in := range insts {
		if in.live() {
			n[in.Type]++
			if best == "" || n[in.Type] > n[best] {
				best = in.Type
			}
		}
	}
	if best == "" {
		best = svc.Compute.AWS.InstanceTypes[0]
	}
	return best
}

// countLive counts live instances of typ ("" for any type).
func countLive(insts []instance, typ string) int {
	n := 0
	for _, in := range insts {
		if in.live() && (typ == "" || in.Type == typ) {
			n++
		}
	}
	return n
}

// scaleDown stops n surplus live instances of typ ("" any): first those a
// recovery launched (terminated), then the pilot light's own (stopped).
func (r *Recovery) scaleDown(ctx context.Context, region string, rc RegionClients, service string, insts []instance, typ string, n int) error {
	var launched, own []string
	for _, in := range insts {
		if !in.live() || (typ != "" && in.Type != typ) {
			continue
		}
		if in.StepKey != "" {
			launched = append(launched, in.ID)
		} else {
			own = append(own, in.ID)
		}
	}
	slices.Sort(launched)
	slices.Sort(own)
	term := launched[:min(n, len(launched))]
	stop := own[:min(n-len(term), len(own))]
	for _, ids := range chunks(term, r.launchBatch(LimitTerminateInstances)) {
		if err := r.Buckets.Wait(ctx, LimitTerminateInstances, len(ids)); err != nil {
			return err
		}
		if _, err := rc.EC2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids}); err != nil {
			return callError("ec2 terminate instances", service, err)
		}
	}
	if len(stop) > 0 {
		if _, err := rc.EC2.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: stop}); err != nil {
			return callError("ec2 stop instances", service, err)
		}
	}
	r.log().Info("scaled down", "region", region, "service", service, "terminated", len(term), "stopped", len(stop))
	return nil
}

// start starts stopped pilot-light instances, within the StartInstances
// resource bucket.
func (r *Recovery) start(ctx context.Context, rc RegionClients, service, typ string, ids []string) error {
	for _, batch := range chunks(ids, r.launchBatch(LimitStartInstances)) {
		if err := r.Buckets.Wait(ctx, LimitStartInstances, len(batch)); err != nil {
			return err
		}
		if _, err := rc.EC2.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: batch}); err != nil {
			return capacityError(callError("ec2 start instances", service, err), typ, "")
		}
	}
	return nil
}

// launch runs n instances of typ for svc from its launch template.
func (r *Recovery) launch(ctx context.Context, rc RegionClients, svc *plan.Service, typ string, n int, key string) ([]instance, error) {
	if n == 0 {
		return nil, nil
	}
	subnets := svc.Compute.AWS.Subnets
	if len(subnets) == 0 {
		subnets = []string{""} // the launch template's
	}
	batch := r.launchBatch(LimitRunInstances)
	var out []instance
	for i, subnet := range subnets {
		share := n / len(subnets)
		if i < n%len(subnets) {
			share++
		}
		for b := 0; share > 0; b++ {
			m := min(share, batch)
			share -= m
			got, err := r.runInstances(ctx, rc, svc, typ, subnet, m, key, token(key, typ, subnet, b, m))
			if err != nil {
				return out, err
			}
			out = append(out, got...)
		}
	}
	return out, nil
}

func (r *Recovery) launchBatch(bucket string) int {
	b := r.MaxLaunch
	if b <= 0 {
		b = 500
	}
	if burst := r.Buckets.Burst(bucket); burst > 0 {
		b = min(b, burst)
	}
	return b
}

// runInstances is one RunInstances call of exactly m instances.
func (r *Recovery) runInstances(ctx context.Context, rc RegionClients, svc *plan.Service, typ, subnet string, m int, key, clientToken string) ([]instance, error) {
	if err := r.Buckets.Wait(ctx, LimitRunInstances, m); err != nil {
		return nil, err
	}
	tags := []ec2types.Tag{
		{Key: sdkaws.String(TagPlan), Value: sdkaws.String(r.Plan.Name)},
		{Key: sdkaws.String(TagService), Value: sdkaws.String(svc.Name)},
		{Key: sdkaws.String(TagStepKey), Value: sdkaws.String(key)},
		{Key: sdkaws.String("Name"), Value: sdkaws.String(r.Plan.Name + "-" + svc.Name)},
	}
	tags = append(tags, r.drillEC2Tags()...)
	in := &ec2.RunInstancesInput{
		MinCount:       sdkaws.Int32(int32(m)),
		MaxCount:       sdkaws.Int32(int32(m)),
		ClientToken:    sdkaws.String(clientToken),
		InstanceType:   ec2types.InstanceType(typ),
		LaunchTemplate: &ec2types.LaunchTemplateSpecification{LaunchTemplateName: sdkaws.String(svc.Compute.AWS.LaunchTemplate)},
		TagSpecifications: []ec2types.TagSpecification{
			{ResourceType: ec2types.ResourceTypeInstance, Tags: tags},
			{ResourceType: ec2types.ResourceTypeVolume, Tags: tags},
		},
	}
	if subnet != "" {
		in.SubnetId = sdkaws.String(subnet)
	}
	out, err := rc.EC2.RunInstances(ctx, in)
	if err != nil {
		return nil, capacityError(callError("ec2 run instances", fmt.Sprintf("%s %d × %s", svc.Name, m, typ), err), typ, subnet)
	}
	var got []instance
	for _, i := range out.Instances {
		got = append(got, instance{ID: sdkaws.ToString(i.InstanceId), Type: string(i.InstanceType), State: "pending",
			Subnet: sdkaws.ToString(i.SubnetId), VPC: sdkaws.ToString(i.VpcId), StepKey: key})
	}
	return got, nil
}

// capacityError adds a *capacity.InsufficientCapacityError to a
// capacity-classed err, so that reports name the type and where.
func capacityError(err error, typ, where string) error {
	if runbook.Classify(err) != runbook.ClassCapacity {
		return err
	}
	return fmt.Errorf("%w: %w", &capacity.InsufficientCapacityError{Type: typ, Zone: where}, err)
}

// network returns the VPC of the service's instances and the subnets of
// its load balancer: the plan's, or those its instances run in.
func network(svc *plan.Service, lists ...[]instance) (vpc string, subnets []string) {
	subnets = slices.Clone(svc.Compute.AWS.Subnets)
	for _, l := range lists {
		for _, in := range l {
			if vpc == "" {
				vpc = in.VPC
			}
			if len(svc.Compute.AWS.Subnets) == 0 && in.Subnet != "" && !slices.Contains(subnets, in.Subnet) {
				subnets = append(subnets, in.Subnet)
			}
		}
	}
	return vpc, subnets
}

func chunks(ids []string, n int) [][]string {
	var out [][]string
	for len(ids) > 0 {
		m := min(n, len(ids))
		out = append(out, ids[:m])
		ids = ids[m:]
	}
	return out
}

func dedupe(ids []string) []string {
	slices.Sort(ids)
	return slices.Compact(ids)
}
