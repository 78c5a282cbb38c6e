package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/internal/needs"
)

// TestRun runs the whole benchmark against the fake pilotlight (and gdnsd
// when installed); dnsperf must be installed.
func TestRun(t *testing.T) {
	needs.Program(t, "dnsperf", "dnsperf")
	if os.Getenv("CI") == "true" {
		needs.Program(t, "gdnsd", "gdnsd") // never skip the peer in CI
	}
	_, noGdnsd := exec.LookPath("gdnsd")
	for _, tc := range []struct {
		name    string
		env     string
		want    []string
		notRun  int
		measure bool
	}{
		{"measured", "FAKE_UP_DNS=1", []string{"failover  ", "failback  ", "simple (20)", "failover (3)"}, 0, true},
		{"pilotlight without dns", "FAKE_NO_DNS=1", []string{"pilotlight has no `dns serve` command yet", "failover time: pilotlight up has no --dns-listen flag yet"}, 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "res.json")
			args := []string{"-pilotlight", os.Args[0], "-records", "20", "-failover-records", "3", "-duration", "1s",
				"-clients", "2", "-max-qps", "20000", "-runs", "2", "-dir", t.TempDir(), "-out", out}
			if noGdnsd != nil {
				args = append(args, "-skip-gdnsd")
			}
			c, err := parseFlags(args, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			b, err := newBench(c, slog.New(slog.NewTextHandler(testWriter{t}, nil)))
			if err != nil {
				t.Fatal(err)
			}
			defer b.close()
			b.childEnv = append(childEnv, tc.env)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			var stdout bytes.Buffer
			if err := b.run(ctx, &stdout); err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("report lacks %q:\n%s", w, stdout.String())
				}
			}
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			var res Results
			if err := json.Unmarshal(data, &res); err != nil {
				t.Fatal(err)
			}
			wantNotRun := tc.notRun
			if noGdnsd != nil {
				wantNotRun++
			}
			if len(res.NotRun) != wantNotRun || len(res.Throughput) != 2 {
				t.Fatalf("results %+v", res)
			}
			for _, tr := range res.Throughput {
				for _, s := range []*ServerResult{tr.Pilotlight, tr.Gdnsd} {
					if s == nil {
						continue
					}
					// -max-qps 20000 for 1 s: dnsperf sends about 20000.
					if s.QPS < 1000 || s.QPS > 25000 || s.Mismatches != 0 || s.Completed == 0 {
						t.Errorf("%s %s: %+v", s.Server, tr.Set, s)
					}
				}
				if (tr.Pilotlight != nil) != tc.measure || (tr.Gdnsd != nil) != (noGdnsd == nil) {
					t.Errorf("%s: pilotlight %v gdnsd %v", tr.Set, tr.Pilotlight, tr.Gdnsd)
				}
			}
			if tc.measure {
				f := res.Failover
				if f == nil || len(f.Runs) != 2 || f.Failover.Max > 1 || f.Failback.Max > 1 {
					t.Fatalf("failover %+v", f)
				}
				if _, err := os.Stat(failFile(filepath.Join(b.dir, "failover"), foPrimary)); !os.IsNotExist(err) {
					t.Errorf("fail file left behind: %v", err)
				}
			}
		})
	}
}

// testWriter logs through t.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
