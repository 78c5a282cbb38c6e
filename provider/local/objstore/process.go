//go:build unix

package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	stopGrace = 5 * time.Second // SIGTERM to SIGKILL when ctx has no deadline
	tailBytes = 4 << 10         // log tail quoted in start errors
)

// Spec describes a store to run as a child process.
type Spec struct {
	// Exe is the executable, typically os.Executable() of pilotlight.
	Exe string
	// Args come before the serve flags, e.g. ["store", "serve"].
	Args []string
	// Options configure the store; Dir, AccessKey and SecretKey are required.
	// The keys reach the child in its environment, never on its command line.
	// Logger is not passed on.
	Options Options
	// LogFile receives the child's stdout and stderr (appended, created
	// 0600). When empty, only the last few KiB are kept for error messages.
	LogFile string
	// Env holds extra KEY=VALUE entries for the child's environment.
	Env []string
}

// Process is a running child store.
type Process struct {
	cmd      *exec.Cmd
	endpoint string
	logFile  string
	tail     *tailBuffer
	done     chan struct{}
	err      error // valid after done is closed
}

// Start launches the store described by s in its own process group and waits
// until its health path answers (bounded by ctx and 20 s). If the child
// exits or does not become healthy, it is killed and the error quotes the
// tail of its log. On Linux the child is killed if this process dies.
func Start(ctx context.Context, s Spec) (*Process, error) {
	o := s.Options.withDefaults()
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("objstore: start store %s: %w", s.Options.Dir, err)
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("objstore: start store %s: %w", o.Dir, err)
	}
	args := append(append([]string(nil), s.Args...), "--dir", dir, "--listen", o.Listen, "--region", o.Region)
	for _, b := range o.Buckets {
		args = append(args, "--bucket", b)
	}
	if o.EventWebhookURL != "" {
		args = append(args, "--event-webhook", o.EventWebhookURL)
	}
	if !o.Versioning {
		args = append(args, "--no-versioning")
	}
	cmd := exec.Command(s.Exe, args...)
	cmd.Env = childEnv(os.Environ(), s.Env, o.AccessKey, o.SecretKey)
	cmd.SysProcAttr = sysProcAttr()
	p := &Process{cmd: cmd, endpoint: Endpoint(o.Listen), logFile: s.LogFile, done: make(chan struct{})}

	var logf *os.File
	if s.LogFile != "" {
		logf, err = os.OpenFile(s.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, fmt.Errorf("objstore: start store %s: open log: %w", o.Listen, err)
		}
		cmd.Stdout, cmd.Stderr = logf, logf
	} else {
		p.tail = &tailBuffer{max: tailBytes}
		cmd.Stdout, cmd.Stderr = p.tail, p.tail
	}
	err = p.start()
	if logf != nil {
		logf.Close() // the child holds its own descriptor
	}
	if err != nil {
		return nil, fmt.Errorf("objstore: start store %s: %w", o.Listen, err)
	}

	if err := p.awaitHealthy(ctx); err != nil {
		p.kill()
		<-p.done
		return nil, fmt.Errorf("objstore: start store %s: %w%s", o.Listen, err, p.logTail())
	}
	return p, nil
}

// start starts p.cmd and reaps it in the background.
func (p *Process) start() error {
	if err := p.cmd.Start(); err != nil {
		return err
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return nil
}

// childEnv returns base without any inherited root keys, plus extra and the
// given keys.
func childEnv(base, extra []string, access, secret string) []string {
	env := make([]string, 0, len(base)+len(extra)+2)
	for _, kv := range base {
		if strings.HasPrefix(kv, EnvAccessKey+"=") || strings.HasPrefix(kv, EnvSecretKey+"=") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, extra...)
	return append(env, EnvAccessKey+"="+access, EnvSecretKey+"="+secret)
}

func (p *Process) awaitHealthy(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: time.Second}
	t := time.NewTicker(readyPoll)
	defer t.Stop()
	for {
		if healthy(ctx, hc, p.endpoint, p.Pid()) {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("store exited before it was ready: %v", p.err)
		case <-ctx.Done():
			return fmt.Errorf("wait for %s%s: %w", p.endpoint, HealthPath, ctx.Err())
		case <-t.C:
		}
	}
}

// Endpoint returns the store's URL, e.g. "http://127.0.1.1:9000".
func (p *Process) Endpoint() string { return p.endpoint }

// Pid returns the child's process id (also its process group id).
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Wait blocks until the child exits and returns how it ended (nil for a
// clean exit).
func (p *Process) Wait() error {
	<-p.done
	if p.err != nil {
		return fmt.Errorf("objstore: store pid %d: %w", p.Pid(), p.err)
	}
	return nil
}

// Stop asks the store to shut down (SIGTERM to its process group) and waits
// for it. When the store has not exited by ctx's deadline (or after 5 s if
// ctx has none, or when ctx is cancelled) the group is killed with SIGKILL.
// Stop returns once the child is gone: nil after a clean shutdown, an error
// if it had to be killed. Wait reports the exit status.
func (p *Process) Stop(ctx context.Context) error {
	pgid := p.Pid()
	select {
	case <-p.done:
		killGroup(pgid, syscall.SIGKILL) // stragglers, if any
		return nil
	default:
	}
	if err := killGroup(pgid, syscall.SIGTERM); err != nil {
		return fmt.Errorf("objstore: stop store pid %d: %w", pgid, err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, stopGrace)
		defer cancel()
	}
	select {
	case <-p.done:
		killGroup(pgid, syscall.SIGKILL) // stragglers, if any
		return nil
	case <-ctx.Done():
	}
	p.kill()
	<-p.done
	return fmt.Errorf("objstore: stop store pid %d: killed after SIGTERM: %w", pgid, ctx.Err())
}

// kill sends SIGKILL to the child's process group.
func (p *Process) kill() { killGroup(p.Pid(), syscall.SIGKILL) }

// Kill kills the store abruptly, as a crash would (SIGKILL to its process
// group), and returns once it is gone.
func (p *Process) Kill() {
	p.kill()
	<-p.done
}

func killGroup(pgid int, sig syscall.Signal) error {
	err := syscall.Kill(-pgid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// logTail returns the end of the child's output for an error message.
func (p *Process) logTail() string {
	var b []byte
	if p.tail != nil {
		b = p.tail.Bytes()
	} else if f, err := os.Open(p.logFile); err == nil {
		defer f.Close()
		if st, err := f.Stat(); err == nil && st.Size() > tailBytes {
			f.Seek(st.Size()-tailBytes, io.SeekStart)
		}
		b, _ = io.ReadAll(io.LimitReader(f, tailBytes))
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return ""
	}
	return "\n--- store log tail ---\n" + string(b)
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(b), nil
}

func (t *tailBuffer) Bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]byte(nil), t.buf...)
}

const readyPoll = 25 * time.Millisecond

// healthy reports whether the store with process id pid answers the health
// path at endpoint. The pid check keeps another process that happens to hold
// the address from passing for the new store.
func healthy(ctx context.Context, hc *http.Client, endpoint string, pid int) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+HealthPath, nil)
	if err != nil {
		return false
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK && resp.Header.Get(pidHeader) == strconv.Itoa(pid)
}
