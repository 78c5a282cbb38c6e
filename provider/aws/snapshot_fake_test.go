package aws

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/smithy-go/middleware"
)

const (
	primaryRegion  = "ap-northeast-2"
	recoveryRegion = "us-east-1"
)

// fSnap is an EBS snapshot, DB snapshot or AMI of the fake, in one region.
type fSnap struct {
	id, source, state string // source: volume ID, DB identifier or source AMI
	cluster           bool   // a DB cluster snapshot
	start             time.Time
	tags              map[string]string
	pending           int  // describes by ID before it leaves "pending"
	fail              bool // ends in its failed state rather than completed
	copy              bool // a copy in progress counts against the limit
	from              string
}

// snapCloud answers the EC2 and RDS calls of snapshot and image protection
// in two regions, in place of AWS: like fakeCloud, its middleware sits
// last in the initialize step, records each typed request, and answers
// from memory. Copies count against AWS's concurrent copy limits, which it
// enforces with ResourceLimitExceeded, and it records the most copies
// that were ever in flight at once.
type snapCloud struct {
	t       *testing.T
	callLog // the mutex of the whole fake, its calls and the failures to inject

	copyPolls  int             // describes a new copy stays pending
	failCopies map[string]bool // source snapshot IDs whose copies fail
	limit      int             // copies in flight per kind in the recovery region

	next      int
	snaps     map[string]map[string]*fSnap // region → ID → snapshot
	volumes   map[string]map[string]string // volume ID → tags (primary)
	templates map[string]string            // launch template → AMI (primary)
	tokens    map[string]string            // CopyImage client token → image

	inflight    map[string]int // kind → copies in flight in the recovery region
	maxInflight map[string]int
	perSource   map[string]int // RDS source → copies in flight
	maxSource   int
}

func newSnapCloud(t *testing.T) *snapCloud {
	return &snapCloud{t: t, failCopies: map[string]bool{}, limit: 20,
		snaps:   map[string]map[string]*fSnap{primaryRegion: {}, recoveryRegion: {}},
		volumes: map[string]map[string]string{}, templates: map[string]string{}, tokens: map[string]string{},
		inflight: map[string]int{}, maxInflight: map[string]int{}, perSource: map[string]int{}}
}

// clients returns the protection clients of region.
func (f *snapCloud) clients(region string) ProtectClients {
	opts := []func(*middleware.Stack) error{f.stack}
	return ProtectClients{
		EC2: ec2.New(ec2.Options{Region: region, Credentials: testCreds, HTTPClient: awshttp.NewBuildableClient(),
			Retryer: sdkaws.NopRetryer{}, APIOptions: opts}),
		RDS: rds.New(rds.Options{Region: region, Credentials: testCreds, HTTPClient: awshttp.NewBuildableClient(),
			Retryer: sdkaws.NopRetryer{}, APIOptions: opts}),
	}
}

func (f *snapCloud) stack(st *middleware.Stack) error {
	if _, ok := st.Finalize.Get("PresignHTTPRequest"); ok {
		// The SDK presigns the source-region URL of a cross-region copy
		// locally (no request is sent): let it.
		return nil
	}
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("snapCloud",
		func(ctx context.Context, in middleware.InitializeInput, _ middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			out, err := f.handle(awsmiddleware.GetRegion(ctx), awsmiddleware.GetOperationName(ctx), in.Parameters)
			return middleware.InitializeOutput{Result: out}, middleware.Metadata{}, err
		}), middleware.After)
}

// inputs returns the recorded inputs of op.
func inputs[T any](f *snapCloud, op string) []T { return loggedInputs[T](&f.callLog, op) }

// add puts a snapshot (or image) in region directly.
func (f *snapCloud) add(region string, s *fSnap) *fSnap {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s.tags == nil {
		s.tags = map[string]string{}
	}
	f.snaps[region][s.id] = s
	return s
}

func (f *snapCloud) get(region, id string) *fSnap {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.snaps[region][id]
}

func (f *snapCloud) newID(prefix string) string {
	f.next++
	return fmt.Sprintf("%s-%04d", prefix, f.next)
}

// kindOf is the copy limit a snapshot counts against.
func kindOf(id string) string {
	switch {
	case strings.HasPrefix(id, "snap-"):
		return "ebs"
	case strings.HasPrefix(id, "ami-"):
		return "ami"
	}
	return "rds"
}

