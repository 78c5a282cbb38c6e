package aws

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/route53"
)

// Route53API is the part of the Route 53 client that the DNS driver uses.
// Every call must return when ctx is cancelled.
type Route53API interface {
	ListHostedZonesByName(ctx context.Context, in *route53.ListHostedZonesByNameInput, opts ...func(*route53.Options)) (*route53.ListHostedZonesByNameOutput, error)
	ListResourceRecordSets(ctx context.Context, in *route53.ListResourceRecordSetsInput, opts ...func(*route53.Options)) (*route53.ListResourceRecordSetsOutput, error)
	ChangeResourceRecordSets(ctx context.Context, in *route53.ChangeResourceRecordSetsInput, opts ...func(*route53.Options)) (*route53.ChangeResourceRecordSetsOutput, error)
	GetChange(ctx context.Context, in *route53.GetChangeInput, opts ...func(*route53.Options)) (*route53.GetChangeOutput, error)
	ListHealthChecks(ctx context.Context, in *route53.ListHealthChecksInput, opts ...func(*route53.Options)) (*route53.ListHealthChecksOutput, error)
	CreateHealthCheck(ctx context.Context, in *route53.CreateHealthCheckInput, opts ...func(*route53.Options)) (*route53.CreateHealthCheckOutput, error)
	UpdateHealthCheck(ctx context.Context, in *route53.UpdateHealthCheckInput, opts ...func(*route53.Options)) (*route53.UpdateHealthCheckOutput, error)
}

var _ Route53API = (*route53.Client)(nil)

