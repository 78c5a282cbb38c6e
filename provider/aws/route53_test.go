package aws

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// failoverSpecs are the records of a small ticketing zone.
func failoverSpecs() []RecordSpec {
	return []RecordSpec{
		{Name: "www.example.com", TTL: 30, Policy: PolicyFailover, Primary: []string{"192.0.2.10"}, Secondary: []string{"198.51.100.10"},
			HealthCheck: &HealthCheckSpec{Type: "HTTPS", Path: "/healthz", Interval: 10, FailureThreshold: 2, Body: "ok"}},
		{Name: "api.example.com.", Policy: PolicyWeighted, Primary: []string{"192.0.2.20", "192.0.2.21"}, Secondary: []string{"198.51.100.20"},
			Weights: [2]int64{90, 10}, HealthCheck: &HealthCheckSpec{Type: "TCP", Port: 8443,
				Primary: Endpoint{FQDN: "api-seoul.example.com"}, Secondary: Endpoint{FQDN: "api-tokyo.example.com"}}},
		{Name: "shop.example.com", Policy: PolicyFailover,
			PrimaryAlias:   &AliasTarget{DNSName: "seoul-lb-1.ap-northeast-2.elb.amazonaws.com", HostedZoneID: "ZWKZPGTI48KDX", EvaluateTargetHealth: true},
			SecondaryAlias: &AliasTarget{DNSName: "tokyo-lb-1.ap-northeast-1.elb.amazonaws.com", HostedZoneID: "Z14GRHDCWA56QT", EvaluateTargetHealth: true}},
		{Name: "status.example.com", Primary: []string{"192.0.2.30"}},
		{Name: "txt.example.com", Type: "TXT", TTL: 300, Primary: []string{"v=spf1 -all"}},
	}
}

func TestRoute53CreateFromEmptyThenInSync(t *testing.T) {
	f := newFakeR53(t)
	d := f.driver()
	ctx := context.Background()
	cs, err := d.Plan(ctx, failoverSpecs())
	if err != nil {
		t.Fatal(err)
	}
	if len(cs.HealthChecks) != 4 || len(cs.Records) != 8 {
		t.Fatalf("plan: %d health checks, %d records; want 4 and 8: %+v", len(cs.HealthChecks), len(cs.Records), cs)
	}
	for _, c := range cs.Records {
		if c.Action != ActionCreate {
			t.Errorf("plan from empty: %s %s", c.Action, c.key())
		}
	}
	var table bytes.Buffer
	if err := cs.Render(&table); err != nil {
		t.Fatal(err)
	}
	contains(t, "rendered change set", table.String(), "ACTION", "CREATE", "www.example.com.", "www.example.com-primary",
		"failover PRIMARY", "weight 90", "alias seoul-lb-1", "(new www.example.com./secondary)", "HTTPS_STR_MATCH 192.0.2.10:443/healthz")
	js, err := json.Marshal(cs)
	if err != nil {
		t.Fatal(err)
	}
	contains(t, "change set JSON", string(js), `"zoneId":"Z1"`, `"action":"CREATE"`, `"setId":"api.example.com-secondary"`, `"healthCheckKey":`)

	rep, err := d.Apply(ctx, cs, true)
	if err != nil {
		t.Fatal(err)
	}
	if rep.HealthChecksCreated != 4 || rep.Changes != 8 || rep.Batches != 1 || !rep.InSync {
		t.Errorf("report = %+v", rep)
	}
	ops := f.ops()
	if got := strings.Join(ops[len(ops)-6:], " "); got != "CreateHealthCheck CreateHealthCheck CreateHealthCheck CreateHealthCheck ChangeResourceRecordSets GetChange" {
		t.Errorf("apply calls = %s", got)
	}
	reqs := f.changeReqs(t)
	body := f.calls("ChangeResourceRecordSets")[0].Body
	contains(t, "change request", body, "<Action>CREATE</Action>", "<SetIdentifier>www.example.com-primary</SetIdentifier>",
		"<Failover>PRIMARY</Failover>", "<HealthCheckId>"+rep.HealthCheckIDs["www.example.com./primary"]+"</HealthCheckId>",
		"<Weight>90</Weight>", "<Weight>10</Weight>", "<DNSName>seoul-lb-1.ap-northeast-2.elb.amazonaws.com.</DNSName>",
		"<EvaluateTargetHealth>true</EvaluateTargetHealth>", `<Value>&#34;v=spf1 -all&#34;</Value>`, "<TTL>30</TTL>")
	if len(reqs[0].Changes) != 8 {
		t.Errorf("one batch of 8 changes, got %d", len(reqs[0].Changes))
	}

	// In sync: a second plan has nothing to do, and applying it calls nothing.
	n := len(f.ops())
	cs2, err := d.Plan(ctx, failoverSpecs())
	if err != nil {
		t.Fatal(err)
	}
	if !cs2.Empty() {
		t.Fatalf("second plan is not empty: %+v", cs2)
	}
	table.Reset()
	cs2.Render(&table)
	contains(t, "rendered empty change set", table.String(), "in sync, no changes")
	if _, err := d.Apply(ctx, cs2, true); err != nil {
		t.Fatal(err)
	}
	if got := f.ops()[n:]; strings.Join(got, " ") != "ListResourceRecordSets ListHealthChecks" {
		t.Errorf("plan+apply in sync called %v; want only the two listings", got)
	}
}

