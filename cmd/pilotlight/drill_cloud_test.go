package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCloudDrillAndThrottleOnSim runs the isolated drill and the
// api-throttle fault from the command line on a generated sim plan: the
// drill recovers beside production without switching DNS, tears down what
// it tagged, and a simulated recovery under 30% injected throttling still
// completes.
func TestCloudDrillAndThrottleOnSim(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "plan.yaml")
	var out, errb bytes.Buffer
	g := &globals{output: "text", stdout: &out, stderr: &errb, stateDir: filepath.Join(dir, "state")}
	if err := runInProcess(t, g, newPlanGenerateCommand(g), "--instances", "60", "--services", "4", "--lbs", "4",
		"--records", "8", "--databases", "1", "--out", file); err != nil {
		t.Fatalf("plan generate: %v", err)
	}
	g.file = file
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	code := func(err error) int { return exitCode(err, devNull) }

	type drillJSON struct {
		Fault struct{ Kind, Description string }
		RTO   struct {
			Seconds float64 `json:"seconds"`
		} `json:"rto"`
		Events []struct{ Kind, Message string } `json:"events"`
		Steps  []struct {
			ID    string `json:"id"`
			State string `json:"state"`
		} `json:"steps"`
		Cleanup struct {
			OK      bool     `json:"ok"`
			Removed []string `json:"removed"`
		} `json:"cleanup"`
	}
	drillRun := func(t *testing.T, args ...string) (drillJSON, error) {
		t.Helper()
		out.Reset()
		errb.Reset()
		g.output = "json"
		err := runInProcess(t, g, newDrillCommand(g), args...)
		var d drillJSON
		if out.Len() > 0 {
			if jerr := json.Unmarshal(out.Bytes(), &d); jerr != nil {
				t.Fatalf("%v in %s", jerr, out.String())
			}
		}
		return d, err
	}

	t.Run("isolated is required", func(t *testing.T) {
		_, err := drillRun(t)
		if err == nil || !strings.Contains(err.Error(), "--isolated") || code(err) != 2 {
			t.Fatalf("err %v (exit %d)", err, code(err))
		}
	})
	t.Run("only api-throttle", func(t *testing.T) {
		_, err := drillRun(t, "--isolated", "--fault", "store-outage")
		if err == nil || !strings.Contains(err.Error(), "api-throttle") || code(err) != 2 {
			t.Fatalf("err %v (exit %d)", err, code(err))
		}
		_, err = drillRun(t, "--isolated", "--fault", "api-throttle", "--share", "1.5")
		if err == nil || !strings.Contains(err.Error(), "share") || code(err) != 2 {
			t.Fatalf("err %v (exit %d)", err, code(err))
		}
	})
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"no fault", []string{"--isolated"}},
		{"api-throttle 30%", []string{"--isolated", "--fault", "api-throttle", "--share", "0.3", "--seed", "7"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d, err := drillRun(t, tt.args...)
			if err != nil && code(err) != 1 { // 1: objective missed, still a report
				t.Fatalf("drill: %v\n%s", err, errb.String())
			}
			if d.RTO.Seconds <= 0 || !d.Cleanup.OK || len(d.Cleanup.Removed) == 0 {
				t.Fatalf("report: %+v", d)
			}
			var kinds []string
			for _, e := range d.Events {
				kinds = append(kinds, e.Kind)
			}
			joined := strings.Join(kinds, " ")
			for _, want := range []string{"dns-not-switched", "recovered", "teardown"} {
				if !strings.Contains(joined, want) {
					t.Errorf("no %s event in %v", want, kinds)
				}
			}
			for _, s := range d.Steps {
				if s.State != "done" {
					t.Errorf("step %s %s", s.ID, s.State)
				}
				if strings.Contains(s.ID, "dns") || strings.Contains(s.ID, "promote") || strings.Contains(s.ID, "fence") {
					t.Errorf("isolated drill ran step %s", s.ID)
				}
			}
			if strings.Contains(strings.Join(tt.args, " "), "api-throttle") &&
				(d.Fault.Kind != "api-throttle" || !strings.Contains(d.Fault.Description, "attempts throttled by the fault") ||
					strings.Contains(d.Fault.Description, "; 0 attempts")) {
				t.Errorf("fault %+v", d.Fault)
			}
		})
	}

	t.Run("simulate api-throttle", func(t *testing.T) {
		sim := func(args ...string) (rep struct {
			RTO      float64 `json:"rtoSeconds"`
			Injected int     `json:"injectedThrottles"`
			Error    string  `json:"error"`
		}) {
			t.Helper()
			out.Reset()
			g.output = "json"
			if err := runInProcess(t, g, newSimulateCommand(g), args...); err != nil {
				t.Fatalf("simulate %v: %v\n%s", args, err, errb.String())
			}
			if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
				t.Fatalf("%v in %s", err, out.String())
			}
			return rep
		}
		calm := sim()
		rough := sim("--fault", "api-throttle", "--share", "0.3")
		if calm.Error != "" || rough.Error != "" || calm.Injected != 0 || rough.Injected == 0 || rough.RTO < calm.RTO {
			t.Errorf("calm %+v, under 30%% throttling %+v", calm, rough)
		}
		out.Reset()
		err := runInProcess(t, g, newSimulateCommand(g), "--fault", "region-outage")
		if err == nil || code(err) != 2 {
			t.Errorf("simulate --fault region-outage: %v", err)
		}
	})

	t.Run("cleanup older-than on local state", func(t *testing.T) {
		out.Reset()
		g.output = "text"
		if err := runInProcess(t, g, newDrillCleanupCommand(g), "--older-than", time.Hour.String()); err != nil {
			t.Fatalf("cleanup: %v", err)
		}
		if err := runInProcess(t, g, newDrillCleanupCommand(g), "--dry-run"); err == nil || code(err) != 2 {
			t.Errorf("--dry-run on a sim plan: %v", err)
		}
	})
}
