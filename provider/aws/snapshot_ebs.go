package aws

import (
	"context"
	"fmt"
	"slices"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// selectVolumes returns the IDs of the primary region's volumes that have
// every tag of selector, sorted.
func (p *Protector) selectVolumes(ctx context.Context, selector map[string]string) ([]string, error) {
	keys := make([]string, 0, len(selector))
	for k := range selector {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	in := &ec2.DescribeVolumesInput{}
	for _, k := range keys {
		in.Filters = append(in.Filters, ec2types.Filter{Name: sdkaws.String("tag:" + k), Values: []string{selector[k]}})
	}
	var ids []string
	for {
		out, err := p.Primary.EC2.DescribeVolumes(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("aws: protect: ec2 describe volumes %v: %w", selector, err)
		}
		for _, v := range out.Volumes {
			ids = append(ids, sdkaws.ToString(v.VolumeId))
		}
		if sdkaws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	slices.Sort(ids)
	return ids, nil
}

// protectVolume copies the newest snapshot of volume id (taking one when
// the newest is older than the RPO) to the recovery region.
func (p *Protector) protectVolume(ctx context.Context, id string) Result {
	var r Result
	dl := p.deadline()
	src, created, err := p.ebsSource(ctx, dl, id)
	if err != nil {
		return p.fail(r, KindVolume, id, err)
	}
	r.SourceSnapshot, r.Created, r.DataTime = sdkaws.ToString(src.SnapshotId), created, sdkaws.ToTime(src.StartTime)
	copyID, err := p.ebsCopy(ctx, dl, id, src)
	r.Copy = copyID
	if err != nil {
		return p.fail(r, KindVolume, id, err)
	}
	r.State = StateCompleted
	p.log().Info("copy completed", "kind", KindVolume, "source", id, "snapshot", r.SourceSnapshot, "copy", copyID)
	r = p.record(r, KindVolume, id)
	deleted, err := p.ebsRetention(ctx, dl, id, copyID)
	r.Deleted = deleted
	if err != nil {
		r.Error = err.Error()
	}
	return r
}

// ebsSource returns the newest completed snapshot of volume id in the
// primary region, or takes one for the current RPO window (tagged with it,
// so that a retry finds it) and waits until it is completed.
func (p *Protector) ebsSource(ctx context.Context, dl time.Time, id string) (ec2types.Snapshot, bool, error) {
	window := formatTime(p.window())
	in := &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}, Filters: []ec2types.Filter{{Name: sdkaws.String("volume-id"), Values: []string{id}}}}
	var newest, ours *ec2types.Snapshot
	for {
		var out *ec2.DescribeSnapshotsOutput
		err := p.retry(ctx, dl, "ec2 describe snapshots", func() (err error) {
			out, err = p.Primary.EC2.DescribeSnapshots(ctx, in)
			return err
		})
		if err != nil {
			return ec2types.Snapshot{}, false, fmt.Errorf("aws: ec2 describe snapshots of %s: %w", id, err)
		}
		for i := range out.Snapshots {
			s := &out.Snapshots[i]
			if s.State == ec2types.SnapshotStateCompleted && (newest == nil || sdkaws.ToTime(s.StartTime).After(sdkaws.ToTime(newest.StartTime))) {
				newest = s
			}
			if ec2Tag(s.Tags, TagWindow) == window && s.State != ec2types.SnapshotStateError {
				ours = s
			}
		}
		if sdkaws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	if newest != nil && !p.stale(sdkaws.ToTime(newest.StartTime)) {
		return *newest, false, nil
	}
	snapID := ""
	if ours != nil {
		snapID = sdkaws.ToString(ours.SnapshotId)
	} else {
		err := p.retry(ctx, dl, "ec2 create snapshot", func() error {
			out, err := p.Primary.EC2.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: sdkaws.String(id),
				Description: sdkaws.String(fmt.Sprintf("pilotlight %s: %s for the RPO window %s", p.Plan.Name, id, window)),
				TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSnapshot, Tags: []ec2types.Tag{
					ec2T(TagPlan, p.Plan.Name), ec2T(TagVolume, id), ec2T(TagWindow, window)}}}})
			if err == nil {
				snapID = sdkaws.ToString(out.SnapshotId)
			}
			return err
		})
		if err != nil {
			return ec2types.Snapshot{}, false, fmt.Errorf("aws: ec2 create snapshot of %s: %w", id, err)
		}
		p.log().Info("snapshot started", "kind", KindVolume, "source", id, "snapshot", snapID)
	}
	var snap ec2types.Snapshot
	err := p.waitUntil(ctx, dl, "ec2 snapshot "+snapID, func() (bool, error) {
		s, found, err := cached(ctx, p.caches.srcEBS, snapID)
		switch {
		case err != nil && retryable(err):
			return false, nil
		case err != nil:
			return false, err
		case !found:
			return false, nil
		}
		snap = s
		switch s.State {
		case ec2types.SnapshotStateCompleted:
			return true, nil
		case ec2types.SnapshotStateError:
			return false, fmt.Errorf("snapshot %s of %s failed: %s", snapID, id, sdkaws.ToString(s.StateMessage))
		}
		return false, nil
	})
	if err != nil {
		return ec2types.Snapshot{}, false, fmt.Errorf("aws: ec2 wait for snapshot of %s: %w", id, err)
	}
	return snap, true, nil
}

