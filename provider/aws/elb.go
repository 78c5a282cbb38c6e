package aws

import (
	"context"
	"fmt"
	"strconv"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/runbook"
)

// loadBalancer is a service's application load balancer in one region.
type loadBalancer struct {
	ARN, DNSName, CanonicalZone string
	TargetGroupARN              string
}

// targetHealth is one target of a target group.
type targetHealth struct {
	ID, State string
}

// LoadBalancer returns the DNS name of service's load balancer in region,
// finding it by its name (plan-service); ok is false when it does not
// exist.
func (r *Recovery) LoadBalancer(ctx context.Context, region, service string) (dnsName string, ok bool, err error) {
	rc, err := r.region(region)
	if err != nil {
		return "", false, err
	}
	lb, ok, err := r.findLoadBalancer(ctx, region, rc, service)
	return lb.DNSName, ok, err
}

// findLoadBalancer looks up the service's load balancer and target group
// by name, remembering what it found.
func (r *Recovery) findLoadBalancer(ctx context.Context, region string, rc RegionClients, service string) (loadBalancer, bool, error) {
	k := region + "/" + service
	r.mu.Lock()
	lb, ok := r.lbs[k]
	r.mu.Unlock()
	if ok {
		return lb, true, nil
	}
	if rc.ELB == nil {
		return loadBalancer{}, false, runbook.Fatal(fmt.Errorf("aws: region %s: %w: no ELBv2 client", region, ErrConfig))
	}
	name := r.lbName(service)
	out, err := rc.ELB.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{Names: []string{name}})
	if isNotFound(err) || (err == nil && len(out.LoadBalancers) == 0) {
		return loadBalancer{}, false, nil
	}
	if err != nil {
		return loadBalancer{}, false, callError("elbv2 describe load balancers", name, err)
	}
	lb = lbOf(out.LoadBalancers[0])
	tgs, err := rc.ELB.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{Names: []string{name}})
	if isNotFound(err) || (err == nil && len(tgs.TargetGroups) == 0) {
		return lb, false, nil
	}
	if err != nil {
		return loadBalancer{}, false, callError("elbv2 describe target groups", name, err)
	}
	lb.TargetGroupARN = sdkaws.ToString(tgs.TargetGroups[0].TargetGroupArn)
	r.remember(k, lb)
	return lb, true, nil
}

func (r *Recovery) remember(k string, lb loadBalancer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lbs == nil {
		r.lbs = map[string]loadBalancer{}
	}
	r.lbs[k] = lb
}

func lbOf(l elbtypes.LoadBalancer) loadBalancer {
	return loadBalancer{ARN: sdkaws.ToString(l.LoadBalancerArn), DNSName: sdkaws.ToString(l.DNSName),
		CanonicalZone: sdkaws.ToString(l.CanonicalHostedZoneId)}
}

