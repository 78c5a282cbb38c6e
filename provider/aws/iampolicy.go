package aws

import (
	"slices"
	"strings"

	"github.com/pilotlight/pilotlight/plan"
)

// PolicyVersion is the IAM policy language version of every document.
const PolicyVersion = "2012-10-17"

// PolicyDocument is an IAM identity policy.
type PolicyDocument struct {
	Version   string            `json:"Version"`
	Statement []PolicyStatement `json:"Statement"`
}

// PolicyStatement is one Allow statement of a PolicyDocument.
type PolicyStatement struct {
	Sid      string   `json:"Sid"`
	Effect   string   `json:"Effect"`
	Action   []string `json:"Action"`
	Resource []string `json:"Resource"`
	// Condition maps an operator (StringEquals) to context keys and
	// values.
	Condition map[string]map[string]string `json:"Condition,omitempty"`
}

// PolicyOptions fill in what the plan does not say.
type PolicyOptions struct {
	// Account is the AWS account ID in resource ARNs (default "*").
	Account string
	// ZoneID is the Route 53 hosted zone of the plan's routing (default
	// "*": any hosted zone).
	ZoneID string
}

// permission is one row of the action table: a statement, when the plan
// needs it, and the resources it is scoped to.
type permission struct {
	sid     string
	actions []string
	// needs reports whether plan p uses these actions.
	needs func(p *plan.Plan) bool
	// resources returns the ARNs the statement is scoped to (nil: "*").
	resources func(p *plan.Plan, o PolicyOptions) []string
	// condition, when set, narrows the statement.
	condition map[string]map[string]string
}

