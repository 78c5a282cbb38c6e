package aws

import (
	"context"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/pilotlight/pilotlight/runbook"
)

// protectCaches batch the describes of snapshots and images that many
// jobs poll at once: sixty copies in progress cost one DescribeSnapshots
// call per poll, not sixty.
type protectCaches struct {
	srcEBS, dstEBS         *runbook.Cache[ec2types.Snapshot]
	srcDB, dstDB           *runbook.Cache[rdstypes.DBSnapshot]
	srcCluster, dstCluster *runbook.Cache[rdstypes.DBClusterSnapshot]
	dstImage               *runbook.Cache[ec2types.Image]
}

func newProtectCaches(p *Protector) *protectCaches {
	ttl := p.DescribeTTL
	if ttl <= 0 {
		ttl = p.poll() / 2
	}
	o := runbook.CacheOptions{TTL: ttl, MaxBatch: 100, Clock: p.clock()}
	return &protectCaches{
		srcEBS:     runbook.NewCache(ebsFetch(p.Primary.EC2), o),
		dstEBS:     runbook.NewCache(ebsFetch(p.Recovery.EC2), o),
		srcDB:      runbook.NewCache(dbFetch(p.Primary.RDS), o),
		dstDB:      runbook.NewCache(dbFetch(p.Recovery.RDS), o),
		srcCluster: runbook.NewCache(clusterFetch(p.Primary.RDS), o),
		dstCluster: runbook.NewCache(clusterFetch(p.Recovery.RDS), o),
		dstImage:   runbook.NewCache(imageFetch(p.Recovery.EC2), o),
	}
}

// ebsFetch describes snapshots by ID. EC2 fails the whole call when one ID
// is unknown (as a copy just started can be for a moment): the IDs are
// then described one by one, and the unknown ones left out.
func ebsFetch(api SnapshotEC2API) func(context.Context, []string) (map[string]ec2types.Snapshot, error) {
	var fetch func(ctx context.Context, ids []string) (map[string]ec2types.Snapshot, error)
	fetch = func(ctx context.Context, ids []string) (map[string]ec2types.Snapshot, error) {
		out, err := api.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: ids})
		if isNotFound(err) {
			m := map[string]ec2types.Snapshot{}
			if len(ids) == 1 {
				return m, nil
			}
			for _, id := range ids {
				one, err := fetch(ctx, []string{id})
				if err != nil {
					return nil, err
				}
				for k, v := range one {
					m[k] = v
				}
			}
			return m, nil
		}
		if err != nil {
			return nil, err
		}
		m := make(map[string]ec2types.Snapshot, len(out.Snapshots))
		for _, s := range out.Snapshots {
			m[sdkaws.ToString(s.SnapshotId)] = s
		}
		return m, nil
	}
	return fetch
}

// dbFetch describes DB snapshots by identifier (a db-snapshot-id filter,
// which leaves unknown identifiers out rather than failing).
func dbFetch(api SnapshotRDSAPI) func(context.Context, []string) (map[string]rdstypes.DBSnapshot, error) {
	return func(ctx context.Context, ids []string) (map[string]rdstypes.DBSnapshot, error) {
		m := map[string]rdstypes.DBSnapshot{}
		in := &rds.DescribeDBSnapshotsInput{Filters: []rdstypes.Filter{{Name: sdkaws.String("db-snapshot-id"), Values: ids}}}
		for {
			out, err := api.DescribeDBSnapshots(ctx, in)
			if err != nil {
				return nil, err
			}
			for _, s := range out.DBSnapshots {
				m[sdkaws.ToString(s.DBSnapshotIdentifier)] = s
			}
			if sdkaws.ToString(out.Marker) == "" {
				return m, nil
			}
			in.Marker = out.Marker
		}
	}
}

// clusterFetch is dbFetch for cluster snapshots.
func clusterFetch(api SnapshotRDSAPI) func(context.Context, []string) (map[string]rdstypes.DBClusterSnapshot, error) {
	return func(ctx context.Context, ids []string) (map[string]rdstypes.DBClusterSnapshot, error) {
		m := map[string]rdstypes.DBClusterSnapshot{}
		in := &rds.DescribeDBClusterSnapshotsInput{Filters: []rdstypes.Filter{{Name: sdkaws.String("db-cluster-snapshot-id"), Values: ids}}}
		for {
			out, err := api.DescribeDBClusterSnapshots(ctx, in)
			if err != nil {
				return nil, err
			}
			for _, s := range out.DBClusterSnapshots {
				m[sdkaws.ToString(s.DBClusterSnapshotIdentifier)] = s
			}
			if sdkaws.ToString(out.Marker) == "" {
				return m, nil
			}
			in.Marker = out.Marker
		}
	}
}

// imageFetch describes images by ID, one by one when one is unknown.
func imageFetch(api SnapshotEC2API) func(context.Context, []string) (map[string]ec2types.Image, error) {
	var fetch func(ctx context.Context, ids []string) (map[string]ec2types.Image, error)
	fetch = func(ctx context.Context, ids []string) (map[string]ec2types.Image, error) {
		out, err := api.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: ids})
		if isNotFound(err) || errorCode(err) == "InvalidAMIID.NotFound" {
			m := map[string]ec2types.Image{}
			if len(ids) == 1 {
				return m, nil
			}
			for _, id := range ids {
				one, err := fetch(ctx, []string{id})
				if err != nil {
					return nil, err
				}
				for k, v := range one {
					m[k] = v
				}
			}
			return m, nil
		}
		if err != nil {
			return nil, err
		}
		m := make(map[string]ec2types.Image, len(out.Images))
		for _, img := range out.Images {
			m[sdkaws.ToString(img.ImageId)] = img
		}
		return m, nil
	}
	return fetch
}

// cached returns c's value of id, found reports whether it exists yet, and
// err a failed describe (throttling included: the caller polls again).
func cached[V any](ctx context.Context, c *runbook.Cache[V], id string) (v V, found bool, err error) {
	v, err = c.Get(ctx, id)
	if err != nil && runbook.Classify(err) == runbook.ClassNotFound {
		return v, false, nil
	}
	return v, err == nil, err
}
