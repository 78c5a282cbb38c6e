// Command dns benchmarks pilotlight's authoritative DNS server: its
// throughput under dnsperf against gdnsd serving the same records (simple A
// records and health-checked failover records), and the failover time of a
// failover record with the local provider, from the primary's failure to
// the first DNS answer naming the recovery region. Run it from the
// repository root:
//
//	bench/dns/run.sh       # builds bin/pilotlight, installs dnsperf and gdnsd, runs
//	go run ./bench/dns -pilotlight bin/pilotlight -out bench.json
//
// Every server is a child process in its own process group, stopped when
// the benchmark ends, also on Ctrl-C; all traffic stays on loopback.
//
// Run as `dns child -addr A -fail-file F`, the binary is an instance of the
// failover measurement's service: it answers /healthz 200, or 503 while F
// exists.
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
	pilotlight   string
	gdnsd        string
	dnsperf      string
	simple       int
	failover     int
	duration     time.Duration
	clients      int
	maxQPS       int
	runs         int
	seed         uint64
	workDir      string
	keep         bool
	skipPL       bool
	skipGdnsd    bool
	skipFailover bool
	out          string
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("dns", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.pilotlight, "pilotlight", "bin/pilotlight", "path of the pilotlight binary to benchmark")
	fs.StringVar(&c.gdnsd, "gdnsd", "gdnsd", "gdnsd executable")
	fs.StringVar(&c.dnsperf, "dnsperf", "dnsperf", "dnsperf executable")
	fs.IntVar(&c.simple, "records", 1000, "number of simple A records")
	fs.IntVar(&c.failover, "failover-records", 100, fmt.Sprintf("number of failover records, at most %d (each has a live HTTP target per region)", maxFailover))
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "length of each dnsperf run (dnsperf -l, whole seconds)")
	fs.IntVar(&c.clients, "clients", 4, "dnsperf clients (dnsperf -c)")
	fs.IntVar(&c.maxQPS, "max-qps", 0, "cap on the queries per second (dnsperf -Q); 0 for unbounded")
	fs.IntVar(&c.runs, "runs", 3, "failover runs")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the query order")
	fs.StringVar(&c.workDir, "dir", "", "work directory (default: a new temporary directory)")
	fs.BoolVar(&c.keep, "keep", false, "keep the work directory (configs, query files, logs)")
	fs.BoolVar(&c.skipPL, "skip-pilotlight", false, "do not run pilotlight (gdnsd only; implies -skip-failover)")
	fs.BoolVar(&c.skipGdnsd, "skip-gdnsd", false, "do not run gdnsd")
	fs.BoolVar(&c.skipFailover, "skip-failover", false, "do not measure the failover time")
	fs.StringVar(&c.out, "out", "", "also write the results as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch {
	case c.simple < 0 || c.failover < 0 || c.simple+c.failover == 0:
		return config{}, errors.New("-records and -failover-records must be >= 0, not both 0")
	case c.failover > maxFailover:
		return config{}, fmt.Errorf("-failover-records must be <= %d", maxFailover)
	case c.duration < time.Second || c.duration > 10*time.Minute:
		return config{}, errors.New("-duration must be between 1s and 10m")
	case c.clients < 1 || c.clients > 256:
		return config{}, errors.New("-clients must be between 1 and 256")
	case c.maxQPS < 0:
		return config{}, errors.New("-max-qps must be >= 0")
	case c.runs < 1 || c.runs > 20:
		return config{}, errors.New("-runs must be between 1 and 20")
	}
	return c, nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	var err error
	if len(os.Args) > 1 && os.Args[1] == childCommand {
		err = runChild(ctx, os.Args[2:])
	} else {
		err = run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	}
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "bench/dns:", err)
		}
		os.Exit(1)
	}
}

// bench holds the configuration and the work directory of one run.
type bench struct {
	cfg      config
	log      *slog.Logger
	dir      string
	ownDir   bool
	childEnv []string // extra environment of pilotlight (tests: re-exec markers)
	now      func() time.Time
	cleanup  []func() // run by close, unless -keep
}

func newBench(c config, log *slog.Logger) (*bench, error) {
	if !c.skipPL {
		if _, err := os.Stat(c.pilotlight); err != nil {
			return nil, fmt.Errorf("pilotlight binary: %w (build it with: go build -o bin/ ./cmd/pilotlight)", err)
		}
	}
	b := &bench{cfg: c, log: log, dir: c.workDir, now: time.Now}
	if b.dir == "" {
		d, err := os.MkdirTemp("", "pilotlight-bench-dns-")
		if err != nil {
			return nil, fmt.Errorf("work directory: %w", err)
		}
		b.dir, b.ownDir = d, true
	} else if err := os.MkdirAll(b.dir, 0o755); err != nil {
		return nil, fmt.Errorf("work directory: %w", err)
	}
	return b, nil
}

func (b *bench) close() {
	if b.cfg.keep {
		return
	}
	for _, f := range b.cleanup {
		f()
	}
	if b.ownDir {
		_ = os.RemoveAll(b.dir)
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
	if c.keep {
		log.Info("keeping the work directory", "dir", b.dir)
	}
	return b.run(ctx, stdout)
}

// run measures, prints the report and writes the JSON.
func (b *bench) run(ctx context.Context, stdout io.Writer) error {
	c := b.cfg
	res := Results{
		Config: ConfigSummary{
			SimpleRecords: c.simple, FailoverRecords: c.failover, Seconds: c.duration.Round(time.Second).Seconds(),
			Clients: c.clients, MaxQPS: c.maxQPS, Runs: c.runs,
		},
		Started: time.Now().UTC(),
	}
	if err := b.measureThroughput(ctx, &res); err != nil {
		return err
	}
	if err := b.measureFailover(ctx, &res); err != nil {
		return err
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
