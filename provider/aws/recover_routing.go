package aws

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/recovery"
	"github.com/pilotlight/pilotlight/runbook"
)

// Resolver resolves host names (net.Resolver satisfies it).
type Resolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
}

// record returns the plan's routing record name.
func (r *Recovery) record(name string) (plan.Record, error) {
	if r.Plan.Routing != nil {
		for _, rec := range r.Plan.Routing.Records {
			if rec.Name == name {
				return rec, nil
			}
		}
	}
	return plan.Record{}, runbook.Fatal(fmt.Errorf("aws: record %s: %w: not in plan %s", name, ErrConfig, r.Plan.Name))
}

// roleRegion is the region name of a role.
func (r *Recovery) roleRegion(role string) string {
	if role == recovery.RolePrimary {
		return r.Plan.Regions.Primary.Name
	}
	return r.Plan.Regions.Recovery.Name
}

// SetActive pins record to role's region through the Route53Driver: the
// record becomes a simple alias to the load balancer of its service in
// that region (Plan then Apply, waiting until INSYNC), replacing the
// failover pair. A pilot-light recovery region has no load balancer before
// the recovery, so a Route 53 failover pair cannot point at it in advance:
// the pin is how traffic moves. role "" restores the record's RecordSpec
// (health checks decide again). Records with fixed targets are not
// supported yet.
func (r *Recovery) SetActive(ctx context.Context, name, role string) error {
	if r.DNS == nil {
		return runbook.Fatal(fmt.Errorf("aws: set active %s: %w: no Route 53 driver", name, ErrConfig))
	}
	rec, err := r.record(name)
	if err != nil {
		return err
	}
	fqdn := rec.FQDN(r.Plan.Routing.Zone)
	var spec RecordSpec
	if role == "" {
		s, ok := r.RecordSpecs[name]
		if !ok {
			return runbook.Fatal(fmt.Errorf("aws: set active %s: %w: giving the record back to its health checks needs its RecordSpec", name, ErrConfig))
		}
		spec = s
	} else {
		if rec.Service == "" {
			return runbook.Fatal(fmt.Errorf("aws: set active %s: fixed targets: %w", name, ErrNotSupported))
		}
		region := r.roleRegion(role)
		rc, err := r.region(region)
		if err != nil {
			return err
		}
		lb, ok, err := r.findLoadBalancer(ctx, region, rc, rec.Service)
		if err != nil {
			return err
		}
		if !ok {
			return runbook.Transient(fmt.Errorf("aws: set active %s: %s has no load balancer in %s yet", name, rec.Service, region))
		}
		spec = RecordSpec{Name: fqdn, Type: string(rec.Type), Policy: PolicySimple,
			PrimaryAlias: &AliasTarget{DNSName: lb.DNSName, HostedZoneID: lb.CanonicalZone, EvaluateTargetHealth: true}}
	}
	cs, err := r.DNS.Plan(ctx, []RecordSpec{spec})
	if err != nil {
		return classify(fmt.Errorf("aws: set active %s: %w", name, err))
	}
	if cs.Empty() {
		return nil
	}
	if _, err := r.DNS.Apply(ctx, cs, true); err != nil {
		return classify(fmt.Errorf("aws: set active %s: %w", name, err))
	}
	return nil
}

// Reachable checks that region's EC2 API answers and that it has an
// available zone.
func (r *Recovery) Reachable(ctx context.Context, region string) error {
	rc, err := r.region(region)
	if err != nil {
		return err
	}
	out, err := rc.EC2.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{})
	if err != nil {
		return callError("ec2 describe availability zones", region, err)
	}
	for _, z := range out.AvailabilityZones {
		if z.State == "available" {
			return nil
		}
	}
	return runbook.Transient(fmt.Errorf("aws: region %s: no available zone", region))
}

