package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/provider/local/compute"
	"github.com/pilotlight/pilotlight/provider/local/objstore"
)

// Role is the part a region plays in the plan.
type Role string

// The two roles of a plan's regions.
const (
	Primary  Role = "primary"
	Recovery Role = "recovery"
)

// Host numbers inside a region's /24 (docs/decisions/0001).
const (
	storeHost     = 1
	firstLBHost   = 2
	firstInstHost = 10
	lastInstHost  = 250
	storePort     = 9000
)

// storeRegion is the S3 region name the local stores report and sign with.
const storeRegion = "us-east-1"

// Options configure how local regions are run.
type Options struct {
	// StateDir holds stores, logs and runtime files (default ".pilotlight").
	StateDir string
	// Exe is the pilotlight binary that serves the object store as a child
	// process (default: the running executable).
	Exe string
	// ExeArgs precede the store flags (default ["store", "serve"]).
	ExeArgs []string
	// Bin is the {{.Bin}} template value: the directory of the service
	// binaries (default: the directory of Exe).
	Bin string
	// HealthGrace is how long a new instance may fail health checks before
	// it is replaced (default 15s), like an Auto Scaling group's grace period.
	HealthGrace time.Duration
	// EventWebhook, when set, is the URL the primary region's object store
	// sends bucket event notifications to (continuous replication). It
	// must be reachable when the store starts.
	EventWebhook string
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// NetworkFaults puts an in-process TCP proxy on each load balancer's
	// address, in front of the balancer, so that "network" faults can add
	// latency or blackhole traffic (see InjectFault and netfault.go).
	NetworkFaults bool
}

func (o *Options) setDefaults() error {
	if o.StateDir == "" {
		o.StateDir = ".pilotlight"
	}
	abs, err := filepath.Abs(o.StateDir)
	if err != nil {
		return fmt.Errorf("local: state dir %s: %w", o.StateDir, err)
	}
	o.StateDir = abs
	if o.Exe == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("local: find own executable: %w", err)
		}
		o.Exe = exe
	}
	if o.ExeArgs == nil {
		o.ExeArgs = []string{"store", "serve"}
	}
	if o.Bin == "" {
		o.Bin = filepath.Dir(o.Exe)
	}
	if o.HealthGrace == 0 {
		o.HealthGrace = 15 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Region is one running local region.
type Region struct {
	role  Role
	spec  plan.Region
	plan  *plan.Plan
	opts  Options
	creds Credentials
	net   netip.Prefix
	log   *slog.Logger
	dir   string

	store *objstore.Process
	pool  *compute.HostPool

	ctx    context.Context // lives until Stop
	cancel context.CancelFunc

	mu       sync.Mutex
	services map[string]*service
	stopped  bool
	capacity capacityState // guarded by mu
	chaos    chaosState    // injected faults (chaos.go)
}

// NewRegion prepares, but does not start, the region that plays role in p.
func NewRegion(p *plan.Plan, role Role, creds Credentials, opts Options) (*Region, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	spec := p.Regions.Primary
	if role == Recovery {
		spec = p.Regions.Recovery
	}
	pfx, err := regionNetwork(spec)
	if err != nil {
		return nil, err
	}
	pool, err := compute.NewHostPool(pfx, firstInstHost, lastInstHost)
	if err != nil {
		return nil, fmt.Errorf("local: region %s: %w", spec.Name, err)
	}
	return &Region{
		role:     role,
		spec:     spec,
		plan:     p,
		opts:     opts,
		creds:    creds,
		net:      pfx,
		log:      opts.Logger.With("component", "local", "region", spec.Name),
		dir:      filepath.Join(opts.StateDir, spec.Name),
		pool:     pool,
		services: map[string]*service{},
	}, nil
}

// Name is the region's name from the plan.
func (r *Region) Name() string { return r.spec.Name }

// Role is the part the region plays in the plan.
func (r *Region) Role() Role { return r.role }

// host returns the address of host number n in the region's network.
func (r *Region) host(n int) string { return hostIn(r.net, n) }

func hostIn(pfx netip.Prefix, n int) string {
	a := pfx.Addr().As4()
	a[3] = byte(n)
	return netip.AddrFrom4(a).String()
}

// StoreEndpoint is the URL of the region's object store.
func (r *Region) StoreEndpoint() string {
	return "http://" + net.JoinHostPort(r.host(storeHost), strconv.Itoa(storePort))
}

// StoreEndpoint returns the object-store URL of a local region of a plan,
// whether or not it is running.
func StoreEndpoint(spec plan.Region) (string, error) {
	pfx, err := regionNetwork(spec)
	if err != nil {
		return "", err
	}
	return "http://" + net.JoinHostPort(hostIn(pfx, storeHost), strconv.Itoa(storePort)), nil
}

// StoreRegion is the S3 region name the local stores sign with.
const StoreRegion = storeRegion

// regionNetwork parses and checks a local region's network.
func regionNetwork(spec plan.Region) (netip.Prefix, error) {
	if spec.Provider != plan.ProviderLocal {
		return netip.Prefix{}, fmt.Errorf("local: region %s: provider is %q, not local", spec.Name, spec.Provider)
	}
	pfx, err := netip.ParsePrefix(spec.Network)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("local: region %s: network %q: %w", spec.Name, spec.Network, err)
	}
	pfx = pfx.Masked()
	if !pfx.Addr().Is4() || pfx.Bits() > 24 {
		return netip.Prefix{}, fmt.Errorf("local: region %s: network %s must be an IPv4 /24 or larger", spec.Name, pfx)
	}
	return pfx, nil
}

// Zones are the region's two availability zones.
func (r *Region) Zones() []string { return []string{r.spec.Name + "-a", r.spec.Name + "-b"} }

