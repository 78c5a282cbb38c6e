package aws

import (
	"context"
	"slices"
	"strings"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
)

// TagLaunchTemplate is the tag EC2 puts on an instance launched from a
// launch template (by Auto Scaling too): the inventory finds the plan's
// service instances by it.
const TagLaunchTemplate = "aws:ec2launchtemplate:name"

// liveStates are the instance states worth exporting.
var liveStates = []string{"pending", "running", "stopping", "stopped"}

// read describes everything the document holds.
func (x *Inventory) read(ctx context.Context) (*InventoryDoc, error) {
	d := &InventoryDoc{}
	var err error
	if d.Instances, err = x.instances(ctx); err != nil {
		return nil, err
	}
	vpcs := []string(nil)
	if n := x.Plan.Network; n != nil {
		vpcs = slices.Clone(n.VPCs)
	}
	planVPCs := len(vpcs) > 0
	for _, in := range d.Instances {
		if !planVPCs && in.VPC != "" && !slices.Contains(vpcs, in.VPC) {
			vpcs = append(vpcs, in.VPC)
		}
	}
	if d.LoadBalancers, err = x.loadBalancers(ctx, vpcs); err != nil {
		return nil, err
	}
	for _, lb := range d.LoadBalancers {
		if !planVPCs && lb.VPC != "" && !slices.Contains(vpcs, lb.VPC) {
			vpcs = append(vpcs, lb.VPC)
		}
	}
	slices.Sort(vpcs)
	if err := x.network(ctx, d, vpcs); err != nil {
		return nil, err
	}
	if err := x.records(ctx, d); err != nil {
		return nil, err
	}
	return d, nil
}

// instances lists the instances of the plan's VPCs (network.vpcs), or
// else those launched from its services' launch templates.
func (x *Inventory) instances(ctx context.Context) ([]InvInstance, error) {
	fs := []ec2types.Filter{filter("instance-state-name", liveStates...)}
	if n := x.Plan.Network; n != nil && len(n.VPCs) > 0 {
		fs = append(fs, filter("vpc-id", n.VPCs...))
	} else {
		var templates []string
		for _, s := range x.Plan.Services {
			if a := s.Compute.AWS; a != nil && a.LaunchTemplate != "" && !slices.Contains(templates, a.LaunchTemplate) {
				templates = append(templates, a.LaunchTemplate)
			}
		}
		if len(templates) == 0 {
			return nil, nil
		}
		fs = append(fs, filter("tag:"+TagLaunchTemplate, templates...))
	}
	var out []InvInstance
	p := ec2.NewDescribeInstancesPaginator(x.EC2, &ec2.DescribeInstancesInput{Filters: fs})
	err := drain(ctx, x, "describe instances", x.Plan.Name, p.HasMorePages, p.NextPage, func(o *ec2.DescribeInstancesOutput) {
		for _, r := range o.Reservations {
			for _, i := range r.Instances {
				out = append(out, instanceOf(i))
			}
		}
	})
	slices.SortFunc(out, func(a, b InvInstance) int { return strings.Compare(a.ID, b.ID) })
	return out, err
}

func instanceOf(i ec2types.Instance) InvInstance {
	in := InvInstance{ID: sdkaws.ToString(i.InstanceId), Type: string(i.InstanceType), Image: sdkaws.ToString(i.ImageId),
		VPC: sdkaws.ToString(i.VpcId), Subnet: sdkaws.ToString(i.SubnetId), PrivateIP: sdkaws.ToString(i.PrivateIpAddress)}
	if i.State != nil {
		in.State = string(i.State.Name)
	}
	if i.Placement != nil {
		in.Zone = sdkaws.ToString(i.Placement.AvailabilityZone)
	}
	for _, g := range i.SecurityGroups {
		in.SecurityGroups = append(in.SecurityGroups, sdkaws.ToString(g.GroupId))
	}
	if len(i.Tags) > 0 {
		in.Tags = map[string]string{}
		for _, t := range i.Tags {
			in.Tags[sdkaws.ToString(t.Key)] = sdkaws.ToString(t.Value)
		}
	}
	return in
}

