package aws

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/recovery"
	"github.com/pilotlight/pilotlight/runbook"
)

// Tags of what an isolated drill creates: the sweeper ('drill cleanup
// --older-than') finds leftovers by them.
const (
	// TagDrill is the drill ID.
	TagDrill = "pilotlight:drill"
	// TagDrillStarted is when the drill started, RFC 3339 in UTC.
	TagDrillStarted = "pilotlight:drill-started"
)

var _ recovery.Smoke = (*Recovery)(nil)

// drillEC2Tags are the drill's tags (none outside a drill), in EC2's
// type; the other services' tags are converted from them.
func (r *Recovery) drillEC2Tags() []ec2types.Tag {
	if r.DrillID == "" {
		return nil
	}
	return []ec2types.Tag{
		{Key: sdkaws.String(TagDrill), Value: sdkaws.String(r.DrillID)},
		{Key: sdkaws.String(TagDrillStarted), Value: sdkaws.String(r.DrillStarted.UTC().Format(time.RFC3339))},
	}
}

// drillFilters restrict DescribeInstances to the drill's own instances, so
// that a drill neither counts nor starts production's pilot light.
func (r *Recovery) drillFilters() []ec2types.Filter {
	if r.DrillID == "" {
		return nil
	}
	return []ec2types.Filter{{Name: sdkaws.String("tag:" + TagDrill), Values: []string{r.DrillID}}}
}

// lbName is the name of service's load balancer and target group: the
// plan's (resourceName), or in a drill one derived from the drill ID too,
// so that it never collides with a real failover's.
func (r *Recovery) lbName(service string) string {
	if r.DrillID == "" {
		return resourceName(r.Plan.Name, service)
	}
	return resourceName(r.Plan.Name, service+"-"+r.DrillID)
}

// Smoke makes one HTTP request to service's load balancer in region by its
// own DNS name (not a record clients resolve), for the path of the
// service's health check on the load balancer's port: the end-to-end check
// of an isolated drill.
func (r *Recovery) Smoke(ctx context.Context, region, service string) (recovery.Answer, error) {
	rc, err := r.region(region)
	if err != nil {
		return recovery.Answer{}, err
	}
	svc, err := r.service(service)
	if err != nil {
		return recovery.Answer{}, err
	}
	if svc.LoadBalancer == nil {
		return recovery.Answer{}, runbook.Fatal(fmt.Errorf("aws: smoke %s: %w: it has no load balancer", service, ErrConfig))
	}
	lb, ok, err := r.findLoadBalancer(ctx, region, rc, service)
	if err != nil {
		return recovery.Answer{}, err
	}
	if !ok {
		return recovery.Answer{}, runbook.Transient(fmt.Errorf("aws: smoke %s: no load balancer in %s yet", service, region))
	}
	path := plan.DefaultCheckPath
	if hc := svc.LoadBalancer.HealthCheck; hc != nil && hc.Path != "" {
		path = hc.Path
	}
	a := recovery.Answer{Region: region, Addr: net.JoinHostPort(lb.DNSName, strconv.Itoa(svc.LoadBalancer.Port))}
	a.Status, err = r.get(ctx, "http://"+a.Addr+path, "")
	if err != nil {
		return a, fmt.Errorf("aws: smoke %s: %w", service, err)
	}
	return a, nil
}

// get makes one GET of url (with Host header host, when set) and returns
// the status; a status of 400 or more, or no answer, is transient.
func (r *Recovery) get(ctx context.Context, url, host string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, runbook.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	client := r.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, runbook.Transient(err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode >= 400 {
		return resp.StatusCode, runbook.Transient(fmt.Errorf("%s answered %d", url, resp.StatusCode))
	}
	return resp.StatusCode, nil
}
