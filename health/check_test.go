package health

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// backend serves the paths the probe tests need.
func backend() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })
	mux.HandleFunc("/down", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/down", http.StatusFound)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(strings.Repeat("x", 100) + "early" + strings.Repeat("y", BodyLimit) + "late"))
	})
	mux.HandleFunc("/host", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("host=" + r.Host)) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	})
	return mux
}

// closedAddr returns a loopback address on which nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

func TestProbe(t *testing.T) {
	plain := httptest.NewServer(backend())
	defer plain.Close()
	tlsSrv := httptest.NewTLSServer(backend())
	defer tlsSrv.Close()
	httpAddr := plain.Listener.Addr().String()
	tlsAddr := tlsSrv.Listener.Addr().String()
	refused := closedAddr(t)

	tests := []struct {
		name       string
		check      Check
		wantOK     bool
		wantStatus int
		wantErr    string // substring of Result.Err
	}{
		{"2xx ok", Check{Target: httpAddr}, true, 200, ""},
		{"503 fails", Check{Target: httpAddr, Path: "/down"}, false, 503, "status 503"},
		{"302 ok by default, not followed", Check{Target: httpAddr, Path: "/moved"}, true, 302, ""},
		{"302 outside custom range", Check{Target: httpAddr, Path: "/moved", ExpectMin: 200, ExpectMax: 299}, false, 302, "status 302"},
		{"503 inside custom range", Check{Target: httpAddr, Path: "/down", ExpectMin: 500, ExpectMax: 599}, true, 503, ""},
		{"body match", Check{Target: httpAddr, Path: "/big", Body: "early"}, true, 200, ""},
		{"body beyond limit is a mismatch", Check{Target: httpAddr, Path: "/big", Body: "late"}, false, 200, "body mismatch"},
		{"host header", Check{Target: httpAddr, Path: "/host", Host: "www.ticketing.test", Body: "host=www.ticketing.test"}, true, 200, ""},
		{"timeout", Check{Target: httpAddr, Path: "/slow", Timeout: 100 * time.Millisecond}, false, 0, "timeout"},
		{"http refused", Check{Target: refused}, false, 0, "connection refused"},
		{"tcp ok", Check{Type: TypeTCP, Target: httpAddr}, true, 0, ""},
		{"tcp refused", Check{Type: TypeTCP, Target: refused}, false, 0, "connection refused"},
		{"https self-signed rejected", Check{Type: TypeHTTPS, Target: tlsAddr}, false, 0, "tls: "},
		{"https self-signed with InsecureSkipVerify", Check{Type: TypeHTTPS, Target: tlsAddr, InsecureSkipVerify: true}, true, 200, ""},
		{"unsupported type", Check{Type: "icmp", Target: httpAddr}, false, 0, "unsupported type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewProber(tt.check).Probe(context.Background())
			if r.OK != tt.wantOK || r.Status != tt.wantStatus {
				t.Fatalf("Probe() = ok %v status %d err %q, want ok %v status %d", r.OK, r.Status, r.Err, tt.wantOK, tt.wantStatus)
			}
			if tt.wantErr == "" && r.Err != "" {
				t.Fatalf("Probe() err = %q, want none", r.Err)
			}
			if !strings.Contains(r.Err, tt.wantErr) {
				t.Fatalf("Probe() err = %q, want it to contain %q", r.Err, tt.wantErr)
			}
			if r.At.IsZero() || r.Latency <= 0 && tt.check.Type != "icmp" {
				t.Fatalf("Probe() At %v Latency %v, want both set", r.At, r.Latency)
			}
		})
	}
}

func TestProbeTimeoutIsBounded(t *testing.T) {
	srv := httptest.NewServer(backend())
	defer srv.Close()
	start := time.Now()
	r := NewProber(Check{Target: srv.Listener.Addr().String(), Path: "/slow", Timeout: 50 * time.Millisecond}).Probe(context.Background())
	if r.OK || time.Since(start) > time.Second {
		t.Fatalf("Probe() = %+v after %v, want a failure within the timeout", r, time.Since(start))
	}
}

func TestCheckValidate(t *testing.T) {
	tests := []struct {
		name    string
		check   Check
		wantErr string
	}{
		{"defaults", Check{}, ""},
		{"tcp", Check{Type: TypeTCP, Target: "127.0.0.1:80"}, ""},
		{"bad type", Check{Type: "udp"}, `unsupported type "udp"`},
		{"bad target", Check{Target: "no-port"}, "target:"},
		{"empty range", Check{ExpectMin: 300, ExpectMax: 200}, "is empty"},
		{"relative path", Check{Path: "healthz"}, "must start with /"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.check.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
