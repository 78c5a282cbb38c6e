package objstore

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const parentEnvVar = "OBJSTORE_TEST_PARENT"

// runTestParent is the intermediate process of TestParentDeathKillsStore:
// it starts a store, prints its pid and waits to be killed.
func runTestParent() {
	access, secret := Generate()
	o := Options{Dir: os.Getenv("OBJSTORE_TEST_DIR"), Listen: os.Getenv("OBJSTORE_TEST_LISTEN"), AccessKey: access, SecretKey: secret}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	p, err := Start(ctx, Spec{Exe: os.Args[0], Options: o, Env: append([]string{parentEnvVar + "="}, childTestEnv...)})
	cancel()
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("store", p.Pid())
	time.Sleep(time.Minute)
	os.Exit(2)
}

// TestParentDeathKillsStore: when the process that started a store is
// killed with SIGKILL, the kernel kills the store too (Pdeathsig).
func TestParentDeathKillsStore(t *testing.T) {
	parent := exec.Command(os.Args[0])
	parent.Env = append(os.Environ(), parentEnvVar+"=1",
		"OBJSTORE_TEST_DIR="+t.TempDir(), "OBJSTORE_TEST_LISTEN="+freeAddr(t))
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "store ") {
		parent.Process.Kill()
		parent.Wait()
		t.Fatalf("parent said %q (%v), want its store's pid", line, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "store ")))
	if err != nil {
		t.Fatal(err)
	}
	if gone(pid) {
		t.Fatalf("store %d not running", pid)
	}
	parent.Process.Signal(syscall.SIGKILL)
	parent.Wait()
	waitGone(t, pid) // killed by the kernel, then reaped by init
}