// Buckets lists the bucket names this region holds: the plan's names in the
// primary region, their replica names in the recovery region.
func (r *Region) Buckets() []string {
	var out []string
	for _, b := range r.plan.Data.Buckets {
		if r.role == Recovery && b.Replica != "" {
			out = append(out, b.Replica)
		} else {
			out = append(out, b.Name)
		}
	}
	return out
}

// Start starts the object store, seeds the primary region's buckets and
// starts each service with the instance count the strategy gives this role.
// On error everything started so far is stopped.
func (r *Region) Start(ctx context.Context) (err error) {
	r.ctx, r.cancel = context.WithCancel(context.WithoutCancel(ctx))
	defer func() {
		if err != nil {
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
			defer cancel()
			_ = r.Stop(stopCtx)
		}
	}()
	if err := os.MkdirAll(filepath.Join(r.dir, "instances"), 0o755); err != nil {
		return fmt.Errorf("local: region %s: create state: %w", r.spec.Name, err)
	}
	r.log.Info("starting object store", "endpoint", r.StoreEndpoint())
	r.store, err = objstore.Start(ctx, r.storeSpec())
	if err != nil {
		return fmt.Errorf("local: region %s: start object store: %w", r.spec.Name, err)
	}
	if r.role == Primary {
		if err := r.seed(ctx); err != nil {
			return err
		}
	}
	for i := range r.plan.Services {
		svc := &r.plan.Services[i]
		n := DesiredCount(r.plan.Strategy, r.role, svc)
		if n == 0 {
			continue
		}
		if err := r.StartService(ctx, svc.Name, n); err != nil {
			return err
		}
	}
	return nil
}

// storeSpec describes the region's object store process; a store-outage
// fault's rollback starts it again from the same spec.
func (r *Region) storeSpec() objstore.Spec {
	return objstore.Spec{
		Exe:  r.opts.Exe,
		Args: r.opts.ExeArgs,
		Options: objstore.Options{
			Dir:        filepath.Join(r.dir, "store"),
			Listen:     net.JoinHostPort(r.host(storeHost), strconv.Itoa(storePort)),
			AccessKey:  r.creds.AccessKey,
			SecretKey:  r.creds.SecretKey,
			Region:     storeRegion,
			Buckets:    r.Buckets(),
			Versioning: true,
			EventWebhookURL: func() string {
				if r.role == Primary {
					return r.opts.EventWebhook
				}
				return ""
			}(),
		},
		LogFile: filepath.Join(r.dir, "store.log"),
	}
}

// DesiredCount is the number of instances of svc that run in a region of the
// given role in normal times: all of them in the primary; in the recovery
// region none for backup-restore and pilot-light, the standby count for
// warm-standby and all of them for active-active.
func DesiredCount(s plan.Strategy, role Role, svc *plan.Service) int {
	if role == Primary {
		return svc.Compute.Count
	}
	switch s {
	case plan.WarmStandby:
		return svc.Compute.Standby
	case plan.ActiveActive:
		return svc.Compute.Count
	default:
		return 0
	}
}

// Client returns an S3 client for the region's object store.
func (r *Region) Client() *s3.Client {
	return objstore.NewClient(r.StoreEndpoint(), r.creds.AccessKey, r.creds.SecretKey, storeRegion)
}

// Stop rolls back the region's active faults, then stops every service,
// then the object store. It is safe to call more than once; it returns the
// errors met.
func (r *Region) Stop(ctx context.Context) error {
	rollbackErr := r.closeFaults(ctx)
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		return rollbackErr
	}
	r.stopped = true
	svcs := make([]*service, 0, len(r.services))
	for _, s := range r.services {
		svcs = append(svcs, s)
	}
	store := r.store
	r.mu.Unlock()

	errs := []error{rollbackErr}
	for _, s := range svcs {
		errs = append(errs, s.stop(ctx))
	}
	if store != nil {
		if err := store.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("local: region %s: stop object store: %w", r.spec.Name, err))
		}
	}
	if r.cancel != nil {
		r.cancel()
	}
	r.log.Info("region stopped")
	return errors.Join(errs...)
}

// LoadBalancerAddr returns the address (host and port) of svc's load
// balancer in a local region of p, whether or not it is running: host
// .(2+i) of the region's network for the plan's i-th service, at the
// service's load-balancer port.
func LoadBalancerAddr(p *plan.Plan, spec plan.Region, svc *plan.Service) (netip.AddrPort, error) {
	if svc.LoadBalancer == nil {
		return netip.AddrPort{}, fmt.Errorf("local: service %s has no load balancer", svc.Name)
	}
	pfx, err := regionNetwork(spec)
	if err != nil {
		return netip.AddrPort{}, err
	}
	idx := slices.IndexFunc(p.Services, func(s plan.Service) bool { return s.Name == svc.Name })
	if idx < 0 {
		return netip.AddrPort{}, fmt.Errorf("local: service %s is not in the plan", svc.Name)
	}
	return netip.AddrPortFrom(netip.MustParseAddr(hostIn(pfx, firstLBHost+idx)), uint16(svc.LoadBalancer.Port)), nil
}

// LBAddrFunc returns a resolver of services' load-balancer addresses in
// the plan's local regions, by role ("primary" or "recovery"), for DNS
// answers and health checks.
func LBAddrFunc(p *plan.Plan) func(role string, svc *plan.Service) (netip.AddrPort, error) {
	return func(role string, svc *plan.Service) (netip.AddrPort, error) {
		spec := p.Regions.Primary
		if Role(role) == Recovery {
			spec = p.Regions.Recovery
		}
		return LoadBalancerAddr(p, spec, svc)
	}
}
