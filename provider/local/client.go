package local

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/recovery"
	"github.com/pilotlight/pilotlight/runbook"
)

// RegionHeader is the response header in which a plan's instances name
// their region (the example app sets it).
const RegionHeader = "X-Pilotlight-Region"

// Control drives a running deployment (`pilotlight up`, or a drill) through
// its control API. It is the local provider of recovery runbooks.
type Control struct {
	base string
	dns  string
	plan *plan.Plan
	http *http.Client
}

var _ recovery.Provider = (*Control)(nil)

// NewControl returns a client of the control API at base (http://host:port)
// for plan p; dnsAddr is the embedded DNS server used by Verify.
func NewControl(base, dnsAddr string, p *plan.Plan) *Control {
	return &Control{base: base, dns: dnsAddr, plan: p, http: &http.Client{Timeout: 5 * time.Minute}}
}

// DialControl finds the running `pilotlight up` of stateDir.
func DialControl(stateDir string, p *plan.Plan) (*Control, error) {
	rt, err := ReadRuntime(stateDir)
	if err != nil {
		return nil, err
	}
	if rt.Plan != p.Name {
		return nil, fmt.Errorf("local: the running `pilotlight up` (pid %d) runs plan %s, not %s", rt.PID, rt.Plan, p.Name)
	}
	if rt.ControlURL == "" {
		return nil, fmt.Errorf("local: the running `pilotlight up` (pid %d) has no control API; restart it", rt.PID)
	}
	return NewControl(rt.ControlURL, rt.DNS, p), nil
}

// call sends a request to the control API and decodes the answer into out
// (when not nil). Errors are classified for the runbook engine.
func (c *Control) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("local: control %s %s: %w", method, path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		return runbook.Transient(fmt.Errorf("local: control %s %s: %w", method, path, err))
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		var ae apiError
		_ = json.Unmarshal(b, &ae)
		err := fmt.Errorf("local: control %s %s: %s: %s", method, path, resp.Status, ae.Message)
		switch {
		case ae.Code == codeNoCapacity:
			return runbook.Capacity(err)
		case resp.StatusCode == http.StatusNotFound:
			return runbook.NotFound(err)
		case resp.StatusCode >= 500:
			return runbook.Transient(err)
		}
		return runbook.Fatal(err)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("local: control %s %s: decode: %w", method, path, err)
		}
	}
	return nil
}

// Status returns the deployment's status.
func (c *Control) Status(ctx context.Context) (DeploymentStatus, error) {
	var st DeploymentStatus
	return st, c.call(ctx, http.MethodGet, "/v1/status", nil, &st)
}

// Scale implements recovery.Compute.
func (c *Control) Scale(ctx context.Context, region, service, instanceType string, count int, key string) error {
	return c.call(ctx, http.MethodPost, "/v1/regions/"+region+"/services/"+service+"/scale",
		controlRequest{InstanceType: instanceType, Count: count, Key: key}, nil)
}

// Service implements recovery.Compute.
func (c *Control) Service(ctx context.Context, region, service string) (recovery.ServiceState, error) {
	var sc ServiceScale
	if err := c.call(ctx, http.MethodGet, "/v1/regions/"+region+"/services/"+service, nil, &sc); err != nil {
		return recovery.ServiceState{}, err
	}
	return recovery.ServiceState{InstanceType: sc.InstanceType, Desired: sc.Desired, Running: sc.Running, Healthy: sc.Healthy, LoadBalancer: sc.LoadBalancer}, nil
}

// SetCapacity declares whether region has capacity for instanceType.
func (c *Control) SetCapacity(ctx context.Context, region, instanceType string, available bool) error {
	return c.call(ctx, http.MethodPost, "/v1/regions/"+region+"/capacity", controlRequest{InstanceType: instanceType, Available: available}, nil)
}

// Fence implements recovery.Data.
func (c *Control) Fence(ctx context.Context, region string, on bool) error {
	return c.call(ctx, http.MethodPost, "/v1/regions/"+region+"/fence", controlRequest{On: on}, nil)
}

// Sync implements recovery.Data.
func (c *Control) Sync(ctx context.Context, from, to string) (recovery.SyncReport, error) {
	var r SyncResult
	if err := c.call(ctx, http.MethodPost, "/v1/replication/sync", controlRequest{From: from, To: to}, &r); err != nil {
		return recovery.SyncReport{}, err
	}
	return recovery.SyncReport{Listed: r.Listed, Copied: r.Copied, Failed: r.Failed, Seconds: r.Seconds}, nil
}

// SetReplication implements recovery.Data.
func (c *Control) SetReplication(ctx context.Context, from, to string) error {
	return c.call(ctx, http.MethodPost, "/v1/replication/direction", controlRequest{From: from, To: to}, nil)
}

