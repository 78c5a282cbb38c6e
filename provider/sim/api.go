package sim

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/pilotlight/pilotlight/capacity"
	"github.com/pilotlight/pilotlight/plan"
	awsp "github.com/pilotlight/pilotlight/provider/aws"
	"github.com/pilotlight/pilotlight/runbook"
)

// API actions of the simulated cloud, named as AWS names them.
const (
	ActRunInstances          = "ec2:RunInstances"
	ActTerminateInstances    = "ec2:TerminateInstances"
	ActDescribeInstances     = "ec2:DescribeInstances"
	ActDescribeLoadBalancers = "elbv2:DescribeLoadBalancers"
	ActDescribeTargetGroups  = "elbv2:DescribeTargetGroups"
	ActCreateLoadBalancer    = "elbv2:CreateLoadBalancer"
	ActCreateTargetGroup     = "elbv2:CreateTargetGroup"
	ActCreateListener        = "elbv2:CreateListener"
	ActRegisterTargets       = "elbv2:RegisterTargets"
	ActDescribeTargetHealth  = "elbv2:DescribeTargetHealth"
	ActChangeRecordSets      = "route53:ChangeResourceRecordSets"
	ActGetChange             = "route53:GetChange"
	ActRestoreDB             = "rds:RestoreDBInstanceFromDBSnapshot"
	ActDescribeDBInstances   = "rds:DescribeDBInstances"
	ActPutBucketPolicy       = "s3:PutBucketPolicy"
	ActPutBucketReplication  = "s3:PutBucketReplication"
	ActGetBucketReplication  = "s3:GetBucketReplication"
	ActCreateJob             = "s3control:CreateJob"
	ActDescribeJob           = "s3control:DescribeJob"
)

// Batch sizes of the API, as AWS documents them.
const (
	// MaxDescribeIDs is the most instance IDs of one DescribeInstances.
	MaxDescribeIDs = 1000
	// MaxDBFilter is the most DB identifiers of one DescribeDBInstances
	// filter.
	MaxDBFilter = 100
	// MaxChangeRecords is the most records one Route 53 change counts,
	// an UPSERT counting twice.
	MaxChangeRecords = 1000
	// MaxDescribePage is the page size of DescribeLoadBalancers and
	// DescribeTargetGroups.
	MaxDescribePage = 400
	// MaxTargets is the most targets of one RegisterTargets (a target
	// group holds at most 1,000).
	MaxTargets = 1000
)

// bucketsOf names the request buckets of an action (provider/aws keys).
func bucketsOf(action string) []string {
	switch action {
	case ActDescribeInstances:
		return []string{awsp.LimitEC2Describe}
	case ActRunInstances, ActTerminateInstances:
		return []string{awsp.LimitEC2Mutate}
	case ActDescribeLoadBalancers, ActDescribeTargetGroups, ActDescribeTargetHealth:
		return []string{awsp.LimitELBv2Describe}
	case ActChangeRecordSets, ActGetChange:
		return []string{awsp.LimitRoute53, awsp.LimitRoute53Account}
	case ActRestoreDB, ActDescribeDBInstances:
		return []string{awsp.LimitRDS}
	}
	return nil
}

// APIError is an error answered by the simulated cloud, classed for the
// runbook engine.
type APIError struct {
	Action, Code, Message string
	class                 runbook.Class
}

func (e *APIError) Error() string {
	return fmt.Sprintf("sim: %s: %s: %s", e.Action, e.Code, e.Message)
}

// Class is the runbook class of the error.
func (e *APIError) Class() runbook.Class { return e.class }

// call is the common part of every API call: the round trip, in key
// order among the calls of the same instant, then the buckets: it takes a
// token of each request bucket of the action and checks that resource
// (if any) holds n tokens, which the action takes if it succeeds. It
// records the call; the caller holds nothing.
func (c *Cloud) call(ctx context.Context, action, key, resource string, n int) (time.Time, error) {
	for attempt := 1; ; attempt++ {
		now, err := c.attempt(ctx, action, key, resource, n)
		if attempt >= c.o.ClientAttempts || runbook.Classify(err) != runbook.ClassThrottled || ctx.Err() != nil {
			return now, err
		}
		k := fmt.Sprintf("%s/%s/retry/%d", action, key, attempt)
		if err := c.clock.Sleep(ctx, k, awsp.SDKRetryDelay(attempt, c.unit(k))); err != nil {
			return time.Time{}, err
		}
	}
}

