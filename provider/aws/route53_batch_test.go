package aws

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// simpleChange is a change of name with n values of size chars each.
func simpleChange(action, name string, n, size int) RecordChange {
	c := RecordChange{Action: action, RecordSet: RecordSet{Name: name, Type: "TXT", TTL: 60}}
	for i := range n {
		c.Values = append(c.Values, fmt.Sprintf("%0*d", size, i))
	}
	return c
}

func many(action string, count, n, size int) []RecordChange {
	var out []RecordChange
	for i := range count {
		out = append(out, simpleChange(action, fmt.Sprintf("r%05d.example.com.", i), n, size))
	}
	return out
}

func TestChangeCost(t *testing.T) {
	tests := []struct {
		c         RecordChange
		el, chars int
	}{
		{simpleChange(ActionCreate, "a.", 3, 10), 3, 30},
		{simpleChange(ActionDelete, "a.", 3, 10), 3, 30},
		{simpleChange(ActionUpsert, "a.", 3, 10), 6, 60},
		{RecordChange{Action: ActionCreate, RecordSet: RecordSet{Alias: &AliasTarget{DNSName: "lb.elb.amazonaws.com."}}}, 1, 21},
		{RecordChange{Action: ActionUpsert, RecordSet: RecordSet{Alias: &AliasTarget{DNSName: "lb.elb.amazonaws.com."}}}, 2, 42},
	}
	for _, tt := range tests {
		if el, ch := ChangeCost(tt.c); el != tt.el || ch != tt.chars {
			t.Errorf("ChangeCost(%s %d values) = %d, %d; want %d, %d", tt.c.Action, len(tt.c.Values), el, ch, tt.el, tt.chars)
		}
	}
}

func TestBatchChanges(t *testing.T) {
	lim := BatchLimits{Elements: MaxBatchElements, Chars: MaxBatchChars}
	tests := []struct {
		name    string
		changes []RecordChange
		lim     BatchLimits
		sizes   []int // changes per batch
		err     bool
	}{
		{"empty", nil, lim, nil, false},
		{"1000 creates fit one call", many(ActionCreate, 1000, 1, 5), lim, []int{1000}, false},
		{"1001 creates need two", many(ActionCreate, 1001, 1, 5), lim, []int{1000, 1}, false},
		{"500 upserts count 1000", many(ActionUpsert, 500, 1, 5), lim, []int{500}, false},
		{"501 upserts need two", many(ActionUpsert, 501, 1, 5), lim, []int{500, 1}, false},
		{"characters bind first", many(ActionCreate, 400, 1, 100), lim, []int{320, 80}, false},
		{"upsert characters count twice", many(ActionUpsert, 200, 1, 100), lim, []int{160, 40}, false},
		{"one name stays together", append(many(ActionCreate, 999, 1, 5), simpleChange(ActionDelete, "z.", 1, 5), simpleChange(ActionCreate, "z.", 1, 5)),
			lim, []int{999, 2}, false},
		{"a name too big alone", []RecordChange{simpleChange(ActionUpsert, "big.", 501, 1)}, lim, nil, true},
		{"zero limits", many(ActionCreate, 1, 1, 1), BatchLimits{}, nil, true},
		{"tiny limits", many(ActionCreate, 5, 2, 1), BatchLimits{Elements: 4, Chars: 100}, []int{2, 2, 1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := BatchChanges(tt.changes, tt.lim)
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			var sizes []int
			var flat []RecordChange
			for _, b := range got {
				sizes = append(sizes, len(b))
				flat = append(flat, b...)
				el, ch := 0, 0
				for _, c := range b {
					e, n := ChangeCost(c)
					el, ch = el+e, ch+n
				}
				if el > tt.lim.Elements || ch > tt.lim.Chars {
					t.Errorf("batch of %d elements, %d chars exceeds %+v", el, ch, tt.lim)
				}
			}
			if fmt.Sprint(sizes) != fmt.Sprint(tt.sizes) {
				t.Errorf("batch sizes = %v, want %v", sizes, tt.sizes)
			}
			if !tt.err && fmt.Sprint(flat) != fmt.Sprint(tt.changes) {
				t.Error("batches do not hold the changes in order")
			}
		})
	}
}

