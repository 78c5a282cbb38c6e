package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestServeGracefulShutdown serves on loopback, lets a slow order finish after
// cancellation, and checks that serve returns cleanly.
func TestServeGracefulShutdown(t *testing.T) {
	store := newMemStore()
	started := make(chan struct{})
	store.failPut = func(string) error {
		close(started)
		time.Sleep(100 * time.Millisecond)
		return nil
	}
	srv := newServer(serverOptions{Region: "seoul", Instance: "web-1", Store: store})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- serve(ctx, ln, srv, time.Hour, slog.New(slog.DiscardHandler)) }()

	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	base := "http://" + ln.Addr().String()

	resp, err := client.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "ok\n") || resp.Header.Get(headerRegion) != "seoul" {
		t.Fatalf("healthz: %d %q", resp.StatusCode, body)
	}

	type result struct {
		status int
		err    error
	}
	posted := make(chan result, 1)
	go func() {
		resp, err := client.Post(base+"/orders", "application/json", strings.NewReader(`{"client":"c","seq":1}`))
		if err != nil {
			posted <- result{err: err}
			return
		}
		resp.Body.Close()
		posted <- result{status: resp.StatusCode}
	}()
	<-started
	cancel() // shut down while the order is in flight

	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("serve = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return")
	}
	if r := <-posted; r.err != nil || r.status != http.StatusCreated {
		t.Errorf("in-flight order = %+v, want 201", r)
	}
	if _, err := client.Get(base + "/healthz"); err == nil {
		t.Error("server still answers after shutdown")
	}
}
