package aws

import (
	"context"
	"fmt"
	"slices"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/pilotlight/pilotlight/runbook"
)

// Kinds of drill leftovers.
const (
	KindInstance     = "instance"
	KindEBSVolume    = "volume"
	KindLoadBalancer = "load-balancer"
	KindTargetGroup  = "target-group"
	KindDBRestore    = "db-instance"
	KindDBRestoreCl  = "db-cluster"
)

// Leftover is one resource an isolated drill created, found by its
// pilotlight:drill tag.
type Leftover struct {
	Kind   string `json:"kind"`
	ID     string `json:"id"` // instance, volume or DB identifier, or ELB ARN
	Region string `json:"region"`
	Drill  string `json:"drill"`
	// Started is the drill's pilotlight:drill-started tag (zero when
	// missing or unreadable).
	Started time.Time `json:"started"`
}

// LeftoverNames returns "kind/ID" of each leftover, sorted.
func LeftoverNames(ls []Leftover) []string {
	out := make([]string, 0, len(ls))
	for _, l := range ls {
		out = append(out, l.Kind+"/"+l.ID)
	}
	slices.Sort(out)
	return out
}

// DrillMatch says which drills' resources to take, from their tags.
type DrillMatch func(drill string, started time.Time) bool

// Teardown deletes everything tagged with the recovery's DrillID in the
// recovery region, waits until it is gone (on Clock, every Poll, for at
// most WaitTimeout) and returns what it removed. It is what an isolated
// drill always does at its end, success, failure or Ctrl-C.
func (r *Recovery) Teardown(ctx context.Context) ([]Leftover, error) {
	if r.DrillID == "" {
		return nil, runbook.Fatal(fmt.Errorf("aws: teardown: %w: not a drill (no drill ID)", ErrConfig))
	}
	id := r.DrillID
	return r.Sweep(ctx, r.Plan.Regions.Recovery.Name, func(d string, _ time.Time) bool { return d == id }, false)
}

// Sweep finds the resources of region tagged pilotlight:drill whose drill
// match takes, and unless dryRun deletes them and waits until they are
// gone: instances terminated, load balancers and then their target groups
// deleted, restored databases deleted without a final snapshot, created
// volumes deleted once detached. It returns what it found (dry run) or
// removed. 'drill cleanup --older-than' sweeps with a match on the drill's
// start.
func (r *Recovery) Sweep(ctx context.Context, region string, match DrillMatch, dryRun bool) ([]Leftover, error) {
	rc, err := r.region(region)
	if err != nil {
		return nil, err
	}
	var found []Leftover
	err = r.waitFor(ctx, nil, func() (bool, error) {
		found, err = FindLeftovers(ctx, rc, region, match)
		if c := runbook.Classify(err); c == runbook.ClassThrottled || c == runbook.ClassTransient {
			return false, nil // the api-throttle fault may still be on: again
		}
		return true, err
	})
	if err != nil || dryRun || len(found) == 0 {
		return found, err
	}
	requested := map[string]bool{}
	var lastErr error
	err = r.waitFor(ctx, nil, func() (bool, error) {
		left, err := FindLeftovers(ctx, rc, region, match)
		if err != nil {
			lastErr = err
			return false, nil
		}
		if len(left) == 0 {
			return true, nil
		}
		lastErr = nil
		for _, l := range left {
			if requested[l.Kind+"/"+l.ID] {
				continue
			}
			switch err := deleteLeftover(ctx, rc, l); {
			case err == nil || isNotFound(err):
				requested[l.Kind+"/"+l.ID] = true
			case runbook.Classify(err) == runbook.ClassFatal && !inUse(err):
				return false, err
			default:
				lastErr = err // in use or throttled: again next round
			}
		}
		return false, nil
	})
	if err != nil {
		return found, fmt.Errorf("aws: sweep drills in %s: %w (last: %v)", region, err, lastErr)
	}
	return found, nil
}

// inUse reports whether err says the resource is still used by another
// one being deleted (a target group by its load balancer, a volume by its
// instance).
func inUse(err error) bool {
	switch errorCode(err) {
	case "ResourceInUse", "VolumeInUse", "IncorrectState", "InvalidDBInstanceState", "InvalidDBInstanceStateFault":
		return true
	}
	return false
}

