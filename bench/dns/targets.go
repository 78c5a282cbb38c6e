package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

// healthHandler answers /healthz with 200, or 503 while failFile exists
// (when failFile is not empty), and every other path with 200 "ok".
func healthHandler(failFile string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if failFile != "" {
			if _, err := os.Stat(failFile); err == nil {
				http.Error(w, "failing: "+failFile+" exists", http.StatusServiceUnavailable)
				return
			}
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	return mux
}

// targets are the HTTP servers the failover records' health checks probe:
// one per target address, all on the same port.
type targets struct {
	port    int
	servers []*http.Server
	wg      sync.WaitGroup
}

// startTargets listens on port (0: pick one that is free on the first
// address) on every address of addrs and serves healthHandler("").
func startTargets(addrs []string, port int) (*targets, error) {
	t := &targets{port: port}
	h := healthHandler("")
	for _, a := range addrs {
		ln, err := net.Listen("tcp", net.JoinHostPort(a, strconv.Itoa(t.port)))
		if err != nil {
			t.close()
			return nil, fmt.Errorf("health targets: listen %s: %w", a, err)
		}
		if t.port == 0 {
			t.port = ln.Addr().(*net.TCPAddr).Port
		}
		s := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		t.servers = append(t.servers, s)
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			_ = s.Serve(ln)
		}()
	}
	return t, nil
}

// close stops every server and waits for them.
func (t *targets) close() {
	for _, s := range t.servers {
		_ = s.Close()
	}
	t.wg.Wait()
}

// childCommand is the first argument that runs the benchmark binary as an
// instance of the failover measurement's service.
const childCommand = "child"

// runChild serves healthHandler(fail-file) on -addr until ctx ends.
func runChild(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet(childCommand, flag.ContinueOnError)
	addr := fs.String("addr", "", "listen address")
	failFile := fs.String("fail-file", "", "answer /healthz 503 while this file exists")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *addr == "" {
		return errors.New("child: -addr is required")
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("child: listen %s: %w", *addr, err)
	}
	s := &http.Server{Handler: healthHandler(*failFile), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("child: serve %s: %w", *addr, err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = s.Shutdown(sctx)
		<-errc
		return nil
	}
}
