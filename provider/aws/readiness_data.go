package aws

import (
	"context"
	"fmt"
	"slices"
	"strings"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/pilotlight/pilotlight/readiness"
)

// recoveryPointChecks returns one check per volume and database of the
// plan: its catalog entry is completed, younger than the RPO, and its copy
// still exists in the recovery region. A volume selector covers every
// volume of the catalog that no volume ID names.
func (r *Readiness) recoveryPointChecks() []readiness.Check {
	var out []readiness.Check
	var ids []string
	selector := false
	for _, v := range r.Plan.Data.Volumes {
		if v.ID == "" {
			selector = true
			continue
		}
		ids = append(ids, v.ID)
		out = append(out, r.pointCheck(KindVolume, v.ID))
	}
	if selector {
		found := false
		if r.Catalog != nil {
			for _, e := range r.Catalog.Entries() {
				if e.Kind == KindVolume && !slices.Contains(ids, e.Source) {
					out = append(out, r.pointCheck(KindVolume, e.Source))
					found = true
				}
			}
		}
		if !found {
			out = append(out, readiness.Check{ID: readiness.CheckRecoveryPoint, Subject: "volumes by selector",
				Run: func(context.Context) ([]readiness.Result, error) {
					return []readiness.Result{{Status: readiness.Fail,
						Reason: "the catalog has no volume the selector matched: run pilotlight protect"}}, nil
				}})
		}
	}
	for _, db := range r.Plan.Data.Databases {
		kind := KindDBInstance
		if db.Cluster {
			kind = KindDBCluster
		}
		out = append(out, r.pointCheck(kind, db.ID))
	}
	return out
}

// pointCheck checks the recovery point of one primary resource.
func (r *Readiness) pointCheck(kind, source string) readiness.Check {
	subject := kind + " " + source
	return readiness.Check{ID: readiness.CheckRecoveryPoint, Subject: subject, Run: func(ctx context.Context) ([]readiness.Result, error) {
		fail := func(format string, args ...any) ([]readiness.Result, error) {
			return []readiness.Result{readiness.Failf(readiness.CheckRecoveryPoint, subject, format, args...)}, nil
		}
		if r.Catalog == nil {
			return fail("no catalog of recovery points: run pilotlight protect")
		}
		e, ok := r.Catalog.Get(kind, source)
		switch {
		case !ok:
			return fail("no recovery point in %s: run pilotlight protect", r.recoveryRegion())
		case e.State != StateCompleted || e.Copy == "":
			why := e.State
			if e.Error != "" {
				why += ": " + e.Error
			}
			return fail("no completed copy in %s (%s): run pilotlight protect", r.recoveryRegion(), why)
		}
		age := r.clock().Now().Sub(e.DataTime)
		rpo := r.Plan.Objectives.RPO.D()
		if age > rpo {
			return fail("newest recovery point %s is %s old, RPO %s: run pilotlight protect", e.Copy, readiness.RoundAge(age), rpo)
		}
		state, err := r.copyState(ctx, kind, e.Copy)
		if err != nil {
			return nil, err
		}
		if state != "" {
			return fail("recovery point %s is in the catalog but %s in %s: run pilotlight protect", e.Copy, state, r.recoveryRegion())
		}
		return []readiness.Result{readiness.Passf(readiness.CheckRecoveryPoint, subject, "recovery point %s is %s old, RPO %s", e.Copy, readiness.RoundAge(age), rpo)}, nil
	}}
}

// copyState returns "" when the snapshot copy of kind is usable in the
// recovery region, or what is wrong with it ("not found", "error").
func (r *Readiness) copyState(ctx context.Context, kind, id string) (string, error) {
	var status string
	found := false
	var err error
	switch kind {
	case KindVolume:
		err = r.call(ctx, "ec2 describe snapshot "+id, func() error {
			out, err := r.Clients.Recovery.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{id}})
			if err == nil && len(out.Snapshots) > 0 {
				found, status = true, string(out.Snapshots[0].State)
			}
			return err
		})
		if status == string(ec2types.SnapshotStateCompleted) {
			status = "available"
		}
	case KindDBInstance:
		err = r.call(ctx, "rds describe db snapshot "+id, func() error {
			out, err := r.Clients.RDS.DescribeDBSnapshots(ctx, &rds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: sdkaws.String(id)})
			if err == nil && len(out.DBSnapshots) > 0 {
				found, status = true, sdkaws.ToString(out.DBSnapshots[0].Status)
			}
			return err
		})
	default:
		err = r.call(ctx, "rds describe db cluster snapshot "+id, func() error {
			out, err := r.Clients.RDS.DescribeDBClusterSnapshots(ctx, &rds.DescribeDBClusterSnapshotsInput{DBClusterSnapshotIdentifier: sdkaws.String(id)})
			if err == nil && len(out.DBClusterSnapshots) > 0 {
				found, status = true, sdkaws.ToString(out.DBClusterSnapshots[0].Status)
			}
			return err
		})
	}
	switch {
	case err != nil && (isNotFound(err) || errorCode(err) == "DBClusterSnapshotNotFoundFault"):
		return "not found", nil
	case err != nil:
		return "", err
	case !found:
		return "not found", nil
	case status != "available":
		return status, nil
	}
	return "", nil
}

// imageChecks returns one check per launch template of the plan's
// services: the template exists in the recovery region and the AMI of its
// default version is available there.
func (r *Readiness) imageChecks() []readiness.Check {
	var out []readiness.Check
	var seen []string
	for _, s := range r.Plan.Services {
		if s.Compute.AWS == nil || slices.Contains(seen, s.Compute.AWS.LaunchTemplate) {
			continue
		}
		lt := s.Compute.AWS.LaunchTemplate
		seen = append(seen, lt)
		out = append(out, readiness.Check{ID: readiness.CheckImage, Subject: "launch template " + lt, Run: func(ctx context.Context) ([]readiness.Result, error) {
			return r.templateImage(ctx, lt)
		}})
	}
	return out
}