// attempt is one attempt of call.
func (c *Cloud) attempt(ctx context.Context, action, key, resource string, n int) (time.Time, error) {
	if err := c.clock.Sleep(ctx, action+"/"+key, c.o.CallLatency); err != nil {
		return time.Time{}, err
	}
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.calls[action]
	if st == nil {
		st = &ActionStats{Action: action}
		c.calls[action] = st
	}
	st.Calls++
	if c.inject(action) {
		st.Injected++
		return now, &APIError{Action: action, Code: throttleCode(action), Message: "Rate exceeded (injected by the api-throttle fault)", class: runbook.ClassThrottled}
	}
	keys := bucketsOf(action)
	if resource != "" {
		keys = append(keys, resource)
	}
	need := map[string]int{}
	for _, k := range keys {
		need[k] = 1
	}
	if resource != "" {
		need[resource] = n
	}
	for _, k := range keys {
		if b := c.buckets[k]; b != nil && b.level(now)+tolerance < float64(need[k]) {
			st.Throttled++
			code := "RequestLimitExceeded"
			if resource == k {
				code = "InstanceLimitExceeded: resource rate"
			}
			return now, &APIError{Action: action, Code: code, Message: "bucket " + k + " is empty", class: runbook.ClassThrottled}
		}
	}
	for _, k := range keys {
		if b := c.buckets[k]; b != nil && k != resource {
			b.take(now, need[k])
		}
	}
	return now, nil
}

// failed counts a call refused for another reason than throttling.
func (c *Cloud) failed(action string) {
	c.mu.Lock()
	c.calls[action].Failed++
	c.mu.Unlock()
}

func (c *Cloud) region(name string) (*region, error) {
	rg := c.regions[name]
	if rg == nil {
		return nil, runbook.Fatal(fmt.Errorf("sim: region %s: not in plan %s", name, c.o.Plan.Name))
	}
	return rg, nil
}

// Instance is what DescribeInstances tells of one instance.
type Instance struct {
	ID, Service, Type, Zone, State, StepKey string
}

// LaunchSpec is one RunInstances call: Count instances (MinCount =
// MaxCount) of Type for Service in Zone, tagged with StepKey.
type LaunchSpec struct {
	Region, Service, Type, Zone string
	Count                       int
	ClientToken, StepKey        string
}

// RunInstances launches spec.Count instances, all or none. A client token
// already used returns the instances it launched, launching nothing. A
// zone without capacity for the type answers InsufficientInstanceCapacity
// (a *capacity.InsufficientCapacityError, class capacity).
func (c *Cloud) RunInstances(ctx context.Context, spec LaunchSpec) ([]Instance, error) {
	now, err := c.call(ctx, ActRunInstances, spec.Service+"/"+spec.Zone+"/"+spec.ClientToken, awsp.LimitRunInstances, spec.Count)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	rg, err := c.region(spec.Region)
	if err != nil {
		return nil, err
	}
	if ids, ok := rg.tokens[spec.ClientToken]; ok && spec.ClientToken != "" {
		return c.describe(rg, ids, now), nil
	}
	if !contains(rg.zones, spec.Zone) {
		c.calls[ActRunInstances].Failed++
		return nil, &APIError{Action: ActRunInstances, Code: "InvalidParameterValue", Message: "no zone " + spec.Zone, class: runbook.ClassFatal}
	}
	if _, ok := capacity.Lookup(spec.Type); !ok {
		c.calls[ActRunInstances].Failed++
		return nil, &APIError{Action: ActRunInstances, Code: "InvalidParameterValue", Message: "unknown instance type " + spec.Type, class: runbook.ClassFatal}
	}
	ck := spec.Zone + "/" + spec.Type
	if left, ok := rg.capacity[ck]; ok {
		if left < spec.Count {
			c.calls[ActRunInstances].Failed++
			return nil, fmt.Errorf("sim: %s %d × %s: InsufficientInstanceCapacity: %w", ActRunInstances, spec.Count, spec.Type,
				&capacity.InsufficientCapacityError{Type: spec.Type, Zone: spec.Zone})
		}
		rg.capacity[ck] = left - spec.Count
	}
	c.buckets[awsp.LimitRunInstances].take(now, spec.Count)
	ids := make([]string, 0, spec.Count)
	for range spec.Count {
		in := c.newInstance(rg, spec.Service, spec.Type, spec.Zone, spec.StepKey, now)
		in.drill = c.o.DrillID
		ids = append(ids, in.ID)
	}
	if spec.ClientToken != "" {
		rg.tokens[spec.ClientToken] = ids
	}
	return c.describe(rg, ids, now), nil
}