func TestRoute53HealthCheckRequest(t *testing.T) {
	f := newFakeR53(t)
	d := f.driver()
	ctx := context.Background()
	cs, err := d.Plan(ctx, failoverSpecs()[:2])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Apply(ctx, cs, false); err != nil {
		t.Fatal(err)
	}
	calls := f.calls("CreateHealthCheck")
	if len(calls) != 4 {
		t.Fatalf("%d CreateHealthCheck calls, want 4", len(calls))
	}
	contains(t, "www primary check", calls[0].Body, "<CallerReference>pilotlight/", "<Type>HTTPS_STR_MATCH</Type>",
		"<ResourcePath>/healthz</ResourcePath>", "<FailureThreshold>2</FailureThreshold>", "<RequestInterval>10</RequestInterval>",
		"<IPAddress>192.0.2.10</IPAddress>", "<Port>443</Port>", "<SearchString>ok</SearchString>")
	contains(t, "www secondary check", calls[1].Body, "<IPAddress>198.51.100.10</IPAddress>")
	contains(t, "api primary check", calls[2].Body, "<Type>TCP</Type>", "<Port>8443</Port>",
		"<FullyQualifiedDomainName>api-seoul.example.com</FullyQualifiedDomainName>", "<FailureThreshold>3</FailureThreshold>")
	lacks(t, "api primary check", calls[2].Body, "<ResourcePath>", "<SearchString>", "<IPAddress>")
	refs := map[string]bool{}
	for _, c := range calls {
		ref := c.Body[strings.Index(c.Body, "<CallerReference>")+17 : strings.Index(c.Body, "</CallerReference>")]
		if refs[ref] || len(ref) > 64 {
			t.Errorf("caller reference %q repeated or too long", ref)
		}
		refs[ref] = true
	}
	// The same plan computed again yields the same references (idempotent
	// creation after a crash between CreateHealthCheck and the records).
	d2 := f.driver()
	if d2.checkPrefix("www.example.com./primary") != d.checkPrefix("www.example.com./primary") {
		t.Error("caller reference prefix is not deterministic")
	}
	d2.PlanName = "other"
	if d2.checkPrefix("www.example.com./primary") == d.checkPrefix("www.example.com./primary") {
		t.Error("two plans share a caller reference prefix")
	}
}