// permissions is the action table: every AWS call pilotlight makes for a
// plan's protection, readiness and recovery, by what the plan uses. Both
// `pilotlight iam-policy` and the IAM readiness check read it.
var permissions = []permission{
	{sid: "PilotlightDescribe", needs: always, actions: []string{
		"ec2:DescribeAvailabilityZones", "ec2:DescribeImages", "ec2:DescribeInstanceTypeOfferings", "ec2:DescribeInstanceTypes",
		"ec2:DescribeInstances", "ec2:DescribeLaunchTemplateVersions", "ec2:DescribeSnapshots", "ec2:DescribeSubnets",
		"ec2:DescribeVolumes", "ec2:DescribeVpcs"}},
	{sid: "PilotlightReadiness", needs: always, actions: []string{"iam:SimulatePrincipalPolicy", "servicequotas:GetServiceQuota"}},
	{sid: "PilotlightCompute", needs: usesCompute, actions: []string{
		"ec2:CreateTags", "ec2:RunInstances", "ec2:StartInstances", "ec2:StopInstances", "ec2:TerminateInstances"}},
	{sid: "PilotlightPassInstanceRole", needs: usesCompute, actions: []string{"iam:PassRole"},
		condition: map[string]map[string]string{"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}},
	{sid: "PilotlightAMICopies", needs: usesCompute, actions: []string{"ec2:CopyImage"}},
	{sid: "PilotlightAutoScaling", needs: usesGroups, actions: []string{
		"autoscaling:AttachLoadBalancerTargetGroups", "autoscaling:DescribeAutoScalingGroups",
		"autoscaling:SetDesiredCapacity", "autoscaling:UpdateAutoScalingGroup"}},
	{sid: "PilotlightLoadBalancing", needs: usesLoadBalancers, actions: []string{
		"elasticloadbalancing:AddTags", "elasticloadbalancing:CreateListener", "elasticloadbalancing:CreateLoadBalancer",
		"elasticloadbalancing:CreateTargetGroup", "elasticloadbalancing:DescribeListeners",
		"elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeTags", "elasticloadbalancing:DescribeTargetGroups",
		"elasticloadbalancing:DescribeTargetHealth", "elasticloadbalancing:RegisterTargets"}},
	{sid: "PilotlightVolumes", needs: usesVolumes, actions: []string{
		"ec2:AttachVolume", "ec2:CopySnapshot", "ec2:CreateSnapshot", "ec2:CreateTags", "ec2:CreateVolume", "ec2:DeleteSnapshot"}},
	{sid: "PilotlightDatabases", needs: usesDatabases, actions: []string{
		"rds:AddTagsToResource", "rds:CopyDBClusterSnapshot", "rds:CopyDBSnapshot", "rds:CreateDBClusterSnapshot",
		"rds:CreateDBSnapshot", "rds:DeleteDBClusterSnapshot", "rds:DeleteDBSnapshot", "rds:DescribeDBClusterSnapshots",
		"rds:DescribeDBClusters", "rds:DescribeDBInstances", "rds:DescribeDBSnapshots",
		"rds:RestoreDBClusterFromSnapshot", "rds:RestoreDBInstanceFromDBSnapshot"}},
	// Drills delete what they restored in the recovery region.
	{sid: "PilotlightDrillVolumes", needs: usesVolumes, actions: []string{"ec2:DeleteVolume"}},
	{sid: "PilotlightDrillLoadBalancers", needs: usesLoadBalancers, actions: []string{
		"elasticloadbalancing:DeleteLoadBalancer", "elasticloadbalancing:DeleteTargetGroup"}},
	{sid: "PilotlightDrillDatabases", needs: usesDatabases, actions: []string{"rds:DeleteDBCluster", "rds:DeleteDBInstance"}},
	{sid: "PilotlightSnapshotKey", needs: usesKMSKey, resources: kmsKeyResources, actions: []string{
		"kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncrypt*"}},
	{sid: "PilotlightHostedZone", needs: usesRoute53, resources: zoneResources, actions: []string{
		"route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets"}},
	{sid: "PilotlightRoute53", needs: usesRoute53, actions: []string{
		"route53:CreateHealthCheck", "route53:GetChange", "route53:ListHealthChecks", "route53:ListHostedZonesByName",
		"route53:UpdateHealthCheck"}},
	{sid: "PilotlightBuckets", needs: usesBuckets, resources: bucketResources, actions: []string{
		"s3:GetBucketVersioning", "s3:GetReplicationConfiguration", "s3:ListBucket", "s3:PutBucketVersioning",
		"s3:PutReplicationConfiguration"}},
	{sid: "PilotlightObjects", needs: usesBuckets, resources: objectResources, actions: []string{
		"s3:DeleteObject", "s3:GetObject", "s3:PutObject"}},
	{sid: "PilotlightPassReplicationRole", needs: usesNative, resources: replicationRoles, actions: []string{"iam:PassRole"}},
	{sid: "PilotlightBatchReplication", needs: usesBatch, actions: []string{"s3:CreateJob", "s3:DescribeJob"}},
	// The catalog and the inventory exports (whose retention lists and
	// deletes the oldest).
	{sid: "PilotlightCatalog", needs: usesCatalog, resources: catalogResources, actions: []string{"s3:DeleteObject", "s3:GetObject", "s3:PutObject"}},
	{sid: "PilotlightCatalogList", needs: usesCatalog, resources: catalogBuckets, actions: []string{"s3:ListBucket"}},
	// The inventory export reads the primary's network and load balancers.
	{sid: "PilotlightInventory", needs: usesCatalog, actions: []string{
		"ec2:DescribeRouteTables", "ec2:DescribeSecurityGroups",
		"elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeLoadBalancers",
		"elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetHealth"}},
	// network sync mirrors the primary's VPCs in the recovery region.
	{sid: "PilotlightNetwork", needs: usesNetwork, actions: []string{
		"ec2:AllocateAddress", "ec2:AssociateRouteTable", "ec2:AssociateVpcCidrBlock", "ec2:AttachInternetGateway",
		"ec2:AuthorizeSecurityGroupEgress", "ec2:AuthorizeSecurityGroupIngress", "ec2:CreateInternetGateway",
		"ec2:CreateNatGateway", "ec2:CreateRoute", "ec2:CreateRouteTable", "ec2:CreateSecurityGroup", "ec2:CreateSubnet",
		"ec2:CreateTags", "ec2:CreateVpc", "ec2:DeleteInternetGateway", "ec2:DeleteNatGateway", "ec2:DeleteRoute",
		"ec2:DeleteRouteTable", "ec2:DeleteSecurityGroup", "ec2:DeleteSubnet", "ec2:DeleteVpc", "ec2:DescribeAddresses",
		"ec2:DescribeInternetGateways", "ec2:DescribeNatGateways", "ec2:DescribeRouteTables", "ec2:DescribeSecurityGroups",
		"ec2:DescribeVpcAttribute", "ec2:DetachInternetGateway", "ec2:ModifySubnetAttribute", "ec2:ModifyVpcAttribute",
		"ec2:ReleaseAddress", "ec2:ReplaceRoute", "ec2:ReplaceRouteTableAssociation", "ec2:RevokeSecurityGroupEgress",
		"ec2:RevokeSecurityGroupIngress"}},
	{sid: "PilotlightRegistry", needs: usesImages, actions: []string{
		"ecr:DescribeRegistry", "ecr:GetAuthorizationToken", "ecr:PutReplicationConfiguration"}},
	{sid: "PilotlightRepositories", needs: usesImages, resources: repositoryResources, actions: []string{
		"ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:CompleteLayerUpload", "ecr:DescribeImages",
		"ecr:DescribeRepositories", "ecr:GetDownloadUrlForLayer", "ecr:InitiateLayerUpload", "ecr:PutImage",
		"ecr:UploadLayerPart"}},
}

// Policy returns the least-privilege IAM policy that protecting,
// checking and recovering plan p needs: one statement per row of the
// action table that the plan uses, scoped to the plan's buckets, hosted
// zone, KMS key and repositories where the service supports it.
func Policy(p *plan.Plan, o PolicyOptions) PolicyDocument {
	doc := PolicyDocument{Version: PolicyVersion}
	for _, perm := range permissions {
		if !perm.needs(p) {
			continue
		}
		res := []string{"*"}
		if perm.resources != nil {
			res = perm.resources(p, o)
		}
		if len(res) == 0 {
			continue
		}
		doc.Statement = append(doc.Statement, PolicyStatement{Sid: perm.sid, Effect: "Allow",
			Action: slices.Clone(perm.actions), Resource: res, Condition: perm.condition})
	}
	return doc
}

// Actions returns every action of doc, sorted and without duplicates.
func (doc PolicyDocument) Actions() []string {
	var out []string
	for _, s := range doc.Statement {
		out = append(out, s.Action...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func always(*plan.Plan) bool { return true }

func usesCompute(p *plan.Plan) bool {
	return slices.ContainsFunc(p.Services, func(s plan.Service) bool { return s.Compute.AWS != nil })
}

// usesGroups: warm standby and active-active scale Auto Scaling groups.
func usesGroups(p *plan.Plan) bool {
	return usesCompute(p) && (p.Strategy == plan.WarmStandby || p.Strategy == plan.ActiveActive)
}

func usesLoadBalancers(p *plan.Plan) bool {
	return slices.ContainsFunc(p.Services, func(s plan.Service) bool { return s.Compute.AWS != nil && s.LoadBalancer != nil })
}

func usesVolumes(p *plan.Plan) bool   { return len(p.Data.Volumes) > 0 }
func usesDatabases(p *plan.Plan) bool { return len(p.Data.Databases) > 0 }
func usesBuckets(p *plan.Plan) bool   { return len(p.Data.Buckets) > 0 }
func usesImages(p *plan.Plan) bool    { return len(p.Data.Images) > 0 }
func usesRoute53(p *plan.Plan) bool   { return p.Routing != nil }
func usesCatalog(p *plan.Plan) bool   { return p.Data.InventoryBucket() != "" }
func usesNetwork(p *plan.Plan) bool   { return p.Network != nil && len(p.Network.VPCs) > 0 }

func usesKMSKey(p *plan.Plan) bool {
	return p.Data.Snapshots != nil && p.Data.Snapshots.KMSKey != "" && (usesVolumes(p) || usesDatabases(p) || usesCompute(p))
}

func usesNative(p *plan.Plan) bool {
	return slices.ContainsFunc(p.Data.Buckets, func(b plan.Bucket) bool { return b.Native != nil })
}

func usesBatch(p *plan.Plan) bool {
	return slices.ContainsFunc(p.Data.Buckets, func(b plan.Bucket) bool { return b.Native != nil && b.Native.BatchReplication })
}

// partition is the ARN partition of the plan's recovery region.
func partition(p *plan.Plan) string {
	r := p.Regions.Recovery.Name
	switch {
	case strings.HasPrefix(r, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(r, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

func account(o PolicyOptions) string { return cmpOrString(o.Account, "*") }

func cmpOrString(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

// kmsKeyResources scopes the snapshot key: its ARN as given, or the ARN of
// a key ID in the recovery region; an alias is matched by the keys it
// names, which IAM cannot scope by ARN, so any key of the region.
func kmsKeyResources(p *plan.Plan, o PolicyOptions) []string {
	k := p.Data.Snapshots.KMSKey
	region := p.Regions.Recovery.Name
	switch {
	case strings.HasPrefix(k, "arn:") && !strings.Contains(k, ":alias/"):
		return []string{k}
	case strings.HasPrefix(k, "arn:"), strings.HasPrefix(k, "alias/"):
		return []string{"arn:" + partition(p) + ":kms:" + region + ":" + account(o) + ":key/*"}
	}
	return []string{"arn:" + partition(p) + ":kms:" + region + ":" + account(o) + ":key/" + k}
}

func zoneResources(p *plan.Plan, o PolicyOptions) []string {
	return []string{"arn:" + partition(p) + ":route53:::hostedzone/" + cmpOrString(bareID(o.ZoneID), "*")}
}

// bucketNames are the plan's primary and replica bucket names, sorted.
func bucketNames(p *plan.Plan) []string {
	var names []string
	for _, b := range p.Data.Buckets {
		names = append(names, b.Name, b.RecoveryName())
	}
	slices.Sort(names)
	return slices.Compact(names)
}

func bucketResources(p *plan.Plan, _ PolicyOptions) []string {
	var out []string
	for _, n := range bucketNames(p) {
		out = append(out, "arn:"+partition(p)+":s3:::"+n)
	}
	return out
}

func objectResources(p *plan.Plan, _ PolicyOptions) []string {
	var out []string
	for _, n := range bucketNames(p) {
		out = append(out, "arn:"+partition(p)+":s3:::"+n+"/*")
	}
	return out
}

func replicationRoles(p *plan.Plan, _ PolicyOptions) []string {
	var out []string
	for _, b := range p.Data.Buckets {
		if b.Native != nil && !slices.Contains(out, b.Native.RoleARN) {
			out = append(out, b.Native.RoleARN)
		}
	}
	slices.Sort(out)
	return out
}

// catalogResources are the plan's objects in the catalog and inventory
// buckets (pilotlight/<plan>/...).
func catalogResources(p *plan.Plan, _ PolicyOptions) []string {
	var out []string
	for _, b := range []string{p.Data.InventoryBucket(), snapshotsBucket(p)} {
		if r := "arn:" + partition(p) + ":s3:::" + b + "/pilotlight/" + p.Name + "/*"; b != "" && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// catalogBuckets are the catalog and inventory buckets themselves, for
// listing (limited to the plan's prefix by a condition would need one
// statement per bucket; the bucket ARN is narrow enough).
func catalogBuckets(p *plan.Plan, _ PolicyOptions) []string {
	var out []string
	for _, b := range []string{p.Data.InventoryBucket(), snapshotsBucket(p)} {
		if r := "arn:" + partition(p) + ":s3:::" + b; b != "" && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

func snapshotsBucket(p *plan.Plan) string {
	if p.Data.Snapshots == nil {
		return ""
	}
	return p.Data.Snapshots.CatalogBucket
}

// repositoryResources are the plan's ECR repositories in both regions.
func repositoryResources(p *plan.Plan, o PolicyOptions) []string {
	var out []string
	for _, region := range []string{p.Regions.Primary.Name, p.Regions.Recovery.Name} {
		for _, img := range p.Data.Images {
			out = append(out, "arn:"+partition(p)+":ecr:"+region+":"+account(o)+":repository/"+img.Repository)
		}
	}
	return out
}
