package events

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func body(bucket, key string) string {
	return `{"Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"` + bucket +
		`"},"object":{"key":"` + key + `"}}}]}`
}

func TestReceiverHTTP(t *testing.T) {
	big := `{"Records":[],"pad":"` + strings.Repeat("x", 200) + `"}`
	tests := []struct {
		name, method, body string
		status             int
		received           uint64
	}{
		{"created event", http.MethodPost, body("b", "k"), http.StatusNoContent, 1},
		{"test event", http.MethodPost, `{"Event":"s3:TestEvent"}`, http.StatusNoContent, 0},
		{"GET", http.MethodGet, "", http.StatusMethodNotAllowed, 0},
		{"PUT", http.MethodPut, body("b", "k"), http.StatusMethodNotAllowed, 0},
		{"bad JSON", http.MethodPost, `{"Records":[`, http.StatusBadRequest, 0},
		{"record without key", http.MethodPost, body("b", ""), http.StatusBadRequest, 0},
		{"body over the limit", http.MethodPost, big, http.StatusRequestEntityTooLarge, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReceiver(ReceiverOptions{MaxBody: 128})
			ch, stop := r.Subscribe("", 4)
			defer stop()
			w := httptest.NewRecorder()
			r.ServeHTTP(w, httptest.NewRequest(tc.method, "/events", strings.NewReader(tc.body)))
			if w.Code != tc.status {
				t.Errorf("status %d, want %d (%s)", w.Code, tc.status, w.Body)
			}
			if tc.status == http.StatusMethodNotAllowed && w.Header().Get("Allow") != http.MethodPost {
				t.Errorf("Allow %q", w.Header().Get("Allow"))
			}
			if r.Received() != tc.received || uint64(len(ch)) != tc.received {
				t.Errorf("received %d, delivered %d, want %d", r.Received(), len(ch), tc.received)
			}
		})
	}
}

func TestSubscribeFilterAndUnsubscribe(t *testing.T) {
	r := NewReceiver(ReceiverOptions{})
	all, stopAll := r.Subscribe("", 10)
	a, stopA := r.Subscribe("a", 10)
	b, stopB := r.Subscribe("b", 10)
	defer stopAll()
	defer stopB()
	r.Publish(Event{Bucket: "a", Key: "1"}, Event{Bucket: "b", Key: "2"}, Event{Bucket: "c", Key: "3"}, Event{Bucket: "a", Key: "4"})
	if len(all) != 4 || len(a) != 2 || len(b) != 1 {
		t.Fatalf("all/a/b got %d/%d/%d events, want 4/2/1", len(all), len(a), len(b))
	}
	for _, want := range []string{"1", "4"} {
		if ev := <-a; ev.Key != want || ev.Bucket != "a" {
			t.Errorf("a got %+v, want key %s", ev, want)
		}
	}
	stopA()
	stopA() // idempotent
	if _, ok := <-a; ok {
		t.Error("channel open after unsubscribe")
	}
	r.Publish(Event{Bucket: "a", Key: "5"}) // no panic on the closed subscription
	if r.Dropped() != 0 || r.Received() != 5 {
		t.Errorf("dropped %d received %d", r.Dropped(), r.Received())
	}
}

func TestSlowSubscriberDrops(t *testing.T) {
	r := NewReceiver(ReceiverOptions{})
	slow, stopSlow := r.Subscribe("", 2)
	defer stopSlow()
	fast, stopFast := r.Subscribe("", 100)
	defer stopFast()
	srv := httptest.NewServer(r)
	defer srv.Close()
	start := time.Now()
	for i := range 10 {
		resp, err := srv.Client().Post(srv.URL, "application/json", strings.NewReader(body("b", fmt.Sprint(i))))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("posts took %v with a stuck subscriber", d)
	}
	if len(slow) != 2 || len(fast) != 10 || r.Dropped() != 8 || r.Received() != 10 {
		t.Errorf("slow %d fast %d dropped %d received %d; want 2, 10, 8, 10", len(slow), len(fast), r.Dropped(), r.Received())
	}
	if ev := <-slow; ev.Key != "0" {
		t.Errorf("slow subscriber kept %q first, want the oldest (0)", ev.Key)
	}
	srv.Client().CloseIdleConnections()
}

func TestConcurrentPublishSubscribe(t *testing.T) {
	r := NewReceiver(ReceiverOptions{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range 200 {
				r.Publish(Event{Bucket: "b", Key: fmt.Sprint(i)})
			}
		})
		wg.Go(func() {
			for range 50 {
				ch, stop := r.Subscribe("b", 1)
				select {
				case <-ch:
				default:
				}
				stop()
			}
		})
	}
	wg.Wait()
	if r.Received() != 800 {
		t.Errorf("received %d", r.Received())
	}
}

func TestListen(t *testing.T) {
	defer goleak.VerifyNone(t,
		goleak.IgnoreCurrent(),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"))
	r := NewReceiver(ReceiverOptions{})
	ch, stop := r.Subscribe("", 4)
	defer stop()
	ctx, cancel := context.WithCancel(context.Background())
	url, err := Listen(ctx, "127.0.0.1:0", r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(url, "http://127.0.0.1:") || !strings.HasSuffix(url, "/events") {
		t.Errorf("url %q", url)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Post(url, "application/json", strings.NewReader(body("b", "k")))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if ev := <-ch; ev.Key != "k" {
		t.Errorf("event %+v", ev)
	}
	// An idle keep-alive connection must not hold the server up.
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := client.Post(url, "application/json", strings.NewReader(body("b", "k")))
		if err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("server still answers after ctx ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
	client.CloseIdleConnections()
}

func TestListenErrors(t *testing.T) {
	r := NewReceiver(ReceiverOptions{})
	if _, err := Listen(context.Background(), "127.0.0.1:bad", r); err == nil || !strings.HasPrefix(err.Error(), "events: listen 127.0.0.1:bad: ") {
		t.Errorf("error %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url, err := Listen(ctx, "127.0.0.1:0", r)
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/events")
	if _, err := Listen(ctx, addr, r); err == nil {
		t.Error("second listener on a busy address")
	}
}

// TestWebhookURL checks that a wildcard listener is advertised on loopback.
func TestWebhookURL(t *testing.T) {
	tests := []struct {
		addr *net.TCPAddr
		want string
	}{
		{&net.TCPAddr{IP: net.IPv4(127, 0, 3, 4), Port: 81}, "http://127.0.3.4:81/events"},
		{&net.TCPAddr{IP: net.IPv4zero, Port: 82}, "http://127.0.0.1:82/events"},
		{&net.TCPAddr{IP: net.IPv6unspecified, Port: 83}, "http://127.0.0.1:83/events"},
		{&net.TCPAddr{Port: 84}, "http://127.0.0.1:84/events"},
		{&net.TCPAddr{IP: net.IPv6loopback, Port: 85}, "http://[::1]:85/events"},
	}
	for _, tc := range tests {
		if got := webhookURL(tc.addr); got != tc.want {
			t.Errorf("webhookURL(%v) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}