func TestRoute53Updates(t *testing.T) {
	f := newFakeR53(t)
	d := f.driver()
	ctx := context.Background()
	sync := func(specs []RecordSpec) ChangeSet {
		t.Helper()
		cs, err := d.Plan(ctx, specs)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Apply(ctx, cs, false); err != nil {
			t.Fatal(err)
		}
		return cs
	}
	specs := failoverSpecs()
	sync(specs)

	t.Run("changed value is one UPSERT", func(t *testing.T) {
		specs[0].Secondary = []string{"198.51.100.99"}
		specs[0].HealthCheck.Secondary = Endpoint{IP: "198.51.100.10"} // keep the check
		n := len(f.calls("ChangeResourceRecordSets"))
		cs := sync(specs)
		if len(cs.HealthChecks) != 0 || len(cs.Records) != 1 || cs.Records[0].Action != ActionUpsert || cs.Records[0].SetID != "www.example.com-secondary" {
			t.Fatalf("change set = %+v", cs)
		}
		req := f.changeReqs(t)[n]
		if len(req.Changes) != 1 || req.Changes[0].Action != "UPSERT" || len(req.Changes[0].Set.ResourceRecords) != 1 || req.Changes[0].Set.ResourceRecords[0].Value != "198.51.100.99" ||
			req.Changes[0].Set.HealthCheckId == "" || req.Changes[0].Set.Failover != "SECONDARY" {
			t.Errorf("request = %+v", req)
		}
	})
	t.Run("health check threshold is an UPDATE with version", func(t *testing.T) {
		specs[0].HealthCheck.FailureThreshold = 5
		cs := sync(specs)
		if len(cs.HealthChecks) != 2 || cs.HealthChecks[0].Action != ActionUpdate || cs.HealthChecks[0].Version != 1 || len(cs.Records) != 0 {
			t.Fatalf("change set = %+v", cs)
		}
		up := f.calls("UpdateHealthCheck")
		contains(t, "update", up[0].Body, "<HealthCheckVersion>1</HealthCheckVersion>", "<FailureThreshold>5</FailureThreshold>")
		if cs, _ := d.Plan(ctx, specs); !cs.Empty() {
			t.Errorf("not in sync after update: %+v", cs)
		}
	})
	t.Run("stale version fails", func(t *testing.T) {
		specs[0].HealthCheck.FailureThreshold = 6
		cs, _ := d.Plan(ctx, specs)
		cs.HealthChecks[0].Version = 1
		if _, err := d.Apply(ctx, cs, false); err == nil || !strings.Contains(err.Error(), "HealthCheckVersionMismatch") {
			t.Errorf("stale version: %v", err)
		}
		sync(specs)
	})
	t.Run("interval change creates a new check and rebinds", func(t *testing.T) {
		specs[0].HealthCheck.Interval = 30
		cs := sync(specs)
		if len(cs.HealthChecks) != 2 || cs.HealthChecks[0].Action != ActionCreate || len(cs.Records) != 2 || cs.Records[0].Action != ActionUpsert {
			t.Fatalf("change set = %+v", cs)
		}
	})
	t.Run("simple to failover deletes and creates in one batch", func(t *testing.T) {
		specs[3] = RecordSpec{Name: "status.example.com", Policy: PolicyFailover, Primary: []string{"192.0.2.30"}, Secondary: []string{"198.51.100.30"},
			HealthCheck: &HealthCheckSpec{Type: "HTTP"}}
		n := len(f.calls("ChangeResourceRecordSets"))
		cs := sync(specs)
		var got []string
		for _, c := range cs.Records {
			got = append(got, c.Action+" "+c.SetID)
		}
		if strings.Join(got, ",") != "DELETE ,CREATE status.example.com-primary,CREATE status.example.com-secondary" {
			t.Errorf("changes = %v", got)
		}
		if reqs := f.changeReqs(t)[n:]; len(reqs) != 1 || len(reqs[0].Changes) != 3 {
			t.Errorf("want one batch of 3, got %+v", reqs)
		}
	})
	t.Run("unmanaged names are left alone", func(t *testing.T) {
		f.mu.Lock()
		f.zones["Z1"]["mail.example.com. MX "] = xRRSet{Name: "mail.example.com.", Type: "MX", ResourceRecords: []xRR{{"10 mx.example.com."}}}
		f.mu.Unlock()
		if cs, _ := d.Plan(ctx, specs); !cs.Empty() {
			t.Errorf("plan touches unmanaged names: %+v", cs)
		}
	})
}

