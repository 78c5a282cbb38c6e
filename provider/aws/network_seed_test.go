package aws

import (
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/pilotlight/pilotlight/plan"
)

func nameTag(name string) []ec2types.Tag { return []ec2types.Tag{ec2T("Name", name)} }

// seedNetPrimary builds the primary network of the tests: VPC vpc-p1 (two
// CIDRs, DNS on) with four subnets in two zones, an internet gateway, a
// NAT gateway, a public, an app and the main route table (with routes
// that are not mirrored: peering, transit gateway, prefix list), and
// security groups that reference each other, a foreign group and a
// prefix list.
func seedNetPrimary(f *netCloud) {
	st := f.state[primaryRegion]
	s, i32 := sdkaws.String, sdkaws.Int32
	st.vpcs["vpc-p1"] = &ec2types.Vpc{VpcId: s("vpc-p1"), CidrBlock: s("10.0.0.0/16"), Tags: nameTag("prod"),
		CidrBlockAssociationSet: []ec2types.VpcCidrBlockAssociation{
			{CidrBlock: s("10.0.0.0/16"), CidrBlockState: &ec2types.VpcCidrBlockState{State: ec2types.VpcCidrBlockStateCodeAssociated}},
			{CidrBlock: s("10.1.0.0/16"), CidrBlockState: &ec2types.VpcCidrBlockState{State: ec2types.VpcCidrBlockStateCodeAssociated}},
			{CidrBlock: s("10.9.0.0/16"), CidrBlockState: &ec2types.VpcCidrBlockState{State: ec2types.VpcCidrBlockStateCodeDisassociated}}}}
	st.attrs["vpc-p1"] = &[2]bool{true, true}
	for _, sn := range []struct {
		id, cidr, zone, name string
		public               bool
	}{
		{"subnet-pa", "10.0.1.0/24", "ap-northeast-2a", "pub-a", true},
		{"subnet-pc", "10.0.2.0/24", "ap-northeast-2c", "pub-c", true},
		{"subnet-pa2", "10.0.11.0/24", "ap-northeast-2a", "app-a", false},
		{"subnet-pc2", "10.1.12.0/24", "ap-northeast-2c", "app-c", false},
	} {
		st.subnets[sn.id] = &ec2types.Subnet{SubnetId: s(sn.id), VpcId: s("vpc-p1"), CidrBlock: s(sn.cidr), AvailabilityZone: s(sn.zone),
			MapPublicIpOnLaunch: sdkaws.Bool(sn.public), Tags: nameTag(sn.name)}
	}
	st.igws["igw-p1"] = &ec2types.InternetGateway{InternetGatewayId: s("igw-p1"), Tags: nameTag("prod-igw"),
		Attachments: []ec2types.InternetGatewayAttachment{{VpcId: s("vpc-p1"), State: ec2types.AttachmentStatusAttached}}}
	st.nats["nat-p1"] = &ec2types.NatGateway{NatGatewayId: s("nat-p1"), VpcId: s("vpc-p1"), SubnetId: s("subnet-pa"),
		State: ec2types.NatGatewayStateAvailable, ConnectivityType: ec2types.ConnectivityTypePublic, Tags: nameTag("prod-nat")}
	local := ec2types.Route{DestinationCidrBlock: s("10.0.0.0/16"), GatewayId: s("local"), Origin: ec2types.RouteOriginCreateRouteTable}
	assoc := func(id, subnet string) ec2types.RouteTableAssociation {
		return ec2types.RouteTableAssociation{RouteTableAssociationId: s(id), SubnetId: s(subnet), Main: sdkaws.Bool(false)}
	}
	st.tables["rtb-pmain"] = &ec2types.RouteTable{RouteTableId: s("rtb-pmain"), VpcId: s("vpc-p1"), Tags: nameTag("main"),
		Associations: []ec2types.RouteTableAssociation{{Main: sdkaws.Bool(true), RouteTableAssociationId: s("rtbassoc-pm")}},
		Routes:       []ec2types.Route{local}}
	st.tables["rtb-ppub"] = &ec2types.RouteTable{RouteTableId: s("rtb-ppub"), VpcId: s("vpc-p1"), Tags: nameTag("public"),
		Associations: []ec2types.RouteTableAssociation{assoc("rtbassoc-p1", "subnet-pa"), assoc("rtbassoc-p2", "subnet-pc")},
		Routes: []ec2types.Route{local, {DestinationCidrBlock: s("0.0.0.0/0"), GatewayId: s("igw-p1")},
			{DestinationIpv6CidrBlock: s("::/0"), GatewayId: s("igw-p1")},
			{DestinationCidrBlock: s("10.50.0.0/16"), VpcPeeringConnectionId: s("pcx-1")},
			{DestinationPrefixListId: s("pl-s3"), GatewayId: s("vpce-1")}}}
	st.tables["rtb-papp"] = &ec2types.RouteTable{RouteTableId: s("rtb-papp"), VpcId: s("vpc-p1"), Tags: nameTag("app"),
		Associations: []ec2types.RouteTableAssociation{assoc("rtbassoc-p3", "subnet-pa2"), assoc("rtbassoc-p4", "subnet-pc2")},
		Routes: []ec2types.Route{local, {DestinationCidrBlock: s("0.0.0.0/0"), NatGatewayId: s("nat-p1")},
			{DestinationCidrBlock: s("172.16.0.0/12"), TransitGatewayId: s("tgw-1")}}}
	tcp := func(port int32, peers ec2types.IpPermission) ec2types.IpPermission {
		peers.IpProtocol, peers.FromPort, peers.ToPort = s("tcp"), i32(port), i32(port)
		return peers
	}
	group := func(id string) ec2types.IpPermission {
		return ec2types.IpPermission{UserIdGroupPairs: []ec2types.UserIdGroupPair{{GroupId: s(id)}}}
	}
	st.groups["sg-pdef"] = &ec2types.SecurityGroup{GroupId: s("sg-pdef"), GroupName: s("default"), VpcId: s("vpc-p1"), Description: s("default VPC security group"),
		IpPermissions: []ec2types.IpPermission{{IpProtocol: s("-1"), UserIdGroupPairs: []ec2types.UserIdGroupPair{{GroupId: s("sg-pdef")}}}}}
	st.groups["sg-pweb"] = &ec2types.SecurityGroup{GroupId: s("sg-pweb"), GroupName: s("web"), VpcId: s("vpc-p1"), Description: s("web tier"), Tags: nameTag("web"),
		IpPermissions: []ec2types.IpPermission{
			tcp(443, ec2types.IpPermission{IpRanges: []ec2types.IpRange{{CidrIp: s("0.0.0.0/0"), Description: s("https")}}, Ipv6Ranges: []ec2types.Ipv6Range{{CidrIpv6: s("::/0")}}}),
			tcp(80, ec2types.IpPermission{PrefixListIds: []ec2types.PrefixListId{{PrefixListId: s("pl-office")}}})},
		IpPermissionsEgress: []ec2types.IpPermission{allEgress()}}
	st.groups["sg-papp"] = &ec2types.SecurityGroup{GroupId: s("sg-papp"), GroupName: s("app"), VpcId: s("vpc-p1"), Description: s("app tier"), Tags: nameTag("app"),
		IpPermissions:       []ec2types.IpPermission{tcp(8080, group("sg-pweb")), tcp(7000, group("sg-papp")), tcp(9000, group("sg-elsewhere"))},
		IpPermissionsEgress: []ec2types.IpPermission{allEgress()}}
	st.groups["sg-pdb"] = &ec2types.SecurityGroup{GroupId: s("sg-pdb"), GroupName: s("db"), VpcId: s("vpc-p1"), Description: s("db tier"),
		IpPermissions: []ec2types.IpPermission{tcp(5432, group("sg-papp"))}}
	// Another primary VPC, not in the plan.
	st.vpcs["vpc-other"] = &ec2types.Vpc{VpcId: s("vpc-other"), CidrBlock: s("192.168.0.0/16")}
	st.attrs["vpc-other"] = &[2]bool{true, false}
}

