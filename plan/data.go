package plan

// Data lists what a plan protects by copying it to the recovery region.
type Data struct {
	// Buckets are object-store buckets replicated to the recovery region.
	Buckets []Bucket `yaml:"buckets,omitempty" json:"buckets,omitempty"`
	// Volumes are block volumes protected by cross-region snapshots.
	Volumes []Volume `yaml:"volumes,omitempty" json:"volumes,omitempty"`
	// Databases are protected by cross-region snapshots or replicas.
	Databases []Database `yaml:"databases,omitempty" json:"databases,omitempty"`
	// Images are container image repositories replicated to the recovery
	// region.
	Images []Image `yaml:"images,omitempty" json:"images,omitempty"`
	// Repositories are git repositories mirrored to the recovery region.
	Repositories []Repository `yaml:"repositories,omitempty" json:"repositories,omitempty"`
	// Snapshots says how volume and database snapshots and launch template
	// images are copied to the recovery region, and where the catalog of
	// the copies is kept (optional).
	Snapshots *SnapshotPolicy `yaml:"snapshots,omitempty" json:"snapshots,omitempty"`
	// Inventory says where the primary region's metadata (instances, load
	// balancers, DNS records, network) is exported in the recovery region
	// (optional; AWS regions only).
	Inventory *Inventory `yaml:"inventory,omitempty" json:"inventory,omitempty"`
}

// DeletePolicy says whether deletions in the primary bucket are propagated.
type DeletePolicy string

// Delete policies.
const (
	// DeletesKeep never deletes from the replica: a deleted object stays
	// recoverable.
	DeletesKeep DeletePolicy = "keep"
	// DeletesReplicate propagates deletions to the replica.
	DeletesReplicate DeletePolicy = "replicate"
)

// DeletePolicies lists every valid delete policy.
var DeletePolicies = []DeletePolicy{DeletesKeep, DeletesReplicate}

// ArchivedPolicy says what to do with archived objects (GLACIER,
// DEEP_ARCHIVE), which cannot be read without a restore.
type ArchivedPolicy string

// Archived-object policies.
const (
	// ArchivedSkip skips archived objects and reports them.
	ArchivedSkip ArchivedPolicy = "skip"
	// ArchivedCopy restores archived objects before copying them.
	ArchivedCopy ArchivedPolicy = "copy"
)

// ArchivedPolicies lists every valid archived-object policy.
var ArchivedPolicies = []ArchivedPolicy{ArchivedSkip, ArchivedCopy}

// Bucket is an object-store bucket replicated to the recovery region.
type Bucket struct {
	// Name of the bucket in the primary region: 3 to 63 lowercase letters,
	// digits, dots and hyphens. Required.
	Name string `yaml:"name" json:"name" jsonschema:"required,minLength=3,maxLength=63,pattern=^[a-z0-9][a-z0-9.-]+[a-z0-9]$"`
	// Replica is the bucket name in the recovery region (default: the same
	// name).
	Replica string `yaml:"replica,omitempty" json:"replica,omitempty" jsonschema:"minLength=3,maxLength=63,pattern=^[a-z0-9][a-z0-9.-]+[a-z0-9]$"`
	// Deletes is the delete policy: keep or replicate (default keep).
	Deletes DeletePolicy `yaml:"deletes,omitempty" json:"deletes,omitempty"`
	// Archived is the archived-object policy: skip or copy (default skip).
	Archived ArchivedPolicy `yaml:"archived,omitempty" json:"archived,omitempty"`
	// Seed is a directory, relative to the plan file, uploaded to the
	// primary bucket by `pilotlight up` (optional).
	Seed string `yaml:"seed,omitempty" json:"seed,omitempty"`
	// Native sets up AWS S3 Cross-Region Replication for the bucket
	// (optional; both regions must use provider aws).
	Native *Native `yaml:"native,omitempty" json:"native,omitempty"`
	// SizeGB is the amount of data, in GB, used by `pilotlight advise` to
	// estimate storage cost and restore time (default 0: unknown, costed as
	// nothing).
	SizeGB float64 `yaml:"sizeGB,omitempty" json:"sizeGB,omitempty" jsonschema:"minimum=0"`
	// ChangeRateGBPerDay is how much of the data, in GB, is written or
	// changed per day, used by `pilotlight advise` to estimate cross-region
	// transfer and snapshot copy times (default 0: unknown, costed as
	// nothing).
	ChangeRateGBPerDay float64 `yaml:"changeRateGBPerDay,omitempty" json:"changeRateGBPerDay,omitempty" jsonschema:"minimum=0"`
}

