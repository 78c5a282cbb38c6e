package aws

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/pilotlight/pilotlight/backoff"
	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/runbook"
)

// Tags that link a copy in the recovery region to what it was copied from.
const (
	// TagSourceSnapshot is the snapshot (or AMI) ID in the primary region.
	TagSourceSnapshot = "pilotlight:source"
	// TagDataTime is when the source's data was taken (RFC 3339, UTC).
	TagDataTime = "pilotlight:data-time"
	// TagWindow marks a snapshot pilotlight took in the primary region for
	// one RPO window, so that a retried run finds it instead of taking
	// another.
	TagWindow = "pilotlight:window"
)

// SnapshotEC2API is the part of the EC2 client that snapshot and image
// protection uses, in both regions. Every call must return when ctx is
// cancelled.
type SnapshotEC2API interface {
	DescribeVolumes(ctx context.Context, in *ec2.DescribeVolumesInput, opts ...func(*ec2.Options)) (*ec2.DescribeVolumesOutput, error)
	DescribeSnapshots(ctx context.Context, in *ec2.DescribeSnapshotsInput, opts ...func(*ec2.Options)) (*ec2.DescribeSnapshotsOutput, error)
	CreateSnapshot(ctx context.Context, in *ec2.CreateSnapshotInput, opts ...func(*ec2.Options)) (*ec2.CreateSnapshotOutput, error)
	CopySnapshot(ctx context.Context, in *ec2.CopySnapshotInput, opts ...func(*ec2.Options)) (*ec2.CopySnapshotOutput, error)
	DeleteSnapshot(ctx context.Context, in *ec2.DeleteSnapshotInput, opts ...func(*ec2.Options)) (*ec2.DeleteSnapshotOutput, error)
	DescribeLaunchTemplateVersions(ctx context.Context, in *ec2.DescribeLaunchTemplateVersionsInput, opts ...func(*ec2.Options)) (*ec2.DescribeLaunchTemplateVersionsOutput, error)
	DescribeImages(ctx context.Context, in *ec2.DescribeImagesInput, opts ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error)
	CopyImage(ctx context.Context, in *ec2.CopyImageInput, opts ...func(*ec2.Options)) (*ec2.CopyImageOutput, error)
}

// SnapshotRDSAPI is the part of the RDS client that database snapshot
// protection uses, in both regions.
type SnapshotRDSAPI interface {
	DescribeDBSnapshots(ctx context.Context, in *rds.DescribeDBSnapshotsInput, opts ...func(*rds.Options)) (*rds.DescribeDBSnapshotsOutput, error)
	DescribeDBClusterSnapshots(ctx context.Context, in *rds.DescribeDBClusterSnapshotsInput, opts ...func(*rds.Options)) (*rds.DescribeDBClusterSnapshotsOutput, error)
	CreateDBSnapshot(ctx context.Context, in *rds.CreateDBSnapshotInput, opts ...func(*rds.Options)) (*rds.CreateDBSnapshotOutput, error)
	CreateDBClusterSnapshot(ctx context.Context, in *rds.CreateDBClusterSnapshotInput, opts ...func(*rds.Options)) (*rds.CreateDBClusterSnapshotOutput, error)
	CopyDBSnapshot(ctx context.Context, in *rds.CopyDBSnapshotInput, opts ...func(*rds.Options)) (*rds.CopyDBSnapshotOutput, error)
	CopyDBClusterSnapshot(ctx context.Context, in *rds.CopyDBClusterSnapshotInput, opts ...func(*rds.Options)) (*rds.CopyDBClusterSnapshotOutput, error)
	DeleteDBSnapshot(ctx context.Context, in *rds.DeleteDBSnapshotInput, opts ...func(*rds.Options)) (*rds.DeleteDBSnapshotOutput, error)
	DeleteDBClusterSnapshot(ctx context.Context, in *rds.DeleteDBClusterSnapshotInput, opts ...func(*rds.Options)) (*rds.DeleteDBClusterSnapshotOutput, error)
}

var (
	_ SnapshotEC2API = (*ec2.Client)(nil)
	_ SnapshotRDSAPI = (*rds.Client)(nil)
)

