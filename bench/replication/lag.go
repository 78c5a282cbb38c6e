package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Bounds of the lag measurement.
const (
	lagPoll      = 20 * time.Millisecond // HEAD interval on the replica
	lagMaxWait   = 10 * time.Second      // an object not readable by then is missing
	lagInFlight  = 512                   // objects written but not yet seen, at most
	startTimeout = 30 * time.Second
)

// measureLag runs `pilotlight replicate` in continuous mode from a source
// store that sends bucket events, writes objects at the configured rate and
// measures, for each, the time from the PUT's acknowledgement to the first
// successful HEAD on the replica.
//
// The source store needs its webhook reachable when it starts, and the
// replicator needs its source up when it starts, so the benchmark serves
// the webhook itself and relays the events to the replicator's
// --events-listen address (one loopback hop).
func (b *bench) measureLag(ctx context.Context) (LagResult, error) {
	eventsAddr, err := freeAddr()
	if err != nil {
		return LagResult{}, err
	}
	relay, err := startRelay("http://" + eventsAddr)
	if err != nil {
		return LagResult{}, err
	}
	defer relay.Close()
	src, err := b.startStore(ctx, "lag-source", []string{lagBucket}, relay.url)
	if err != nil {
		return LagResult{}, err
	}
	defer b.stopStore(src)
	dst, err := b.startStore(ctx, "lag-replica", []string{dstBucket}, "")
	if err != nil {
		return LagResult{}, err
	}
	defer b.stopStore(dst)

	args := pilotlightArgs(src.endpoint(), lagBucket, dst.endpoint(), dstBucket, filepath.Join(dst.dir, "state"), b.cfg.workers)
	args = append(slices.DeleteFunc(args, func(a string) bool { return a == "--once" }), "--events-listen", eventsAddr)
	args = slices.DeleteFunc(args, func(a string) bool { return a == "-o" || a == "json" })
	rep, err := startBackground(b.cfg.pilotlight, args, append(os.Environ(), b.credsEnv()...), filepath.Join(dst.dir, "replicator.log"))
	if err != nil {
		return LagResult{}, err
	}
	defer rep.stop()
	if err := waitListening(ctx, eventsAddr, rep, startTimeout); err != nil {
		return LagResult{}, fmt.Errorf("replicator events listener %s: %w; replicator log ends:\n%s", eventsAddr, err, logTail(rep.logFile))
	}
	srcC, dstC := b.client(src), b.client(dst)
	// A first object proves the whole path works before the clock starts.
	if _, err := putAndWait(ctx, srcC, dstC, "probe", startTimeout); err != nil {
		return LagResult{}, fmt.Errorf("replicator did not replicate a probe object: %w; replicator log ends:\n%s", err, logTail(rep.logFile))
	}
	b.log.Info("measuring lag", "rate", b.cfg.lagRate, "duration", b.cfg.lagDuration)
	return runLoad(ctx, srcC, dstC, b.cfg.lagRate, b.cfg.lagDuration)
}

// runLoad writes rate objects per second for d and measures their lag.
func runLoad(ctx context.Context, srcC, dstC *s3.Client, rate float64, d time.Duration) (LagResult, error) {
	n := int(math.Round(rate * d.Seconds()))
	lags := make([]time.Duration, 0, n)
	var mu sync.Mutex
	var missing int
	var firstErr error
	sem := make(chan struct{}, lagInFlight)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		at := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		select {
		case <-ctx.Done():
			wg.Wait()
			return LagResult{}, ctx.Err()
		case <-time.After(time.Until(at)):
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			lag, err := putAndWait(ctx, srcC, dstC, objectKey("load/", i), lagMaxWait)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, errNotReplicated):
				missing++
			case err != nil:
				if firstErr == nil {
					firstErr = err
				}
			default:
				lags = append(lags, lag)
			}
		})
	}
	written := time.Since(start)
	wg.Wait()
	if firstErr != nil {
		return LagResult{}, firstErr
	}
	r := summarizeLags(lags, missing)
	r.WriteRate = float64(n) / written.Seconds()
	return r, nil
}

// summarizeLags computes nearest-rank percentiles.
func summarizeLags(lags []time.Duration, missing int) LagResult {
	slices.Sort(lags)
	r := LagResult{Objects: len(lags) + missing, Missing: missing}
	if len(lags) == 0 {
		return r
	}
	rank := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(lags)))) - 1
		return lags[max(0, min(i, len(lags)-1))].Seconds()
	}
	r.P50Seconds, r.P99Seconds, r.MaxSeconds = rank(0.50), rank(0.99), lags[len(lags)-1].Seconds()
	return r
}

var errNotReplicated = errors.New("not readable in the replica in time")

// putAndWait writes key to the source and HEADs it in the replica every
// lagPoll until it is there (its lag) or wait has passed.
func putAndWait(ctx context.Context, srcC, dstC *s3.Client, key string, wait time.Duration) (time.Duration, error) {
	body := make([]byte, 4<<10)
	content(body, lagBucket, len(key)+int(time.Now().UnixNano()%1e6))
	if _, err := srcC.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(lagBucket), Key: aws.String(key), Body: bytes.NewReader(body),
	}); err != nil {
		return 0, fmt.Errorf("put s3://%s/%s: %w", lagBucket, key, err)
	}
	acked := time.Now()
	deadline := acked.Add(wait)
	for {
		_, err := dstC.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(dstBucket), Key: aws.String(key)})
		if err == nil {
			return time.Since(acked), nil
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("s3://%s/%s: %w", dstBucket, key, errNotReplicated)
		}
		time.Sleep(lagPoll)
	}
}

// relay serves the source store's event webhook and forwards every request
// to the replicator's events address.
type relay struct {
	url string
	srv *http.Server
}

func startRelay(target string) (*relay, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("event relay: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("event relay: %w", err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, _ error) {
		w.WriteHeader(http.StatusBadGateway) // replicator not up (yet): the store drops the event
	}
	srv := &http.Server{Handler: proxy, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return &relay{url: "http://" + ln.Addr().String() + "/events", srv: srv}, nil
}

func (r *relay) Close() { _ = r.srv.Close() }

// background is a child process running until stopped.
type background struct {
	cmd     *exec.Cmd
	logFile string
	done    chan struct{}
}

func startBackground(name string, args, env []string, logFile string) (*background, error) {
	lf, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	cmd := exec.Command(name, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	bg := &background{cmd: cmd, logFile: logFile, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		lf.Close()
		close(bg.done)
	}()
	return bg, nil
}

// stop interrupts the process (SIGINT, as Ctrl-C would), then kills its
// whole group if it has not exited within 10 s.
func (bg *background) stop() {
	_ = bg.cmd.Process.Signal(os.Interrupt)
	select {
	case <-bg.done:
	case <-time.After(10 * time.Second):
	}
	_ = syscall.Kill(-bg.cmd.Process.Pid, syscall.SIGKILL)
	<-bg.done
}

// waitListening polls addr until it accepts TCP connections, the process
// exits, or timeout passes.
func waitListening(ctx context.Context, addr string, bg *background, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-bg.done:
			return fmt.Errorf("the process exited (%s)", strconv.Quote(bg.cmd.ProcessState.String()))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not listening after %v", timeout)
		}
	}
}

// logTail returns the last KiB of a log file, for error messages (the work
// directory is removed at exit unless -keep).
func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > 1024 {
		b = b[len(b)-1024:]
	}
	return strings.TrimSpace(string(b))
}
