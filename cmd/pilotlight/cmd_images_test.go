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
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/spf13/cobra"
)

// runSubcommand runs a command constructor under a root with the global
// flags, in process, and returns stdout, stderr and the error.
func runSubcommand(t *testing.T, newCmd func(*globals) *cobra.Command, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	g := &globals{stdout: &stdout, stderr: &stderr}
	root := &cobra.Command{Use: "pilotlight", SilenceUsage: true, SilenceErrors: true}
	pf := root.PersistentFlags()
	pf.StringVarP(&g.file, "file", "f", "pilotlight.yaml", "plan file")
	pf.StringVarP(&g.output, "output", "o", "text", "output format")
	pf.StringVar(&g.logLevel, "log-level", "error", "log level")
	pf.StringVar(&g.stateDir, "state-dir", t.TempDir(), "state directory")
	root.AddCommand(newCmd(g))
	root.SetArgs(args)
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	err := root.ExecuteContext(ctx)
	return stdout.String(), stderr.String(), err
}

// writePlan writes a local plan with the given data block.
func writePlan(t *testing.T, data string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pilotlight.yaml")
	plan := `apiVersion: pilotlight/v1
kind: Plan
name: shop
objectives: {rto: 10m, rpo: 1m}
regions:
  primary: {name: seoul}
  recovery: {name: tokyo}
data:
` + data
	if err := os.WriteFile(path, []byte(plan), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestImagesSyncOnce(t *testing.T) {
	var hosts [2]string
	for i := range hosts {
		srv := httptest.NewServer(ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0))))
		t.Cleanup(srv.Close)
		hosts[i] = strings.TrimPrefix(srv.URL, "http://")
	}
	img, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	digest, _ := img.Digest()
	ref, err := name.NewTag(hosts[0] + "/web:v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithContext(t.Context())); err != nil {
		t.Fatal(err)
	}
	planPath := writePlan(t, fmt.Sprintf("  images:\n    - {repository: web, source: %q, recovery: %q}\n", hosts[0], hosts[1]))

	out, errOut, err := runSubcommand(t, newImagesCommand, "images", "sync", "--once", "-o", "json", "-f", planPath)
	if err != nil {
		t.Fatalf("images sync: %v\n%s", err, errOut)
	}
	var rep imagesReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if rep.Tags != 1 || rep.Verified != 1 || rep.Failed != 0 || rep.CopiedBytes == 0 || rep.Images[0].Digest != digest.String() {
		t.Errorf("first sync report = %+v", rep)
	}
	if !strings.Contains(errOut, "images: copying "+hosts[0]+"/web:v1") || !strings.Contains(errOut, "verified") {
		t.Errorf("progress on stderr = %q", errOut)
	}

	out, _, err = runSubcommand(t, newImagesCommand, "images", "sync", "--once", "-f", planPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"SOURCE", hosts[1] + "/web:v1", digest.String()[:19], "true", "1 of 1 tags verified; 0 B copied"} {
		if !strings.Contains(out, want) {
			t.Errorf("second sync table lacks %q:\n%s", want, out)
		}
	}
}

func TestImagesSyncFailures(t *testing.T) {
	srv := httptest.NewServer(ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	tests := []struct {
		name, data, want string
		code             int
	}{
		{"no registries", "  images: [{repository: web}]\n", "source and recovery registries are required", 0},
		{"missing tag", fmt.Sprintf("  images: [{repository: web, tags: [v9], source: %q, recovery: %q}]\n", host, host+"/dr"), "0 of 1 tags verified", 1},
		{"no images", "  repositories: [{url: https://git.example.com/a.git}]\n", "no data.images", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := runSubcommand(t, newImagesCommand, "images", "sync", "--once", "-f", writePlan(t, tt.data))
			if err == nil {
				t.Fatalf("images sync succeeded:\n%s", out)
			}
			if !strings.Contains(out+err.Error(), tt.want) {
				t.Errorf("images sync = %v\n%s\nwant %q", err, out, tt.want)
			}
			var ee *exitError
			if tt.code != 0 && (!errors.As(err, &ee) || ee.code != tt.code) {
				t.Errorf("error %v, want exit code %d", err, tt.code)
			}
		})
	}
}
