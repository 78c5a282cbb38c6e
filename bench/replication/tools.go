package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pilotlight/pilotlight/bench/internal/benchkit"
)

// The tools compared.
const (
	toolPilotlight = "pilotlight"
	toolRclone     = "rclone"
)

// pilotlightThreshold is pilotlight's default multipart threshold and part
// size, given to rclone as --s3-upload-cutoff and --s3-chunk-size so both
// split the same objects the same way.
const (
	pilotlightThreshold = "64M"
	pilotlightPartSize  = "16M"
)

// passSummary is the part of `pilotlight replicate --once -o json` read here.
type passSummary struct {
	Listed           int     `json:"listed"`
	Copied           int     `json:"copied"`
	Unchanged        int     `json:"unchanged"`
	Failed           int     `json:"failed"`
	Bytes            int64   `json:"bytes"`
	Seconds          float64 `json:"seconds"`
	ObjectsPerSecond float64 `json:"objectsPerSecond"`
	BytesPerSecond   float64 `json:"bytesPerSecond"`
}

// parseSummary decodes the JSON summary printed by `replicate -o json`.
func parseSummary(out []byte) (passSummary, error) {
	var s passSummary
	dec := json.NewDecoder(bytes.NewReader(out))
	if err := dec.Decode(&s); err != nil {
		return passSummary{}, fmt.Errorf("parse pilotlight summary %q: %w", benchkit.Truncate(out, 200), err)
	}
	return s, nil
}

// s3URL is a pilotlight replicate endpoint URL.
func s3URL(bucket, endpoint string) string {
	return fmt.Sprintf("s3://%s?endpoint=%s&region=%s", bucket, endpoint, region)
}

// pilotlightArgs is the command line of one `replicate --once` pass.
func pilotlightArgs(srcEndpoint, srcBucket, dstEndpoint, dstBucket, stateDir string, workers int) []string {
	return []string{
		"replicate", "--once",
		"--from", s3URL(srcBucket, srcEndpoint), "--to", s3URL(dstBucket, dstEndpoint),
		"--workers", strconv.Itoa(workers), "-o", "json", "--state-dir", stateDir,
	}
}

// rcloneArgs is the command line of one `rclone sync` pass with the same
// parallelism and multipart split as pilotlight.
func rcloneArgs(srcBucket, dstBucket string, workers int) []string {
	return []string{
		"sync", "src:" + srcBucket, "dst:" + dstBucket,
		"--transfers", strconv.Itoa(workers), "--checkers", strconv.Itoa(workers),
		"--s3-upload-cutoff", pilotlightThreshold, "--s3-chunk-size", pilotlightPartSize,
		"--s3-no-check-bucket", "--stats", "0", "-q",
	}
}

// rcloneEnv is base without AWS_CA_BUNDLE (rclone rejects a bundle it cannot
// use for plain http) plus the two remotes, src and dst, defined through
// RCLONE_CONFIG_* variables.
func rcloneEnv(base []string, configFile, srcEndpoint, dstEndpoint, access, secret string) []string {
	var env []string
	for _, kv := range base {
		if !strings.HasPrefix(kv, "AWS_CA_BUNDLE=") && !strings.HasPrefix(kv, "RCLONE_") {
			env = append(env, kv)
		}
	}
	env = append(env, "RCLONE_CONFIG="+configFile)
	for _, r := range []struct{ name, endpoint string }{{"SRC", srcEndpoint}, {"DST", dstEndpoint}} {
		p := "RCLONE_CONFIG_" + r.name + "_"
		env = append(env,
			p+"TYPE=s3", p+"PROVIDER=Other", p+"ENV_AUTH=false",
			p+"ENDPOINT="+r.endpoint, p+"REGION="+region, p+"FORCE_PATH_STYLE=true",
			p+"ACCESS_KEY_ID="+access, p+"SECRET_ACCESS_KEY="+secret,
		)
	}
	return env
}

// measure replicates bucket of src into a fresh destination store with tool,
// checks that every object arrived, then times a second, no-op pass.
func (b *bench) measure(ctx context.Context, tool string, src *store, bucket string, n int, size int64) (ToolResult, error) {
	dst, err := b.startStore(ctx, tool+"-"+bucket, []string{dstBucket}, "")
	if err != nil {
		return ToolResult{}, err
	}
	defer b.stopStore(dst)
	stateDir := filepath.Join(dst.dir, "state")
	pass := func() (time.Duration, []byte, error) {
		switch tool {
		case toolPilotlight:
			args := pilotlightArgs(src.endpoint(), bucket, dst.endpoint(), dstBucket, stateDir, b.cfg.workers)
			return runCmd(ctx, b.cfg.pilotlight, args, append(os.Environ(), b.credsEnv()...), filepath.Join(dst.dir, tool+".log"))
		default:
			env := rcloneEnv(os.Environ(), filepath.Join(dst.dir, "rclone.conf"), src.endpoint(), dst.endpoint(), b.access, b.secret)
			return runCmd(ctx, b.cfg.rclone, rcloneArgs(bucket, dstBucket, b.cfg.workers), env, filepath.Join(dst.dir, tool+".log"))
		}
	}
	b.log.Info("replicating", "tool", tool, "bucket", bucket, "objects", n)
	d, out, err := pass()
	if err != nil {
		return ToolResult{}, fmt.Errorf("%s first pass: %w", tool, err)
	}
	r := ToolResult{Tool: tool, Objects: n, Bytes: int64(n) * size, Seconds: d.Seconds()}
	if tool == toolPilotlight {
		s, err := parseSummary(out)
		if err != nil {
			return ToolResult{}, err
		}
		r.Reported = &s
	}
	objs, byts, err := inventory(ctx, b.client(dst), dstBucket)
	if err != nil {
		return ToolResult{}, fmt.Errorf("%s: check the replica: %w", tool, err)
	}
	if objs != n || byts != int64(n)*size {
		return ToolResult{}, fmt.Errorf("%s: the replica has %d objects (%d bytes), want %d (%d bytes)", tool, objs, byts, n, int64(n)*size)
	}
	d, out, err = pass()
	if err != nil {
		return ToolResult{}, fmt.Errorf("%s no-op pass: %w", tool, err)
	}
	r.NoopSeconds = d.Seconds()
	if tool == toolPilotlight {
		if s, err := parseSummary(out); err == nil && s.Copied != 0 {
			b.log.Warn("the no-op pass copied objects", "tool", tool, "copied", s.Copied)
		}
	}
	r.fillRates()
	b.log.Info("replicated", "tool", tool, "bucket", bucket, "seconds", r.Seconds, "objects_per_second", r.ObjectsPerSecond, "noop_seconds", r.NoopSeconds)
	return r, nil
}

// runCmd runs name in its own process group (killed whole when ctx ends),
// with stderr appended to logFile, and returns its stdout and wall time.
func runCmd(ctx context.Context, name string, args, env []string, logFile string) (time.Duration, []byte, error) {
	lf, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return 0, nil, fmt.Errorf("open log: %w", err)
	}
	defer lf.Close()
	var stdout bytes.Buffer
	tail := &benchkit.Tail{Max: 2048}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.Stdout = &stdout
	cmd.Stderr = io.MultiWriter(lf, tail)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	start := time.Now()
	err = cmd.Run()
	d := time.Since(start)
	if err != nil {
		if ctx.Err() != nil {
			return d, nil, ctx.Err()
		}
		return d, stdout.Bytes(), fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(args[:min(2, len(args))], " "), err, strings.TrimSpace(tail.String()))
	}
	return d, stdout.Bytes(), nil
}