// describe returns the instances of ids known to rg; c.mu is held.
func (c *Cloud) describe(rg *region, ids []string, now time.Time) []Instance {
	out := make([]Instance, 0, len(ids))
	for _, id := range ids {
		in, ok := rg.instances[id]
		if !ok {
			continue
		}
		st := "running"
		switch {
		case in.terminated:
			st = "terminated"
		case now.Before(in.running):
			st = "pending"
		}
		out = append(out, Instance{ID: in.ID, Service: in.Service, Type: in.Type, Zone: in.Zone, State: st, StepKey: in.StepKey})
	}
	return out
}

// DescribeInstances describes up to MaxDescribeIDs instances by ID.
func (c *Cloud) DescribeInstances(ctx context.Context, regionName string, ids []string) ([]Instance, error) {
	if len(ids) > MaxDescribeIDs {
		return nil, runbook.Fatal(fmt.Errorf("sim: %s: %d IDs, at most %d", ActDescribeInstances, len(ids), MaxDescribeIDs))
	}
	now, err := c.call(ctx, ActDescribeInstances, first(ids), "", 0)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	rg, err := c.region(regionName)
	if err != nil {
		return nil, err
	}
	return c.describe(rg, ids, now), nil
}

// DescribeServiceInstances describes the instances tagged for service
// (a tag filter).
func (c *Cloud) DescribeServiceInstances(ctx context.Context, regionName, service string) ([]Instance, error) {
	now, err := c.call(ctx, ActDescribeInstances, "tag/"+service, "", 0)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	rg, err := c.region(regionName)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, id := range sortedKeys(rg.instances) {
		if rg.instances[id].Service == service {
			ids = append(ids, id)
		}
	}
	return c.describe(rg, ids, now), nil
}

// TerminateInstances terminates instances by ID.
func (c *Cloud) TerminateInstances(ctx context.Context, regionName string, ids []string) error {
	if _, err := c.call(ctx, ActTerminateInstances, first(ids), awsp.LimitTerminateInstances, len(ids)); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	rg, err := c.region(regionName)
	if err != nil {
		return err
	}
	if b := c.buckets[awsp.LimitTerminateInstances]; b != nil {
		b.take(c.clock.now, len(ids))
	}
	for _, id := range ids {
		if in, ok := rg.instances[id]; ok {
			in.terminated = true
			for _, tg := range rg.tgs {
				delete(tg.targets, id)
			}
		}
	}
	return nil
}

// LoadBalancer is what the describe calls tell of a load balancer and
// its target group.
type LoadBalancer struct {
	Name, Service, ARN, DNS, State string
	// TargetGroupARN is the target group its listener forwards to.
	TargetGroupARN string
	// Drill is the drill ID it is tagged with ("" for production's).
	Drill string
}

// TargetGroup is what DescribeTargetGroups tells of a target group.
type TargetGroup struct {
	Name, Service, ARN string
	// Drill is the drill ID it is tagged with ("" for production's).
	Drill string
}

// DescribeLoadBalancers returns one page (MaxDescribePage, by name from
// after) of the region's load balancers.
func (c *Cloud) DescribeLoadBalancers(ctx context.Context, regionName, after string) ([]LoadBalancer, error) {
	now, err := c.call(ctx, ActDescribeLoadBalancers, after, "", 0)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	rg, err := c.region(regionName)
	if err != nil {
		return nil, err
	}
	var out []LoadBalancer
	for _, name := range sortedKeys(rg.lbs) {
		if name <= after || len(out) == MaxDescribePage {
			continue
		}
		out = append(out, lbView(rg.lbs[name], now))
	}
	return out, nil
}