// startCopy adds a copy in flight, or refuses it over the limit.
func (f *snapCloud) startCopy(s *fSnap) error {
	k := kindOf(s.id)
	if f.inflight[k] >= f.limit {
		return apiErr("ResourceLimitExceeded")
	}
	f.inflight[k]++
	f.maxInflight[k] = max(f.maxInflight[k], f.inflight[k])
	if k == "rds" {
		f.perSource[s.source]++
		f.maxSource = max(f.maxSource, f.perSource[s.source])
	}
	s.copy, s.pending, s.fail = true, f.copyPolls, f.failCopies[s.from]
	s.state = "pending"
	f.snaps[recoveryRegion][s.id] = s
	return nil
}

// poll is one describe of s by ID: a pending snapshot moves on.
func (f *snapCloud) poll(s *fSnap) {
	if s.state != "pending" {
		return
	}
	if s.pending > 0 {
		s.pending--
		return
	}
	s.state = "completed"
	if s.fail {
		s.state = "error"
	}
	if s.copy {
		k := kindOf(s.id)
		f.inflight[k]--
		if k == "rds" {
			f.perSource[s.source]--
		}
	}
}

func hasTags(filters []ec2types.Filter, s *fSnap) bool {
	for _, fl := range filters {
		name := sdkaws.ToString(fl.Name)
		var v string
		switch {
		case strings.HasPrefix(name, "tag:"):
			v = s.tags[name[4:]]
		case name == "volume-id":
			v = s.source
		default:
			continue
		}
		if !slices.Contains(fl.Values, v) {
			return false
		}
	}
	return true
}

func (f *snapCloud) sorted(region string) []*fSnap {
	var out []*fSnap
	for _, s := range f.snaps[region] {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *fSnap) int { return strings.Compare(a.id, b.id) })
	return out
}

