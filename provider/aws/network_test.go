package aws

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// mirrorOf returns the ID of the recovery resource tagged as the mirror
// of src by plan ticketing, failing t unless there is exactly one.
func mirrorOf[T any](t *testing.T, m map[string]*T, tags func(*T) []ec2types.Tag, src string) string {
	t.Helper()
	var ids []string
	for _, id := range sortedKeys(m) {
		tg := tags(m[id])
		if ec2Tag(tg, TagSource) == src && ec2Tag(tg, TagPlan) == "ticketing" {
			ids = append(ids, id)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("mirrors of %s: %v, want one", src, ids)
	}
	return ids[0]
}

func vpcTags(v *ec2types.Vpc) []ec2types.Tag             { return v.Tags }
func subnetTags(v *ec2types.Subnet) []ec2types.Tag       { return v.Tags }
func tableTags(v *ec2types.RouteTable) []ec2types.Tag    { return v.Tags }
func groupTags(v *ec2types.SecurityGroup) []ec2types.Tag { return v.Tags }
func igwTags(v *ec2types.InternetGateway) []ec2types.Tag { return v.Tags }
func natTags(v *ec2types.NatGateway) []ec2types.Tag      { return v.Tags }

func ruleKeys(perms []ec2types.IpPermission) []string {
	var out []string
	for _, r := range rulesOf(perms) {
		out = append(out, r.key())
	}
	slices.Sort(out)
	return out
}

func TestNetworkSyncFromEmpty(t *testing.T) {
	f := newNetCloud(t)
	seedNetPrimary(f)
	seedNetUnrelated(f)
	s := newNetSync(f, netPlan(true, nil))
	d := syncNet(t, s)
	if d.Count(NetConflict)+d.Count(NetStale) != 0 || d.Count(NetCreate) == 0 {
		t.Fatalf("diff: %+v", d.Changes)
	}
	st := f.state[recoveryRegion]
	vpc := mirrorOf(t, st.vpcs, vpcTags, "vpc-p1")
	v := st.vpcs[vpc]
	if ec2Tag(v.Tags, "Name") != "prod" || *v.CidrBlock != "10.0.0.0/16" || len(v.CidrBlockAssociationSet) != 2 || *st.attrs[vpc] != [2]bool{true, true} {
		t.Fatalf("vpc %+v attrs %v", v, *st.attrs[vpc])
	}
	// Zones: a, c in name order onto us-east-1a, us-east-1b.
	for src, want := range map[string]string{"subnet-pa": "us-east-1a", "subnet-pc": "us-east-1b", "subnet-pa2": "us-east-1a", "subnet-pc2": "us-east-1b"} {
		sn := st.subnets[mirrorOf(t, st.subnets, subnetTags, src)]
		p := f.state[primaryRegion].subnets[src]
		if *sn.AvailabilityZone != want || *sn.CidrBlock != *p.CidrBlock || *sn.VpcId != vpc || *sn.MapPublicIpOnLaunch != *p.MapPublicIpOnLaunch ||
			ec2Tag(sn.Tags, "Name") != ec2Tag(p.Tags, "Name") {
			t.Errorf("subnet of %s: %+v", src, sn)
		}
	}
	igw := mirrorOf(t, st.igws, igwTags, "igw-p1")
	if a := st.igws[igw].Attachments; len(a) != 1 || *a[0].VpcId != vpc {
		t.Errorf("igw attachments %+v", a)
	}
	nat := mirrorOf(t, st.nats, natTags, "nat-p1")
	if g := st.nats[nat]; *g.SubnetId != mirrorOf(t, st.subnets, subnetTags, "subnet-pa") {
		t.Errorf("nat %+v", g)
	}
	if in := netInputs[*ec2.CreateNatGatewayInput](f, "CreateNatGateway"); len(in) != 1 || *in[0].ClientToken != token("ticketing", "nat", "nat-p1") || in[0].AllocationId == nil {
		t.Errorf("CreateNatGateway %+v", in)
	}
	// Route tables: targets translated, unmirrorable routes dropped.
	pub := st.tables[mirrorOf(t, st.tables, tableTags, "rtb-ppub")]
	var routes []string
	for _, r := range pub.Routes {
		n := routeOf(r)
		routes = append(routes, n.Dest+">"+n.Target)
	}
	if want := []string{"10.0.0.0/16>local", "0.0.0.0/0>" + igw, "::/0>" + igw}; !slices.Equal(routes, want) {
		t.Errorf("public routes %v, want %v", routes, want)
	}
	var assoc []string
	for _, a := range pub.Associations {
		assoc = append(assoc, *a.SubnetId)
	}
	slices.Sort(assoc)
	want := []string{mirrorOf(t, st.subnets, subnetTags, "subnet-pa"), mirrorOf(t, st.subnets, subnetTags, "subnet-pc")}
	slices.Sort(want)
	if !slices.Equal(assoc, want) {
		t.Errorf("public associations %v, want %v", assoc, want)
	}
	app := st.tables[mirrorOf(t, st.tables, tableTags, "rtb-papp")]
	if len(app.Routes) != 2 || sdkaws.ToString(app.Routes[1].NatGatewayId) != nat {
		t.Errorf("app routes %+v", app.Routes)
	}
	mainRT := st.tables[mirrorOf(t, st.tables, tableTags, "rtb-pmain")]
	if *mainRT.VpcId != vpc || !*mainRT.Associations[0].Main {
		t.Errorf("main table %+v", mainRT)
	}
	// Security groups: references to groups of the VPC rewritten; foreign
	// groups and prefix lists not mirrored; AWS's default egress revoked
	// where the primary has none.
	web, appSG, db := mirrorOf(t, st.groups, groupTags, "sg-pweb"), mirrorOf(t, st.groups, groupTags, "sg-papp"), mirrorOf(t, st.groups, groupTags, "sg-pdb")
	def := mirrorOf(t, st.groups, groupTags, "sg-pdef")
	for _, c := range []struct {
		id              string
		ingress, egress []string
	}{
		{web, []string{"tcp 443-443 cidr6:::/0", "tcp 443-443 cidr:0.0.0.0/0"}, []string{"-1 0-0 cidr:0.0.0.0/0"}},
		{appSG, []string{"tcp 7000-7000 sg:" + appSG, "tcp 8080-8080 sg:" + web}, []string{"-1 0-0 cidr:0.0.0.0/0"}},
		{db, []string{"tcp 5432-5432 sg:" + appSG}, nil},
		{def, []string{"-1 0-0 sg:" + def}, nil},
	} {
		g := st.groups[c.id]
		if got := ruleKeys(g.IpPermissions); !slices.Equal(got, c.ingress) {
			t.Errorf("%s ingress %v, want %v", *g.GroupName, got, c.ingress)
		}
		if got := ruleKeys(g.IpPermissionsEgress); !slices.Equal(got, c.egress) {
			t.Errorf("%s egress %v, want %v", *g.GroupName, got, c.egress)
		}
	}
	// Skipped with a reason: peering, prefix lists, transit gateway, the
	// foreign group.
	var skipped []string
	for _, c := range d.Changes {
		if c.Action == NetSkip {
			skipped = append(skipped, c.Detail)
		}
	}
	for _, w := range []string{"pcx-1", "pl-s3", "tgw-1", "sg-elsewhere", "pl-office"} {
		if !slices.ContainsFunc(skipped, func(s string) bool { return strings.Contains(s, w) }) {
			t.Errorf("no skip note for %s in %v", w, skipped)
		}
	}
	assertUnrelatedUntouched(t, f)
}

// assertUnrelatedUntouched checks that no mutating call named the
// untagged resources of seedNetUnrelated.
func assertUnrelatedUntouched(t *testing.T, f *netCloud) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.calls {
		if strings.HasPrefix(c.Op, "Describe") {
			continue
		}
		b, _ := json.Marshal(c.In)
		if strings.Contains(string(b), "unrelated") {
			t.Errorf("%s touched an unrelated resource: %s", c.Op, b)
		}
	}
}