// loadBalancers lists the load balancers in vpcs, with their listeners and
// target groups.
func (x *Inventory) loadBalancers(ctx context.Context, vpcs []string) ([]InvLoadBalancer, error) {
	var all []InvLoadBalancer
	p := elbv2.NewDescribeLoadBalancersPaginator(x.ELB, &elbv2.DescribeLoadBalancersInput{})
	err := drain(ctx, x, "describe load balancers", x.Plan.Name, p.HasMorePages, p.NextPage, func(o *elbv2.DescribeLoadBalancersOutput) {
		for _, lb := range o.LoadBalancers {
			if slices.Contains(vpcs, sdkaws.ToString(lb.VpcId)) {
				all = append(all, loadBalancerOf(lb))
			}
		}
	})
	if err != nil {
		return nil, err
	}
	for i := range all {
		lb := &all[i]
		if lb.Listeners, err = x.listeners(ctx, lb.ARN); err != nil {
			return nil, err
		}
		if lb.TargetGroups, err = x.targetGroups(ctx, lb.ARN); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(all, func(a, b InvLoadBalancer) int { return strings.Compare(a.Name, b.Name) })
	return all, nil
}

func loadBalancerOf(lb elbtypes.LoadBalancer) InvLoadBalancer {
	out := InvLoadBalancer{ARN: sdkaws.ToString(lb.LoadBalancerArn), Name: sdkaws.ToString(lb.LoadBalancerName), Type: string(lb.Type),
		Scheme: string(lb.Scheme), DNSName: sdkaws.ToString(lb.DNSName), VPC: sdkaws.ToString(lb.VpcId), SecurityGroups: lb.SecurityGroups}
	for _, z := range lb.AvailabilityZones {
		out.Subnets = append(out.Subnets, sdkaws.ToString(z.SubnetId))
	}
	return out
}

func (x *Inventory) listeners(ctx context.Context, lbARN string) ([]InvListener, error) {
	out := []InvListener{}
	p := elbv2.NewDescribeListenersPaginator(x.ELB, &elbv2.DescribeListenersInput{LoadBalancerArn: sdkaws.String(lbARN)})
	err := drain(ctx, x, "describe listeners", lbARN, p.HasMorePages, p.NextPage, func(o *elbv2.DescribeListenersOutput) {
		for _, l := range o.Listeners {
			n := InvListener{ARN: sdkaws.ToString(l.ListenerArn), Port: sdkaws.ToInt32(l.Port), Protocol: string(l.Protocol), SSLPolicy: sdkaws.ToString(l.SslPolicy)}
			for _, c := range l.Certificates {
				n.Certificates = append(n.Certificates, sdkaws.ToString(c.CertificateArn))
			}
			out = append(out, n)
		}
	})
	return out, err
}

func (x *Inventory) targetGroups(ctx context.Context, lbARN string) ([]InvTargetGroup, error) {
	out := []InvTargetGroup{}
	p := elbv2.NewDescribeTargetGroupsPaginator(x.ELB, &elbv2.DescribeTargetGroupsInput{LoadBalancerArn: sdkaws.String(lbARN)})
	err := drain(ctx, x, "describe target groups", lbARN, p.HasMorePages, p.NextPage, func(o *elbv2.DescribeTargetGroupsOutput) {
		for _, tg := range o.TargetGroups {
			out = append(out, targetGroupOf(tg))
		}
	})
	if err != nil {
		return nil, err
	}
	for i := range out {
		tg := &out[i]
		var h *elbv2.DescribeTargetHealthOutput
		if err := x.call(ctx, "describe target health", tg.ARN, func() (err error) {
			h, err = x.ELB.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: sdkaws.String(tg.ARN)})
			return err
		}); err != nil {
			return nil, err
		}
		tg.Targets = []InvTarget{}
		for _, d := range h.TargetHealthDescriptions {
			t := InvTarget{}
			if d.Target != nil {
				t.ID, t.Port, t.Zone = sdkaws.ToString(d.Target.Id), sdkaws.ToInt32(d.Target.Port), sdkaws.ToString(d.Target.AvailabilityZone)
			}
			if d.TargetHealth != nil {
				t.Health = string(d.TargetHealth.State)
			}
			tg.Targets = append(tg.Targets, t)
		}
	}
	return out, nil
}

