package aws

import (
	"context"
	"fmt"
	"slices"
	"strings"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/pilotlight/pilotlight/readiness"
)

// iamCheck simulates, for the caller of the recovery region's credentials,
// every statement of the policy `pilotlight iam-policy` prints for the
// plan, and fails listing the actions denied.
func (r *Readiness) iamCheck() readiness.Check {
	return readiness.Check{ID: readiness.CheckIAM, Subject: "caller", Run: r.simulate}
}

func (r *Readiness) simulate(ctx context.Context) ([]readiness.Result, error) {
	var id *sts.GetCallerIdentityOutput
	err := r.call(ctx, "sts get caller identity", func() (err error) {
		id, err = r.Clients.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		return err
	})
	if err != nil {
		return nil, err
	}
	caller := sdkaws.ToString(id.Arn)
	principal, ok := principalARN(caller)
	if !ok {
		return []readiness.Result{readiness.Skipf(readiness.CheckIAM, caller, "cannot simulate the policies of this principal: use an IAM user or role")}, nil
	}
	o := PolicyOptions{Account: sdkaws.ToString(id.Account)}
	if r.DNS != nil {
		if zone, err := r.DNS.resolveZone(ctx); err == nil {
			o.ZoneID = zone
		}
	}
	doc := Policy(r.Plan, o)
	var denied []string
	for _, st := range doc.Statement {
		d, err := r.simulateStatement(ctx, principal, st)
		if err != nil {
			return nil, err
		}
		for _, a := range d {
			if !slices.Contains(denied, a) {
				denied = append(denied, a)
			}
		}
	}
	if len(denied) > 0 {
		return []readiness.Result{readiness.Failf(readiness.CheckIAM, principal, "denied %s: attach the policy printed by pilotlight iam-policy",
			strings.Join(denied, ", "))}, nil
	}
	return []readiness.Result{readiness.Passf(readiness.CheckIAM, principal, "allowed all %d actions the plan needs", len(doc.Actions()))}, nil
}

// simulateStatement returns the actions of st that principal is not
// allowed, each with its resource when the statement names resources.
func (r *Readiness) simulateStatement(ctx context.Context, principal string, st PolicyStatement) ([]string, error) {
	in := &iam.SimulatePrincipalPolicyInput{PolicySourceArn: sdkaws.String(principal), ActionNames: st.Action}
	if !slices.Equal(st.Resource, []string{"*"}) {
		in.ResourceArns = st.Resource
	}
	for _, keys := range st.Condition {
		for _, k := range sortedKeys(keys) {
			in.ContextEntries = append(in.ContextEntries, iamtypes.ContextEntry{ContextKeyName: sdkaws.String(k),
				ContextKeyType: iamtypes.ContextKeyTypeEnumString, ContextKeyValues: []string{keys[k]}})
		}
	}
	var denied []string
	for {
		var out *iam.SimulatePrincipalPolicyOutput
		err := r.call(ctx, "iam simulate principal policy "+st.Sid, func() (err error) {
			out, err = r.Clients.IAM.SimulatePrincipalPolicy(ctx, in)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, e := range out.EvaluationResults {
			if e.EvalDecision == iamtypes.PolicyEvaluationDecisionTypeAllowed {
				continue
			}
			a := sdkaws.ToString(e.EvalActionName)
			if res := sdkaws.ToString(e.EvalResourceName); res != "" && res != "*" {
				a += " on " + res
			}
			denied = append(denied, a)
		}
		if !out.IsTruncated || out.Marker == nil {
			return denied, nil
		}
		in.Marker = out.Marker
	}
}

// principalARN returns the IAM ARN whose policies apply to caller: a user
// or role as is, the role of an assumed-role session
// (arn:aws:sts::123456789012:assumed-role/name/session →
// arn:aws:iam::123456789012:role/name; a role path is not in the session
// ARN, so a role with a path cannot be found). The root user and federated
// users cannot be simulated.
func principalARN(caller string) (string, bool) {
	parts := strings.SplitN(caller, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return "", false
	}
	res := parts[5]
	switch {
	case parts[2] == "iam" && (strings.HasPrefix(res, "user/") || strings.HasPrefix(res, "role/")):
		return caller, true
	case parts[2] == "sts" && strings.HasPrefix(res, "assumed-role/"):
		name, _, _ := strings.Cut(strings.TrimPrefix(res, "assumed-role/"), "/")
		return fmt.Sprintf("arn:%s:iam::%s:role/%s", parts[1], parts[4], name), true
	}
	return "", false
}