// ReplicationState returns the direction of continuous replication and
// each bucket's RPO status, as the running `up` measures them.
func (c *Control) ReplicationState(ctx context.Context) (ReplicationState, error) {
	var st ReplicationState
	return st, c.call(ctx, http.MethodGet, "/v1/replication", nil, &st)
}

// Replication implements recovery.Data.
func (c *Control) Replication(ctx context.Context) (recovery.ReplicationReport, error) {
	st, err := c.ReplicationState(ctx)
	if err != nil {
		return recovery.ReplicationReport{}, err
	}
	rep := recovery.ReplicationReport{From: st.From, To: st.To, Paused: st.Paused}
	for _, b := range st.Buckets {
		// The lag is the age of the oldest change not yet copied; the RPO
		// bound (which also covers lost events until the next listing) is
		// for alerts, not for judging a replica at failover.
		rep.Buckets = append(rep.Buckets, recovery.BucketReplica{Bucket: b.Bucket, Converged: b.LastPass, Lag: time.Duration(b.LagSeconds * float64(time.Second))})
	}
	return rep, nil
}

// SetActive implements recovery.Routing.
func (c *Control) SetActive(ctx context.Context, record, role string) error {
	return c.call(ctx, http.MethodPost, "/v1/routing/"+record, controlRequest{Active: role}, nil)
}

// Routing returns the routing state of every record.
func (c *Control) Routing(ctx context.Context) ([]RecordRouting, error) {
	var rr []RecordRouting
	return rr, c.call(ctx, http.MethodGet, "/v1/routing", nil, &rr)
}

// InjectFault injects a fault into the running deployment.
func (c *Control) InjectFault(ctx context.Context, spec FaultSpec) (Fault, error) {
	var f Fault
	return f, c.call(ctx, http.MethodPost, "/v1/faults", spec, &f)
}

// RollbackFault rolls a fault back; rolling back twice is not an error.
func (c *Control) RollbackFault(ctx context.Context, id string) error {
	return c.call(ctx, http.MethodDelete, "/v1/faults/"+id, nil, nil)
}

// Faults lists the faults in place.
func (c *Control) Faults(ctx context.Context) ([]FaultStatus, error) {
	var fs []FaultStatus
	return fs, c.call(ctx, http.MethodGet, "/v1/faults", nil, &fs)
}

// Reachable implements recovery.Probe.
func (c *Control) Reachable(ctx context.Context, region string) error {
	return c.call(ctx, http.MethodGet, "/v1/regions/"+region+"/reachable", nil, nil)
}

// Verify implements recovery.Probe: it resolves record through the
// embedded DNS server and sends GET / to the answer on the load balancer's
// port; the region is the one the answering instance names.
func (c *Control) Verify(ctx context.Context, record string) (recovery.Answer, error) {
	var a recovery.Answer
	if c.dns == "" || c.plan.Routing == nil {
		return a, runbook.Fatal(errors.New("local: verify: no DNS server or routing in the plan"))
	}
	var rec *plan.Record
	for i := range c.plan.Routing.Records {
		if c.plan.Routing.Records[i].Name == record {
			rec = &c.plan.Routing.Records[i]
		}
	}
	if rec == nil {
		return a, runbook.Fatal(fmt.Errorf("local: verify: no record %q in the plan", record))
	}
	port := 80
	if svc := c.plan.Service(rec.Service); svc != nil && svc.LoadBalancer != nil {
		port = svc.LoadBalancer.Port
	}
	name := mdns.Fqdn(record + "." + c.plan.Routing.Zone)
	m := new(mdns.Msg)
	m.SetQuestion(name, mdns.TypeA)
	cl := &mdns.Client{Timeout: 2 * time.Second}
	in, _, err := cl.ExchangeContext(ctx, m, c.dns)
	if err != nil {
		return a, runbook.Transient(fmt.Errorf("local: verify %s: resolve at %s: %w", name, c.dns, err))
	}
	for _, rr := range in.Answer {
		if ar, ok := rr.(*mdns.A); ok {
			a.Addr = net.JoinHostPort(ar.A.String(), strconv.Itoa(port))
			break
		}
	}
	if a.Addr == "" {
		return a, runbook.Transient(fmt.Errorf("local: verify %s: no A record in the answer (%s)", name, mdns.RcodeToString[in.Rcode]))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+a.Addr+"/", nil)
	if err != nil {
		return a, err
	}
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := hc.Do(req)
	if err != nil {
		return a, runbook.Transient(fmt.Errorf("local: verify %s: GET http://%s/: %w", name, a.Addr, err))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	a.Status = resp.StatusCode
	a.Region = resp.Header.Get(RegionHeader)
	if resp.StatusCode/100 != 2 {
		return a, runbook.Transient(fmt.Errorf("local: verify %s: GET http://%s/: %s", name, a.Addr, resp.Status))
	}
	return a, nil
}