// deleteLeftover asks for the deletion of one leftover. Volumes wait for
// their instance to be terminated (deleted in a later round).
func deleteLeftover(ctx context.Context, rc RegionClients, l Leftover) error {
	var err error
	switch l.Kind {
	case KindInstance:
		_, err = rc.EC2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{l.ID}})
	case KindEBSVolume:
		_, err = rc.EC2.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: sdkaws.String(l.ID)})
	case KindLoadBalancer:
		_, err = rc.ELB.DeleteLoadBalancer(ctx, &elbv2.DeleteLoadBalancerInput{LoadBalancerArn: sdkaws.String(l.ID)})
	case KindTargetGroup:
		_, err = rc.ELB.DeleteTargetGroup(ctx, &elbv2.DeleteTargetGroupInput{TargetGroupArn: sdkaws.String(l.ID)})
	case KindDBRestore:
		_, err = rc.RDS.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: sdkaws.String(l.ID), SkipFinalSnapshot: sdkaws.Bool(true)})
	case KindDBRestoreCl:
		_, err = rc.RDS.DeleteDBCluster(ctx, &rds.DeleteDBClusterInput{DBClusterIdentifier: sdkaws.String(l.ID), SkipFinalSnapshot: sdkaws.Bool(true)})
	default:
		return runbook.Fatal(fmt.Errorf("aws: delete %s %s: unknown kind", l.Kind, l.ID))
	}
	if err != nil {
		return callError("delete "+l.Kind, l.ID, err)
	}
	return nil
}

// drillOf reads the drill tags of a resource.
func drillOf(key, value func(i int) string, n int) (drill string, started time.Time, ok bool) {
	for i := range n {
		switch key(i) {
		case TagDrill:
			drill, ok = value(i), true
		case TagDrillStarted:
			started, _ = time.Parse(time.RFC3339, value(i))
		}
	}
	return drill, started, ok
}

// FindLeftovers lists the resources of region tagged pilotlight:drill that
// match takes: instances (pending to stopped) and volumes by tag filters,
// load balancers and target groups by their tags (DescribeTags), DB
// instances and clusters by their tag lists. Deleting ones are still
// listed, so a caller waits until they are gone.
func FindLeftovers(ctx context.Context, rc RegionClients, region string, match DrillMatch) ([]Leftover, error) {
	var out []Leftover
	add := func(kind, id, drill string, started time.Time) {
		if match(drill, started) {
			out = append(out, Leftover{Kind: kind, ID: id, Region: region, Drill: drill, Started: started})
		}
	}
	ec2Tags := func(ts []ec2types.Tag) (string, time.Time, bool) {
		return drillOf(func(i int) string { return sdkaws.ToString(ts[i].Key) }, func(i int) string { return sdkaws.ToString(ts[i].Value) }, len(ts))
	}
	tagKey := ec2types.Filter{Name: sdkaws.String("tag-key"), Values: []string{TagDrill}}
	in := &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{tagKey,
		{Name: sdkaws.String("instance-state-name"), Values: []string{"pending", "running", "stopping", "stopped"}}}}
	for {
		page, err := rc.EC2.DescribeInstances(ctx, in)
		if err != nil {
			return nil, callError("ec2 describe instances", "tagged "+TagDrill, err)
		}
		for _, res := range page.Reservations {
			for _, i := range res.Instances {
				if d, s, ok := ec2Tags(i.Tags); ok {
					add(KindInstance, sdkaws.ToString(i.InstanceId), d, s)
				}
			}
		}
		if sdkaws.ToString(page.NextToken) == "" {
			break
		}
		in.NextToken = page.NextToken
	}
	vin := &ec2.DescribeVolumesInput{Filters: []ec2types.Filter{tagKey}}
	for {
		page, err := rc.EC2.DescribeVolumes(ctx, vin)
		if err != nil {
			return nil, callError("ec2 describe volumes", "tagged "+TagDrill, err)
		}
		for _, v := range page.Volumes {
			if d, s, ok := ec2Tags(v.Tags); ok && v.State != ec2types.VolumeStateDeleted {
				add(KindEBSVolume, sdkaws.ToString(v.VolumeId), d, s)
			}
		}
		if sdkaws.ToString(page.NextToken) == "" {
			break
		}
		vin.NextToken = page.NextToken
	}
	if err := findELBLeftovers(ctx, rc, add); err != nil {
		return nil, err
	}
	if err := findRDSLeftovers(ctx, rc, add); err != nil {
		return nil, err
	}
	return out, nil
}
