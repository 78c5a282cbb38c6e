package plan

import (
	"time"

	"fmt"
	"strings"
)

// Network is the primary region's network that the recovery region keeps
// pre-built (AWS regions only): `pilotlight network sync` mirrors these
// VPCs, with their subnets (same CIDRs), route tables, gateways and
// security groups, into the recovery region, and `pilotlight readiness`
// checks that the mirror exists.
type Network struct {
	// VPCs are the IDs of the primary region's VPCs to mirror (vpc-...). At
	// least one.
	VPCs []string `yaml:"vpcs" json:"vpcs" jsonschema:"required,minItems=1"`
	// Zones maps each primary availability zone name to a recovery zone
	// name (default: the primary zones in name order onto the recovery
	// region's available zones in name order).
	Zones map[string]string `yaml:"zones,omitempty" json:"zones,omitempty"`
	// NATGateways creates a NAT gateway in the recovery region for every
	// one in the primary (default false: a NAT gateway costs money every
	// hour; pilot light usually creates it during the failover).
	NATGateways bool `yaml:"natGateways,omitempty" json:"natGateways,omitempty"`
}

// Inventory says where `pilotlight protect` keeps the primary region's
// metadata that a recovery needs (instances, load balancers, DNS records,
// network), so that a recovery never calls the failed region.
type Inventory struct {
	// Bucket is the S3 bucket in the recovery region that receives the
	// versioned inventory exports (default: data.snapshots.catalogBucket).
	Bucket string `yaml:"bucket,omitempty" json:"bucket,omitempty" jsonschema:"minLength=3,maxLength=63,pattern=^[a-z0-9][a-z0-9.-]+[a-z0-9]$"`
	// Interval between exports when protect runs continuously (default
	// 1h).
	Interval Duration `yaml:"interval,omitempty" json:"interval,omitempty"`
	// Keep is how many exports stay in the bucket; older ones are deleted
	// (default 24, at least 1).
	Keep int `yaml:"keep,omitempty" json:"keep,omitempty" jsonschema:"minimum=1"`
}

// Inventory defaults: exports kept, and the interval between them.
const (
	DefaultInventoryKeep     = 24
	DefaultInventoryInterval = time.Hour
)

func (in *Inventory) setDefaults() {
	if in.Keep == 0 {
		in.Keep = DefaultInventoryKeep
	}
	if in.Interval == 0 {
		in.Interval = Duration(DefaultInventoryInterval)
	}
}

// networkBlock checks the network block.
func (v *validator) networkBlock(p *Plan) {
	n := p.Network
	if n == nil {
		return
	}
	if p.Regions.Primary.Provider != ProviderAWS || p.Regions.Recovery.Provider != ProviderAWS {
		v.add("network", "needs aws primary and recovery regions")
	}
	if len(n.VPCs) == 0 {
		v.add("network.vpcs", "must list at least one VPC ID")
	}
	seen := map[string]bool{}
	for i, id := range n.VPCs {
		if !strings.HasPrefix(id, "vpc-") || len(id) < 5 {
			v.add(fmt.Sprintf("network.vpcs[%d]", i), "must be a VPC ID (vpc-...), got %q", id)
		}
		if seen[id] {
			v.add(fmt.Sprintf("network.vpcs[%d]", i), "duplicate VPC %s", id)
		}
		seen[id] = true
	}
	for from, to := range n.Zones {
		if from == "" || to == "" {
			v.add("network.zones", "zone names must not be empty")
		}
	}
}

// inventory checks the inventory block.
func (v *validator) inventory(d *Data) {
	in := d.Inventory
	if in == nil {
		return
	}
	if in.Keep < 1 {
		v.add("data.inventory.keep", "must be at least 1, got %d", in.Keep)
	}
	if in.Interval < 0 {
		v.add("data.inventory.interval", "must be positive, got %s", in.Interval)
	}
	if in.Bucket != "" {
		v.bucketName("data.inventory.bucket", in.Bucket)
	} else if d.Snapshots == nil || d.Snapshots.CatalogBucket == "" {
		v.add("data.inventory.bucket", "is required when data.snapshots.catalogBucket is not set")
	}
}

// InventoryBucket is the bucket that receives inventory exports: the
// inventory's own, else the catalog bucket; empty when neither is set.
func (d *Data) InventoryBucket() string {
	if d.Inventory != nil && d.Inventory.Bucket != "" {
		return d.Inventory.Bucket
	}
	if d.Snapshots != nil {
		return d.Snapshots.CatalogBucket
	}
	return ""
}
