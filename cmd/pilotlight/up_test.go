package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	mdns "github.com/miekg/dns"

	"github.com/pilotlight/pilotlight/provider/local"
	"github.com/pilotlight/pilotlight/provider/local/compute"
	"github.com/pilotlight/pilotlight/provider/local/objstore"
	"github.com/pilotlight/pilotlight/replicate/rpo"
)

// testPlan writes the example plan with its regions moved to test networks
// (so that it never collides with a developer's running `up`) and its seed
// directory made absolute.
func testPlan(t *testing.T, primaryNet, recoveryNet string) string {
	t.Helper()
	src := filepath.Join("..", "..", "examples", "ticketing")
	b, err := os.ReadFile(filepath.Join(src, "pilotlight.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	site, err := filepath.Abs(filepath.Join(src, "site"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for old, new := range map[string]string{
		"127.0.1.0/24": primaryNet,
		"127.0.2.0/24": recoveryNet,
		"./site":       site,
	} {
		if !strings.Contains(s, old) {
			t.Fatalf("example plan no longer contains %q", old)
		}
		s = strings.ReplaceAll(s, old, new)
	}
	path := filepath.Join(t.TempDir(), "pilotlight.yaml")
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func fetchStatus(t *testing.T, stateDir string) (local.DeploymentStatus, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := local.FetchStatus(ctx, stateDir)
	return st, err == nil
}

// waitFor polls cond every 200ms until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func webService(st local.DeploymentStatus, role local.Role) *local.ServiceStatus {
	for _, r := range st.Regions {
		if r.Role != role {
			continue
		}
		for i := range r.Services {
			if r.Services[i].Name == "web" {
				return &r.Services[i]
			}
		}
	}
	return nil
}

// liveInstances returns the instances of s that have not exited.
func liveInstances(s *local.ServiceStatus) []compute.InstanceStatus {
	var out []compute.InstanceStatus
	for _, in := range s.Instances {
		if in.State == compute.StateStarting || in.State == compute.StateRunning {
			out = append(out, in)
		}
	}
	return out
}

// healthyWeb reports whether the primary web service has n running
// instances, all healthy behind the load balancer.
func healthyWeb(st local.DeploymentStatus, n int) bool {
	s := webService(st, local.Primary)
	return s != nil && s.LoadBalancer != nil && s.Group.Running == n && s.LoadBalancer.Healthy == n
}

// TestUpEndToEnd runs the example plan with `pilotlight up`, sends traffic
// through the primary load balancer, kills an instance, and checks that it
// is replaced, that traffic continues and that stopping `up` leaves no
// process behind.
func TestUpEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	planFile := testPlan(t, "127.0.211.0/24", "127.0.212.0/24")
	stateDir := t.TempDir()
	var stdout, stderr bytes.Buffer
	up := exec.Command(filepath.Join(binDir, "pilotlight"), "up", "-f", planFile, "--state-dir", stateDir, "--log-level", "debug", "--dns-listen", testDNS)
	up.Stdout, up.Stderr = &stdout, &stderr
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- up.Wait() }()
	defer func() {
		if up.ProcessState == nil {
			_ = up.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("up stdout:\n%s\nup stderr (tail):\n%s", stdout.String(), tail(stderr.String(), 4000))
		}
	}()

	var st local.DeploymentStatus
	waitFor(t, 90*time.Second, "2 healthy web instances in the primary region", func() bool {
		select {
		case err := <-exited:
			t.Fatalf("up exited early: %v", err)
		default:
		}
		var ok bool
		st, ok = fetchStatus(t, stateDir)
		return ok && healthyWeb(st, 2)
	})
	if s := webService(st, local.Recovery); s != nil {
		t.Errorf("pilot-light recovery region runs web: %+v", s.Group)
	}
	// Every process `up` started, to check later that none is left.
	pids := map[int]string{}
	for _, r := range st.Regions {
		pids[r.Store.PID] = r.Name + " store"
	}
	lbURL := "http://" + webService(st, local.Primary).LoadBalancer.Addr

	// The static page comes from the region's bucket, through the load balancer.
	resp := mustDo(t, http.MethodGet, lbURL+"/", "")
	if resp.status != http.StatusOK || !strings.Contains(resp.body, "<html") {
		t.Fatalf("GET / = %d %q", resp.status, tail(resp.body, 200))
	}
	if got := resp.header.Get("X-Pilotlight-Region"); got != "seoul" {
		t.Errorf("X-Pilotlight-Region = %q, want seoul", got)
	}

	// The embedded DNS server answers the failover record with the primary
	// load balancer while it is healthy.
	waitFor(t, 20*time.Second, "www.ticketing.test. to answer the primary load balancer", func() bool {
		addrs, err := lookupA(testDNS, "www.ticketing.test.")
		return err == nil && len(addrs) == 1 && addrs[0] == "127.0.211.2"
	})

	// Write and read an order.
	resp = mustDo(t, http.MethodPost, lbURL+"/orders", `{"client":"e2e","seq":1,"item":"concert","qty":2}`)
	if resp.status != http.StatusCreated {
		t.Fatalf("POST /orders = %d %s", resp.status, resp.body)
	}
	var created struct{ ID string }
	if err := json.Unmarshal([]byte(resp.body), &created); err != nil || created.ID == "" {
		t.Fatalf("POST /orders body %q: %v", resp.body, err)
	}
	resp = mustDo(t, http.MethodGet, lbURL+"/orders/"+created.ID, "")
	if resp.status != http.StatusOK || !strings.Contains(resp.body, "concert") {
		t.Fatalf("GET /orders/%s = %d %s", created.ID, resp.status, resp.body)
	}

	// The order is replicated to the recovery region's store, and verify
	// agrees; a copy removed from the replica is drift until repaired.
	checkReplication(t, planFile, stateDir, "orders/"+created.ID+".json")

	// Kill one instance with SIGKILL; it must be replaced while traffic goes on.
	live := liveInstances(webService(st, local.Primary))
	victim := live[0]
	for _, in := range live {
		pids[in.PID] = in.ID
	}
	if err := syscall.Kill(victim.PID, syscall.SIGKILL); err != nil {
		t.Fatalf("kill instance %s (pid %d): %v", victim.ID, victim.PID, err)
	}
	ok, failed := 0, 0
	waitFor(t, 60*time.Second, "the killed instance to be replaced", func() bool {
		for range 5 {
			if r, err := do(http.MethodGet, lbURL+"/healthz", ""); err == nil && r.status == http.StatusOK {
				ok++
			} else {
				failed++
			}
		}
		st, _ = fetchStatus(t, stateDir)
		if !healthyWeb(st, 2) {
			return false
		}
		for _, in := range liveInstances(webService(st, local.Primary)) {
			if in.ID == victim.ID {
				return false
			}
		}
		return true
	})
	t.Logf("during replacement: %d requests ok, %d failed", ok, failed)
	if ok == 0 {
		t.Errorf("no request succeeded while the instance was replaced")
	}
	for _, in := range liveInstances(webService(st, local.Primary)) {
		pids[in.PID] = in.ID
	}
	for i := range 20 {
		if r, err := do(http.MethodGet, lbURL+"/orders/"+created.ID, ""); err != nil || r.status != http.StatusOK {
			t.Fatalf("request %d after replacement: %v %+v", i, err, r)
		}
	}

	// Stop `up` and check that nothing it started is left.
	if err := up.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("up exited with %v", err)
		}
	case <-time.After(45 * time.Second):
		t.Fatal("up did not stop within 45s of SIGINT")
	}
	for pid, what := range pids {
		if alive(pid) {
			t.Errorf("%s (pid %d) still running after up stopped", what, pid)
		}
	}
	if left := processesMentioning(binDir); len(left) > 0 {
		t.Errorf("processes left running from %s: %v", binDir, left)
	}
	if _, err := os.Stat(filepath.Join(stateDir, "up.json")); !os.IsNotExist(err) {
		t.Errorf("up.json not removed after stop: %v", err)
	}
}

