package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	ggcr "github.com/google/go-containerregistry/pkg/registry"

	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/provider/aws"
)

// fakeProtector returns canned results, counting its runs.
type fakeProtector struct {
	results []aws.Result
	err     error
	runs    atomic.Int32
}

func (f *fakeProtector) Run(context.Context) ([]aws.Result, error) {
	f.runs.Add(1)
	return f.results, f.err
}

func protectTestPlan() *plan.Plan {
	return &plan.Plan{Name: "ticketing", Objectives: plan.Objectives{RTO: plan.Duration(time.Hour), RPO: plan.Duration(5 * time.Minute)},
		Regions: plan.Regions{Primary: plan.Region{Name: "ap-northeast-2", Provider: plan.ProviderAWS}, Recovery: plan.Region{Name: "us-east-1", Provider: plan.ProviderAWS}},
		Data:    plan.Data{Volumes: []plan.Volume{{ID: "vol-1"}}}}
}

// snapshotsOnly is the plan's snapshots job driven by fp, and the other
// jobs (skipped: the plan has nothing for them).
func snapshotsOnly(g *globals, p *plan.Plan, fp *fakeProtector, interval time.Duration) []protectJob {
	jobs := planProtectJobs(g, p, &protectOptions{interval: interval})
	jobs[1] = snapshotsJob(p, interval, func(context.Context) (protectRunner, error) { return fp, nil })
	return jobs
}