func (f *snapCloud) handle(region, op string, params any) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(op, op, params); err != nil {
		return nil, err
	}
	snaps := f.snaps[region]
	switch in := params.(type) {
	case *ec2.DescribeVolumesInput:
		out := &ec2.DescribeVolumesOutput{}
		ids := make([]string, 0, len(f.volumes))
		for id := range f.volumes {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			if hasTags(in.Filters, &fSnap{tags: f.volumes[id]}) {
				out.Volumes = append(out.Volumes, ec2types.Volume{VolumeId: sdkaws.String(id)})
			}
		}
		return out, nil
	case *ec2.DescribeSnapshotsInput:
		out := &ec2.DescribeSnapshotsOutput{}
		if len(in.SnapshotIds) > 0 {
			for _, id := range in.SnapshotIds {
				s := snaps[id]
				if s == nil {
					return nil, apiErr("InvalidSnapshot.NotFound")
				}
				f.poll(s)
				out.Snapshots = append(out.Snapshots, ebsOut(s))
			}
			return out, nil
		}
		for _, s := range f.sorted(region) {
			if kindOf(s.id) == "ebs" && hasTags(in.Filters, s) {
				out.Snapshots = append(out.Snapshots, ebsOut(s))
			}
		}
		return out, nil
	case *ec2.CreateSnapshotInput:
		s := &fSnap{id: f.newID("snap"), source: *in.VolumeId, state: "pending", start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
			tags: tagMap(in.TagSpecifications), pending: 1}
		snaps[s.id] = s
		return &ec2.CreateSnapshotOutput{SnapshotId: sdkaws.String(s.id)}, nil
	case *ec2.CopySnapshotInput:
		src := f.snaps[*in.SourceRegion][*in.SourceSnapshotId]
		if src == nil {
			return nil, apiErr("InvalidSnapshot.NotFound")
		}
		s := &fSnap{id: f.newID("snap"), source: src.source, from: src.id, start: src.start, tags: tagMap(in.TagSpecifications)}
		if err := f.startCopy(s); err != nil {
			return nil, err
		}
		return &ec2.CopySnapshotOutput{SnapshotId: sdkaws.String(s.id)}, nil
	case *ec2.DeleteSnapshotInput:
		if snaps[*in.SnapshotId] == nil {
			return nil, apiErr("InvalidSnapshot.NotFound")
		}
		delete(snaps, *in.SnapshotId)
		return &ec2.DeleteSnapshotOutput{}, nil
	case *ec2.DescribeLaunchTemplateVersionsInput:
		ami, ok := f.templates[*in.LaunchTemplateName]
		if !ok {
			return nil, apiErr("InvalidLaunchTemplateName.NotFoundException")
		}
		return &ec2.DescribeLaunchTemplateVersionsOutput{LaunchTemplateVersions: []ec2types.LaunchTemplateVersion{
			{LaunchTemplateData: &ec2types.ResponseLaunchTemplateData{ImageId: sdkaws.String(ami)}}}}, nil
	case *ec2.DescribeImagesInput:
		out := &ec2.DescribeImagesOutput{}
		if len(in.ImageIds) > 0 {
			for _, id := range in.ImageIds {
				s := snaps[id]
				if s == nil {
					return nil, apiErr("InvalidAMIID.NotFound")
				}
				f.poll(s)
				out.Images = append(out.Images, imageOut(s))
			}
			return out, nil
		}
		for _, s := range f.sorted(region) {
			if kindOf(s.id) == "ami" && hasTags(in.Filters, s) {
				out.Images = append(out.Images, imageOut(s))
			}
		}
		return out, nil
	case *ec2.CopyImageInput:
		if id, ok := f.tokens[*in.ClientToken]; ok {
			return &ec2.CopyImageOutput{ImageId: sdkaws.String(id)}, nil
		}
		src := f.snaps[*in.SourceRegion][*in.SourceImageId]
		if src == nil {
			return nil, apiErr("InvalidAMIID.NotFound")
		}
		s := &fSnap{id: f.newID("ami"), source: src.id, from: src.id, start: src.start, tags: tagMap(in.TagSpecifications)}
		if err := f.startCopy(s); err != nil {
			return nil, err
		}
		f.tokens[*in.ClientToken] = s.id
		return &ec2.CopyImageOutput{ImageId: sdkaws.String(s.id)}, nil

	case *rds.DescribeDBSnapshotsInput:
		return &rds.DescribeDBSnapshotsOutput{DBSnapshots: convert(f.describeDB(region, false, in.DBInstanceIdentifier, in.SnapshotType, in.Filters), func(s *fSnap) rdstypes.DBSnapshot {
			return rdstypes.DBSnapshot{DBSnapshotIdentifier: sdkaws.String(s.id), DBInstanceIdentifier: sdkaws.String(s.source),
				DBSnapshotArn: sdkaws.String(rdsARN(region, s.id)), Status: sdkaws.String(rdsStatus(s.state)),
				SnapshotCreateTime: sdkaws.Time(s.start), TagList: rdsTags(s.tags), SnapshotType: sdkaws.String(snapType(s))}
		})}, nil
	case *rds.DescribeDBClusterSnapshotsInput:
		return &rds.DescribeDBClusterSnapshotsOutput{DBClusterSnapshots: convert(f.describeDB(region, true, in.DBClusterIdentifier, in.SnapshotType, in.Filters), func(s *fSnap) rdstypes.DBClusterSnapshot {
			return rdstypes.DBClusterSnapshot{DBClusterSnapshotIdentifier: sdkaws.String(s.id), DBClusterIdentifier: sdkaws.String(s.source),
				DBClusterSnapshotArn: sdkaws.String(rdsARN(region, s.id)), Status: sdkaws.String(rdsStatus(s.state)),
				SnapshotCreateTime: sdkaws.Time(s.start), TagList: rdsTags(s.tags), SnapshotType: sdkaws.String(snapType(s))}
		})}, nil
	case *rds.CreateDBSnapshotInput:
		return &rds.CreateDBSnapshotOutput{}, f.createDB(snaps, *in.DBSnapshotIdentifier, *in.DBInstanceIdentifier, false, in.Tags, "DBSnapshotAlreadyExists")
	case *rds.CreateDBClusterSnapshotInput:
		return &rds.CreateDBClusterSnapshotOutput{}, f.createDB(snaps, *in.DBClusterSnapshotIdentifier, *in.DBClusterIdentifier, true, in.Tags, "DBClusterSnapshotAlreadyExistsFault")
	case *rds.CopyDBSnapshotInput:
		return &rds.CopyDBSnapshotOutput{}, f.copyDB(*in.SourceDBSnapshotIdentifier, *in.TargetDBSnapshotIdentifier, sdkaws.ToString(in.SourceRegion), in.Tags, "DBSnapshotAlreadyExists")
	case *rds.CopyDBClusterSnapshotInput:
		return &rds.CopyDBClusterSnapshotOutput{}, f.copyDB(*in.SourceDBClusterSnapshotIdentifier, *in.TargetDBClusterSnapshotIdentifier, sdkaws.ToString(in.SourceRegion), in.Tags, "DBClusterSnapshotAlreadyExistsFault")
	case *rds.DeleteDBSnapshotInput:
		return &rds.DeleteDBSnapshotOutput{}, f.deleteDB(snaps, *in.DBSnapshotIdentifier)
	case *rds.DeleteDBClusterSnapshotInput:
		return &rds.DeleteDBClusterSnapshotOutput{}, f.deleteDB(snaps, *in.DBClusterSnapshotIdentifier)
	}
	f.t.Errorf("snap cloud: unexpected call %s %T", op, params)
	return nil, apiErr("NotImplemented")
}