// NewRoute53 builds a Route 53 client from the standard AWS configuration
// with the given profile ("" for the default chain). Route 53 is global:
// the region defaults to us-east-1 unless the configuration sets one (such
// as cn-north-1 for the China partition); AWS_ENDPOINT_URL_ROUTE_53
// replaces the endpoint.
func NewRoute53(ctx context.Context, profile string) (*route53.Client, error) {
	opts := []func(*config.LoadOptions) error{config.WithHTTPClient(awshttp.NewBuildableClient())}
	if profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("route53: load config profile %q: %w", profile, err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	return route53.NewFromConfig(cfg), nil
}

// Routing policies of a RecordSpec.
const (
	PolicySimple   = "simple"
	PolicyFailover = "failover"
	PolicyWeighted = "weighted"
)

// RecordSpec is one DNS name the plan routes: what the driver makes Route 53
// hold. The lead maps plan.Record (with its zone and the regions' targets)
// to it.
type RecordSpec struct {
	// Name is the fully qualified name (a trailing dot is added).
	Name string `json:"name"`
	// Type is A, AAAA, CNAME or TXT (default A).
	Type string `json:"type"`
	// TTL in seconds (default 60; ignored for alias targets, which take the
	// target's).
	TTL int64 `json:"ttl"`
	// Policy is simple, failover or weighted (default simple).
	Policy string `json:"policy"`
	// Primary and Secondary are the values of each role: addresses, a host
	// name for CNAME, strings for TXT (quoted when not already). A simple
	// record uses Primary only.
	Primary   []string `json:"primary,omitempty"`
	Secondary []string `json:"secondary,omitempty"`
	// PrimaryAlias and SecondaryAlias, when set, replace the role's values
	// with a Route 53 alias (such as an ELB load balancer).
	PrimaryAlias   *AliasTarget `json:"primaryAlias,omitempty"`
	SecondaryAlias *AliasTarget `json:"secondaryAlias,omitempty"`
	// Weights of the primary and secondary members of a weighted record
	// (0..255, not both zero).
	Weights [2]int64 `json:"weights,omitzero"`
	// HealthCheck creates one Route 53 health check per role and binds it
	// to the role's record set. Required for failover unless the primary
	// is an alias that evaluates target health; nil for simple.
	HealthCheck *HealthCheckSpec `json:"healthCheck,omitempty"`
}

// AliasTarget is a Route 53 alias to another AWS resource.
type AliasTarget struct {
	// DNSName of the target, such as my-lb-123.ap-northeast-2.elb.amazonaws.com.
	DNSName string `json:"dnsName"`
	// HostedZoneID of the target (the load balancer's canonical hosted
	// zone, not the record's).
	HostedZoneID string `json:"hostedZoneId"`
	// EvaluateTargetHealth makes Route 53 use the target's own health.
	EvaluateTargetHealth bool `json:"evaluateTargetHealth,omitempty"`
}

// Endpoint is what a health check probes: a host name or an IP address.
type Endpoint struct {
	FQDN string `json:"fqdn,omitempty"`
	IP   string `json:"ip,omitempty"`
}

// HealthCheckSpec describes the Route 53 health checks of a record, one per
// role.
type HealthCheckSpec struct {
	// Type is HTTP, HTTPS or TCP; with Body, HTTP and HTTPS become
	// HTTP_STR_MATCH and HTTPS_STR_MATCH.
	Type string `json:"type"`
	// Primary and Secondary are the probed endpoints. When empty, the
	// role's first value is used if it is an IP address.
	Primary   Endpoint `json:"primary,omitzero"`
	Secondary Endpoint `json:"secondary,omitzero"`
	// Port (default 80 for HTTP, 443 for HTTPS; required for TCP).
	Port int `json:"port,omitempty"`
	// Path requested by HTTP(S) checks (default /).
	Path string `json:"path,omitempty"`
	// Interval in seconds between checks from each Route 53 checker: 10 or
	// 30 (default 10). Route 53 cannot change it after creation.
	Interval int `json:"interval,omitempty"`
	// FailureThreshold is how many consecutive results change the status,
	// 1..10 (default 3).
	FailureThreshold int `json:"failureThreshold,omitempty"`
	// Body, when set, must appear in the first 5,120 bytes of the response
	// (at most 255 characters).
	Body string `json:"body,omitempty"`
}

// Backoff is the capped, jittered backoff between retries of a throttled
// Route 53 call: attempt n waits a random duration in [d/2, d] with
// d = min(Max, Initial·2ⁿ).
type Backoff struct {
	// Initial delay (default 200ms).
	Initial time.Duration
	// Max delay (default 10s).
	Max time.Duration
	// Attempts is the total number of tries of one call (default 10).
	Attempts int
}

// Clock is the time source of the Route 53 driver.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type wallClock struct{}

func (wallClock) Now() time.Time                         { return time.Now() }
func (wallClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Route53Driver keeps a hosted zone's records and health checks in line
// with a plan: Plan computes a ChangeSet, Apply makes it, Switch flips one
// simple record. Its methods may be called concurrently; changes to one
// hosted zone are serialized within the process.
type Route53Driver struct {
	// Client is the Route 53 client. Required.
	Client Route53API
	// ZoneID is the hosted zone (with or without the /hostedzone/ prefix).
	// When empty, Zone is looked up by name and must be unambiguous.
	ZoneID string
	// Zone is the hosted zone's name, such as ticketing.example.com.
	Zone string
	// PlanName is part of every health check's CallerReference, so two
	// plans sharing an account never adopt each other's checks. Required
	// when records have health checks.
	PlanName string
	// Logger receives progress (nil discards).
	Logger *slog.Logger
	// Clock times retries and INSYNC polling (default the wall clock).
	Clock Clock
	// Backoff between retries of throttled calls.
	Backoff Backoff
	// PollInterval between GetChange calls while waiting for INSYNC
	// (default 2s).
	PollInterval time.Duration
	// Limits of one ChangeResourceRecordSets call (default Route 53's:
	// 1,000 elements and 32,000 characters).
	Limits BatchLimits

	zoneOnce sync.Mutex
	zoneID   string
}

func (d *Route53Driver) log() *slog.Logger {
	if d.Logger == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return d.Logger.With("component", "route53")
}

func (d *Route53Driver) clock() Clock {
	if d.Clock == nil {
		return wallClock{}
	}
	return d.Clock
}

func (d *Route53Driver) limits() BatchLimits {
	l := d.Limits
	if l.Elements <= 0 {
		l.Elements = MaxBatchElements
	}
	if l.Chars <= 0 {
		l.Chars = MaxBatchChars
	}
	return l
}

// resolveZone returns the hosted zone's bare ID, looking it up by name once
// when ZoneID is empty.
func (d *Route53Driver) resolveZone(ctx context.Context) (string, error) {
	if d.Client == nil {
		return "", fmt.Errorf("route53: resolve zone %s: %w: Client is required", d.Zone, ErrConfig)
	}
	if d.ZoneID != "" {
		return bareID(d.ZoneID), nil
	}
	d.zoneOnce.Lock()
	defer d.zoneOnce.Unlock()
	if d.zoneID != "" {
		return d.zoneID, nil
	}
	if d.Zone == "" {
		return "", fmt.Errorf("route53: resolve zone: %w: ZoneID or Zone is required", ErrConfig)
	}
	name := fqdn(d.Zone)
	var out *route53.ListHostedZonesByNameOutput
	err := d.retry(ctx, "list hosted zones", name, func() error {
		var err error
		out, err = d.Client.ListHostedZonesByName(ctx, &route53.ListHostedZonesByNameInput{DNSName: sdkaws.String(name)})
		return err
	})
	if err != nil {
		return "", err
	}
	var ids []string
	for _, z := range out.HostedZones {
		if fqdn(sdkaws.ToString(z.Name)) == name {
			ids = append(ids, bareID(sdkaws.ToString(z.Id)))
		}
	}
	switch len(ids) {
	case 0:
		return "", fmt.Errorf("route53: resolve zone %s: %w", name, ErrNoSuchZone)
	case 1:
		d.zoneID = ids[0]
		return d.zoneID, nil
	}
	return "", fmt.Errorf("route53: resolve zone %s: %w: %d hosted zones have this name (%s); set the zone ID",
		name, ErrConfig, len(ids), strings.Join(ids, ", "))
}

// zoneLocks holds one lock per hosted zone ID, shared by every driver in the
// process. A lock is a one-slot channel so that waiting honours ctx.
var zoneLocks sync.Map // zone ID → chan struct{}

// lockZone waits for the zone's lock; it returns the unlock function.
func lockZone(ctx context.Context, zoneID string) (func(), error) {
	v, _ := zoneLocks.LoadOrStore(zoneID, make(chan struct{}, 1))
	ch := v.(chan struct{})
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("route53: lock zone %s: %w", zoneID, ctx.Err())
	}
}

// bareID strips the /hostedzone/, /change/ or /healthcheck/ prefix of an ID.
func bareID(id string) string {
	return id[strings.LastIndexByte(id, '/')+1:]
}

// fqdn lower-cases name, decodes Route 53's \052 escape and adds the
// trailing dot.
func fqdn(name string) string {
	name = strings.ToLower(strings.ReplaceAll(name, `\052`, "*"))
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	return name
}