// TestRoute53FourThousandRecords syncs 4,000 records (simple, failover and
// weighted) through the fake, then changes every one of them, and checks
// every request against Route 53's limits.
func TestRoute53FourThousandRecords(t *testing.T) {
	f := newFakeR53(t)
	f.pageSize = 300
	d := f.driver()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	specs := make([]RecordSpec, 4000)
	ip := func(region, i, j int) string { return fmt.Sprintf("10.%d.%d.%d", region, i/200, (i%200)+j) }
	setup := func(ttl int64) {
		for i := range specs {
			s := RecordSpec{Name: fmt.Sprintf("host%04d.example.com", i), TTL: ttl}
			switch i % 3 {
			case 0:
				s.Primary = []string{ip(1, i, 0), ip(1, i, 1), ip(1, i, 2)}
			case 1: // failover: most to load balancer aliases, some to addresses with health checks
				s.Policy = PolicyFailover
				if i%30 == 1 {
					s.Primary, s.Secondary = []string{ip(1, i, 0)}, []string{ip(2, i, 0)}
					s.HealthCheck = &HealthCheckSpec{Type: "TCP", Port: 443}
				} else {
					lb := fmt.Sprintf("lb%04d-%d.ap-northeast-2.elb.amazonaws.com", i, ttl)
					s.PrimaryAlias = &AliasTarget{DNSName: "seoul-" + lb, HostedZoneID: "ZWKZPGTI48KDX", EvaluateTargetHealth: true}
					s.SecondaryAlias = &AliasTarget{DNSName: "tokyo-" + lb, HostedZoneID: "Z14GRHDCWA56QT", EvaluateTargetHealth: true}
				}
			case 2:
				s.Policy, s.Primary, s.Secondary, s.Weights = PolicyWeighted, []string{ip(1, i, 0), ip(1, i, 1)}, []string{ip(2, i, 0)}, [2]int64{3, 1}
			}
			specs[i] = s
		}
	}
	// wantSets is the number of record sets: 1334 simple, 2×1333 each for
	// failover and weighted; 134 failover records have health checks.
	const wantSets = 1334 + 2*1333 + 2*1333
	const wantChecks = 2 * 134 // failover records with i%30 == 1
	const wantAliases = 2*1333 - wantChecks
	check := func(action string, from int) {
		t.Helper()
		seen := make(map[string]int)
		aliases := 0
		reqs := f.changeReqs(t)[from:]
		for i, r := range reqs {
			el, chars := 0, 0
			for _, c := range r.Changes {
				if c.Action != action {
					t.Fatalf("request %d has %s, want only %s", i, c.Action, action)
				}
				seen[c.Set.key()]++
				n := 1
				if c.Action == "UPSERT" {
					n = 2
				}
				for _, v := range c.Set.ResourceRecords {
					el, chars = el+n, chars+n*len(v.Value)
				}
				if a := c.Set.AliasTarget; a != nil {
					aliases++
					if c.Set.ResourceRecords != nil || c.Set.TTL != nil || !a.EvaluateTargetHealth {
						t.Errorf("alias %s sent with values or TTL", c.Set.Name)
					}
				}
			}
			if el > 1000 || chars > 32000 {
				t.Errorf("request %d: %d elements, %d characters (UPSERT counted twice)", i, el, chars)
			}
		}
		if len(seen) != wantSets {
			t.Errorf("%d distinct record sets sent, want %d", len(seen), wantSets)
		}
		for k, n := range seen {
			if n != 1 {
				t.Errorf("%s sent %d times", k, n)
			}
		}
		if aliases != wantAliases {
			t.Errorf("%d alias sets sent, want %d", aliases, wantAliases)
		}
		t.Logf("%s: %d record sets in %d requests", action, wantSets, len(reqs))
	}

	setup(60)
	cs, err := d.Plan(ctx, specs)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := d.Apply(ctx, cs, true)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Changes != wantSets || rep.HealthChecksCreated != wantChecks || rep.Batches < 7 {
		t.Errorf("report = changes %d, checks %d, batches %d", rep.Changes, rep.HealthChecksCreated, rep.Batches)
	}
	check("CREATE", 0)

	setup(30) // every set changes: UPSERTs count twice
	from := len(f.calls("ChangeResourceRecordSets"))
	cs, err = d.Plan(ctx, specs)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs.HealthChecks) != 0 || len(cs.Records) != wantSets {
		t.Fatalf("TTL change: %d health checks, %d records", len(cs.HealthChecks), len(cs.Records))
	}
	if _, err := d.Apply(ctx, cs, false); err != nil {
		t.Fatal(err)
	}
	check("UPSERT", from)
	if cs, err := d.Plan(ctx, specs); err != nil || !cs.Empty() {
		t.Errorf("not in sync after 4,000 upserts: %d changes, %v", len(cs.Records), err)
	}
}

