package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// Runtime is what a running `pilotlight up` publishes in STATE/up.json so
// that other commands can find it.
type Runtime struct {
	PID       int    `json:"pid"`
	Plan      string `json:"plan"`
	PlanFile  string `json:"planFile"`
	StatusURL string `json:"statusURL"`
	// ControlURL is the base URL of the control API (see Control).
	ControlURL string `json:"controlURL"`
	// DNS is the address of the embedded DNS server, "" when none runs.
	DNS     string    `json:"dns,omitempty"`
	Started time.Time `json:"started"`
}

// ErrNotRunning is returned by ReadRuntime when no `up` is running for the
// state directory.
var ErrNotRunning = errors.New("no running `pilotlight up` for this state directory")

func runtimePath(stateDir string) string { return filepath.Join(stateDir, "up.json") }

// ReadRuntime reads STATE/up.json. It returns ErrNotRunning when the file is
// absent or names a process that no longer exists.
func ReadRuntime(stateDir string) (Runtime, error) {
	var rt Runtime
	b, err := os.ReadFile(runtimePath(stateDir))
	if errors.Is(err, fs.ErrNotExist) {
		return rt, ErrNotRunning
	}
	if err != nil {
		return rt, fmt.Errorf("local: read runtime: %w", err)
	}
	if err := json.Unmarshal(b, &rt); err != nil {
		return rt, fmt.Errorf("local: read runtime %s: %w", runtimePath(stateDir), err)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", rt.PID)); err != nil {
		return rt, ErrNotRunning
	}
	return rt, nil
}

// ServeStatus serves the deployment's status (GET /v1/status) and its
// control API (see Control) on a free loopback port, records them in
// STATE/up.json and returns once the listener is up. The server stops, and
// the file is removed, when ctx ends; the returned channel is closed after
// that.
func (d *Deployment) ServeStatus(ctx context.Context, stateDir, planFile string, hooks Hooks) (<-chan struct{}, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("local: status listener: %w", err)
	}
	srv := &http.Server{Handler: d.controlHandler(hooks), ReadHeaderTimeout: 5 * time.Second}
	base := "http://" + ln.Addr().String()
	rt := Runtime{PID: os.Getpid(), Plan: d.Plan.Name, PlanFile: planFile, StatusURL: base + "/v1/status", ControlURL: base, DNS: hooks.DNS, Started: d.started}
	b, _ := json.MarshalIndent(rt, "", "  ")
	if err := writeFileAtomic(runtimePath(stateDir), b, 0o644); err != nil {
		ln.Close()
		return nil, fmt.Errorf("local: write runtime: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = srv.Serve(ln) }()
	go func() {
		defer close(done)
		<-ctx.Done()
		shCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shCtx)
		// Remove the file only if it is still ours.
		if cur, err := ReadRuntime(stateDir); err == nil && cur.PID == rt.PID || errors.Is(err, ErrNotRunning) {
			_ = os.Remove(runtimePath(stateDir))
		}
	}()
	return done, nil
}

// FetchStatus asks a running `pilotlight up` for its status.
func FetchStatus(ctx context.Context, stateDir string) (DeploymentStatus, error) {
	var st DeploymentStatus
	rt, err := ReadRuntime(stateDir)
	if err != nil {
		return st, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rt.StatusURL, nil)
	if err != nil {
		return st, err
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return st, fmt.Errorf("local: fetch status from pid %d: %w", rt.PID, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("local: fetch status from pid %d: %s", rt.PID, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("local: decode status: %w", err)
	}
	return st, nil
}
