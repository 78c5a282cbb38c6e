package plan

import "fmt"

// SnapshotPolicy says how `pilotlight protect` copies the snapshots of the
// plan's volumes and databases, and the images of its launch templates, to
// the recovery region, and where it keeps the catalog of those copies.
type SnapshotPolicy struct {
	// KMSKey is the KMS key (ID, alias or ARN) in the recovery region that
	// encrypts the copies (default: the region's default key; required to
	// copy encrypted RDS snapshots across regions).
	KMSKey string `yaml:"kmsKey,omitempty" json:"kmsKey,omitempty"`
	// Keep is how many completed copies of each resource stay in the
	// recovery region; older ones are deleted (default 3, at least 1).
	Keep int `yaml:"keep,omitempty" json:"keep,omitempty" jsonschema:"minimum=1"`
	// MaxAge deletes copies whose data is older than this, except the
	// newest completed copy, which is always kept (default 0: no age
	// limit).
	MaxAge Duration `yaml:"maxAge,omitempty" json:"maxAge,omitempty"`
	// CatalogBucket is the S3 bucket in the recovery region that holds the
	// catalog of recovery points, next to the local copy in the state
	// directory (optional: without it the catalog is only local).
	CatalogBucket string `yaml:"catalogBucket,omitempty" json:"catalogBucket,omitempty" jsonschema:"minLength=3,maxLength=63,pattern=^[a-z0-9][a-z0-9.-]+[a-z0-9]$"`
}

// DefaultKeep is the number of copies a SnapshotPolicy keeps by default.
const DefaultKeep = 3

func (s *SnapshotPolicy) setDefaults() {
	if s.Keep == 0 {
		s.Keep = DefaultKeep
	}
}

// snapshots checks the snapshot policy and the volume selectors.
func (v *validator) snapshots(d *Data) {
	for i, vol := range d.Volumes {
		if vol.ID != "" && len(vol.Selector) > 0 {
			v.add(fmt.Sprintf("data.volumes[%d].selector", i), "id and selector are exclusive: protect one volume by id, or every volume with the selector's tags")
		}
		for k := range vol.Selector {
			if k == "" {
				v.add(fmt.Sprintf("data.volumes[%d].selector", i), "tag keys must not be empty")
			}
		}
	}
	s := d.Snapshots
	if s == nil {
		return
	}
	if s.Keep < 1 {
		v.add("data.snapshots.keep", "must be at least 1, got %d", s.Keep)
	}
	if s.MaxAge < 0 {
		v.add("data.snapshots.maxAge", "must not be negative, got %s", s.MaxAge)
	}
	if s.CatalogBucket != "" {
		v.bucketName("data.snapshots.catalogBucket", s.CatalogBucket)
	}
}