// ebsCopy copies src to the recovery region, unless a copy of it is there
// already, and waits until the copy is completed. It holds an EBS copy
// slot while the copy is in progress.
func (p *Protector) ebsCopy(ctx context.Context, dl time.Time, id string, src ec2types.Snapshot) (string, error) {
	srcID := sdkaws.ToString(src.SnapshotId)
	existing, err := p.findEBSCopy(ctx, dl, srcID)
	if err != nil {
		return "", err
	}
	if existing != nil && existing.State == ec2types.SnapshotStateCompleted {
		return sdkaws.ToString(existing.SnapshotId), nil
	}
	release, err := p.slot(ctx, KindVolume)
	if err != nil {
		return "", err
	}
	defer release()
	copyID := ""
	if existing != nil && existing.State != ec2types.SnapshotStateError {
		copyID = sdkaws.ToString(existing.SnapshotId) // started by an earlier run
	} else {
		in := &ec2.CopySnapshotInput{SourceRegion: sdkaws.String(p.Plan.Regions.Primary.Name), SourceSnapshotId: sdkaws.String(srcID),
			Description: sdkaws.String(fmt.Sprintf("pilotlight %s: copy of %s (%s)", p.Plan.Name, srcID, id)),
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSnapshot, Tags: []ec2types.Tag{
				ec2T(TagPlan, p.Plan.Name), ec2T(TagVolume, id), ec2T(TagSourceSnapshot, srcID),
				ec2T(TagDataTime, formatTime(sdkaws.ToTime(src.StartTime)))}}}}
		if k := p.kmsKey(); k != "" {
			in.Encrypted, in.KmsKeyId = sdkaws.Bool(true), sdkaws.String(k)
		}
		err := p.retry(ctx, dl, "ec2 copy snapshot", func() error {
			out, err := p.Recovery.EC2.CopySnapshot(ctx, in)
			if err == nil {
				copyID = sdkaws.ToString(out.SnapshotId)
			}
			return err
		})
		if err != nil {
			return "", fmt.Errorf("aws: ec2 copy snapshot %s of %s: %w", srcID, id, err)
		}
		p.log().Info("copy started", "kind", KindVolume, "source", id, "snapshot", srcID, "copy", copyID)
	}
	err = p.waitUntil(ctx, dl, "ec2 snapshot copy "+copyID, func() (bool, error) {
		s, found, err := cached(ctx, p.caches.dstEBS, copyID)
		switch {
		case err != nil && retryable(err):
			return false, nil
		case err != nil:
			return false, err
		case !found:
			return false, nil
		}
		switch s.State {
		case ec2types.SnapshotStateCompleted:
			return true, nil
		case ec2types.SnapshotStateError:
			return false, fmt.Errorf("copy %s failed: %s", copyID, sdkaws.ToString(s.StateMessage))
		}
		return false, nil
	})
	if err != nil {
		return copyID, fmt.Errorf("aws: ec2 copy snapshot %s of %s: %w", srcID, id, err)
	}
	return copyID, nil
}

