package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDescribeGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/good/*.yaml")
	files = append(files, "../examples/ticketing/pilotlight.yaml")
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		if strings.HasPrefix(f, "..") {
			name = "ticketing"
		}
		t.Run(name, func(t *testing.T) {
			p, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := Describe(p).WriteText(&buf); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if buf.String() != string(want) {
				t.Errorf("summary differs from %s\ngot:\n%s\nwant:\n%s", golden, buf.String(), want)
			}
		})
	}
}

func TestDescribeStrategies(t *testing.T) {
	tests := []struct {
		strategy        Strategy
		running, starts int
	}{
		{BackupRestore, 0, 4},
		{PilotLight, 0, 4},
		{WarmStandby, 1, 3},
		{ActiveActive, 4, 0},
	}
	for _, tt := range tests {
		t.Run(string(tt.strategy), func(t *testing.T) {
			p := validPlan()
			p.Strategy = tt.strategy
			p.Services[0].Compute.Count, p.Services[0].Compute.Standby = 4, 1
			if err := p.Validate(); err != nil {
				t.Fatal(err)
			}
			svc := Describe(p).Tiers[0].Services[0]
			if svc.Running != tt.running || svc.Starts != tt.starts || svc.Count != 4 {
				t.Errorf("got running %d, starts %d, count %d; want %d, %d, 4", svc.Running, svc.Starts, svc.Count, tt.running, tt.starts)
			}
		})
	}
}

func TestSummaryJSON(t *testing.T) {
	p, err := Load("../examples/ticketing/pilotlight.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(Describe(p))
	if err != nil {
		t.Fatal(err)
	}
	var back Summary
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if back.RTO != p.Objectives.RTO || back.Records[0].Name != "www.ticketing.test." || back.Tiers[0].Services[0].Starts != 2 {
		t.Errorf("round trip lost data: %s", out)
	}
	for _, key := range []string{`"rto":"2m"`, `"strategy":"pilot-light"`, `"policy":"failover"`} {
		if !bytes.Contains(out, []byte(key)) {
			t.Errorf("JSON lacks %s: %s", key, out)
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteTextError(t *testing.T) {
	err := Describe(validPlan()).WriteText(failWriter{})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("WriteText to a failing writer: %v", err)
	}
}
