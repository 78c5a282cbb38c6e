package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/dns"
	"github.com/pilotlight/pilotlight/drill"
	"github.com/pilotlight/pilotlight/health"
	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/provider/local"
	"github.com/pilotlight/pilotlight/recovery"
	"github.com/pilotlight/pilotlight/report"
	"github.com/pilotlight/pilotlight/runbook"
)

// drillEnv names the environment variable that marks every process a drill
// starts, so that 'drill cleanup' can find them after a crash.
const drillEnv = "PILOTLIGHT_DRILL_ID"

type drillFlags struct {
	fault      drill.FaultSpec
	rate       float64
	warmup     time.Duration
	stable     time.Duration
	timeout    time.Duration
	declare    bool
	reportDir  string
	bin        string
	dnsListen  string
	noCapacity []string
	cloud      cloudDrillFlags // aws and sim plans (cmd_drill_cloud.go)
}

func newDrillCommand(g *globals) *cobra.Command {
	f := &drillFlags{}
	cmd := &cobra.Command{
		Use:   "drill",
		Short: "Run a DR drill end to end and measure RTO and RPO against the plan's objectives",
		Long: `Run a disaster-recovery drill of the plan on this machine, in one process:
bring up both regions (as 'up' does) with replication, health checks and DNS;
send synthetic traffic through the plan's DNS name (reads, and order writes
with sequence numbers); inject a fault; detect it with the health checks; fail
over with the recovery runbook; wait until the service answers from the
recovery region; measure RTO (fault → first success from the recovery region,
with its parts) and RPO (acknowledged writes missing from the recovery
region); roll the fault back and tear everything down, always.

Exit status 0 when both objectives hold, 1 when one does not (the report
says which and by how much). 'pilotlight drill cleanup' removes what a
crashed drill left behind.

Plans whose regions use provider aws or sim run an isolated drill instead
(--isolated, required for aws: a drill must never move production traffic):
the recovery runbook in the recovery region without fence, final sync,
promotion or DNS switch, everything it creates tagged pilotlight:drill=ID;
smoke checks against the recovered load balancers directly; RTO from the
drill's start until every smoke check passes; then everything tagged with the
drill ID is deleted, always (also on failure or Ctrl-C). '--fault
api-throttle --share 0.3' answers a share of the cloud API attempts with throttling
errors meanwhile, like AWS FIS's inject-api-throttle-error. On sim the drill
runs in virtual time. 'pilotlight drill cleanup --older-than 2h' sweeps
leftovers by tag. See docs/aws-drills.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.cloud.faultSet = cmd.Flags().Changed("fault")
			return runDrill(cmd.Context(), g, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.fault.Kind, "fault", "region-outage", "fault to inject: "+strings.Join(drill.FaultKinds, ", "))
	registerFaultFlags(fl, &f.fault)
	fl.Float64Var(&f.rate, "rate", 20, "synthetic requests per second (half of them order writes)")
	fl.DurationVar(&f.warmup, "warmup", 5*time.Second, "traffic before the fault")
	fl.DurationVar(&f.stable, "stable", 3*time.Second, "clean traffic needed after recovery")
	fl.DurationVar(&f.timeout, "timeout", 2*time.Minute, "longest wait for recovery after the fault")
	fl.BoolVar(&f.declare, "declare", false, "fail over only after an operator declares the disaster (asks on the terminal)")
	fl.StringVar(&f.reportDir, "report", "", "write the report as HTML and JSON into this directory")
	fl.StringVar(&f.bin, "bin", "", "directory of service binaries for {{.Bin}} (default: the directory of pilotlight)")
	fl.StringVar(&f.dnsListen, "dns-listen", "127.0.0.1:5354", "address of the drill's DNS server")
	fl.StringArrayVar(&f.noCapacity, "no-capacity", nil, "declare an instance type out of capacity in the recovery region (repeatable)")
	registerCloudDrillFlags(fl, &f.cloud)
	cmd.AddCommand(newDrillCleanupCommand(g))
	return cmd
}

// drillRecord is STATE/drills/ID/drill.json.
type drillRecord struct {
	ID      string    `json:"id"`
	PID     int       `json:"pid"`
	Plan    string    `json:"plan"`
	Started time.Time `json:"started"`
}

func drillsDir(stateDir string) string { return filepath.Join(stateDir, "drills") }

func runDrill(ctx context.Context, g *globals, f *drillFlags) (retErr error) {
	p, err := g.loadPlan()
	if err != nil {
		return err
	}
	if cloudPlan(p) {
		return runCloudDrill(ctx, g, f, p)
	}
	if err := normalizeFault(&f.fault); err != nil {
		return err
	}
	rec, svc, err := drillTarget(p)
	if err != nil {
		return err
	}
	if rt, err := local.ReadRuntime(g.stateDir); err == nil {
		return fmt.Errorf("drill: 'pilotlight up' (pid %d) is running for plan %s on the same addresses; stop it first", rt.PID, rt.Plan)
	}
	id := "drill-" + time.Now().UTC().Format("20060102T150405Z") + "-" + strconv.Itoa(os.Getpid())
	dir := filepath.Join(drillsDir(g.stateDir), id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(drillRecord{ID: id, PID: os.Getpid(), Plan: p.Name, Started: time.Now().UTC()}, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "drill.json"), b, 0o644); err != nil {
		return err
	}
	// Every process the drill starts inherits the mark.
	_ = os.Setenv(drillEnv, id)
	say := func(format string, a ...any) {
		if !g.json() {
			fmt.Fprintf(g.stderr, "drill: "+format+"\n", a...)
		}
	}
	sub := *g
	sub.stateDir = dir
	say("%s: %s of plan %s (%s → %s), state in %s", id, f.fault.Kind, p.Name, p.Regions.Primary.Name, p.Regions.Recovery.Name, dir)
	upStart := time.Now()
	ro := defaultReplicateOptions()
	st, err := startStack(ctx, &sub, p, stackOptions{bin: f.bin, dnsListen: f.dnsListen, networkFaults: true, replicate: ro})
	if err != nil {
		return fmt.Errorf("drill: bring up: %w", err)
	}
	say("regions up in %s", time.Since(upStart).Round(time.Millisecond))
	var d report.Drill
	defer func() {
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
		defer cancel()
		err := st.stop(tctx)
		d.Events = append(d.Events, report.Event{Time: time.Now(), Kind: report.KindTeardown, Message: "regions stopped"})
		procs := killMarked(id, true)
		lis := openListeners(p)
		d.Cleanup = report.Cleanup{Processes: procs, Listeners: lis, OK: procs == 0 && lis == 0 && err == nil}
		if err == nil {
			_ = os.RemoveAll(dir)
		}
		retErr = errors.Join(retErr, err)
		if d.ID != "" {
			retErr = errors.Join(retErr, writeDrillReport(g, f, d))
		}
		if retErr == nil && !d.Verdict.Pass {
			var msgs []string
			for _, fl := range d.Verdict.Failures {
				msgs = append(msgs, fl.Message)
			}
			// Said on stderr in every output mode: stdout holds the report.
			retErr = &exitError{code: 1, err: fmt.Errorf("drill: objectives not met: %s", strings.Join(msgs, "; "))}
		}
	}()
	ctl := local.NewControl(controlBase(&sub), f.dnsListen, p)
	for _, t := range f.noCapacity {
		if err := ctl.SetCapacity(ctx, p.Regions.Recovery.Name, t, false); err != nil {
			return err
		}
	}
	// Traffic starts once the primary serves: its load balancer and the
	// record's health check are healthy.
	say("waiting for %s to serve %s", p.Regions.Primary.Name, rec.Name)
	if err := waitServing(ctx, ctl, p.Regions.Primary.Name, svc, rec.Name); err != nil {
		return fmt.Errorf("drill: %w", err)
	}
	log := g.logger()
	o := drill.Options{
		ID: id, Plan: p, Fault: f.fault,
		Injector: deploymentInjector{st.d},
		Detect:   detectPrimary(st.rt.reg, rec.Name),
		Recover: func(ctx context.Context, observe func(runbook.Event)) (runbook.Result, error) {
			mode := recovery.Graceful
			rctx, cancel := context.WithTimeout(ctx, time.Second)
			if ctl.Reachable(rctx, p.Regions.Primary.Name) != nil {
				mode = recovery.Ungraceful
			}
			cancel()
			rb, err := recovery.Build(p, ctl, recovery.Options{Direction: recovery.Failover, Mode: mode, Poll: 50 * time.Millisecond})
			if err != nil {
				return runbook.Result{}, err
			}
			view := runbook.NewView(g.stderr, rb, runbook.ViewOptions{Terminal: stderrTerminal(g) && !g.json(), Logger: log, TierName: recovery.TierName})
			eng, err := runbook.New(runbook.Options{
				Journal: filepath.Join(dir, "failover.journal"), Logger: log,
				Observer: func(ev runbook.Event) { view.Observe(ev); observe(ev) },
			})
			if err != nil {
				return runbook.Result{}, err
			}
			say("failover (%s) started", mode)
			view.Start(ctx)
			defer view.Stop()
			return eng.Run(ctx, rb, id)
		},
		Present: func(ctx context.Context, client string) (map[string]bool, error) {
			region := p.Regions.Recovery
			if rr, err := ctl.Routing(ctx); err == nil {
				for _, r := range rr {
					if r.Record == rec.Name && r.Answer == recovery.RolePrimary {
						region = p.Regions.Primary
					}
				}
			}
			addr, err := local.LoadBalancerAddr(p, region, svc)
			if err != nil {
				return nil, err
			}
			return drill.ListOrders(ctx, "http://"+addr.String(), client)
		},
		TierName: recovery.TierName,
		Traffic: drill.TrafficOptions{
			DNSServer: f.dnsListen, Name: mdns.Fqdn(rec.Name + "." + p.Routing.Zone), Port: svc.LoadBalancer.Port,
			Rate: f.rate, Logger: log.With("component", "traffic"),
		},
		Warmup: f.warmup, Stable: f.stable, Timeout: f.timeout,
		DetectWindow: detectWindow(rec),
		Logger:       log,
		Progress:     say,
	}
	if f.declare {
		o.Declare = func(ctx context.Context) error {
			fmt.Fprintf(g.stderr, "drill: %s is down. Declare a disaster and fail over? [y/N] ", p.Regions.Primary.Name)
			line, err := bufio.NewReader(os.Stdin).ReadString('\n')
			if err != nil {
				return fmt.Errorf("no answer: %w", err)
			}
			if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
				return errors.New("not declared by the operator")
			}
			return nil
		}
	}
	d, err = drill.Run(ctx, o)
	return err
}

// waitServing waits until the service's load balancer in region has every
// instance healthy and the record's primary health check passes.
func waitServing(ctx context.Context, ctl *local.Control, region string, svc *plan.Service, record string) error {
	deadline := time.Now().Add(90 * time.Second)
	for {
		st, err := ctl.Service(ctx, region, svc.Name)
		ok := err == nil && st.Healthy >= svc.Compute.Count
		if ok {
			rr, err := ctl.Routing(ctx)
			ok = err == nil
			for _, r := range rr {
				if r.Record == record {
					ok = ok && r.Primary == string(health.Healthy) && r.Answer == recovery.RolePrimary
				}
			}
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s in %s is not serving after 90s (%+v, %v)", svc.Name, region, st, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func validFault(kind string) bool {
	for _, k := range drill.FaultKinds {
		if k == kind {
			return true
		}
	}
	return false
}

// drillTarget returns the failover record the drill's clients use and its
// service.
func drillTarget(p *plan.Plan) (*plan.Record, *plan.Service, error) {
	if p.Routing == nil {
		return nil, nil, errors.New("drill: the plan has no routing: a drill needs a failover record that clients resolve")
	}
	for i := range p.Routing.Records {
		r := &p.Routing.Records[i]
		if r.Policy != plan.PolicyFailover || r.Service == "" {
			continue
		}
		svc := p.Service(r.Service)
		if svc == nil || svc.LoadBalancer == nil {
			continue
		}
		return r, svc, nil
	}
	return nil, nil, errors.New("drill: the plan has no failover record bound to a service with a load balancer")
}

// detectWindow is how long a drill waits for the health checks to see the
// primary fail: three times interval × threshold, at least 10s.
func detectWindow(r *plan.Record) time.Duration {
	d := 10 * time.Second
	if hc := r.HealthCheck; hc != nil {
		d = max(d, 3*hc.Interval.D()*time.Duration(max(hc.FailureThreshold, 1)))
	}
	return d
}

// detectPrimary waits for the record's primary target to become unhealthy.
func detectPrimary(reg *health.Registry, record string) func(ctx context.Context) (time.Time, string, error) {
	return func(ctx context.Context) (time.Time, string, error) {
		id := health.TargetID(record, dns.RolePrimary)
		ch, unsubscribe := reg.Subscribe(256)
		defer unsubscribe()
		for {
			select {
			case <-ctx.Done():
				return time.Time{}, "", ctx.Err()
			case ev, ok := <-ch:
				if !ok {
					return time.Time{}, "", errors.New("health events closed")
				}
				if ev.Target == id && ev.To == health.Unhealthy {
					return ev.At, ev.Reason, nil
				}
			case <-time.After(200 * time.Millisecond):
				// Events may be dropped; the state is the truth.
				if t := reg.Target(id); t != nil {
					if st := t.Status(); st.State == health.Unhealthy {
						return st.Since, st.Reason, nil
					}
				}
			}
		}
	}
}

// deploymentInjector injects faults into the drill's own deployment.
type deploymentInjector struct{ d *local.Deployment }

func (i deploymentInjector) Inject(ctx context.Context, s drill.FaultSpec) (drill.Injected, error) {
	f, err := i.d.InjectFault(ctx, localFault(s))
	if err != nil {
		return drill.Injected{}, err
	}
	return drill.Injected{ID: f.ID, Description: f.Description}, nil
}

func (i deploymentInjector) Rollback(ctx context.Context, id string) error {
	return i.d.RollbackFault(ctx, id)
}

func controlBase(g *globals) string {
	rt, err := local.ReadRuntime(g.stateDir)
	if err != nil {
		return ""
	}
	return rt.ControlURL
}

func writeDrillReport(g *globals, f *drillFlags, d report.Drill) error {
	var errs []error
	if f.reportDir != "" {
		if err := os.MkdirAll(f.reportDir, 0o755); err != nil {
			return err
		}
		for name, write := range map[string]func(*os.File) error{
			d.ID + ".html": func(w *os.File) error { return report.WriteHTML(w, d) },
			d.ID + ".json": func(w *os.File) error { return report.WriteJSON(w, d) },
		} {
			fh, err := os.Create(filepath.Join(f.reportDir, name))
			if err != nil {
				errs = append(errs, err)
				continue
			}
			errs = append(errs, write(fh), fh.Close())
		}
	}
	if g.json() {
		errs = append(errs, report.WriteJSON(g.stdout, d))
	} else {
		errs = append(errs, report.WriteText(g.stdout, d))
		if f.reportDir != "" {
			fmt.Fprintf(g.stdout, "report: %s\n", filepath.Join(f.reportDir, d.ID+".html"))
		}
	}
	return errors.Join(errs...)
}

// openListeners counts TCP listeners left on the plan's local region
// networks (/proc/net/tcp).
func openListeners(p *plan.Plan) int {
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return 0
	}
	var nets []*net.IPNet
	for _, r := range []plan.Region{p.Regions.Primary, p.Regions.Recovery} {
		if _, n, err := net.ParseCIDR(r.Network); err == nil {
			nets = append(nets, n)
		}
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n")[1:] {
		fs := strings.Fields(line)
		if len(fs) < 4 || fs[3] != "0A" { // LISTEN
			continue
		}
		hexIP, _, _ := strings.Cut(fs[1], ":")
		v, err := strconv.ParseUint(hexIP, 16, 32)
		if err != nil {
			continue
		}
		ip := net.IPv4(byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
		for _, nw := range nets {
			if nw.Contains(ip) {
				n++
			}
		}
	}
	return n
}