func describeDBFilter(filters []rdstypes.Filter) []string {
	for _, fl := range filters {
		if n := sdkaws.ToString(fl.Name); n == "db-snapshot-id" || n == "db-cluster-snapshot-id" {
			return fl.Values
		}
	}
	return nil
}

// describeDB returns the DB (or cluster) snapshots of region by filter
// (polling them) or by database and type.
func (f *snapCloud) describeDB(region string, cluster bool, db, typ *string, filters []rdstypes.Filter) []*fSnap {
	ids := describeDBFilter(filters)
	var match []*fSnap
	for _, s := range f.sorted(region) {
		if kindOf(s.id) != "rds" || s.cluster != cluster {
			continue
		}
		if ids != nil {
			if !slices.Contains(ids, s.id) {
				continue
			}
			f.poll(s)
		} else if s.source != sdkaws.ToString(db) || typ != nil && *typ != snapType(s) {
			continue
		}
		match = append(match, s)
	}
	return match
}

func convert[T any](ss []*fSnap, fn func(*fSnap) T) []T {
	out := make([]T, 0, len(ss))
	for _, s := range ss {
		out = append(out, fn(s))
	}
	return out
}

func (f *snapCloud) createDB(snaps map[string]*fSnap, id, db string, cluster bool, tags []rdstypes.Tag, exists string) error {
	if snaps[id] != nil {
		return apiErr(exists)
	}
	snaps[id] = &fSnap{id: id, source: db, cluster: cluster, state: "pending", start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		tags: rdsTagMap(tags), pending: 1}
	return nil
}

func (f *snapCloud) copyDB(srcARN, target, srcRegion string, tags []rdstypes.Tag, exists string) error {
	id, ok := strings.CutPrefix(srcARN, rdsARN(srcRegion, ""))
	if !ok {
		return apiErr("InvalidParameterValue")
	}
	src := f.snaps[srcRegion][id]
	if src == nil {
		return apiErr("DBSnapshotNotFound")
	}
	if f.snaps[recoveryRegion][target] != nil {
		return apiErr(exists)
	}
	s := &fSnap{id: target, source: src.source, cluster: src.cluster, from: src.id, start: src.start, tags: rdsTagMap(tags)}
	return f.startCopy(s)
}

func (f *snapCloud) deleteDB(snaps map[string]*fSnap, id string) error {
	if snaps[id] == nil {
		return apiErr("DBSnapshotNotFound")
	}
	delete(snaps, id)
	return nil
}

func ebsOut(s *fSnap) ec2types.Snapshot {
	return ec2types.Snapshot{SnapshotId: sdkaws.String(s.id), VolumeId: sdkaws.String(s.source), State: ec2types.SnapshotState(s.state),
		StartTime: sdkaws.Time(s.start), Tags: toEC2Tags(s.tags)}
}

func imageOut(s *fSnap) ec2types.Image {
	st := s.state
	switch st {
	case "completed":
		st = "available"
	case "error":
		st = "failed"
	}
	return ec2types.Image{ImageId: sdkaws.String(s.id), State: ec2types.ImageState(st), Name: sdkaws.String("web-" + s.id),
		CreationDate: sdkaws.String(s.start.Format(time.RFC3339)), Tags: toEC2Tags(s.tags)}
}

func rdsStatus(state string) string {
	switch state {
	case "completed":
		return "available"
	case "error":
		return "failed"
	}
	return "creating"
}

func snapType(s *fSnap) string {
	if strings.HasPrefix(s.id, "rds:") {
		return "automated"
	}
	return "manual"
}

func rdsARN(region, id string) string {
	return "arn:aws:rds:" + region + ":123456789012:snapshot:" + id
}

func rdsTags(m map[string]string) []rdstypes.Tag {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var out []rdstypes.Tag
	for _, k := range keys {
		out = append(out, rdsT(k, m[k]))
	}
	return out
}

func tagMap(specs []ec2types.TagSpecification) map[string]string {
	m := map[string]string{}
	for _, s := range specs {
		for _, t := range s.Tags {
			m[*t.Key] = *t.Value
		}
	}
	return m
}
