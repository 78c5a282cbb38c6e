// Command replication benchmarks `pilotlight replicate` against `rclone sync`
// on local object stores: throughput on many small and a few large objects,
// the time of a no-op second pass, and the replication lag of continuous
// mode under a steady write load. Run it from the repository root:
//
//	bench/replication/run.sh            # builds bin/pilotlight, installs rclone, runs
//	go run ./bench/replication -pilotlight bin/pilotlight -small 1000 -large 4
//
// Every measured run replicates into a fresh destination store; all the
// stores and replicators are child processes in their own process groups and
// are stopped when the benchmark ends, also on Ctrl-C.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// config is the benchmark's command line.
type config struct {
	pilotlight  string
	rclone      string
	small       int
	smallSize   int64
	large       int
	largeSize   int64
	workers     int
	lagRate     float64
	lagDuration time.Duration
	lagObject   int64
	workDir     string
	keep        bool
	skipRclone  bool
	skipPL      bool
	skipLag     bool
	out         string
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	c := config{smallSize: 4 << 10, largeSize: 64 << 20, lagObject: 4 << 10}
	fs := flag.NewFlagSet("replication", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.pilotlight, "pilotlight", "bin/pilotlight", "path of the pilotlight binary to benchmark")
	fs.StringVar(&c.rclone, "rclone", "rclone", "rclone executable")
	fs.IntVar(&c.small, "small", 10000, "number of small objects")
	fs.Var((*byteSize)(&c.smallSize), "small-size", "size of a small object")
	fs.IntVar(&c.large, "large", 16, "number of large objects")
	fs.Var((*byteSize)(&c.largeSize), "large-size", "size of a large object")
	fs.IntVar(&c.workers, "workers", 16, "parallelism of both tools (pilotlight --workers, rclone --transfers and --checkers)")
	fs.Float64Var(&c.lagRate, "lag-rate", 200, "objects written per second during the lag measurement")
	fs.DurationVar(&c.lagDuration, "lag-duration", 20*time.Second, "length of the lag measurement")
	fs.StringVar(&c.workDir, "dir", "", "work directory for the stores (default: a new temporary directory)")
	fs.BoolVar(&c.keep, "keep", false, "keep the work directory")
	fs.BoolVar(&c.skipRclone, "skip-rclone", false, "do not run rclone")
	fs.BoolVar(&c.skipPL, "skip-pilotlight", false, "do not run pilotlight replicate (rclone only; implies -skip-lag)")
	fs.BoolVar(&c.skipLag, "skip-lag", false, "do not measure the continuous-mode lag")
	fs.StringVar(&c.out, "out", "", "also write the results as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch {
	case c.small < 0 || c.large < 0:
		return config{}, errors.New("-small and -large must be >= 0")
	case c.workers < 1:
		return config{}, errors.New("-workers must be >= 1")
	case c.lagRate <= 0 || c.lagDuration <= 0:
		return config{}, errors.New("-lag-rate and -lag-duration must be > 0")
	}
	return c, nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "bench/replication:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil)).With("component", "bench")
	b, err := newBench(c, log)
	if err != nil {
		return err
	}
	defer b.close()

	res := Results{Config: c.summary(), Started: time.Now().UTC()}
	src, err := b.startStore(ctx, "source", []string{smallBucket, largeBucket}, "")
	if err != nil {
		return err
	}
	cases := []struct {
		name, bucket string
		n            int
		size         int64
	}{
		{"small", smallBucket, c.small, c.smallSize},
		{"large", largeBucket, c.large, c.largeSize},
	}
	for _, cs := range cases {
		if cs.n == 0 {
			continue
		}
		log.Info("filling the source", "case", cs.name, "objects", cs.n, "size", cs.size)
		fillParallel := 32
		if cs.size >= 16<<20 {
			fillParallel = 4 // bounded memory: one buffer per PUT in flight
		}
		if err := fill(ctx, b.client(src), cs.bucket, "obj/", cs.n, cs.size, fillParallel); err != nil {
			return err
		}
		r := CaseResult{Name: cs.name, Objects: cs.n, ObjectSize: cs.size}
		if !c.skipPL {
			pl, err := b.measure(ctx, toolPilotlight, src, cs.bucket, cs.n, cs.size)
			if err != nil {
				return err
			}
			r.Pilotlight = &pl
		}
		if !c.skipRclone {
			rc, err := b.measure(ctx, toolRclone, src, cs.bucket, cs.n, cs.size)
			if err != nil {
				return err
			}
			r.Rclone = &rc
		}
		res.Cases = append(res.Cases, r)
	}
	if !c.skipLag && !c.skipPL {
		lag, err := b.measureLag(ctx)
		if err != nil {
			return err
		}
		res.Lag = &lag
	}
	res.Seconds = time.Since(res.Started).Seconds()
	fmt.Fprint(stdout, FormatReport(res))
	if c.out != "" {
		data, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return fmt.Errorf("encode results: %w", err)
		}
		if err := os.WriteFile(c.out, append(data, '\n'), 0o644); err != nil {
			return fmt.Errorf("write results %s: %w", c.out, err)
		}
	}
	return nil
}

// summary is the part of the configuration recorded with the results.
func (c config) summary() ConfigSummary {
	return ConfigSummary{
		Small: c.small, SmallSize: c.smallSize, Large: c.large, LargeSize: c.largeSize,
		Workers: c.workers, LagRate: c.lagRate, LagSeconds: c.lagDuration.Seconds(),
	}
}