// findEBSCopy returns the newest copy of source snapshot srcID in the
// recovery region, or nil.
func (p *Protector) findEBSCopy(ctx context.Context, dl time.Time, srcID string) (*ec2types.Snapshot, error) {
	snaps, err := p.ebsCopies(ctx, dl, ec2types.Filter{Name: sdkaws.String("tag:" + TagSourceSnapshot), Values: []string{srcID}})
	if err != nil {
		return nil, err
	}
	var best *ec2types.Snapshot
	for i := range snaps {
		s := &snaps[i]
		if best == nil {
			best = s
			continue
		}
		sBad, bestBad := s.State == ec2types.SnapshotStateError, best.State == ec2types.SnapshotStateError
		if sBad != bestBad && !sBad || sBad == bestBad && sdkaws.ToTime(s.StartTime).After(sdkaws.ToTime(best.StartTime)) {
			best = s
		}
	}
	return best, nil
}

// ebsCopies lists the plan's snapshots in the recovery region matching
// filter.
func (p *Protector) ebsCopies(ctx context.Context, dl time.Time, filter ec2types.Filter) ([]ec2types.Snapshot, error) {
	in := &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}, Filters: []ec2types.Filter{
		{Name: sdkaws.String("tag:" + TagPlan), Values: []string{p.Plan.Name}}, filter}}
	var snaps []ec2types.Snapshot
	for {
		var out *ec2.DescribeSnapshotsOutput
		err := p.retry(ctx, dl, "ec2 describe snapshots", func() (err error) {
			out, err = p.Recovery.EC2.DescribeSnapshots(ctx, in)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("aws: ec2 describe snapshot copies in %s: %w", p.Plan.Regions.Recovery.Name, err)
		}
		snaps = append(snaps, out.Snapshots...)
		if sdkaws.ToString(out.NextToken) == "" {
			return snaps, nil
		}
		in.NextToken = out.NextToken
	}
}

// ebsRetention deletes the copies of volume id that the retention policy
// no longer keeps; current is never deleted.
func (p *Protector) ebsRetention(ctx context.Context, dl time.Time, id, current string) ([]string, error) {
	snaps, err := p.ebsCopies(ctx, dl, ec2types.Filter{Name: sdkaws.String("tag:" + TagVolume), Values: []string{id}})
	if err != nil {
		return nil, err
	}
	points := make([]point, 0, len(snaps))
	for _, s := range snaps {
		pt := point{id: sdkaws.ToString(s.SnapshotId), state: pointPending, data: parseTime(ec2Tag(s.Tags, TagDataTime))}
		if pt.data.IsZero() {
			pt.data = sdkaws.ToTime(s.StartTime)
		}
		switch s.State {
		case ec2types.SnapshotStateCompleted:
			pt.state = pointGood
		case ec2types.SnapshotStateError:
			pt.state = pointBad
		}
		points = append(points, pt)
	}
	var deleted []string
	for _, del := range p.expired(points, current) {
		err := p.retry(ctx, dl, "ec2 delete snapshot", func() error {
			_, err := p.Recovery.EC2.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: sdkaws.String(del)})
			return err
		})
		switch {
		case errorCode(err) == "InvalidSnapshot.InUse" || isNotFound(err):
			continue // a volume is being made from it, or it is gone already
		case err != nil:
			return deleted, fmt.Errorf("aws: ec2 delete snapshot %s of %s: %w", del, id, err)
		}
		deleted = append(deleted, del)
	}
	if len(deleted) > 0 {
		p.log().Info("retention deleted copies", "kind", KindVolume, "source", id, "deleted", deleted)
	}
	return deleted, nil
}

func ec2T(k, v string) ec2types.Tag {
	return ec2types.Tag{Key: sdkaws.String(k), Value: sdkaws.String(v)}
}

func ec2Tag(tags []ec2types.Tag, key string) string {
	for _, t := range tags {
		if sdkaws.ToString(t.Key) == key {
			return sdkaws.ToString(t.Value)
		}
	}
	return ""
}
