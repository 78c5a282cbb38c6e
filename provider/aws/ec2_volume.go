package aws

import (
	"context"
	"fmt"
	"slices"
	"strings"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/runbook"
)

// VolumeTarget says where a restored volume goes. The plan does not say
// yet (see the report of issue 7): the caller maps plan volume IDs to
// targets.
type VolumeTarget struct {
	// Service whose first running instance (by ID) the volume is attached
	// to, in that instance's zone. Optional.
	Service string
	// Device name of the attachment, such as /dev/xvdf (required with
	// Service).
	Device string
	// Zone of a volume that is not attached (required without Service).
	Zone string
}

// VolumeSteps returns one step per volume of the plan: create a volume in
// the recovery region from the newest completed snapshot tagged
// pilotlight:volume=<volume ID> (cross-region copies lose their source
// volume ID, so protection tags them), wait until it is available, and
// attach it as targets says. CreateVolume's ClientToken derives from the
// step key, so a retried or resumed step gets the same volume. Steps run
// in tier, after deps, with API LimitEC2Mutate.
func (r *Recovery) VolumeSteps(tier int, deps []string, targets map[string]VolumeTarget) ([]runbook.Step, error) {
	var steps []runbook.Step
	for _, v := range r.Plan.Data.Volumes {
		if v.ID == "" {
			continue // chosen by selector: no target can name it
		}
		t := targets[v.ID]
		switch {
		case t.Service != "" && t.Device == "":
			return nil, fmt.Errorf("aws: volume %s: %w: a device is required to attach it to %s", v.ID, ErrConfig, t.Service)
		case t.Service == "" && t.Zone == "":
			return nil, fmt.Errorf("aws: volume %s: %w: a zone or a service to attach it to is required", v.ID, ErrConfig)
		}
		steps = append(steps, runbook.Step{
			ID: "restore-volume-" + v.ID, Tier: tier, DependsOn: deps, Mutating: true, API: LimitEC2Mutate,
			Describe: fmt.Sprintf("create volume %s in %s from its newest snapshot copy and attach it", v.ID, r.Plan.Regions.Recovery.Name),
			Run: func(ctx context.Context, sc *runbook.StepContext) (runbook.Output, error) {
				return r.restoreVolume(ctx, sc, v, t)
			},
		})
	}
	return steps, nil
}

func (r *Recovery) restoreVolume(ctx context.Context, sc *runbook.StepContext, v plan.Volume, t VolumeTarget) (runbook.Output, error) {
	region := r.Plan.Regions.Recovery.Name
	rc, err := r.region(region)
	if err != nil {
		return nil, err
	}
	zone, instanceID := t.Zone, ""
	if t.Service != "" {
		insts, err := r.instances(ctx, region, rc, t.Service, true)
		if err != nil {
			return nil, err
		}
		slices.SortFunc(insts, func(a, b instance) int { return strings.Compare(a.ID, b.ID) })
		for _, in := range insts {
			if in.State == "running" {
				zone, instanceID = in.Zone, in.ID
				break
			}
		}
		if instanceID == "" {
			return nil, runbook.Transient(fmt.Errorf("aws: restore volume %s: no running instance of %s in %s yet", v.ID, t.Service, region))
		}
	}
	snap, ok := r.catalogSource(KindVolume, v.ID)
	if !ok {
		if snap, err = newestSnapshot(ctx, rc.EC2, v.ID); err != nil {
			return nil, err
		}
	}
	tags := []ec2types.Tag{{Key: sdkaws.String(TagPlan), Value: sdkaws.String(r.Plan.Name)},
		{Key: sdkaws.String(TagVolume), Value: sdkaws.String(v.ID)}, {Key: sdkaws.String(TagStepKey), Value: sdkaws.String(sc.Key())},
		{Key: sdkaws.String(TagRun), Value: sdkaws.String(sc.RunID())}}
	tags = append(tags, r.drillEC2Tags()...)
	keys := make([]string, 0, len(v.Tags))
	for k := range v.Tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		tags = append(tags, ec2types.Tag{Key: sdkaws.String(k), Value: sdkaws.String(v.Tags[k])})
	}
	out, err := rc.EC2.CreateVolume(ctx, &ec2.CreateVolumeInput{
		AvailabilityZone: sdkaws.String(zone), SnapshotId: sdkaws.String(snap), ClientToken: sdkaws.String(token(sc.Key(), zone, snap)),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeVolume, Tags: tags}},
	})
	if err != nil {
		return nil, capacityError(callError("ec2 create volume", v.ID, err), "volume", zone)
	}
	vol := sdkaws.ToString(out.VolumeId)
	var attached bool
	err = r.waitFor(ctx, sc.Clock(), func() (bool, error) {
		st, att, err := volumeState(ctx, rc.EC2, vol)
		if isNotFound(err) {
			return false, nil // just created, not visible yet
		}
		if err != nil {
			return false, callError("ec2 describe volumes", vol, err)
		}
		attached = instanceID != "" && att == instanceID
		switch st {
		case "available", "in-use":
			return true, nil
		case "error":
			return false, runbook.Fatal(fmt.Errorf("aws: ec2 create volume %s: volume %s is in state error", v.ID, vol))
		}
		return false, nil
	})
	if err != nil {
		return nil, fmt.Errorf("aws: ec2 wait for volume %s: %w", vol, err)
	}
	o := runbook.Output{"volumeId": vol, "snapshot": snap, "zone": zone}
	if instanceID == "" {
		return o, nil
	}
	o["instance"] = instanceID
	if !attached {
		_, err := rc.EC2.AttachVolume(ctx, &ec2.AttachVolumeInput{Device: sdkaws.String(t.Device), InstanceId: sdkaws.String(instanceID), VolumeId: sdkaws.String(vol)})
		if err != nil {
			return nil, callError("ec2 attach volume", vol, classifyAfterCreate(err))
		}
	}
	return o, nil
}

// newestSnapshot returns the newest completed snapshot of the account
// tagged for plan volume id.
func newestSnapshot(ctx context.Context, api EC2API, id string) (string, error) {
	in := &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}, Filters: []ec2types.Filter{
		{Name: sdkaws.String("tag:" + TagVolume), Values: []string{id}},
		{Name: sdkaws.String("status"), Values: []string{"completed"}},
	}}
	var newest *ec2types.Snapshot
	for {
		out, err := api.DescribeSnapshots(ctx, in)
		if err != nil {
			return "", callError("ec2 describe snapshots", id, err)
		}
		for i := range out.Snapshots {
			s := &out.Snapshots[i]
			if newest == nil || sdkaws.ToTime(s.StartTime).After(sdkaws.ToTime(newest.StartTime)) {
				newest = s
			}
		}
		if sdkaws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	if newest == nil {
		return "", runbook.NotFound(fmt.Errorf("aws: restore volume %s: no completed snapshot tagged %s=%s", id, TagVolume, id))
	}
	return sdkaws.ToString(newest.SnapshotId), nil
}

// volumeState returns the state of volume id and the instance it is
// attached to, if any.
func volumeState(ctx context.Context, api EC2API, id string) (state, instanceID string, err error) {
	out, err := api.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{id}})
	if err != nil {
		return "", "", err
	}
	if len(out.Volumes) == 0 {
		return "", "", nil
	}
	v := out.Volumes[0]
	for _, a := range v.Attachments {
		if a.State == ec2types.VolumeAttachmentStateAttached || a.State == ec2types.VolumeAttachmentStateAttaching {
			instanceID = sdkaws.ToString(a.InstanceId)
		}
	}
	return string(v.State), instanceID, nil
}