func TestLockZone(t *testing.T) {
	ctx := context.Background()
	unlock, err := lockZone(ctx, "ZLOCK")
	if err != nil {
		t.Fatal(err)
	}
	other, err := lockZone(ctx, "ZOTHER") // another zone is independent
	if err != nil {
		t.Fatal(err)
	}
	other()
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, err := lockZone(short, "ZLOCK"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second lock while held: %v", err)
	}
	got := make(chan struct{})
	go func() {
		u, err := lockZone(ctx, "ZLOCK")
		if err == nil {
			u()
		}
		close(got)
	}()
	select {
	case <-got:
		t.Fatal("second lock did not wait")
	case <-time.After(10 * time.Millisecond):
	}
	unlock()
	<-got
}

func TestRecordSpecErrors(t *testing.T) {
	hc := &HealthCheckSpec{Type: "HTTP"}
	ok := RecordSpec{Name: "w.example.com", Policy: PolicyFailover, Primary: []string{"192.0.2.1"}, Secondary: []string{"192.0.2.2"}, HealthCheck: hc}
	tests := []struct {
		name string
		edit func(*RecordSpec)
		want string // "" = valid
	}{
		{"valid failover", func(*RecordSpec) {}, ""},
		{"failover without health check", func(s *RecordSpec) { s.HealthCheck = nil }, "needs a health check"},
		{"failover alias evaluating health", func(s *RecordSpec) {
			s.HealthCheck, s.PrimaryAlias = nil, &AliasTarget{DNSName: "lb.", HostedZoneID: "Z", EvaluateTargetHealth: true}
		}, ""},
		{"weighted all zero", func(s *RecordSpec) { s.Policy = PolicyWeighted }, "non-zero weight"},
		{"weight too big", func(s *RecordSpec) { s.Policy, s.Weights = PolicyWeighted, [2]int64{256, 1} }, "0..255"},
		{"simple with health check", func(s *RecordSpec) { s.Policy = PolicySimple }, "simple record cannot"},
		{"unknown policy", func(s *RecordSpec) { s.Policy = "latency" }, "policy"},
		{"unknown type", func(s *RecordSpec) { s.Type = "MX" }, "type"},
		{"no secondary", func(s *RecordSpec) { s.Secondary = nil }, "secondary has no values"},
		{"two CNAME values", func(s *RecordSpec) { s.Type, s.Primary = "CNAME", []string{"a.", "b."} }, "exactly one value"},
		{"interval 5", func(s *RecordSpec) { s.HealthCheck = &HealthCheckSpec{Type: "HTTP", Interval: 5} }, "10 or 30"},
		{"threshold 11", func(s *RecordSpec) { s.HealthCheck = &HealthCheckSpec{Type: "HTTP", FailureThreshold: 11} }, "1..10"},
		{"tcp without port", func(s *RecordSpec) { s.HealthCheck = &HealthCheckSpec{Type: "TCP"} }, "TCP check needs a port"},
		{"check type", func(s *RecordSpec) { s.HealthCheck = &HealthCheckSpec{Type: "ICMP"} }, "want HTTP, HTTPS or TCP"},
		{"no endpoint for a name value", func(s *RecordSpec) { s.Type, s.Primary, s.Secondary = "CNAME", []string{"a."}, []string{"b."} }, "no endpoint"},
		{"long body", func(s *RecordSpec) { s.HealthCheck = &HealthCheckSpec{Type: "HTTP", Body: strings.Repeat("x", 256)} }, "255"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ok
			h := *hc
			s.HealthCheck = &h
			tt.edit(&s)
			_, _, err := desired([]RecordSpec{s})
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrConfig)):
				t.Errorf("err = %v, want ErrConfig containing %q", err, tt.want)
			}
		})
	}
	if _, _, err := desired([]RecordSpec{ok, ok}); err == nil || !strings.Contains(err.Error(), "declared twice") {
		t.Errorf("duplicate: %v", err)
	}
}