// checkReplication waits until continuous replication is in sync with the
// order replicated, then checks verify, drift detection and repair.
func checkReplication(t *testing.T, planFile, stateDir, key string) {
	t.Helper()
	var st statusOutput
	waitFor(t, 30*time.Second, "replication in sync with the order copied", func() bool {
		out, _, code := run(t, "status", "--state-dir", stateDir, "-o", "json")
		if code != 0 || json.Unmarshal([]byte(out), &st) != nil || len(st.Replication) != 1 {
			return false
		}
		r := st.Replication[0]
		return r.State == rpo.StateInSync && r.Replicated >= 3 && r.Pending == 0
	})
	if out, errOut, code := run(t, "verify", "-f", planFile, "--state-dir", stateDir); code != 0 {
		t.Fatalf("verify after replication: exit %d\n%s%s", code, out, errOut)
	}
	creds, err := local.LoadCredentials(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	replica := objstore.NewClient("http://127.0.212.1:9000", creds.AccessKey, creds.SecretKey, local.StoreRegion)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := replica.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("ticket-assets"), Key: aws.String(key)}); err != nil {
		t.Fatal(err)
	}
	out, _, code := run(t, "verify", "-f", planFile, "--state-dir", stateDir, "-o", "json")
	if code != 1 || !strings.Contains(out, key) || !strings.Contains(out, `"drift": true`) {
		t.Fatalf("verify after deleting %s from the replica: exit %d, want 1 naming it\n%s", key, code, out)
	}
	out, errOut, code := run(t, "replicate", "--once", "--no-checkpoint", "-f", planFile, "--state-dir", stateDir, "-o", "json")
	var rep passReport
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.Copied != 1 {
		t.Fatalf("repair pass: exit %d, %+v\n%s%s", code, rep, out, errOut)
	}
	if out, errOut, code := run(t, "verify", "-f", planFile, "--state-dir", stateDir); code != 0 {
		t.Fatalf("verify after repair: exit %d\n%s%s", code, out, errOut)
	}
}

// testDNS is where the end-to-end test's `up` serves DNS.
const testDNS = "127.0.211.53:5353"

// lookupA asks server for the A records of name over UDP.
func lookupA(server, name string) ([]string, error) {
	m := new(mdns.Msg)
	m.SetQuestion(name, mdns.TypeA)
	c := &mdns.Client{Timeout: time.Second}
	r, _, err := c.Exchange(m, server)
	if err != nil {
		return nil, err
	}
	if r.Rcode != mdns.RcodeSuccess {
		return nil, fmt.Errorf("rcode %s", mdns.RcodeToString[r.Rcode])
	}
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*mdns.A); ok {
			out = append(out, a.A.String())
		}
	}
	return out, nil
}

type response struct {
	status int
	header http.Header
	body   string
}

func do(method, url, body string) (response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return response{}, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, string(b)}, err
}

func mustDo(t *testing.T, method, url, body string) response {
	t.Helper()
	r, err := do(method, url, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return r
}

// alive reports whether pid is a live (non-zombie) process.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses: "pid (comm) S ...".
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// processesMentioning lists live processes whose command line contains s.
func processesMentioning(s string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(b, []byte(s)) || !alive(pid) {
			continue
		}
		out = append(out, fmt.Sprintf("%d %s", pid, bytes.ReplaceAll(b, []byte{0}, []byte{' '})))
	}
	return out
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
