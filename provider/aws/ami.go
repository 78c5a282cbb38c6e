package aws

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// launchTemplateImages returns the AMIs of the default versions of the
// plan's launch templates in the primary region, sorted. An image given
// as an SSM parameter ("resolve:ssm:...") is resolved by EC2 at launch and
// is not copied.
func (p *Protector) launchTemplateImages(ctx context.Context) ([]string, error) {
	var names []string
	for _, s := range p.Plan.Services {
		if s.Compute.AWS != nil && !slices.Contains(names, s.Compute.AWS.LaunchTemplate) {
			names = append(names, s.Compute.AWS.LaunchTemplate)
		}
	}
	var images []string
	for _, name := range names {
		var out *ec2.DescribeLaunchTemplateVersionsOutput
		err := p.retry(ctx, p.deadline(), "ec2 describe launch template versions", func() (err error) {
			out, err = p.Primary.EC2.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{
				LaunchTemplateName: sdkaws.String(name), Versions: []string{"$Default"}})
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("aws: protect: ec2 describe launch template %s: %w", name, err)
		}
		for _, v := range out.LaunchTemplateVersions {
			if v.LaunchTemplateData == nil {
				continue
			}
			img := sdkaws.ToString(v.LaunchTemplateData.ImageId)
			if strings.HasPrefix(img, "ami-") && !slices.Contains(images, img) {
				images = append(images, img)
			}
		}
	}
	slices.Sort(images)
	return images, nil
}

// protectImage copies AMI ami to the recovery region with CopyImage
// (client token and name derived from the plan and the AMI, so a retry
// does not copy twice), unless a copy tagged with it is there, and waits
// until the copy is available. AMI copies are not subject to the
// retention policy.
func (p *Protector) protectImage(ctx context.Context, ami string) Result {
	var r Result
	dl := p.deadline()
	r.SourceSnapshot = ami
	var src *ec2types.Image
	err := p.retry(ctx, dl, "ec2 describe images", func() error {
		out, err := p.Primary.EC2.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{ami}})
		if err == nil && len(out.Images) > 0 {
			src = &out.Images[0]
		}
		return err
	})
	if err == nil && src == nil {
		err = fmt.Errorf("not found in %s", p.Plan.Regions.Primary.Name)
	}
	if err != nil {
		return p.fail(r, KindImage, ami, fmt.Errorf("aws: ec2 describe image %s: %w", ami, err))
	}
	r.DataTime, _ = time.Parse(time.RFC3339, sdkaws.ToString(src.CreationDate))
	copyID, err := p.imageCopy(ctx, dl, ami, src, r.DataTime)
	r.Copy = copyID
	if err != nil {
		return p.fail(r, KindImage, ami, err)
	}
	r.State = StateCompleted
	p.log().Info("copy completed", "kind", KindImage, "source", ami, "copy", copyID)
	return p.record(r, KindImage, ami)
}

func (p *Protector) imageCopy(ctx context.Context, dl time.Time, ami string, src *ec2types.Image, data time.Time) (string, error) {
	var existing *ec2types.Image
	failed := 0
	err := p.retry(ctx, dl, "ec2 describe images", func() error {
		out, err := p.Recovery.EC2.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"self"}, Filters: []ec2types.Filter{
			{Name: sdkaws.String("tag:" + TagPlan), Values: []string{p.Plan.Name}},
			{Name: sdkaws.String("tag:" + TagSourceSnapshot), Values: []string{ami}}}})
		if err != nil {
			return err
		}
		existing, failed = nil, 0
		for i := range out.Images {
			img := &out.Images[i]
			if imageFailed(img.State) {
				failed++
			} else if existing == nil || sdkaws.ToString(img.CreationDate) > sdkaws.ToString(existing.CreationDate) {
				existing = img
			}
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("aws: ec2 describe copies of image %s: %w", ami, err)
	}
	if existing != nil && existing.State == ec2types.ImageStateAvailable {
		return sdkaws.ToString(existing.ImageId), nil
	}
	release, err := p.slot(ctx, KindImage)
	if err != nil {
		return "", err
	}
	defer release()
	copyID := ""
	if existing != nil {
		copyID = sdkaws.ToString(existing.ImageId)
	} else {
		// A new token after each failed copy: the same one would return
		// the failed image.
		in := &ec2.CopyImageInput{SourceImageId: sdkaws.String(ami), SourceRegion: sdkaws.String(p.Plan.Regions.Primary.Name),
			Name:        sdkaws.String(imageName(p.Plan.Name, ami, sdkaws.ToString(src.Name))),
			ClientToken: sdkaws.String(token(p.Plan.Name, ami, failed)), CopyImageTags: sdkaws.Bool(true),
			Description: sdkaws.String(fmt.Sprintf("pilotlight %s: copy of %s", p.Plan.Name, ami)),
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeImage, Tags: []ec2types.Tag{
				ec2T(TagPlan, p.Plan.Name), ec2T(TagSourceSnapshot, ami), ec2T(TagDataTime, formatTime(data))}}}}
		if k := p.kmsKey(); k != "" {
			in.Encrypted, in.KmsKeyId = sdkaws.Bool(true), sdkaws.String(k)
		}
		err := p.retry(ctx, dl, "ec2 copy image", func() error {
			out, err := p.Recovery.EC2.CopyImage(ctx, in)
			if err == nil {
				copyID = sdkaws.ToString(out.ImageId)
			}
			return err
		})
		if err != nil {
			return "", fmt.Errorf("aws: ec2 copy image %s: %w", ami, err)
		}
		p.log().Info("copy started", "kind", KindImage, "source", ami, "copy", copyID)
	}
	err = p.waitUntil(ctx, dl, "ec2 image copy "+copyID, func() (bool, error) {
		img, found, err := cached(ctx, p.caches.dstImage, copyID)
		switch {
		case err != nil && retryable(err):
			return false, nil
		case err != nil:
			return false, err
		case !found:
			return false, nil
		}
		switch {
		case img.State == ec2types.ImageStateAvailable:
			return true, nil
		case imageFailed(img.State):
			reason := ""
			if img.StateReason != nil {
				reason = sdkaws.ToString(img.StateReason.Message)
			}
			return false, fmt.Errorf("copy %s is %s: %s", copyID, img.State, reason)
		}
		return false, nil
	})
	if err != nil {
		return copyID, fmt.Errorf("aws: ec2 copy image %s: %w", ami, err)
	}
	return copyID, nil
}

func imageFailed(s ec2types.ImageState) bool {
	return s == ec2types.ImageStateFailed || s == ec2types.ImageStateError || s == ec2types.ImageStateInvalid || s == ec2types.ImageStateDeregistered
}

// imageName is the name of the copy of ami: unique per plan and AMI,
// within EC2's 128 characters.
func imageName(planName, ami, name string) string {
	s := "pilotlight-" + planName + "-" + ami
	if name != "" {
		s += "-" + name
	}
	if len(s) > 128 {
		s = s[:128]
	}
	return s
}
