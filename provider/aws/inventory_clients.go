package aws

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/pilotlight/pilotlight/plan"
)

// NewInventory builds the inventory export of p from the standard AWS
// configuration: EC2 and ELBv2 clients of the primary region (within
// AWS's token buckets), Route 53 with the primary's profile, and the
// store of NewInventoryStore with the local copy in dir.
func NewInventory(ctx context.Context, p *plan.Plan, dir string, logger *slog.Logger) (*Inventory, error) {
	rc, err := NewRegionClients(ctx, p.Regions.Primary, NewBuckets(DefaultLimits(), nil))
	if err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	ec2c, ok := rc.EC2.(*ec2.Client)
	elbc, ok2 := rc.ELB.(*elbv2.Client)
	if !ok || !ok2 {
		return nil, fmt.Errorf("inventory: %w: unexpected SDK client types", ErrConfig)
	}
	x := &Inventory{Plan: p, EC2: ec2c, ELB: elbc, Logger: logger}
	if p.Routing != nil && p.Routing.Zone != "" {
		r53, err := NewRoute53(ctx, p.Regions.Primary.Profile)
		if err != nil {
			return nil, fmt.Errorf("inventory: %w", err)
		}
		x.Route53 = r53
	}
	if x.Store, err = NewInventoryStore(ctx, p, dir); err != nil {
		return nil, err
	}
	return x, nil
}

// NewInventoryStore returns the store of p's exports: the local directory
// dir (optional) and, when the plan names an inventory bucket, that bucket
// through an S3 client of the recovery region.
func NewInventoryStore(ctx context.Context, p *plan.Plan, dir string) (*InventoryStore, error) {
	st := &InventoryStore{Plan: p.Name, Dir: dir}
	if in := p.Data.Inventory; in != nil {
		st.Keep = in.Keep
	}
	if b := p.Data.InventoryBucket(); b != "" {
		_, s3c, err := NewProtectClients(ctx, p.Regions.Recovery, NewBuckets(DefaultLimits(), nil))
		if err != nil {
			return nil, fmt.Errorf("inventory: %w", err)
		}
		st.S3, st.Bucket = s3c, b
	}
	return st, nil
}