func targetGroupOf(tg elbtypes.TargetGroup) InvTargetGroup {
	out := InvTargetGroup{ARN: sdkaws.ToString(tg.TargetGroupArn), Name: sdkaws.ToString(tg.TargetGroupName), Protocol: string(tg.Protocol),
		Port: sdkaws.ToInt32(tg.Port), TargetType: string(tg.TargetType),
		HealthCheck: InvHealthCheck{Protocol: string(tg.HealthCheckProtocol), Port: sdkaws.ToString(tg.HealthCheckPort),
			Path: sdkaws.ToString(tg.HealthCheckPath), IntervalSeconds: sdkaws.ToInt32(tg.HealthCheckIntervalSeconds),
			TimeoutSeconds: sdkaws.ToInt32(tg.HealthCheckTimeoutSeconds), HealthyThreshold: sdkaws.ToInt32(tg.HealthyThresholdCount),
			UnhealthyThreshold: sdkaws.ToInt32(tg.UnhealthyThresholdCount)}}
	if tg.Matcher != nil {
		out.HealthCheck.Matcher = sdkaws.ToString(tg.Matcher.HttpCode) + sdkaws.ToString(tg.Matcher.GrpcCode)
	}
	return out
}

// network describes the VPCs, subnets, route tables and security groups of
// vpcs.
func (x *Inventory) network(ctx context.Context, d *InventoryDoc, vpcs []string) error {
	d.VPCs, d.Subnets, d.RouteTables, d.SecurityGroups = []ec2types.Vpc{}, []ec2types.Subnet{}, []ec2types.RouteTable{}, []ec2types.SecurityGroup{}
	if len(vpcs) == 0 {
		return nil
	}
	byVPC := []ec2types.Filter{filter("vpc-id", vpcs...)}
	pv := ec2.NewDescribeVpcsPaginator(x.EC2, &ec2.DescribeVpcsInput{VpcIds: vpcs})
	if err := drain(ctx, x, "describe vpcs", x.Plan.Name, pv.HasMorePages, pv.NextPage,
		func(o *ec2.DescribeVpcsOutput) { d.VPCs = append(d.VPCs, o.Vpcs...) }); err != nil {
		return err
	}
	ps := ec2.NewDescribeSubnetsPaginator(x.EC2, &ec2.DescribeSubnetsInput{Filters: byVPC})
	if err := drain(ctx, x, "describe subnets", x.Plan.Name, ps.HasMorePages, ps.NextPage,
		func(o *ec2.DescribeSubnetsOutput) { d.Subnets = append(d.Subnets, o.Subnets...) }); err != nil {
		return err
	}
	pr := ec2.NewDescribeRouteTablesPaginator(x.EC2, &ec2.DescribeRouteTablesInput{Filters: byVPC})
	if err := drain(ctx, x, "describe route tables", x.Plan.Name, pr.HasMorePages, pr.NextPage,
		func(o *ec2.DescribeRouteTablesOutput) { d.RouteTables = append(d.RouteTables, o.RouteTables...) }); err != nil {
		return err
	}
	pg := ec2.NewDescribeSecurityGroupsPaginator(x.EC2, &ec2.DescribeSecurityGroupsInput{Filters: byVPC})
	return drain(ctx, x, "describe security groups", x.Plan.Name, pg.HasMorePages, pg.NextPage,
		func(o *ec2.DescribeSecurityGroupsOutput) {
			d.SecurityGroups = append(d.SecurityGroups, o.SecurityGroups...)
		})
}

// records reads every record set of the plan's hosted zone, found by name.
func (x *Inventory) records(ctx context.Context, d *InventoryDoc) error {
	d.Records = []RecordSet{}
	if x.Route53 == nil || x.Plan.Routing == nil || x.Plan.Routing.Zone == "" {
		return nil
	}
	drv := &Route53Driver{Client: x.Route53, Zone: x.Plan.Routing.Zone, Backoff: x.Backoff, Clock: x.clock(), Logger: x.Logger}
	id, err := drv.resolveZone(ctx)
	if err != nil {
		return err
	}
	d.Zone, d.ZoneID = fqdn(x.Plan.Routing.Zone), id
	p := route53.NewListResourceRecordSetsPaginator(x.Route53, &route53.ListResourceRecordSetsInput{HostedZoneId: sdkaws.String(id)})
	return drain(ctx, x, "list record sets", id, p.HasMorePages, p.NextPage, func(o *route53.ListResourceRecordSetsOutput) {
		for _, s := range o.ResourceRecordSets {
			d.Records = append(d.Records, fromSDK(s))
		}
	})
}
