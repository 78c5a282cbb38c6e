package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	awsprovider "github.com/pilotlight/pilotlight/provider/aws"
)

// fakeNetwork returns a canned diff and counts applies.
type fakeNetwork struct {
	diff     *awsprovider.NetworkDiff
	applyErr error
	applies  int
}

func (f *fakeNetwork) Diff(context.Context) (*awsprovider.NetworkDiff, error) { return f.diff, nil }

func (f *fakeNetwork) Apply(_ context.Context, d *awsprovider.NetworkDiff) error {
	f.applies++
	if f.applyErr != nil {
		return f.applyErr
	}
	for i := range d.Changes {
		d.Changes[i].Done = d.Changes[i].Action == awsprovider.NetCreate
	}
	return nil
}

func netDiff(actions ...string) *awsprovider.NetworkDiff {
	d := &awsprovider.NetworkDiff{Plan: "ticketing", Primary: "ap-northeast-2", Recovery: "us-east-1",
		Zones: map[string]string{"ap-northeast-2a": "us-east-1a"}}
	for _, a := range actions {
		d.Changes = append(d.Changes, awsprovider.NetworkChange{Action: a, Kind: "vpc", Source: "vpc-p1", Target: "prod", Detail: "CIDR 10.0.0.0/16"})
	}
	return d
}

func TestNetworkSyncCommand(t *testing.T) {
	no := func(context.Context, string) (bool, error) { return false, nil }
	tests := []struct {
		name     string
		flags    networkFlags
		output   string
		diff     *awsprovider.NetworkDiff
		ask      func(context.Context, string) (bool, error)
		applyErr error
		applies  int
		code     int
		want     []string
	}{
		{"dry run", networkFlags{dryRun: true}, "text", netDiff("create"), nil, nil, 0, 0, []string{"ACTION", "create", "vpc-p1", "ap-northeast-2a → us-east-1a"}},
		{"dry run json", networkFlags{dryRun: true}, "json", netDiff("create"), nil, nil, 0, 0, []string{`"applied": false`, `"action": "create"`}},
		{"in sync", networkFlags{}, "text", netDiff("ok"), nil, nil, 0, 0, []string{"in sync"}},
		{"apply", networkFlags{approve: true}, "text", netDiff("create", "ok"), nil, nil, 1, 0, []string{"created"}},
		{"apply json", networkFlags{approve: true}, "json", netDiff("create"), nil, nil, 1, 0, []string{`"applied": true`, `"done": true`}},
		{"not approved", networkFlags{}, "text", netDiff("create"), no, nil, 0, 1, []string{"create"}},
		{"apply fails", networkFlags{approve: true}, "json", netDiff("create"), nil, errors.New("network: create vpc vpc-p1: boom"), 1, 1, []string{`"error": "network: create vpc vpc-p1: boom"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			g := &globals{output: tt.output, stdout: &stdout, stderr: &stderr}
			f := &fakeNetwork{diff: tt.diff, applyErr: tt.applyErr}
			err := networkSync(context.Background(), g, f, tt.flags, tt.ask)
			code := 0
			var ee *exitError
			if errors.As(err, &ee) {
				code = ee.code
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.code || f.applies != tt.applies {
				t.Fatalf("code %d applies %d, want %d and %d (err %v)", code, f.applies, tt.code, tt.applies, err)
			}
			out := stdout.String()
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if tt.output == "json" && !json.Valid(stdout.Bytes()) {
				t.Errorf("not JSON:\n%s", out)
			}
		})
	}
}

func TestNetworkCommandUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"network", "sync", "-f", "../../plan/testdata/good/aws.yaml"},
		{"network", "diff", "-f", "../../examples/ticketing/pilotlight.yaml"},
	} {
		_, errOut, code := run(t, args...)
		if code != 2 || !strings.Contains(errOut, "no network block") {
			t.Errorf("%v: exit %d, stderr %s", args, code, errOut)
		}
	}
}