func TestProtectLoop(t *testing.T) {
	now := time.Now()
	results := []aws.Result{
		{Kind: aws.KindVolume, Source: "vol-1", SourceSnapshot: "snap-a", Copy: "snap-b", DataTime: now.Add(-time.Minute), State: aws.StateCompleted},
		{Kind: aws.KindDBInstance, Source: "orders", SourceSnapshot: "rds:orders", Copy: "pl-rds-orders", DataTime: now.Add(-time.Hour), State: aws.StateCompleted},
		{Kind: aws.KindImage, Source: "ami-1", State: aws.StateFailed, Error: "AccessDenied"},
	}
	tests := []struct {
		name     string
		output   string
		err      error
		wantCode int
		check    func(t *testing.T, out string)
	}{
		{"table", "text", nil, 0, func(t *testing.T, out string) {
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 4 || !strings.Contains(lines[0], "AGE/RPO 5m") {
				t.Fatalf("table:\n%s", out)
			}
			for i, want := range []string{"snap-b", "1h0m0s over", "failed: AccessDenied"} {
				if !strings.Contains(lines[i+1], want) {
					t.Fatalf("line %q lacks %q", lines[i+1], want)
				}
			}
			if !strings.Contains(lines[1], "1m0s ok") {
				t.Fatalf("line %q", lines[1])
			}
		}},
		{"json", "json", nil, 0, func(t *testing.T, out string) {
			var o protectOutput
			if err := json.Unmarshal([]byte(out), &o); err != nil {
				t.Fatal(err)
			}
			if o.RPO != "5m" || len(o.Resources) != 3 || !o.Resources[0].WithinRPO || o.Resources[1].WithinRPO || o.Resources[0].Copy != "snap-b" ||
				o.Resources[0].Job != "snapshots" || len(o.Jobs) != 5 || o.Jobs[0].State != "skipped" || o.Jobs[1].State != "ok" {
				t.Fatalf("output %+v", o)
			}
		}},
		{"a failed job exits 1", "text", errors.New("1 of 3 jobs failed"), 1, func(t *testing.T, out string) {
			if !strings.Contains(out, "ami-1") {
				t.Fatalf("table:\n%s", out)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			g := &globals{output: tt.output, stdout: &stdout, stderr: &stderr, stateDir: t.TempDir()}
			fp := &fakeProtector{results: results, err: tt.err}
			p := protectTestPlan()
			err := protectLoop(context.Background(), g, p, snapshotsOnly(g, p, fp, time.Hour), true)
			var ee *exitError
			code := 0
			if errors.As(err, &ee) {
				code = ee.code
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantCode || fp.runs.Load() != 1 {
				t.Fatalf("code %d (want %d), %d runs", code, tt.wantCode, fp.runs.Load())
			}
			tt.check(t, stdout.String())
			if !strings.Contains(stderr.String(), "protect: images: skipped (the plan has no data.images)") {
				t.Errorf("stderr %q", stderr.String())
			}
		})
	}
}

// TestProtectLoopRepeats runs without --once until the context ends.
func TestProtectLoopRepeats(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	stdout := &syncBuffer{}
	g := &globals{output: "text", stdout: stdout, stderr: &syncBuffer{}, stateDir: t.TempDir()}
	fp := &fakeProtector{}
	p := protectTestPlan()
	done := make(chan error, 1)
	go func() { done <- protectLoop(ctx, g, p, snapshotsOnly(g, p, fp, time.Millisecond), false) }()
	deadline := time.After(10 * time.Second)
	for strings.Count(stdout.String(), "KIND") < 3 {
		select {
		case <-deadline:
			t.Fatal("fewer than 3 runs in 10s")
		case <-time.After(time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestProtectJobFailureDoesNotStopOthers runs `protect --once` on a plan
// with a git repository (mirrored) and a container image whose tag is
// missing (fails): the mirror still runs, the exit code is 1, and `status`
// shows each resource's RPO.
func TestProtectJobFailureDoesNotStopOthers(t *testing.T) {
	_, src, dst, _ := gitFixture(t)
	srv := httptest.NewServer(ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	stateDir := t.TempDir()
	planPath := writePlan(t, fmt.Sprintf("  repositories:\n    - {url: %q, recovery: %q}\n  images: [{repository: web, tags: [v9], source: %q, recovery: %q}]\n",
		"file://"+src, "file://"+dst, host, host+"/dr"))

	out, errOut, err := runSubcommand(t, newProtectCommand, "protect", "--once", "-o", "json", "-f", planPath, "--state-dir", stateDir)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("protect = %v, want exit 1\n%s\n%s", err, out, errOut)
	}
	var o protectOutput
	if err := json.Unmarshal([]byte(out), &o); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	states := map[string]string{}
	for _, j := range o.Jobs {
		states[j.Job] = j.State
	}
	want := map[string]string{"objects": "skipped", "snapshots": "skipped", "images": "failed", "repositories": "ok", "inventory": "skipped"}
	if fmt.Sprint(states) != fmt.Sprint(want) {
		t.Errorf("jobs %v, want %v", states, want)
	}
	if len(o.Resources) != 2 || o.Resources[0].Kind != "container-image" || o.Resources[0].State != "failed" ||
		o.Resources[1].Kind != "repository" || o.Resources[1].State != "completed" || !o.Resources[1].WithinRPO {
		t.Errorf("resources %+v", o.Resources)
	}
	for _, w := range []string{"protect: repositories: done, 1 resources", "protect: images: failed", "protect: objects: skipped"} {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errOut)
		}
	}

	out, errOut, err = runSubcommand(t, newStatusCommand, "status", "--state-dir", stateDir)
	if err != nil {
		t.Fatalf("status: %v\n%s", err, errOut)
	}
	for _, w := range []string{"protection of plan shop", "AGE/RPO 1m", "repository", "file://" + src, " ok ", "container-image", "failed", "job images failed"} {
		if !strings.Contains(out, w) {
			t.Errorf("status lacks %q:\n%s", w, out)
		}
	}
	out, _, err = runSubcommand(t, newStatusCommand, "status", "-o", "json", "--state-dir", stateDir)
	var so statusOutput
	if err != nil || json.Unmarshal([]byte(out), &so) != nil || so.Protection == nil || len(so.Protection.Resources) != 2 || !so.Protection.Resources[1].WithinRPO {
		t.Errorf("status -o json = %v\n%s", err, out)
	}
}

// TestProtectStateKeepsRecoveryPoint: a resource that fails keeps its
// previous recovery point in STATE/protect.json.
func TestProtectStateKeepsRecoveryPoint(t *testing.T) {
	g := &globals{stateDir: t.TempDir()}
	p := protectTestPlan()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	good := protectRow{Job: "objects", Kind: "bucket", Resource: "assets", Copy: "s3://assets-dr", RecoveryPoint: at, State: rowCompleted}
	if _, err := recordProtect(g, p, []protectJobResult{{Job: "objects", State: "ok"}}, []protectRow{good}, at); err != nil {
		t.Fatal(err)
	}
	bad := protectRow{Job: "objects", Kind: "bucket", Resource: "assets", State: rowFailed, Error: "boom"}
	st, err := recordProtect(g, p, []protectJobResult{{Job: "objects", State: "failed", Error: "boom"}}, []protectRow{bad}, at.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	got, ok := readProtect(g.stateDir)
	if !ok || len(got.Resources) != 1 || got.Resources[0].RecoveryPoint != at || got.Resources[0].Error != "boom" || got.Jobs[0].State != "failed" ||
		len(st.Resources) != 1 {
		t.Errorf("state %+v", got)
	}
	rows := withAge(p, got.Resources, at.Add(10*time.Minute))
	if rows[0].WithinRPO || rows[0].AgeSeconds != 600 {
		t.Errorf("aged %+v", rows[0])
	}
}

// TestProtectSkips lists why each job of an empty local plan is skipped.
func TestProtectSkips(t *testing.T) {
	p := &plan.Plan{Name: "p", Regions: plan.Regions{Primary: plan.Region{Provider: plan.ProviderLocal}, Recovery: plan.Region{Provider: plan.ProviderLocal}},
		Data: plan.Data{Volumes: []plan.Volume{{ID: "vol-1"}}, Inventory: &plan.Inventory{Bucket: "inv"}}}
	jobs := planProtectJobs(&globals{}, p, &protectOptions{interval: time.Minute})
	var skips []string
	for _, j := range jobs {
		skips = append(skips, j.name+": "+j.skip)
	}
	want := "objects: the plan has no data.buckets|snapshots: snapshots need aws primary and recovery regions|images: the plan has no data.images|" +
		"repositories: the plan has no data.repositories|inventory: the inventory needs an aws primary region"
	if got := strings.Join(skips, "|"); got != want {
		t.Errorf("skips\n%s\nwant\n%s", got, want)
	}
}