func (r *Readiness) templateImage(ctx context.Context, lt string) ([]readiness.Result, error) {
	subject := "launch template " + lt
	var ami string
	found := false
	err := r.call(ctx, "ec2 describe launch template versions "+lt, func() error {
		out, err := r.Clients.Recovery.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{
			LaunchTemplateName: sdkaws.String(lt), Versions: []string{"$Default"}})
		if err == nil && len(out.LaunchTemplateVersions) > 0 {
			found = true
			if d := out.LaunchTemplateVersions[0].LaunchTemplateData; d != nil {
				ami = sdkaws.ToString(d.ImageId)
			}
		}
		return err
	})
	if err != nil && !strings.Contains(errorCode(err), "NotFound") {
		return nil, err
	}
	switch {
	case !found:
		return []readiness.Result{readiness.Failf(readiness.CheckImage, subject,
			"not found in %s: create the launch template there (the runbook launches from it by name)", r.recoveryRegion())}, nil
	case ami == "":
		return []readiness.Result{readiness.Failf(readiness.CheckImage, subject, "its default version names no AMI: set one in %s", r.recoveryRegion())}, nil
	case strings.HasPrefix(ami, "resolve:ssm:"):
		return []readiness.Result{readiness.Passf(readiness.CheckImage, subject, "AMI %s is resolved by EC2 at launch", ami)}, nil
	}
	var img *ec2types.Image
	err = r.call(ctx, "ec2 describe image "+ami, func() error {
		out, err := r.Clients.Recovery.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{ami}})
		if err == nil && len(out.Images) > 0 {
			img = &out.Images[0]
		}
		return err
	})
	if err != nil && !strings.Contains(errorCode(err), "NotFound") {
		return nil, err
	}
	switch {
	case img == nil:
		return []readiness.Result{readiness.Failf(readiness.CheckImage, subject,
			"AMI %s not found in %s: run pilotlight protect (it copies launch template images) and point the template at the copy", ami, r.recoveryRegion())}, nil
	case img.State != ec2types.ImageStateAvailable:
		return []readiness.Result{readiness.Failf(readiness.CheckImage, subject, "AMI %s is %s in %s", ami, img.State, r.recoveryRegion())}, nil
	}
	return []readiness.Result{readiness.Passf(readiness.CheckImage, subject, "AMI %s available in %s", ami, r.recoveryRegion())}, nil
}

// containerImageChecks returns one check per container image repository
// of the plan. Repositories in ECR (replicated by ECR replication, or
// copied to an ECR registry of the recovery region) are described there;
// other registries are skipped.
func (r *Readiness) containerImageChecks() []readiness.Check {
	var out []readiness.Check
	for _, img := range r.Plan.Data.Images {
		subject := "repository " + img.Repository
		if img.Recovery != "" && !strings.Contains(img.Recovery, ".dkr.ecr."+r.recoveryRegion()+".") {
			out = append(out, readiness.Skipped(readiness.CheckContainerImage, subject,
				fmt.Sprintf("registry %s is not ECR in %s: check it with pilotlight images sync", img.Recovery, r.recoveryRegion())))
			continue
		}
		out = append(out, readiness.Check{ID: readiness.CheckContainerImage, Subject: subject, Run: func(ctx context.Context) ([]readiness.Result, error) {
			return r.repositoryImages(ctx, subject, img.Repository, img.Tags)
		}})
	}
	return out
}

func (r *Readiness) repositoryImages(ctx context.Context, subject, repo string, tags []string) ([]readiness.Result, error) {
	in := &ecr.DescribeImagesInput{RepositoryName: sdkaws.String(repo), Filter: &ecrtypes.DescribeImagesFilter{TagStatus: ecrtypes.TagStatusTagged}}
	if len(tags) > 0 {
		in.Filter = nil
		for _, t := range tags {
			in.ImageIds = append(in.ImageIds, ecrtypes.ImageIdentifier{ImageTag: sdkaws.String(t)})
		}
	}
	var have []string
	var failures []string
	err := r.call(ctx, "ecr describe images "+repo, func() error {
		out, err := r.Clients.ECR.DescribeImages(ctx, in)
		if err == nil {
			have = have[:0]
			for _, d := range out.ImageDetails {
				have = append(have, d.ImageTags...)
			}
		}
		return err
	})
	switch code := errorCode(err); {
	case code == "RepositoryNotFoundException":
		return []readiness.Result{readiness.Failf(readiness.CheckContainerImage, subject,
			"repository not found in %s: set up ECR replication (pilotlight images) or run pilotlight images sync", r.recoveryRegion())}, nil
	case code == "ImageNotFoundException":
		failures = tags
	case err != nil:
		return nil, err
	}
	for _, t := range tags {
		if !slices.Contains(have, t) && !slices.Contains(failures, t) {
			failures = append(failures, t)
		}
	}
	switch {
	case len(failures) > 0:
		return []readiness.Result{readiness.Failf(readiness.CheckContainerImage, subject, "tags %s missing in %s: run pilotlight images sync",
			strings.Join(failures, ", "), r.recoveryRegion())}, nil
	case len(have) == 0:
		return []readiness.Result{readiness.Failf(readiness.CheckContainerImage, subject, "no tagged image in %s: run pilotlight images sync", r.recoveryRegion())}, nil
	}
	return []readiness.Result{readiness.Passf(readiness.CheckContainerImage, subject, "%d tagged images in %s", len(have), r.recoveryRegion())}, nil
}
