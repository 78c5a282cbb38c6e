package aws

import (
	"context"
	"fmt"
	"slices"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/recovery"
	"github.com/pilotlight/pilotlight/runbook"
)

// findGroup returns the Auto Scaling group tagged for the plan's service,
// if there is exactly one; more than one is a fatal ambiguity.
func (r *Recovery) findGroup(ctx context.Context, rc RegionClients, service string) (astypes.AutoScalingGroup, bool, error) {
	out, err := rc.AutoScaling.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{
		Filters: []astypes.Filter{
			{Name: sdkaws.String("tag:" + TagPlan), Values: []string{r.Plan.Name}},
			{Name: sdkaws.String("tag:" + TagService), Values: []string{service}},
		},
	})
	if err != nil {
		return astypes.AutoScalingGroup{}, false, callError("autoscaling describe groups", service, err)
	}
	switch len(out.AutoScalingGroups) {
	case 0:
		return astypes.AutoScalingGroup{}, false, nil
	case 1:
		return out.AutoScalingGroups[0], true, nil
	}
	return astypes.AutoScalingGroup{}, false, runbook.Fatal(fmt.Errorf("aws: autoscaling describe groups %s: %d groups are tagged for it", service, len(out.AutoScalingGroups)))
}

// groupType is the instance type the group launches: its mixed instances
// override, or the plan's first type (the launch template's).
func groupType(g astypes.AutoScalingGroup, svc *plan.Service) string {
	if m := g.MixedInstancesPolicy; m != nil && m.LaunchTemplate != nil && len(m.LaunchTemplate.Overrides) > 0 {
		return sdkaws.ToString(m.LaunchTemplate.Overrides[0].InstanceType)
	}
	return svc.Compute.AWS.InstanceTypes[0]
}

// scaleGroup sets the group's desired capacity to count, of instanceType
// ("" keeps the group's), and attaches the service's target group. The
// group launches asynchronously: the healthy step that polls Service
// waits for its instances.
func (r *Recovery) scaleGroup(ctx context.Context, region string, rc RegionClients, svc *plan.Service, g astypes.AutoScalingGroup, instanceType string, count int) error {
	name := sdkaws.ToString(g.AutoScalingGroupName)
	switch {
	case instanceType != "" && instanceType != groupType(g, svc):
		in := &autoscaling.UpdateAutoScalingGroupInput{
			AutoScalingGroupName: sdkaws.String(name),
			DesiredCapacity:      sdkaws.Int32(int32(count)),
			MaxSize:              sdkaws.Int32(max(sdkaws.ToInt32(g.MaxSize), int32(count))),
			MixedInstancesPolicy: &astypes.MixedInstancesPolicy{
				LaunchTemplate: &astypes.LaunchTemplate{
					LaunchTemplateSpecification: &astypes.LaunchTemplateSpecification{LaunchTemplateName: sdkaws.String(svc.Compute.AWS.LaunchTemplate)},
					Overrides:                   []astypes.LaunchTemplateOverrides{{InstanceType: sdkaws.String(instanceType)}},
				},
			},
		}
		if _, err := rc.AutoScaling.UpdateAutoScalingGroup(ctx, in); err != nil {
			return capacityError(callError("autoscaling update group", name, err), instanceType, region)
		}
	case int32(count) > sdkaws.ToInt32(g.MaxSize):
		_, err := rc.AutoScaling.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
			AutoScalingGroupName: sdkaws.String(name), DesiredCapacity: sdkaws.Int32(int32(count)), MaxSize: sdkaws.Int32(int32(count))})
		if err != nil {
			return callError("autoscaling update group", name, err)
		}
	default:
		_, err := rc.AutoScaling.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{
			AutoScalingGroupName: sdkaws.String(name), DesiredCapacity: sdkaws.Int32(int32(count)), HonorCooldown: sdkaws.Bool(false)})
		if err != nil {
			return callError("autoscaling set desired capacity", name, err)
		}
	}
	r.cache(region, rc).instances.Invalidate(svc.Name)
	if svc.LoadBalancer == nil || count == 0 {
		return nil
	}
	insts, err := r.instances(ctx, region, rc, svc.Name, false)
	if err != nil {
		return err
	}
	vpc, subnets := network(svc, insts)
	lb, err := r.ensureLoadBalancer(ctx, region, rc, svc, vpc, subnets)
	if err != nil {
		return err
	}
	if slices.Contains(g.TargetGroupARNs, lb.TargetGroupARN) {
		return nil
	}
	_, err = rc.AutoScaling.AttachLoadBalancerTargetGroups(ctx, &autoscaling.AttachLoadBalancerTargetGroupsInput{
		AutoScalingGroupName: sdkaws.String(name), TargetGroupARNs: []string{lb.TargetGroupARN}})
	if err != nil {
		return callError("autoscaling attach target group", name, classifyAfterCreate(err))
	}
	return nil
}

// Service returns what runs of service in region: the type most of its
// running instances have, how many are pending or running (Desired) and
// running, and how many targets of its load balancer are healthy (without
// a load balancer, Healthy is Running). Instances are found by tag through
// a cache that batches concurrent callers into one DescribeInstances;
// target health likewise, one DescribeTargetHealth per target group.
func (r *Recovery) Service(ctx context.Context, region, service string) (recovery.ServiceState, error) {
	rc, err := r.region(region)
	if err != nil {
		return recovery.ServiceState{}, err
	}
	svc, err := r.service(service)
	if err != nil {
		return recovery.ServiceState{}, err
	}
	insts, err := r.instances(ctx, region, rc, service, false)
	if err != nil {
		return recovery.ServiceState{}, err
	}
	st := recovery.ServiceState{InstanceType: currentType(insts, svc)}
	running := map[string]bool{}
	for _, in := range insts {
		if in.live() {
			st.Desired++
		}
		if in.State == "running" {
			st.Running++
			running[in.ID] = true
		}
	}
	if svc.LoadBalancer == nil {
		st.Healthy = st.Running
		return st, nil
	}
	lb, ok, err := r.findLoadBalancer(ctx, region, rc, service)
	if err != nil || !ok {
		return st, err
	}
	st.LoadBalancer = lb.DNSName
	ths, err := r.cache(region, rc).health.Get(ctx, lb.TargetGroupARN)
	if err != nil {
		return st, err
	}
	for _, t := range ths {
		if t.State == "healthy" && running[t.ID] {
			st.Healthy++
		}
	}
	return st, nil
}