// ProtectClients are the clients of one region that protection uses.
type ProtectClients struct {
	EC2 SnapshotEC2API
	RDS SnapshotRDSAPI
}

// CopyLimits are the most cross-region copies of each kind in progress at
// once per destination region.
type CopyLimits struct {
	// EBS snapshot copies (AWS: 20 per destination region).
	EBS int `json:"ebs"`
	// RDS snapshot copies, instance and cluster together (AWS: 20 per
	// destination region).
	RDS int `json:"rds"`
	// AMI copies. Their backing snapshots are copied by AWS too, so the
	// default keeps them inside the EBS limit (20).
	AMI int `json:"ami"`
}

// DefaultCopyLimits returns AWS's documented concurrent copy limits (EBS
// user guide "Copy an Amazon EBS snapshot", RDS user guide "Copying a DB
// snapshot").
func DefaultCopyLimits() CopyLimits { return CopyLimits{EBS: 20, RDS: 20, AMI: 20} }

// limitCodes are AWS's answers to a copy over a concurrency or quota
// limit: the copy is retried after a backoff rather than failed.
var limitCodes = codes("ResourceLimitExceeded", "SnapshotQuotaExceeded", "SnapshotQuotaExceededFault",
	"SnapshotCopyGrantLimitExceeded", "DBClusterSnapshotQuotaExceeded")

// retryable reports whether a call failed for a reason that waiting fixes:
// throttling, a copy limit, or a server-side error.
func retryable(err error) bool {
	c := errorCode(err)
	return limitCodes[c] || throttleCodes[c] || transientCodes[c]
}

// Protector copies the plan's volume and database snapshots and launch
// template images to the recovery region (`pilotlight protect`), keeps
// each copy's progress, applies the retention policy there, and records
// every resource's newest recovery point in the Catalog. Fields are
// read-only once Run has been called; Run may be called again (one at a
// time or concurrently: copies of one RDS source still go one after
// another, and the copy limits hold across calls).
type Protector struct {
	// Plan is protected. Required.
	Plan *plan.Plan
	// Primary and Recovery are the clients of the plan's two regions.
	// Required.
	Primary, Recovery ProtectClients
	// Catalog records the recovery points (optional).
	Catalog *Catalog
	// Limits bound the concurrent copies per destination region (zero
	// fields: DefaultCopyLimits).
	Limits CopyLimits
	// Clock times polls and backoffs (default the wall clock).
	Clock runbook.Clock
	// Logger receives progress (nil discards).
	Logger *slog.Logger
	// Poll is the interval between progress checks (default 30s).
	Poll time.Duration
	// CopyTimeout bounds one copy, from the first attempt until completed
	// (default 24h: cross-region copies can take hours).
	CopyTimeout time.Duration
	// BackoffInitial and BackoffMax bound the jittered backoff after
	// throttling or a copy limit (default 5s and 5m).
	BackoffInitial, BackoffMax time.Duration
	// DescribeTTL is how long a describe answer is shared by pollers
	// (default Poll/2).
	DescribeTTL time.Duration

	once    sync.Once
	slots   map[string]chan struct{} // kind → copy slots in the recovery region
	srcMu   sync.Mutex
	sources map[string]*sync.Mutex // RDS source → its copy queue
	caches  *protectCaches
}

// Result is what one protection job did for one primary resource.
type Result struct {
	// Kind and Source name the primary resource, as in the catalog.
	Kind   string `json:"kind"`
	Source string `json:"source"`
	// SourceSnapshot was copied; Created says pilotlight took it.
	SourceSnapshot string `json:"sourceSnapshot,omitempty"`
	Created        bool   `json:"created,omitempty"`
	// Copy is the snapshot or AMI in the recovery region.
	Copy string `json:"copy,omitempty"`
	// DataTime is the time of the copied data.
	DataTime time.Time `json:"dataTime,omitzero"`
	// State is completed or failed.
	State string `json:"state"`
	// Deleted lists the older copies removed by the retention policy.
	Deleted []string `json:"deleted,omitempty"`
	// Error says why the job failed.
	Error string `json:"error,omitempty"`
}