// Verify resolves record's name, finds whose load balancer the answer is
// (by the addresses each region's load balancer name resolves to), and
// makes one HTTP request to it for the record's health-check path (default
// /) on the service's load balancer port.
func (r *Recovery) Verify(ctx context.Context, name string) (recovery.Answer, error) {
	rec, err := r.record(name)
	if err != nil {
		return recovery.Answer{}, err
	}
	if rec.Service == "" {
		return recovery.Answer{}, runbook.Fatal(fmt.Errorf("aws: verify %s: fixed targets: %w", name, ErrNotSupported))
	}
	svc, err := r.service(rec.Service)
	if err != nil {
		return recovery.Answer{}, err
	}
	res := r.Resolver
	if res == nil {
		res = net.DefaultResolver
	}
	fqdn := rec.FQDN(r.Plan.Routing.Zone)
	addrs, err := res.LookupHost(ctx, fqdn)
	if err != nil || len(addrs) == 0 {
		return recovery.Answer{}, runbook.Transient(fmt.Errorf("aws: verify %s: resolve %s: %v", name, fqdn, err))
	}
	a := recovery.Answer{}
	for _, role := range []string{recovery.RolePrimary, recovery.RoleRecovery} {
		region := r.roleRegion(role)
		rc, err := r.region(region)
		if err != nil {
			continue
		}
		lb, ok, err := r.findLoadBalancer(ctx, region, rc, rec.Service)
		if err != nil || !ok {
			continue
		}
		lbAddrs, err := res.LookupHost(ctx, lb.DNSName)
		if err == nil && slices.ContainsFunc(addrs, func(s string) bool { return slices.Contains(lbAddrs, s) }) {
			a.Region = region
			break
		}
	}
	port := 80
	if svc.LoadBalancer != nil {
		port = svc.LoadBalancer.Port
	}
	path := "/"
	if hc := rec.HealthCheck; hc != nil && hc.Path != "" {
		path = hc.Path
	}
	a.Addr = net.JoinHostPort(addrs[0], strconv.Itoa(port))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+a.Addr+path, nil)
	if err != nil {
		return a, runbook.Fatal(fmt.Errorf("aws: verify %s: %w", name, err))
	}
	req.Host = fqdn[:len(fqdn)-1]
	client := r.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return a, runbook.Transient(fmt.Errorf("aws: verify %s: %w", name, err))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	a.Status = resp.StatusCode
	if a.Status >= 400 {
		return a, runbook.Transient(fmt.Errorf("aws: verify %s: %s answered %d", name, a.Addr, a.Status))
	}
	return a, nil
}

// Fence is not supported on AWS yet (it would deny writes with a bucket
// policy); it returns a fatal ErrNotSupported.
func (r *Recovery) Fence(ctx context.Context, region string, on bool) error {
	return runbook.Fatal(fmt.Errorf("aws: fence %s: %w", region, ErrNotSupported))
}

// Sync is not supported on AWS yet: S3 replication (NativeReplication)
// copies the buckets; it returns a fatal ErrNotSupported.
func (r *Recovery) Sync(ctx context.Context, from, to string) (recovery.SyncReport, error) {
	return recovery.SyncReport{}, runbook.Fatal(fmt.Errorf("aws: sync %s to %s: %w", from, to, ErrNotSupported))
}

// SetReplication is not supported on AWS yet; it returns a fatal
// ErrNotSupported.
func (r *Recovery) SetReplication(ctx context.Context, from, to string) error {
	return runbook.Fatal(fmt.Errorf("aws: set replication %s to %s: %w", from, to, ErrNotSupported))
}

// Replication is not supported on AWS yet (NativeReplication's Status
// counts replication states but not a replica age); it returns a fatal
// ErrNotSupported.
func (r *Recovery) Replication(ctx context.Context) (recovery.ReplicationReport, error) {
	return recovery.ReplicationReport{}, runbook.Fatal(fmt.Errorf("aws: replication: %w", ErrNotSupported))
}