func TestRoute53ThrottlingRetried(t *testing.T) {
	f := newFakeR53(t)
	d := f.driver()
	ctx := context.Background()
	f.failNext("ListResourceRecordSets", "Throttling")
	f.failNext("ListHealthChecks", "ThrottlingException")
	f.failNext("CreateHealthCheck", "Throttling", "PriorRequestNotComplete")
	f.failNext("ChangeResourceRecordSets", "PriorRequestNotComplete", "Throttling", "ThrottlingException")
	f.failNext("GetChange", "Throttling")
	cs, err := d.Plan(ctx, failoverSpecs())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := d.Apply(ctx, cs, true)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Retries != 5 || rep.Changes != 8 || !rep.InSync {
		t.Errorf("report = %+v; want 5 retries counted in Apply", rep)
	}
	if n := len(f.calls("ChangeResourceRecordSets")); n != 4 {
		t.Errorf("%d ChangeResourceRecordSets calls, want 3 throttled + 1", n)
	}
	if cs, _ := d.Plan(ctx, failoverSpecs()); !cs.Empty() {
		t.Errorf("not in sync after throttled apply: %+v", cs)
	}

	t.Run("gives up after Attempts", func(t *testing.T) {
		f.failNext("ChangeResourceRecordSets", "Throttling", "Throttling", "Throttling", "Throttling", "Throttling")
		err := d.Switch(ctx, "status.example.com", "A", []string{"198.51.100.1"}, 60)
		if !errors.Is(err, ErrThrottled) || !strings.Contains(err.Error(), "route53: change record sets Z1") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("other errors are not retried", func(t *testing.T) {
		n := len(f.calls("ChangeResourceRecordSets"))
		f.failNext("ChangeResourceRecordSets", "InvalidChangeBatch")
		err := d.Switch(ctx, "status.example.com", "A", []string{"198.51.100.1"}, 60)
		if err == nil || errors.Is(err, ErrThrottled) || len(f.calls("ChangeResourceRecordSets")) != n+1 {
			t.Errorf("err = %v after %d calls", err, len(f.calls("ChangeResourceRecordSets"))-n)
		}
	})
	t.Run("cancelled while backing off", func(t *testing.T) {
		d := f.driver()
		d.Backoff = Backoff{Initial: time.Hour, Max: time.Hour, Attempts: 3}
		f.failNext("ChangeResourceRecordSets", "Throttling")
		ctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		err := d.Switch(ctx, "status.example.com", "A", []string{"198.51.100.1"}, 60)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v", err)
		}
	})
}

func TestRoute53SerializesPerZone(t *testing.T) {
	f := newFakeR53(t)
	f.delay = 5 * time.Millisecond
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := f.driver() // separate drivers share the process-wide zone lock
			var specs []RecordSpec
			for i := range 3 {
				specs = append(specs, RecordSpec{Name: string(rune('a'+g)) + string(rune('0'+i)) + ".example.com", Primary: []string{"192.0.2.1"}})
			}
			d.Limits = BatchLimits{Elements: 1, Chars: 100} // one change per call
			cs, err := d.Plan(ctx, specs)
			if err == nil {
				_, err = d.Apply(ctx, cs, false)
			}
			if err == nil {
				err = d.Switch(ctx, specs[0].Name, "A", []string{"198.51.100.1"}, 60)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := len(f.calls("ChangeResourceRecordSets")); n != 16 {
		t.Errorf("%d change calls, want 16", n)
	}
	if got := f.maxInflight["Z1"]; got != 1 {
		t.Errorf("at most %d ChangeResourceRecordSets in flight on Z1, want 1", got)
	}
}

func TestRoute53WaitInsync(t *testing.T) {
	f := newFakeR53(t)
	f.pendingFor = 3
	d := f.driver()
	ctx := context.Background()
	if err := d.Switch(ctx, "www.example.com", "A", []string{"198.51.100.10"}, 30); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.ops(), " "); got != "ChangeResourceRecordSets GetChange GetChange GetChange GetChange" {
		t.Errorf("calls = %s; want PENDING polled until INSYNC", got)
	}
	req := f.changeReqs(t)
	if len(req) != 1 || len(req[0].Changes) != 1 || req[0].Changes[0].Action != "UPSERT" ||
		req[0].Changes[0].Set.Name != "www.example.com." || *req[0].Changes[0].Set.TTL != 30 || req[0].Changes[0].Set.SetIdentifier != "" {
		t.Errorf("switch sent %+v; want one simple UPSERT", req)
	}

	t.Run("bounded by ctx", func(t *testing.T) {
		f.pendingFor = 1 << 30
		d.PollInterval = 2 * time.Millisecond
		ctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
		defer cancel()
		err := d.Switch(ctx, "www.example.com", "A", []string{"192.0.2.10"}, 30)
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "route53: wait for change C2") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestRoute53ResolveZone(t *testing.T) {
	f := newFakeR53(t)
	d := f.driver()
	d.ZoneID = ""
	ctx := context.Background()
	cs, err := d.Plan(ctx, []RecordSpec{{Name: "www.example.com", Primary: []string{"192.0.2.1"}}})
	if err != nil || cs.ZoneID != "Z1" {
		t.Fatalf("zone by name: %+v %v", cs, err)
	}
	d.Plan(ctx, nil)
	if n := len(f.calls("ListHostedZonesByName")); n != 1 {
		t.Errorf("zone looked up %d times, want once", n)
	}
	d = f.driver()
	d.ZoneID, d.Zone = "", "missing.test"
	if _, err := d.Plan(ctx, nil); !errors.Is(err, ErrNoSuchZone) {
		t.Errorf("missing zone: %v", err)
	}
	f.zoneNames["Z2"] = "example.com."
	d = f.driver()
	d.ZoneID = ""
	if _, err := d.Plan(ctx, nil); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "Z1, Z2") {
		t.Errorf("ambiguous zone: %v", err)
	}
}

func TestRoute53CallerReferenceOfDeletedCheck(t *testing.T) {
	f := newFakeR53(t)
	d := f.driver()
	ctx := context.Background()
	specs := failoverSpecs()[:1]
	cs, err := d.Plan(ctx, specs)
	if err != nil {
		t.Fatal(err)
	}
	ref := cs.HealthChecks[0].CallerReference
	f.deletedRefs[ref] = true // a check created with this reference was deleted by hand
	rep, err := d.Apply(ctx, cs, false)
	if err != nil {
		t.Fatal(err)
	}
	calls := f.calls("CreateHealthCheck")
	if rep.HealthChecksCreated != 2 || len(calls) != 3 {
		t.Fatalf("created %d checks in %d calls; want 2 in 3", rep.HealthChecksCreated, len(calls))
	}
	contains(t, "retried creation", calls[1].Body, "<CallerReference>"+ref+".1</CallerReference>")
	if cs, _ := d.Plan(ctx, specs); !cs.Empty() {
		t.Errorf("suffixed check not adopted: %+v", cs)
	}
}

func TestDiffRecordsConflicts(t *testing.T) {
	a := RecordSet{Name: "w.example.com.", Type: "A", TTL: 60, Values: []string{"192.0.2.1"}}
	txt := RecordSet{Name: "w.example.com.", Type: "TXT", TTL: 60, Values: []string{`"x"`}}
	cname := RecordSet{Name: "w.example.com.", Type: "CNAME", TTL: 60, Values: []string{"lb.example.net."}}
	other := RecordSet{Name: "v.example.com.", Type: "A", TTL: 60, Values: []string{"192.0.2.9"}}
	reordered := a
	reordered.Values = []string{"192.0.2.2", "192.0.2.1"}
	tests := []struct {
		name           string
		want, existing []RecordSet
		changes        string
	}{
		{"in sync", []RecordSet{a}, []RecordSet{a, txt, other}, ""},
		{"value order does not matter", []RecordSet{{Name: a.Name, Type: "A", TTL: 60, Values: []string{"192.0.2.1", "192.0.2.2"}}}, []RecordSet{reordered}, ""},
		{"A replaced by CNAME, TXT kept", []RecordSet{cname}, []RecordSet{a, txt}, "DELETE w.example.com. A ,CREATE w.example.com. CNAME "},
		{"CNAME replaced by A", []RecordSet{a}, []RecordSet{cname}, "DELETE w.example.com. CNAME ,CREATE w.example.com. A "},
		{"TTL change", []RecordSet{{Name: a.Name, Type: "A", TTL: 5, Values: a.Values}}, []RecordSet{a}, "UPSERT w.example.com. A "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, c := range diffRecords(tt.want, tt.existing) {
				got = append(got, c.Action+" "+c.key())
			}
			if s := strings.Join(got, ","); s != tt.changes {
				t.Errorf("changes = %q, want %q", s, tt.changes)
			}
		})
	}
}

func TestNewRoute53(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "SECRETTEST")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_PROFILE", "")
	c, err := NewRoute53(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Options().Region; got != "us-east-1" {
		t.Errorf("region = %q, want us-east-1", got)
	}
	if _, err := NewRoute53(context.Background(), "no-such-profile"); err == nil || !strings.Contains(err.Error(), `route53: load config profile "no-such-profile"`) {
		t.Errorf("missing profile: %v", err)
	}
}