func (p *Protector) init() {
	p.once.Do(func() {
		l := p.Limits
		d := DefaultCopyLimits()
		p.slots = map[string]chan struct{}{
			KindVolume: make(chan struct{}, cmpOr(l.EBS, d.EBS)),
			"rds":      make(chan struct{}, cmpOr(l.RDS, d.RDS)),
			KindImage:  make(chan struct{}, cmpOr(l.AMI, d.AMI)),
		}
		p.sources = map[string]*sync.Mutex{}
		p.caches = newProtectCaches(p)
	})
}

func cmpOr(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

func (p *Protector) clock() runbook.Clock {
	if p.Clock == nil {
		return wallClock{}
	}
	return p.Clock
}

func (p *Protector) log() *slog.Logger {
	if p.Logger == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return p.Logger.With("component", "aws-protect")
}

func (p *Protector) poll() time.Duration {
	if p.Poll > 0 {
		return p.Poll
	}
	return 30 * time.Second
}

func (p *Protector) keep() int {
	if s := p.Plan.Data.Snapshots; s != nil && s.Keep > 0 {
		return s.Keep
	}
	return plan.DefaultKeep
}

func (p *Protector) kmsKey() string {
	if s := p.Plan.Data.Snapshots; s != nil {
		return s.KMSKey
	}
	return ""
}

// job is one resource to protect.
type job struct {
	kind, source string
	run          func(ctx context.Context) Result
}

// Run protects every volume, database and launch template image of the
// plan once: each job picks or takes a source snapshot, copies it within
// the copy limits, waits for the copy, records it in the catalog and
// applies the retention policy. It returns one result per resource, sorted
// by kind and source, and an error joining the failed jobs'; the catalog
// is synced to S3 at the end either way.
func (p *Protector) Run(ctx context.Context) ([]Result, error) {
	if p.Plan == nil || p.Primary.EC2 == nil || p.Recovery.EC2 == nil || p.Primary.RDS == nil || p.Recovery.RDS == nil {
		return nil, fmt.Errorf("aws: protect: %w: a plan and EC2 and RDS clients of both regions are required", ErrConfig)
	}
	p.init()
	jobs, err := p.jobs(ctx)
	if err != nil {
		return nil, err
	}
	results := make([]Result, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() {
			r := j.run(ctx)
			r.Kind, r.Source = j.kind, j.source
			results[i] = r
		})
	}
	wg.Wait()
	slices.SortFunc(results, func(a, b Result) int {
		return strings.Compare(a.Kind+"/"+a.Source, b.Kind+"/"+b.Source)
	})
	var errs []error
	for _, r := range results {
		if r.Error != "" {
			errs = append(errs, fmt.Errorf("%s %s: %s", r.Kind, r.Source, r.Error))
		}
	}
	if p.Catalog != nil {
		if err := p.Catalog.Sync(context.WithoutCancel(ctx)); err != nil {
			errs = append(errs, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return results, err
	}
	if len(errs) > 0 {
		return results, fmt.Errorf("aws: protect %s: %d of %d jobs failed: %w", p.Plan.Name, len(errs), len(results), errors.Join(errs...))
	}
	return results, nil
}

// jobs lists the plan's resources: volumes by ID or selector, databases,
// and the images of the services' launch templates.
func (p *Protector) jobs(ctx context.Context) ([]job, error) {
	var jobs []job
	seen := map[string]bool{}
	add := func(kind, source string, run func(context.Context) Result) {
		if !seen[kind+"/"+source] {
			seen[kind+"/"+source] = true
			jobs = append(jobs, job{kind: kind, source: source, run: run})
		}
	}
	for _, v := range p.Plan.Data.Volumes {
		ids := []string{v.ID}
		if v.ID == "" {
			var err error
			if ids, err = p.selectVolumes(ctx, v.Selector); err != nil {
				return nil, err
			}
		}
		for _, id := range ids {
			add(KindVolume, id, func(ctx context.Context) Result { return p.protectVolume(ctx, id) })
		}
	}
	for _, db := range p.Plan.Data.Databases {
		kind := KindDBInstance
		if db.Cluster {
			kind = KindDBCluster
		}
		add(kind, db.ID, func(ctx context.Context) Result { return p.protectDatabase(ctx, db) })
	}
	images, err := p.launchTemplateImages(ctx)
	if err != nil {
		return nil, err
	}
	for _, img := range images {
		add(KindImage, img, func(ctx context.Context) Result { return p.protectImage(ctx, img) })
	}
	return jobs, nil
}

// slot takes a copy slot of kind in the recovery region; release gives it
// back.
func (p *Protector) slot(ctx context.Context, kind string) (release func(), err error) {
	ch := p.slots[kind]
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// queue locks the copy queue of RDS source: its copies go one after
// another, as AWS queues them.
func (p *Protector) queue(source string) *sync.Mutex {
	p.srcMu.Lock()
	defer p.srcMu.Unlock()
	m := p.sources[source]
	if m == nil {
		m = &sync.Mutex{}
		p.sources[source] = m
	}
	return m
}

// sleep waits d on the clock, or until ctx is done.
func (p *Protector) sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-p.clock().After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// retry calls fn until it succeeds, fails for a reason waiting does not
// fix, or deadline passes, backing off (capped, jittered) after
// throttling, a copy limit or a server error.
func (p *Protector) retry(ctx context.Context, deadline time.Time, what string, fn func() error) error {
	initial, maxd := p.BackoffInitial, p.BackoffMax
	if initial <= 0 {
		initial = 5 * time.Second
	}
	if maxd <= 0 {
		maxd = 5 * time.Minute
	}
	for n := 1; ; n++ {
		err := fn()
		if err == nil || !retryable(err) {
			return err
		}
		if !p.clock().Now().Before(deadline) {
			return fmt.Errorf("%s: gave up after %d attempts: %w", what, n, err)
		}
		p.log().Debug("backing off", "call", what, "attempt", n, "code", errorCode(err))
		if err := p.sleep(ctx, backoff.Equal(initial, maxd, n)); err != nil {
			return err
		}
	}
}

// waitUntil polls check every Poll until it reports done, fails, or
// deadline passes.
func (p *Protector) waitUntil(ctx context.Context, deadline time.Time, what string, check func() (bool, error)) error {
	for {
		done, err := check()
		if err != nil || done {
			return err
		}
		if !p.clock().Now().Before(deadline) {
			return fmt.Errorf("%s: %w", what, errWaitTimeout)
		}
		if err := p.sleep(ctx, p.poll()); err != nil {
			return err
		}
	}
}

func (p *Protector) deadline() time.Time {
	d := p.CopyTimeout
	if d <= 0 {
		d = 24 * time.Hour
	}
	return p.clock().Now().Add(d)
}

// window is the start of the RPO window holding now: a snapshot pilotlight
// takes is named after it, so a retry within the window finds it.
func (p *Protector) window() time.Time {
	rpo := p.Plan.Objectives.RPO.D()
	if rpo <= 0 {
		rpo = time.Hour
	}
	return p.clock().Now().UTC().Truncate(rpo)
}

// stale reports whether a source snapshot taken at t is too old for the
// RPO, so a new one must be taken.
func (p *Protector) stale(t time.Time) bool {
	rpo := p.Plan.Objectives.RPO.D()
	return rpo > 0 && p.clock().Now().Sub(t) > rpo
}

// record stores r in the catalog (a completed copy, or the failure of a
// resource) and returns r with a catalog error added.
func (p *Protector) record(r Result, kind, source string) Result {
	if p.Catalog == nil {
		return r
	}
	e := CatalogEntry{Kind: kind, Source: source, SourceSnapshot: r.SourceSnapshot, Copy: r.Copy,
		Region: p.Plan.Regions.Recovery.Name, DataTime: r.DataTime.UTC(), State: r.State, Error: r.Error}
	if r.State == StateCompleted {
		e.CopiedAt = p.clock().Now().UTC()
	}
	if err := p.Catalog.Record(e); err != nil && r.Error == "" {
		r.Error = err.Error()
	}
	return r
}

// fail returns r failed with err and records it.
func (p *Protector) fail(r Result, kind, source string, err error) Result {
	r.State, r.Error = StateFailed, err.Error()
	p.log().Warn("protect failed", "kind", kind, "source", source, "err", err)
	return p.record(r, kind, source)
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339, s)
	return t
}