// seedNetUnrelated puts an untagged VPC with a subnet and group in the
// recovery region: network sync must never touch them.
func seedNetUnrelated(f *netCloud) {
	st := f.state[recoveryRegion]
	f.addVPC(st, "vpc-unrelated", "10.0.0.0/16", nameTag("someone else"))
	st.subnets["subnet-unrelated"] = &ec2types.Subnet{SubnetId: sdkaws.String("subnet-unrelated"), VpcId: sdkaws.String("vpc-unrelated"),
		CidrBlock: sdkaws.String("10.0.1.0/24"), AvailabilityZone: sdkaws.String("us-east-1a"), MapPublicIpOnLaunch: sdkaws.Bool(false)}
}

func netPlan(nat bool, zones map[string]string) *plan.Plan {
	return &plan.Plan{Name: "ticketing", Regions: plan.Regions{
		Primary:  plan.Region{Name: primaryRegion, Provider: plan.ProviderAWS},
		Recovery: plan.Region{Name: recoveryRegion, Provider: plan.ProviderAWS}},
		Network: &plan.Network{VPCs: []string{"vpc-p1"}, Zones: zones, NATGateways: nat}}
}

func newNetSync(f *netCloud, p *plan.Plan) *NetworkSync {
	return &NetworkSync{Plan: p, Primary: f.client(primaryRegion), Recovery: f.client(recoveryRegion), Clock: newStepClock(),
		Poll: time.Second, Backoff: Backoff{Initial: time.Millisecond, Max: 10 * time.Millisecond}}
}

// syncNet diffs and applies, failing t on an error.
func syncNet(t *testing.T, s *NetworkSync) *NetworkDiff {
	t.Helper()
	d, err := s.Diff(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	return d
}
