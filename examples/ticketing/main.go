// Command ticketing is the sample application of pilotlight: a small ticket
// shop that serves its static site from the region's bucket and stores every
// order as an object, acknowledging a write only after the store did. Every
// response names the region and instance that answered, so DR drills can see
// where traffic went and which acknowledged orders survived a failover.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// shutdownTimeout bounds the graceful drain of in-flight requests.
const shutdownTimeout = 5 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// run parses the configuration, connects to the bucket and serves until ctx
// is cancelled.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	if cfg.InstanceID == "" {
		cfg.InstanceID = defaultInstanceID()
	}
	logger := slog.New(slog.NewJSONHandler(stderr, nil)).With(
		"app", "ticketing", "region", cfg.Region, "instance", cfg.InstanceID)

	store, err := newS3Store(ctx, s3Options{Bucket: cfg.Bucket, Endpoint: cfg.S3Endpoint, Region: cfg.S3Region})
	if err != nil {
		return err
	}
	srv := newServer(serverOptions{
		Region:        cfg.Region,
		Instance:      cfg.InstanceID,
		Store:         store,
		Logger:        logger,
		StoreTimeout:  cfg.StoreTimeout,
		HealthzStrict: cfg.HealthzStrict,
	})
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("ticketing: listen %s: %w", cfg.Addr, err)
	}
	logger.Info("serving", "addr", ln.Addr().String(), "bucket", cfg.Bucket, "endpoint", cfg.S3Endpoint)
	return serve(ctx, ln, srv, cfg.StoreCheckInterval, logger)
}

// serve answers on ln, runs the background store checks, and on ctx
// cancellation drains in-flight requests for up to shutdownTimeout.
func serve(ctx context.Context, ln net.Listener, srv *server, checkEvery time.Duration, logger *slog.Logger) error {
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	checkCtx, stopChecks := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { srv.runStoreChecks(checkCtx, checkEvery) })
	defer func() {
		stopChecks()
		wg.Wait()
	}()

	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()

	select {
	case err := <-served:
		return fmt.Errorf("ticketing: serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	err := hs.Shutdown(shutCtx)
	<-served // Serve returns ErrServerClosed once Shutdown starts.
	if err != nil {
		return fmt.Errorf("ticketing: shutdown %s: %w", ln.Addr(), err)
	}
	return nil
}

// defaultInstanceID names the process by host and pid.
func defaultInstanceID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}