// ensureLoadBalancer finds or creates the service's internet-facing
// application load balancer, its target group (instances in vpc, checked
// as the plan's health check says) and an HTTP listener on the plan's port
// forwarding to it. Each is named plan-service; creating one that exists
// with the same settings returns it (ELBv2 create calls are idempotent by
// name), and a target group not visible yet to CreateListener is retried.
func (r *Recovery) ensureLoadBalancer(ctx context.Context, region string, rc RegionClients, svc *plan.Service, vpc string, subnets []string) (loadBalancer, error) {
	lb, ok, err := r.findLoadBalancer(ctx, region, rc, svc.Name)
	if err != nil || ok {
		return lb, err
	}
	name := r.lbName(svc.Name)
	tags := []elbtypes.Tag{{Key: sdkaws.String(TagPlan), Value: sdkaws.String(r.Plan.Name)},
		{Key: sdkaws.String(TagService), Value: sdkaws.String(svc.Name)}}
	for _, t := range r.drillEC2Tags() {
		tags = append(tags, elbtypes.Tag{Key: t.Key, Value: t.Value})
	}
	if lb.ARN == "" {
		out, err := rc.ELB.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{
			Name: sdkaws.String(name), Subnets: subnets, Type: elbtypes.LoadBalancerTypeEnumApplication,
			Scheme: elbtypes.LoadBalancerSchemeEnumInternetFacing, Tags: tags,
		})
		if err != nil {
			return loadBalancer{}, callError("elbv2 create load balancer", name, err)
		}
		lb = lbOf(out.LoadBalancers[0])
	}
	if vpc == "" {
		return loadBalancer{}, runbook.Transient(fmt.Errorf("aws: elbv2 create target group %s: no instance of %s yet to take the VPC from", name, svc.Name))
	}
	hc := svc.LoadBalancer.HealthCheck
	if hc == nil {
		hc = &plan.HealthCheck{Type: plan.CheckHTTP, Path: plan.DefaultCheckPath, Interval: plan.Duration(plan.DefaultCheckInterval),
			FailureThreshold: plan.DefaultFailureThreshold, SuccessThreshold: plan.DefaultSuccessThreshold, ExpectStatus: plan.DefaultCheckExpectStatus}
	}
	port := int32(svc.LoadBalancer.Port)
	tg := &elbv2.CreateTargetGroupInput{
		Name: sdkaws.String(name), Protocol: elbtypes.ProtocolEnumHttp, Port: sdkaws.Int32(port), VpcId: sdkaws.String(vpc),
		TargetType:                 elbtypes.TargetTypeEnumInstance,
		HealthCheckProtocol:        elbtypes.ProtocolEnum(map[plan.CheckType]string{plan.CheckHTTP: "HTTP", plan.CheckHTTPS: "HTTPS", plan.CheckTCP: "TCP"}[hc.Type]),
		HealthCheckIntervalSeconds: sdkaws.Int32(clamp(int32(hc.Interval.D().Seconds()), 5, 300)),
		HealthyThresholdCount:      sdkaws.Int32(clamp(int32(hc.SuccessThreshold), 2, 10)),
		UnhealthyThresholdCount:    sdkaws.Int32(clamp(int32(hc.FailureThreshold), 2, 10)),
		Tags:                       tags,
	}
	if hc.Port > 0 {
		tg.HealthCheckPort = sdkaws.String(strconv.Itoa(hc.Port))
	}
	if hc.Type != plan.CheckTCP {
		tg.HealthCheckPath = sdkaws.String(hc.Path)
		tg.Matcher = &elbtypes.Matcher{HttpCode: sdkaws.String(hc.ExpectStatus)}
	}
	tgOut, err := rc.ELB.CreateTargetGroup(ctx, tg)
	if err != nil {
		return loadBalancer{}, callError("elbv2 create target group", name, err)
	}
	lb.TargetGroupARN = sdkaws.ToString(tgOut.TargetGroups[0].TargetGroupArn)
	ls, err := rc.ELB.DescribeListeners(ctx, &elbv2.DescribeListenersInput{LoadBalancerArn: sdkaws.String(lb.ARN)})
	if err != nil {
		return loadBalancer{}, callError("elbv2 describe listeners", name, classifyAfterCreate(err))
	}
	for _, l := range ls.Listeners {
		if sdkaws.ToInt32(l.Port) == port {
			r.remember(region+"/"+svc.Name, lb)
			return lb, nil
		}
	}
	_, err = rc.ELB.CreateListener(ctx, &elbv2.CreateListenerInput{
		LoadBalancerArn: sdkaws.String(lb.ARN), Port: sdkaws.Int32(port), Protocol: elbtypes.ProtocolEnumHttp,
		DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: sdkaws.String(lb.TargetGroupARN)}},
		Tags:           tags,
	})
	if err != nil {
		return loadBalancer{}, callError("elbv2 create listener", name, classifyAfterCreate(err))
	}
	r.log().Info("load balancer ready", "region", region, "service", svc.Name, "dns", lb.DNSName)
	r.remember(region+"/"+svc.Name, lb)
	return lb, nil
}

// register registers instances with the load balancer's target group. An
// instance launched a moment ago may not be known to ELB yet
// (InvalidTarget): that is transient, and the step's retry registers again.
func (r *Recovery) register(ctx context.Context, rc RegionClients, lb loadBalancer, ids []string) error {
	for _, batch := range chunks(ids, 500) {
		targets := make([]elbtypes.TargetDescription, len(batch))
		for i, id := range batch {
			targets[i] = elbtypes.TargetDescription{Id: sdkaws.String(id)}
		}
		_, err := rc.ELB.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: sdkaws.String(lb.TargetGroupARN), Targets: targets})
		if err != nil {
			return callError("elbv2 register targets", lb.TargetGroupARN, classifyAfterCreate(err))
		}
	}
	return nil
}

// describeTargetHealth answers the health cache: one call per target
// group.
func describeTargetHealth(ctx context.Context, api ELBv2API, arns []string) (map[string][]targetHealth, error) {
	out := make(map[string][]targetHealth, len(arns))
	for _, arn := range arns {
		th, err := api.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: sdkaws.String(arn)})
		if err != nil {
			return nil, callError("elbv2 describe target health", arn, err)
		}
		var ts []targetHealth
		for _, d := range th.TargetHealthDescriptions {
			t := targetHealth{}
			if d.Target != nil {
				t.ID = sdkaws.ToString(d.Target.Id)
			}
			if d.TargetHealth != nil {
				t.State = string(d.TargetHealth.State)
			}
			ts = append(ts, t)
		}
		out[arn] = ts
	}
	return out, nil
}

func clamp(v, lo, hi int32) int32 { return max(lo, min(hi, v)) }
