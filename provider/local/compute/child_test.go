package compute

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// childEnv selects the child mode when the test binary re-executes itself as
// an instance.
const childEnv = "COMPUTE_TEST_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(runChild(mode))
	}
	goleak.VerifyTestMain(m)
}

// runChild is a tiny instance: modes serve, crash, no-listen, ignore-term and
// spawn-grandchild.
func runChild(mode string) int {
	addr := os.Getenv("PILOTLIGHT_ADDR")
	for _, a := range os.Args[1:] {
		if v, ok := strings.CutPrefix(a, "-addr="); ok && v != addr {
			fmt.Fprintf(os.Stderr, "argv addr %s != env addr %s\n", v, addr)
			return 3
		}
	}
	grandchild := 0
	switch mode {
	case "spawner":
		return runSpawnerChild()
	case "serve":
	case "crash":
		fmt.Println("crashing on purpose")
		return 1
	case "no-listen":
		time.Sleep(time.Minute)
		return 0
	case "ignore-term":
		signal.Ignore(syscall.SIGTERM)
	case "spawn-grandchild":
		cmd := exec.Command("sleep", "60")
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 4
		}
		grandchild = cmd.Process.Pid
		fmt.Println("grandchild", grandchild)
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", mode)
		return 2
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 5
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, os.Getenv("PILOTLIGHT_INSTANCE_ID"))
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") })
	mux.HandleFunc("/grandchild", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, grandchild) })
	mux.HandleFunc("/env", func(w http.ResponseWriter, _ *http.Request) {
		env := map[string]string{}
		for _, k := range []string{"PILOTLIGHT_INSTANCE_ID", "PILOTLIGHT_REGION", "PILOTLIGHT_ZONE", "PILOTLIGHT_ADDR",
			"PILOTLIGHT_S3_ENDPOINT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "EXTRA"} {
			env[k] = os.Getenv(k)
		}
		_ = json.NewEncoder(w).Encode(env)
	})
	srv := &http.Server{Handler: mux}
	if mode != "ignore-term" {
		term := make(chan os.Signal, 1)
		signal.Notify(term, syscall.SIGTERM)
		go func() { <-term; srv.Close() }()
	}
	_ = srv.Serve(ln)
	return 0
}

var client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}

// get returns the body of http://addr/path.
func get(t *testing.T, addr, path string) string {
	t.Helper()
	resp, err := client.Get("http://" + addr + path)
	if err != nil {
		t.Fatalf("GET %s%s: %v", addr, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s%s: status %d: %v", addr, path, resp.StatusCode, err)
	}
	return string(b)
}

// procsInGroup lists live (non-zombie) processes whose process group is pgid.
func procsInGroup(t *testing.T, pgid int) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		state, pg, ok := procStat(pid)
		if ok && state != "Z" && pg == pgid {
			pids = append(pids, pid)
		}
	}
	return pids
}

// procAlive reports whether pid exists and is not a zombie.
func procAlive(pid int) bool {
	state, _, ok := procStat(pid)
	return ok && state != "Z" && state != "X"
}

// procStat reads the state and process group of pid from /proc/<pid>/stat.
func procStat(pid int) (state string, pgrp int, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 3 {
		return "", 0, false
	}
	pgrp, err = strconv.Atoi(f[2])
	return f[0], pgrp, err == nil
}
