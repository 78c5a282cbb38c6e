package aws

import (
	"context"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
)

// maxDescribeTags is the most ARNs of one ELBv2 DescribeTags call.
const maxDescribeTags = 20

// addLeftover records one tagged resource (FindLeftovers keeps those its
// match takes).
type addLeftover func(kind, id, drill string, started time.Time)

// findELBLeftovers lists the region's load balancers and target groups
// (ELBv2 has no tag filter) and reads their tags in DescribeTags calls of
// up to 20 ARNs.
func findELBLeftovers(ctx context.Context, rc RegionClients, add addLeftover) error {
	if rc.ELB == nil {
		return nil
	}
	var lbs, tgs []string
	lin := &elbv2.DescribeLoadBalancersInput{}
	for {
		page, err := rc.ELB.DescribeLoadBalancers(ctx, lin)
		if err != nil {
			return callError("elbv2 describe load balancers", "all", err)
		}
		for _, lb := range page.LoadBalancers {
			lbs = append(lbs, sdkaws.ToString(lb.LoadBalancerArn))
		}
		if sdkaws.ToString(page.NextMarker) == "" {
			break
		}
		lin.Marker = page.NextMarker
	}
	tin := &elbv2.DescribeTargetGroupsInput{}
	for {
		page, err := rc.ELB.DescribeTargetGroups(ctx, tin)
		if err != nil {
			return callError("elbv2 describe target groups", "all", err)
		}
		for _, tg := range page.TargetGroups {
			tgs = append(tgs, sdkaws.ToString(tg.TargetGroupArn))
		}
		if sdkaws.ToString(page.NextMarker) == "" {
			break
		}
		tin.Marker = page.NextMarker
	}
	for kind, arns := range map[string][]string{KindLoadBalancer: lbs, KindTargetGroup: tgs} {
		for _, batch := range chunks(arns, maxDescribeTags) {
			out, err := rc.ELB.DescribeTags(ctx, &elbv2.DescribeTagsInput{ResourceArns: batch})
			if err != nil {
				return callError("elbv2 describe tags", kind, err)
			}
			for _, td := range out.TagDescriptions {
				ts := td.Tags
				d, s, ok := drillOf(func(i int) string { return sdkaws.ToString(ts[i].Key) }, func(i int) string { return sdkaws.ToString(ts[i].Value) }, len(ts))
				if ok {
					add(kind, sdkaws.ToString(td.ResourceArn), d, s)
				}
			}
		}
	}
	return nil
}

// findRDSLeftovers lists the region's DB instances and clusters with their
// tag lists.
func findRDSLeftovers(ctx context.Context, rc RegionClients, add addLeftover) error {
	if rc.RDS == nil {
		return nil
	}
	rdsTags := func(ts []rdstypes.Tag) (string, time.Time, bool) {
		return drillOf(func(i int) string { return sdkaws.ToString(ts[i].Key) }, func(i int) string { return sdkaws.ToString(ts[i].Value) }, len(ts))
	}
	din := &rds.DescribeDBInstancesInput{}
	for {
		page, err := rc.RDS.DescribeDBInstances(ctx, din)
		if err != nil {
			return callError("rds describe db instances", "all", err)
		}
		for _, db := range page.DBInstances {
			if d, s, ok := rdsTags(db.TagList); ok {
				add(KindDBRestore, sdkaws.ToString(db.DBInstanceIdentifier), d, s)
			}
		}
		if sdkaws.ToString(page.Marker) == "" {
			break
		}
		din.Marker = page.Marker
	}
	cin := &rds.DescribeDBClustersInput{}
	for {
		page, err := rc.RDS.DescribeDBClusters(ctx, cin)
		if err != nil {
			return callError("rds describe db clusters", "all", err)
		}
		for _, c := range page.DBClusters {
			if d, s, ok := rdsTags(c.TagList); ok {
				add(KindDBRestoreCl, sdkaws.ToString(c.DBClusterIdentifier), d, s)
			}
		}
		if sdkaws.ToString(page.Marker) == "" {
			return nil
		}
		cin.Marker = page.Marker
	}
}
