package aws

import (
	"slices"
	"strings"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
)

// drillFake is what the fake cloud keeps for drills: the tags of load
// balancers, target groups and restored databases (the base fake keeps
// none), and what was deleted.
type drillFake struct {
	elbTags map[string]map[string]string // ARN → tags
	dbTags  map[string]map[string]string // DB identifier → tags
	deleted []string                     // kind/ID, in order
}

// handleDrill answers the calls a drill's teardown and sweep make and
// records the tags of creates; ok is false for calls the base fake
// answers. f.mu is held.
func (f *fakeCloud) handleDrill(params any) (out any, err error, ok bool) {
	if f.drill == nil {
		f.drill = &drillFake{elbTags: map[string]map[string]string{}, dbTags: map[string]map[string]string{}}
	}
	d := f.drill
	switch in := params.(type) {
	case *elbv2.CreateLoadBalancerInput:
		d.elbTags["arn:lb/"+*in.Name] = elbTagMap(in.Tags)
	case *elbv2.CreateTargetGroupInput:
		d.elbTags["arn:tg/"+*in.Name] = elbTagMap(in.Tags)
	case *rds.RestoreDBInstanceFromDBSnapshotInput:
		m := map[string]string{}
		for _, t := range in.Tags {
			m[*t.Key] = *t.Value
		}
		d.dbTags[*in.DBInstanceIdentifier] = m
	case *ec2.TerminateInstancesInput:
		for _, v := range f.volumes {
			if slices.Contains(in.InstanceIds, v.Attached) {
				v.Attached, v.State = "", "available"
			}
		}
		for _, id := range in.InstanceIds {
			d.deleted = append(d.deleted, KindInstance+"/"+id)
		}
	case *ec2.DescribeVolumesInput:
		if len(in.VolumeIds) > 0 {
			return nil, nil, false
		}
		o := &ec2.DescribeVolumesOutput{}
		for _, id := range sortedIDs(f.volumes) {
			v := f.volumes[id]
			if tags := toEC2Tags(v.Tags); matchTagKey(in.Filters, v.Tags) && matchEC2Tags(in.Filters, tags) {
				o.Volumes = append(o.Volumes, ec2types.Volume{VolumeId: sdkaws.String(id), State: ec2types.VolumeState(v.State), Tags: tags})
			}
		}
		return o, nil, true
	case *ec2.DeleteVolumeInput:
		v := f.volumes[*in.VolumeId]
		switch {
		case v == nil:
			return nil, apiErr("InvalidVolume.NotFound"), true
		case v.Attached != "":
			return nil, apiErr("VolumeInUse"), true
		}
		delete(f.volumes, *in.VolumeId)
		d.deleted = append(d.deleted, KindEBSVolume+"/"+*in.VolumeId)
		return &ec2.DeleteVolumeOutput{}, nil, true
	case *elbv2.DescribeLoadBalancersInput:
		if len(in.Names) > 0 {
			return nil, nil, false
		}
		o := &elbv2.DescribeLoadBalancersOutput{}
		for _, name := range sortedIDs(f.lbs) {
			o.LoadBalancers = append(o.LoadBalancers, f.lbs[name])
		}
		return o, nil, true
	case *elbv2.DescribeTargetGroupsInput:
		if len(in.Names) > 0 {
			return nil, nil, false
		}
		o := &elbv2.DescribeTargetGroupsOutput{}
		for _, name := range sortedIDs(f.tgs) {
			o.TargetGroups = append(o.TargetGroups, f.tgs[name])
		}
		return o, nil, true
	case *elbv2.DescribeTagsInput:
		o := &elbv2.DescribeTagsOutput{}
		for _, arn := range in.ResourceArns {
			td := elbtypes.TagDescription{ResourceArn: sdkaws.String(arn)}
			for k, v := range d.elbTags[arn] {
				td.Tags = append(td.Tags, elbtypes.Tag{Key: sdkaws.String(k), Value: sdkaws.String(v)})
			}
			o.TagDescriptions = append(o.TagDescriptions, td)
		}
		return o, nil, true
	case *elbv2.DeleteLoadBalancerInput:
		name := strings.TrimPrefix(*in.LoadBalancerArn, "arn:lb/")
		if _, ok := f.lbs[name]; !ok {
			return nil, apiErr("LoadBalancerNotFound"), true
		}
		delete(f.lbs, name)
		delete(f.listeners, *in.LoadBalancerArn)
		d.deleted = append(d.deleted, KindLoadBalancer+"/"+*in.LoadBalancerArn)
		return &elbv2.DeleteLoadBalancerOutput{}, nil, true
	case *elbv2.DeleteTargetGroupInput:
		name := strings.TrimPrefix(*in.TargetGroupArn, "arn:tg/")
		if _, ok := f.lbs[name]; ok {
			return nil, apiErr("ResourceInUse"), true // its load balancer still forwards to it
		}
		delete(f.tgs, name)
		d.deleted = append(d.deleted, KindTargetGroup+"/"+*in.TargetGroupArn)
		return &elbv2.DeleteTargetGroupOutput{}, nil, true
	case *rds.DescribeDBInstancesInput:
		if in.DBInstanceIdentifier != nil {
			return nil, nil, false
		}
		o := &rds.DescribeDBInstancesOutput{}
		for _, id := range sortedIDs(f.dbs) {
			db := rdstypes.DBInstance{DBInstanceIdentifier: sdkaws.String(id), DBInstanceStatus: sdkaws.String(f.dbs[id].status)}
			for k, v := range d.dbTags[id] {
				db.TagList = append(db.TagList, rdstypes.Tag{Key: sdkaws.String(k), Value: sdkaws.String(v)})
			}
			o.DBInstances = append(o.DBInstances, db)
		}
		return o, nil, true
	case *rds.DescribeDBClustersInput:
		if in.DBClusterIdentifier != nil {
			return nil, nil, false
		}
		return &rds.DescribeDBClustersOutput{}, nil, true
	case *rds.DeleteDBInstanceInput:
		if !sdkaws.ToBool(in.SkipFinalSnapshot) {
			f.t.Errorf("DeleteDBInstance %s without SkipFinalSnapshot", *in.DBInstanceIdentifier)
		}
		if _, ok := f.dbs[*in.DBInstanceIdentifier]; !ok {
			return nil, apiErr("DBInstanceNotFound"), true
		}
		delete(f.dbs, *in.DBInstanceIdentifier)
		d.deleted = append(d.deleted, KindDBRestore+"/"+*in.DBInstanceIdentifier)
		return &rds.DeleteDBInstanceOutput{}, nil, true
	}
	return nil, nil, false
}

func elbTagMap(ts []elbtypes.Tag) map[string]string {
	m := map[string]string{}
	for _, t := range ts {
		m[*t.Key] = *t.Value
	}
	return m
}

// matchTagKey applies the tag-key filters (the base fake applies tag:K).
func matchTagKey(filters []ec2types.Filter, tags map[string]string) bool {
	for _, fl := range filters {
		if sdkaws.ToString(fl.Name) != "tag-key" {
			continue
		}
		if !slices.ContainsFunc(fl.Values, func(k string) bool { _, ok := tags[k]; return ok }) {
			return false
		}
	}
	return true
}

func sortedIDs[V any](m map[string]V) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}