func TestNetworkSyncSecondRunIsNoOp(t *testing.T) {
	f := newNetCloud(t)
	seedNetPrimary(f)
	seedNetUnrelated(f)
	s := newNetSync(f, netPlan(true, nil))
	syncNet(t, s)
	before := len(f.mutations())
	d := syncNet(t, s)
	if n := d.Pending(); n != 0 {
		t.Fatalf("second diff has %d changes: %+v", n, d.Changes)
	}
	for _, c := range d.Changes {
		if c.Action != NetOK && c.Action != NetSkip {
			t.Errorf("second diff: %+v", c)
		}
	}
	if m := f.mutations()[before:]; len(m) != 0 {
		t.Fatalf("second sync made mutating calls: %v", m)
	}
}

func TestNetworkDryRunSendsNoMutatingCall(t *testing.T) {
	f := newNetCloud(t)
	seedNetPrimary(f)
	s := newNetSync(f, netPlan(true, nil))
	d, err := s.Diff(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if d.Pending() == 0 {
		t.Fatal("empty diff")
	}
	if m := f.mutations(); len(m) != 0 {
		t.Fatalf("diff made mutating calls: %v", m)
	}
	var b strings.Builder
	if err := d.Render(&b); err != nil {
		t.Fatal(err)
	}
	contains(t, "render", b.String(), "ACTION", "create", "vpc-p1", "10.0.1.0/24 in us-east-1a (primary ap-northeast-2a)", "pcx-1", "ap-northeast-2c → us-east-1b")
}

func TestNetworkSyncCompletesPartialState(t *testing.T) {
	f := newNetCloud(t)
	seedNetPrimary(f)
	s := newNetSync(f, netPlan(false, nil))
	// The first sync dies after the VPC, its gateway and subnets: access
	// denied to the first rule.
	d, err := s.Diff(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	f.failNext("AuthorizeSecurityGroupIngress", "UnauthorizedOperation")
	if err := s.Apply(t.Context(), d); err == nil || !strings.Contains(err.Error(), "UnauthorizedOperation") {
		t.Fatalf("apply: %v", err)
	}
	st := f.state[recoveryRegion]
	if len(st.vpcs) != 1 || len(st.subnets) != 4 {
		t.Fatalf("after the failed sync: %d vpcs, %d subnets", len(st.vpcs), len(st.subnets))
	}
	// Remove two subnets: the VPC exists, subnets are missing.
	delete(st.subnets, mirrorOf(t, st.subnets, subnetTags, "subnet-pc"))
	delete(st.subnets, mirrorOf(t, st.subnets, subnetTags, "subnet-pc2"))
	d = syncNet(t, s)
	if c := d.Changes[0]; c.Kind != "vpc" || c.Action != NetOK {
		t.Errorf("vpc change %+v", c)
	}
	if n := d.Count(NetCreate); n < 2 {
		t.Errorf("creates %d: %+v", n, d.Changes)
	}
	if len(st.vpcs) != 1 || len(st.subnets) != 4 || len(st.igws) != 1 {
		t.Fatalf("after resume: %d vpcs, %d subnets, %d igws", len(st.vpcs), len(st.subnets), len(st.igws))
	}
	if d := syncNet(t, s); d.Pending() != 0 {
		t.Fatalf("third sync: %+v", d.Changes)
	}
}

func TestNetworkSyncSurvivesThrottling(t *testing.T) {
	f := newNetCloud(t)
	seedNetPrimary(f)
	s := newNetSync(f, netPlan(true, nil))
	for _, op := range []string{"DescribeVpcs", "DescribeSubnets", "DescribeRouteTables", "DescribeSecurityGroups", "DescribeAvailabilityZones",
		"DescribeVpcAttribute", "DescribeNatGateways", "DescribeInternetGateways", "DescribeAddresses", "CreateVpc", "CreateSubnet",
		"CreateSecurityGroup", "AuthorizeSecurityGroupIngress", "CreateRoute", "CreateNatGateway", "AllocateAddress", "CreateRouteTable",
		"AssociateRouteTable", "CreateInternetGateway", "AttachInternetGateway", "CreateTags"} {
		f.failNext(op, "RequestLimitExceeded", "RequestLimitExceeded")
	}
	// Eventual consistency: the new VPC is not known yet.
	f.failNext("ModifyVpcAttribute", "InvalidVpcID.NotFound")
	f.failNext("AttachInternetGateway", "InvalidInternetGatewayID.NotFound")
	// Creates whose answers are lost: the retry must find them by tag.
	f.lose["CreateVpc"], f.lose["CreateSubnet"], f.lose["CreateSecurityGroup"], f.lose["CreateNatGateway"] = 1, 1, 1, 1
	syncNet(t, s)
	st := f.state[recoveryRegion]
	if len(st.vpcs) != 1 || len(st.subnets) != 4 || len(st.nats) != 1 || len(st.groups) != 4 || len(st.addrs) != 1 {
		t.Fatalf("duplicates: %d vpcs, %d subnets, %d nats, %d groups, %d addresses", len(st.vpcs), len(st.subnets), len(st.nats), len(st.groups), len(st.addrs))
	}
	if n := len(netInputs[*ec2.CreateVpcInput](f, "CreateVpc")); n != 3 {
		t.Errorf("CreateVpc called %d times, want 3 (2 throttled, 1 lost answer, then found by tag)", n)
	}
	if d := syncNet(t, s); d.Pending() != 0 {
		t.Fatalf("after throttled sync: %+v", d.Changes)
	}
}

func TestNetworkZoneMap(t *testing.T) {
	avail := []string{"us-east-1a", "us-east-1b", "us-east-1c"}
	tests := []struct {
		name     string
		used     []string
		explicit map[string]string
		want     map[string]string
		err      string
	}{
		{"default by name", []string{"ap-northeast-2c", "ap-northeast-2a"}, nil,
			map[string]string{"ap-northeast-2a": "us-east-1a", "ap-northeast-2c": "us-east-1b"}, ""},
		{"explicit", []string{"ap-northeast-2a", "ap-northeast-2c"}, map[string]string{"ap-northeast-2a": "us-east-1c"},
			map[string]string{"ap-northeast-2a": "us-east-1c", "ap-northeast-2c": "us-east-1a"}, ""},
		{"unknown zone", []string{"ap-northeast-2a"}, map[string]string{"ap-northeast-2a": "us-east-1z"}, nil, "not an available zone"},
		{"too few", []string{"a", "b", "c", "d"}, nil, nil, "only 3 more available"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := zoneMap(tt.used, tt.explicit, avail)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || len(got) != len(tt.want) {
				t.Fatalf("zoneMap = %v, %v", got, err)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s → %s, want %s", k, got[k], v)
				}
			}
		})
	}
}

