package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/pilotlight/pilotlight/bench/internal/benchkit"
)

// daemon is a long-running child process in its own process group.
type daemon struct {
	name string
	cmd  *exec.Cmd
	tail *benchkit.Tail
	done chan struct{}
	err  error // set before done is closed
}

// startDaemon starts name with args, stdout and stderr appended to logFile.
// cred, when not nil, runs it as another user (gdnsd as nobody under root).
func startDaemon(name string, args, env []string, logFile string, cred *syscall.Credential) (*daemon, error) {
	lf, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: open log: %w", filepath.Base(name), err)
	}
	d := &daemon{name: filepath.Base(name), tail: &benchkit.Tail{Max: 2048}, done: make(chan struct{})}
	d.cmd = exec.Command(name, args...)
	d.cmd.Env = env
	d.cmd.Stdout = io.MultiWriter(lf, d.tail)
	d.cmd.Stderr = d.cmd.Stdout
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred}
	if err := d.cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start %s: %w", d.name, err)
	}
	go func() {
		d.err = d.cmd.Wait()
		lf.Close()
		close(d.done)
	}()
	return d, nil
}

// exited reports whether the process has ended, with its error and output tail.
func (d *daemon) exited() (bool, error) {
	select {
	case <-d.done:
		return true, fmt.Errorf("%s exited: %v: %s", d.name, d.err, strings.TrimSpace(d.tail.String()))
	default:
		return false, nil
	}
}

// stop sends SIGINT to the process (it stops its own children), waits up to
// grace, then kills the whole process group.
func (d *daemon) stop(grace time.Duration) {
	select {
	case <-d.done:
		return
	default:
	}
	_ = d.cmd.Process.Signal(os.Interrupt)
	select {
	case <-d.done:
	case <-time.After(grace):
	}
	_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
	<-d.done
}

// dnsperfArgs is the command line of one dnsperf run against server.
func dnsperfArgs(server, queryFile string, d time.Duration, clients, maxQPS int) ([]string, error) {
	host, port, err := net.SplitHostPort(server)
	if err != nil {
		return nil, fmt.Errorf("dnsperf: server %q: %w", server, err)
	}
	secs := max(1, int(d.Round(time.Second)/time.Second))
	args := []string{"-s", host, "-p", port, "-d", queryFile, "-l", strconv.Itoa(secs), "-c", strconv.Itoa(clients)}
	if maxQPS > 0 {
		args = append(args, "-Q", strconv.Itoa(maxQPS))
	}
	return args, nil
}

// perfResult is what dnsperf reports about one run.
type perfResult struct {
	QPS        float64 `json:"qps"`
	Sent       int64   `json:"sent"`
	Completed  int64   `json:"completed"`
	Lost       int64   `json:"lost"`
	NoError    int64   `json:"noerror"`
	RunSeconds float64 `json:"runSeconds"`
	AvgLatency float64 `json:"avgLatencySeconds"`
}

// parseDNSPerf reads dnsperf's statistics block.
func parseDNSPerf(out []byte) (perfResult, error) {
	var r perfResult
	var haveQPS bool
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		key, val, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(val)
		if len(fields) == 0 {
			continue
		}
		first := fields[0]
		var err error
		switch key {
		case "Queries per second":
			r.QPS, err = strconv.ParseFloat(first, 64)
			haveQPS = err == nil
		case "Queries sent":
			r.Sent, err = strconv.ParseInt(first, 10, 64)
		case "Queries completed":
			r.Completed, err = strconv.ParseInt(first, 10, 64)
		case "Queries lost":
			r.Lost, err = strconv.ParseInt(first, 10, 64)
		case "Run time (s)":
			r.RunSeconds, err = strconv.ParseFloat(first, 64)
		case "Average Latency (s)":
			r.AvgLatency, err = strconv.ParseFloat(first, 64)
		case "Response codes":
			// "NOERROR 846590 (100.00%), NXDOMAIN 3 (0.00%)"
			for i := 0; i+1 < len(fields); i++ {
				if fields[i] == "NOERROR" {
					r.NoError, err = strconv.ParseInt(fields[i+1], 10, 64)
				}
			}
		}
		if err != nil {
			return perfResult{}, fmt.Errorf("dnsperf: parse %q: %w", strings.TrimSpace(sc.Text()), err)
		}
	}
	if !haveQPS {
		return perfResult{}, fmt.Errorf("dnsperf: no \"Queries per second\" line in %q", benchkit.Truncate(out, 300))
	}
	return r, nil
}

// runCmd runs name to completion (killed with its process group when ctx
// ends) with env (nil: the benchmark's) and returns its combined output.
func runCmd(ctx context.Context, name string, args, env []string) ([]byte, error) {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return out.Bytes(), ctx.Err()
		}
		return out.Bytes(), fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(args[:min(2, len(args))], " "), err, benchkit.Truncate(out.Bytes(), 300))
	}
	return out.Bytes(), nil
}

// freeDNSAddr returns 127.0.0.1:PORT with PORT free for both UDP and TCP a
// moment ago.
func freeDNSAddr() (string, error) {
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", fmt.Errorf("find a free port: %w", err)
		}
		addr := ln.Addr().String()
		pc, err := net.ListenPacket("udp", addr)
		ln.Close()
		if err == nil {
			pc.Close()
			return addr, nil
		}
	}
	return "", errors.New("find a free port: no port free for both udp and tcp")
}

// lookupA asks server for name's A records over UDP and returns the
// addresses answered and the rcode.
func lookupA(ctx context.Context, c *mdns.Client, server, name string) ([]string, int, error) {
	m := new(mdns.Msg)
	m.SetQuestion(mdns.Fqdn(name), mdns.TypeA)
	m.RecursionDesired = false
	r, _, err := c.ExchangeContext(ctx, m, server)
	if err != nil {
		return nil, 0, err
	}
	var addrs []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*mdns.A); ok {
			addrs = append(addrs, a.A.String())
		}
	}
	return addrs, r.Rcode, nil
}

// waitAnswer polls server every interval until name answers want (any
// answer when want is empty), proc exits, or timeout passes.
func waitAnswer(ctx context.Context, server, name, want string, timeout, interval time.Duration, proc *daemon) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := &mdns.Client{Net: "udp", Timeout: 500 * time.Millisecond}
	var last string
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		addrs, rcode, err := lookupA(ctx, c, server, name)
		switch {
		case err != nil && expired(ctx): // the deadline, not the server
		case err != nil:
			last = err.Error()
		case rcode != mdns.RcodeSuccess:
			last = mdns.RcodeToString[rcode]
		case len(addrs) > 0 && (want == "" || addrs[0] == want):
			return nil
		default:
			last = fmt.Sprintf("answer %v", addrs)
		}
		if proc != nil {
			if done, err := proc.exited(); done {
				return err
			}
		}
		select {
		case <-ctx.Done():
			if err := context.Cause(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			return fmt.Errorf("%s at %s: no answer %q within %s (last: %s)", name, server, want, timeout, last)
		case <-t.C:
		}
	}
}

// expired reports whether ctx has ended or its deadline has passed (a
// socket deadline can fire before the context's own timer).
func expired(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}
