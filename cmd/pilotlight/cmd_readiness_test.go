package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/readiness"
	"github.com/pilotlight/pilotlight/replicate/rpo"
)

// readinessExec runs the command tree in process and returns stdout and the
// error.
func readinessExec(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	root := newRootCommand(&stdout, &stderr)
	root.SetArgs(append([]string{"--state-dir", t.TempDir()}, args...))
	err := root.ExecuteContext(context.Background())
	return stdout.String(), err
}

func TestIAMPolicyCommand(t *testing.T) {
	fixture := filepath.Join("..", "..", "provider", "aws", "testdata")
	out, err := readinessExec(t, "-f", filepath.Join(fixture, "readiness-plan.yaml"), "iam-policy")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(fixture, "iam-policy.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Errorf("iam-policy output differs from the golden policy:\n%s", out)
	}
	out, err = readinessExec(t, "-f", filepath.Join(fixture, "readiness-plan.yaml"), "iam-policy", "--zone-id", "/hostedzone/Z123", "--account", "123456789012")
	if err != nil || !strings.Contains(out, `"arn:aws:route53:::hostedzone/Z123"`) || !strings.Contains(out, "arn:aws:ecr:us-east-1:123456789012:repository/web") {
		t.Errorf("scoped policy (%v):\n%s", err, out)
	}
}

func TestIAMPolicyLocalPlan(t *testing.T) {
	_, err := readinessExec(t, "-f", filepath.Join("..", "..", "examples", "ticketing", "pilotlight.yaml"), "iam-policy")
	if err == nil || !isUsageError(err) {
		t.Errorf("local plan: %v, want a usage error", err)
	}
}

func TestReadinessLocalPlan(t *testing.T) {
	plan := filepath.Join("..", "..", "examples", "ticketing", "pilotlight.yaml")
	out, err := readinessExec(t, "-f", plan, "readiness")
	if err != nil {
		t.Fatalf("readiness: %v\n%s", err, out)
	}
	for _, want := range []string{"SKIP    iam", "only AWS regions are checked", "\nready: 0 failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out, err = readinessExec(t, "-f", plan, "readiness", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var rep readiness.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || !rep.Ready || len(rep.Results) == 0 {
		t.Errorf("json report (%v): %s", err, out)
	}
}

func TestPrintReadinessExitCode(t *testing.T) {
	rep := readiness.Run(context.Background(), "p", time.Now(), []readiness.Check{
		{ID: readiness.CheckQuota, Subject: "L-1216C47A", Run: func(context.Context) ([]readiness.Result, error) {
			return []readiness.Result{{Status: readiness.Fail, Reason: "quota 8 vCPUs cannot hold web"}}, nil
		}},
	}, 1)
	for _, output := range []string{"text", "json"} {
		var stdout bytes.Buffer
		g := &globals{output: output, stdout: &stdout}
		err := printReadiness(g, rep)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 1 || !ee.silent {
			t.Errorf("%s: error %v, want a silent exit 1", output, err)
		}
		if !strings.Contains(stdout.String(), "quota 8 vCPUs cannot hold web") {
			t.Errorf("%s output:\n%s", output, stdout.String())
		}
	}
}

// TestReadinessBucketLag reads the running replicator's status
// (STATE/replication.json of a live process): a bucket within the RPO
// passes, one behind it fails the plan, and without a replicator the
// bucket is skipped.
func TestReadinessBucketLag(t *testing.T) {
	plan := filepath.Join("..", "..", "examples", "ticketing", "pilotlight.yaml")
	state := t.TempDir()
	run := func() (readiness.Report, error) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		root := newRootCommand(&stdout, &stderr)
		root.SetArgs([]string{"--state-dir", state, "-f", plan, "-o", "json", "readiness"})
		err := root.ExecuteContext(context.Background())
		var rep readiness.Report
		if jerr := json.Unmarshal(stdout.Bytes(), &rep); jerr != nil {
			t.Fatalf("%v in %s", jerr, stdout.String())
		}
		return rep, err
	}
	bucket := func(rep readiness.Report) readiness.Result {
		for _, r := range rep.Results {
			if r.Check == readiness.CheckBucket {
				return r
			}
		}
		t.Fatalf("no bucket result in %+v", rep.Results)
		return readiness.Result{}
	}
	write := func(lag, bound float64, st rpo.State) {
		t.Helper()
		b, err := json.Marshal(replicationFile{PID: os.Getpid(), Updated: time.Now(),
			Buckets: []rpo.Status{{Bucket: "ticket-assets", State: st, LagSeconds: lag, RPOBoundSeconds: bound}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(state, "replication.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	rep, err := run()
	if r := bucket(rep); err != nil || r.Status != readiness.Skip || !strings.Contains(r.Reason, "is `pilotlight replicate` (or `pilotlight up`) running") {
		t.Errorf("no replicator: %+v, %v", r, err)
	}
	write(0.2, 3, rpo.StateInSync)
	rep, err = run()
	if r := bucket(rep); err != nil || r.Status != readiness.Pass || !rep.Ready {
		t.Errorf("in sync: %+v, %v", r, err)
	}
	write(12, 12, rpo.StateLagging)
	rep, err = run()
	if r := bucket(rep); err == nil || r.Status != readiness.Fail || rep.Ready || !strings.Contains(r.Reason, "replication lag 12s, RPO 5s") {
		t.Errorf("behind the RPO: %+v, %v", r, err)
	}
}