func TestNetworkZonesExplicitAndTooFew(t *testing.T) {
	f := newNetCloud(t)
	seedNetPrimary(f)
	s := newNetSync(f, netPlan(false, map[string]string{"ap-northeast-2a": "us-east-1c", "ap-northeast-2c": "us-east-1a"}))
	syncNet(t, s)
	st := f.state[recoveryRegion]
	if z := *st.subnets[mirrorOf(t, st.subnets, subnetTags, "subnet-pa")].AvailabilityZone; z != "us-east-1c" {
		t.Errorf("subnet-pa in %s", z)
	}
	f2 := newNetCloud(t)
	seedNetPrimary(f2)
	f2.state[recoveryRegion].zones = []string{"us-east-1a"}
	_, err := newNetSync(f2, netPlan(false, nil)).Diff(t.Context())
	if err == nil || !strings.Contains(err.Error(), "network.zones") || !strings.Contains(err.Error(), "only 1 more") {
		t.Fatalf("err %v", err)
	}
	if m := f2.mutations(); len(m) != 0 {
		t.Fatalf("mutations %v", m)
	}
}

func TestNetworkStaleAndPrune(t *testing.T) {
	f := newNetCloud(t)
	seedNetPrimary(f)
	seedNetUnrelated(f)
	s := newNetSync(f, netPlan(false, nil))
	syncNet(t, s)
	st := f.state[recoveryRegion]
	vpc := mirrorOf(t, st.vpcs, vpcTags, "vpc-p1")
	st.subnets["subnet-old"] = &ec2types.Subnet{SubnetId: sdkaws.String("subnet-old"), VpcId: sdkaws.String(vpc), CidrBlock: sdkaws.String("10.0.99.0/24"),
		AvailabilityZone: sdkaws.String("us-east-1a"), Tags: []ec2types.Tag{ec2T(TagPlan, "ticketing"), ec2T(TagSource, "subnet-gone")}}
	// A route added during a failover, in a mirrored table.
	pub := st.tables[mirrorOf(t, st.tables, tableTags, "rtb-ppub")]
	pub.Routes = append(pub.Routes, ec2types.Route{DestinationCidrBlock: sdkaws.String("192.168.0.0/16"), GatewayId: sdkaws.String("igw-failover")})
	before := len(f.mutations())
	d := syncNet(t, s)
	if d.Count(NetStale) != 2 || len(f.mutations()) != before || st.subnets["subnet-old"] == nil {
		t.Fatalf("without prune: %+v, mutations %v", d.Changes, f.mutations()[before:])
	}
	s.Prune = true
	d = syncNet(t, s)
	if d.Count(NetDelete) != 1 || st.subnets["subnet-old"] != nil || st.subnets["subnet-unrelated"] == nil || len(pub.Routes) != 3 {
		t.Fatalf("prune: %+v", d.Changes)
	}
	if m := f.mutations()[before:]; !slices.Equal(m, []string{recoveryRegion + " DeleteRoute", recoveryRegion + " DeleteSubnet"}) {
		t.Fatalf("prune mutations %v", m)
	}
	assertUnrelatedUntouched(t, f)
}

func TestNetworkConflictRefusesApply(t *testing.T) {
	f := newNetCloud(t)
	seedNetPrimary(f)
	f.addVPC(f.state[recoveryRegion], "vpc-wrong", "10.7.0.0/16", []ec2types.Tag{ec2T(TagPlan, "ticketing"), ec2T(TagSource, "vpc-p1")})
	s := newNetSync(f, netPlan(false, nil))
	d, err := s.Diff(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if d.Count(NetConflict) != 1 || d.Count(NetStale) != 0 {
		t.Fatalf("diff %+v", d.Changes)
	}
	if err := s.Apply(t.Context(), d); !errors.Is(err, ErrNetworkConflict) {
		t.Fatalf("apply: %v", err)
	}
	if m := f.mutations(); len(m) != 0 {
		t.Fatalf("mutations %v", m)
	}
}