func lbView(lb *loadBalancer, now time.Time) LoadBalancer {
	st := "active"
	if now.Before(lb.active) {
		st = "provisioning"
	}
	return LoadBalancer{Name: lb.Name, Service: lb.Service, ARN: lb.ARN, DNS: lb.DNS, State: st, TargetGroupARN: lb.listener, Drill: lb.drill}
}

// DescribeTargetGroups returns one page (MaxDescribePage, by name from
// after) of the region's target groups.
func (c *Cloud) DescribeTargetGroups(ctx context.Context, regionName, after string) ([]TargetGroup, error) {
	if _, err := c.call(ctx, ActDescribeTargetGroups, after, "", 0); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	rg, err := c.region(regionName)
	if err != nil {
		return nil, err
	}
	var all []TargetGroup
	for _, tg := range rg.tgs {
		if tg.Name > after {
			all = append(all, TargetGroup{Name: tg.Name, Service: tg.Service, ARN: tg.ARN, Drill: tg.drill})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	return all[:min(len(all), MaxDescribePage)], nil
}

// CreateLoadBalancer creates the load balancer of service, named
// plan-service; it returns the existing one of that name (ELBv2 create
// calls are idempotent by name).
func (c *Cloud) CreateLoadBalancer(ctx context.Context, regionName, service string) (LoadBalancer, error) {
	now, err := c.call(ctx, ActCreateLoadBalancer, service, "", 0)
	if err != nil {
		return LoadBalancer{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	rg, svc, err := c.regionService(regionName, service)
	if err != nil {
		return LoadBalancer{}, err
	}
	name := c.resourceName(service)
	lb, ok := rg.lbs[name]
	if !ok {
		lb = &loadBalancer{Name: name, Service: service, drill: c.o.DrillID, ARN: "arn:sim:elasticloadbalancing:" + rg.name + ":loadbalancer/app/" + name + "/" + c.nextID("lb"),
			DNS: name + "." + rg.name + ".elb.sim", active: now.Add(c.draw("lb/"+rg.name+"/"+name, c.o.Model.LoadBalancer.Create.D()))}
		rg.lbs[name] = lb
	}
	_ = svc
	return lbView(lb, now), nil
}

// CreateTargetGroup creates the target group of service (idempotent by
// name).
func (c *Cloud) CreateTargetGroup(ctx context.Context, regionName, service string) (TargetGroup, error) {
	if _, err := c.call(ctx, ActCreateTargetGroup, service, "", 0); err != nil {
		return TargetGroup{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	rg, svc, err := c.regionService(regionName, service)
	if err != nil {
		return TargetGroup{}, err
	}
	name := c.resourceName(service)
	for _, tg := range rg.tgs {
		if tg.Name == name {
			return TargetGroup{Name: tg.Name, Service: tg.Service, ARN: tg.ARN, Drill: tg.drill}, nil
		}
	}
	tg := c.newTargetGroup(rg, name, svc)
	tg.drill = c.o.DrillID
	return TargetGroup{Name: tg.Name, Service: tg.Service, ARN: tg.ARN, Drill: tg.drill}, nil
}

// CreateListener makes lbARN forward to tgARN (idempotent).
func (c *Cloud) CreateListener(ctx context.Context, regionName, lbARN, tgARN string) error {
	if _, err := c.call(ctx, ActCreateListener, lbARN, "", 0); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	rg, err := c.region(regionName)
	if err != nil {
		return err
	}
	for _, lb := range rg.lbs {
		if lb.ARN == lbARN {
			if _, ok := rg.tgs[tgARN]; !ok {
				c.calls[ActCreateListener].Failed++
				return &APIError{Action: ActCreateListener, Code: "TargetGroupNotFound", Message: tgARN, class: runbook.ClassTransient}
			}
			lb.listener = tgARN
			return nil
		}
	}
	c.calls[ActCreateListener].Failed++
	return &APIError{Action: ActCreateListener, Code: "LoadBalancerNotFound", Message: lbARN, class: runbook.ClassNotFound}
}

// RegisterTargets registers up to MaxTargets instances with a target
// group; registering a registered target changes nothing.
func (c *Cloud) RegisterTargets(ctx context.Context, regionName, tgARN string, ids []string) error {
	if len(ids) > MaxTargets {
		return runbook.Fatal(fmt.Errorf("sim: %s: %d targets, at most %d", ActRegisterTargets, len(ids), MaxTargets))
	}
	now, err := c.call(ctx, ActRegisterTargets, tgARN, "", 0)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	rg, err := c.region(regionName)
	if err != nil {
		return err
	}
	tg, ok := rg.tgs[tgARN]
	if !ok {
		c.calls[ActRegisterTargets].Failed++
		return &APIError{Action: ActRegisterTargets, Code: "TargetGroupNotFound", Message: tgARN, class: runbook.ClassNotFound}
	}
	for _, id := range ids {
		if _, ok := rg.instances[id]; !ok {
			c.calls[ActRegisterTargets].Failed++
			return &APIError{Action: ActRegisterTargets, Code: "InvalidTarget", Message: id, class: runbook.ClassTransient}
		}
		if _, ok := tg.targets[id]; !ok {
			tg.targets[id] = now
		}
	}
	return nil
}

// TargetHealth is the health of one target.
type TargetHealth struct {
	ID, State string // initial, healthy, unused
}

// DescribeTargetHealth returns the health of every target of a group.
func (c *Cloud) DescribeTargetHealth(ctx context.Context, regionName, tgARN string) ([]TargetHealth, error) {
	now, err := c.call(ctx, ActDescribeTargetHealth, tgARN, "", 0)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	rg, err := c.region(regionName)
	if err != nil {
		return nil, err
	}
	tg, ok := rg.tgs[tgARN]
	if !ok {
		c.calls[ActDescribeTargetHealth].Failed++
		return nil, &APIError{Action: ActDescribeTargetHealth, Code: "TargetGroupNotFound", Message: tgARN, class: runbook.ClassNotFound}
	}
	var lb *loadBalancer
	for _, l := range rg.lbs {
		if l.listener == tgARN {
			lb = l
		}
	}
	out := make([]TargetHealth, 0, len(tg.targets))
	for _, id := range sortedKeys(tg.targets) {
		in := rg.instances[id]
		st := "initial"
		switch {
		case lb == nil:
			st = "unused"
		case !now.Before(c.healthy(lb, tg, in, tg.targets[id])):
			st = "healthy"
		}
		out = append(out, TargetHealth{ID: id, State: st})
	}
	return out, nil
}

// RecordChange is one UPSERT of a Route 53 change: record answers with
// the region of role ("" gives the answer back to health checks).
type RecordChange struct {
	Record, Role string
}

// ChangeRecordSets applies UPSERTs in one change, counting each twice
// against MaxChangeRecords, and returns the change ID. The change is
// INSYNC after the model's DNS propagation.
func (c *Cloud) ChangeRecordSets(ctx context.Context, changes []RecordChange) (string, error) {
	if 2*len(changes) > MaxChangeRecords {
		return "", runbook.Fatal(fmt.Errorf("sim: %s: %d UPSERTs count %d records, at most %d", ActChangeRecordSets, len(changes), 2*len(changes), MaxChangeRecords))
	}
	key := ""
	if len(changes) > 0 {
		key = changes[0].Record
	}
	now, err := c.call(ctx, ActChangeRecordSets, key, "", 0)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range changes {
		if _, ok := c.records[ch.Record]; !ok {
			c.calls[ActChangeRecordSets].Failed++
			return "", &APIError{Action: ActChangeRecordSets, Code: "InvalidChangeBatch", Message: "no record " + ch.Record, class: runbook.ClassFatal}
		}
	}
	id := c.nextID("C")
	insync := now.Add(c.draw("dns/"+key, c.o.Model.DNS.Propagation.D()))
	c.changes[id] = &change{ID: id, insync: insync}
	for _, ch := range changes {
		r := c.records[ch.Record]
		r.Role, r.insync = ch.Role, insync
		c.upserts[ch.Record]++
	}
	return id, nil
}

// GetChange returns PENDING or INSYNC.
func (c *Cloud) GetChange(ctx context.Context, id string) (string, error) {
	now, err := c.call(ctx, ActGetChange, id, "", 0)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ch, ok := c.changes[id]
	if !ok {
		c.calls[ActGetChange].Failed++
		return "", &APIError{Action: ActGetChange, Code: "NoSuchChange", Message: id, class: runbook.ClassNotFound}
	}
	if now.Before(ch.insync) {
		return "PENDING", nil
	}
	return "INSYNC", nil
}

// RestoreDB starts the restore of db in region from its newest snapshot
// there. The DB identifier is db.ID: a restore of an identifier that
// exists with the same key is answered as done, with another key as a
// conflict (DBInstanceAlreadyExists).
func (c *Cloud) RestoreDB(ctx context.Context, regionName string, db plan.Database, key string) error {
	now, err := c.call(ctx, ActRestoreDB, db.ID, "", 0)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	rg, err := c.region(regionName)
	if err != nil {
		return err
	}
	if d, ok := rg.dbs[db.ID]; ok {
		if d.Key == key {
			return nil
		}
		c.calls[ActRestoreDB].Failed++
		return &APIError{Action: ActRestoreDB, Code: "DBInstanceAlreadyExists", Message: db.ID, class: runbook.ClassConflict}
	}
	rg.dbs[db.ID] = &database{ID: db.ID, Key: key, SizeGB: db.SizeGB, Cluster: db.Cluster, drill: c.o.DrillID,
		available: now.Add(c.draw("db/"+rg.name+"/"+db.ID, c.o.Model.Database.Restore.For(db.SizeGB)))}
	return nil
}

// DBInstance is what DescribeDBInstances tells of a database.
type DBInstance struct {
	ID, Status string // creating, available
}

// DescribeDBInstances describes up to MaxDBFilter databases.
func (c *Cloud) DescribeDBInstances(ctx context.Context, regionName string, ids []string) ([]DBInstance, error) {
	if len(ids) > MaxDBFilter {
		return nil, runbook.Fatal(fmt.Errorf("sim: %s: %d identifiers, at most %d", ActDescribeDBInstances, len(ids), MaxDBFilter))
	}
	now, err := c.call(ctx, ActDescribeDBInstances, first(ids), "", 0)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	rg, err := c.region(regionName)
	if err != nil {
		return nil, err
	}
	var out []DBInstance
	for _, id := range ids {
		if d, ok := rg.dbs[id]; ok {
			st := "creating"
			if !now.Before(d.available) {
				st = "available"
			}
			out = append(out, DBInstance{ID: id, Status: st})
		}
	}
	return out, nil
}

// PutBucketPolicy fences (refuses writes to) or unfences the plan's
// bucket in region.
func (c *Cloud) PutBucketPolicy(ctx context.Context, regionName, bucketName string, fenced bool) error {
	if _, err := c.call(ctx, ActPutBucketPolicy, regionName+"/"+bucketName, "", 0); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	rg, err := c.region(regionName)
	if err != nil {
		return err
	}
	rg.fenced = fenced
	return nil
}

// replicationCall records a bucket replication call (get or put).
func (c *Cloud) replicationCall(ctx context.Context, action, bucketName string) error {
	_, err := c.call(ctx, action, bucketName, "", 0)
	return err
}

// CreateJob starts an S3 Batch Replication job of a bucket's backlog and
// returns when it ends (the model's native replication lag, drawn).
func (c *Cloud) CreateJob(ctx context.Context, bucketName string) (time.Time, error) {
	now, err := c.call(ctx, ActCreateJob, bucketName, "", 0)
	if err != nil {
		return time.Time{}, err
	}
	return now.Add(c.draw("sync/"+bucketName, c.o.Model.ObjectReplication.Native.D())), nil
}

func first(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	return ids[0]
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// regionService returns the region and the plan's service; c.mu is held.
func (c *Cloud) regionService(regionName, service string) (*region, *plan.Service, error) {
	rg, err := c.region(regionName)
	if err != nil {
		return nil, nil, err
	}
	for i := range c.o.Plan.Services {
		if c.o.Plan.Services[i].Name == service {
			return rg, &c.o.Plan.Services[i], nil
		}
	}
	return nil, nil, runbook.Fatal(fmt.Errorf("sim: service %s: not in plan %s", service, c.o.Plan.Name))
}