// RecoveryName returns the name of the bucket in the recovery region.
func (b Bucket) RecoveryName() string {
	if b.Replica != "" {
		return b.Replica
	}
	return b.Name
}

func (b *Bucket) setDefaults() {
	if b.Deletes == "" {
		b.Deletes = DeletesKeep
	}
	if b.Archived == "" {
		b.Archived = ArchivedSkip
	}
}

// Volume is a block volume protected by snapshots copied to the recovery
// region.
type Volume struct {
	// ID of the volume (such as vol-0123). Required unless selector is set.
	ID string `yaml:"id,omitempty" json:"id,omitempty"`
	// Selector protects every volume of the primary region that has all of
	// these tags, instead of one volume by ID (optional; exclusive with
	// id).
	Selector map[string]string `yaml:"selector,omitempty" json:"selector,omitempty"`
	// Tags are copied to the snapshots and the restored volume.
	Tags map[string]string `yaml:"tags,omitempty" json:"tags,omitempty"`
	// SizeGB is the amount of data, in GB, used by `pilotlight advise` to
	// estimate storage cost and restore time (default 0: unknown, costed as
	// nothing).
	SizeGB float64 `yaml:"sizeGB,omitempty" json:"sizeGB,omitempty" jsonschema:"minimum=0"`
	// ChangeRateGBPerDay is how much of the data, in GB, is written or
	// changed per day, used by `pilotlight advise` to estimate cross-region
	// transfer and snapshot copy times (default 0: unknown, costed as
	// nothing).
	ChangeRateGBPerDay float64 `yaml:"changeRateGBPerDay,omitempty" json:"changeRateGBPerDay,omitempty" jsonschema:"minimum=0"`
}

// Database is a database protected by snapshots or a cross-region replica.
type Database struct {
	// ID of the database instance or cluster. Required.
	ID string `yaml:"id" json:"id" jsonschema:"required"`
	// Engine of the database, such as postgres or mysql (optional).
	Engine string `yaml:"engine,omitempty" json:"engine,omitempty"`
	// Cluster is true when ID names a cluster rather than an instance
	// (default false).
	Cluster bool `yaml:"cluster,omitempty" json:"cluster,omitempty"`
	// SizeGB is the amount of data, in GB, used by `pilotlight advise` to
	// estimate storage cost and restore time (default 0: unknown, costed as
	// nothing).
	SizeGB float64 `yaml:"sizeGB,omitempty" json:"sizeGB,omitempty" jsonschema:"minimum=0"`
	// ChangeRateGBPerDay is how much of the data, in GB, is written or
	// changed per day, used by `pilotlight advise` to estimate cross-region
	// transfer and snapshot copy times (default 0: unknown, costed as
	// nothing).
	ChangeRateGBPerDay float64 `yaml:"changeRateGBPerDay,omitempty" json:"changeRateGBPerDay,omitempty" jsonschema:"minimum=0"`
}

// Image is a container image repository replicated to the recovery region,
// either by ECR replication or by `pilotlight images sync`, which copies
// each tag by digest from the source registry to the recovery registry.
type Image struct {
	// Repository name, such as web or team/web. Required.
	Repository string `yaml:"repository" json:"repository" jsonschema:"required"`
	// Tags to copy (default: every tag of the source repository).
	Tags []string `yaml:"tags,omitempty" json:"tags,omitempty"`
	// Source is the registry the image is copied from, as host[:port] with
	// an optional namespace, such as
	// 123456789012.dkr.ecr.ap-northeast-2.amazonaws.com or 127.0.1.1:5000.
	// Required by `pilotlight images sync`; ECR replication does not use it.
	Source string `yaml:"source,omitempty" json:"source,omitempty"`
	// Recovery is the registry the image is copied to, in the same form as
	// source. Required by `pilotlight images sync`.
	Recovery string `yaml:"recovery,omitempty" json:"recovery,omitempty"`
}

// Repository is a git repository mirrored to the recovery region: every
// branch and tag, force-updated, deleted refs pruned.
type Repository struct {
	// URL of the repository. Required.
	URL string `yaml:"url" json:"url" jsonschema:"required"`
	// Recovery is the git URL of the recovery remote the repository is
	// mirrored to. Required by `pilotlight mirror`.
	Recovery string `yaml:"recovery,omitempty" json:"recovery,omitempty"`
}
