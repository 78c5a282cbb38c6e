package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrNotFound is returned (wrapped) by an objectStore when a key does not exist.
var ErrNotFound = errors.New("not found")

// Response headers naming who answered; set on every response, errors included.
const (
	headerRegion   = "X-Pilotlight-Region"
	headerInstance = "X-Pilotlight-Instance"
)

// Keys of the static site in the bucket.
const (
	siteIndexKey     = "site/index.html"
	siteStaticPrefix = "site/static/"
)

// objectStore is the region's bucket as the app uses it. Implementations must
// be safe for concurrent use. Get returns an error wrapping ErrNotFound when
// the key does not exist; Put returns nil only once the store has durably
// acknowledged the object; List returns every key under prefix, all pages.
type objectStore interface {
	Put(ctx context.Context, key string, body []byte, contentType string, meta map[string]string) error
	Get(ctx context.Context, key string) (body []byte, contentType string, meta map[string]string, err error)
	List(ctx context.Context, prefix string) ([]string, error)
}

// storePinger is implemented by stores with a cheap reachability probe; the
// health check falls back to fetching the site index otherwise.
type storePinger interface {
	Ping(ctx context.Context) error
}

// serverOptions configures a server.
type serverOptions struct {
	Region   string
	Instance string
	Store    objectStore
	// Logger receives one line per request; nil discards.
	Logger *slog.Logger
	// Now is the clock stamped on orders and store checks (default time.Now).
	Now func() time.Time
	// StoreTimeout bounds each store call (default 5s).
	StoreTimeout time.Duration
	// HealthzStrict makes /healthz answer 503 while the last store check failed.
	HealthzStrict bool
}

// server holds the HTTP handlers of the ticketing app.
type server struct {
	opts serverOptions
	log  *slog.Logger

	mu   sync.Mutex
	last storeCheck
}

// storeCheck is the outcome of the most recent background store probe.
type storeCheck struct {
	done bool
	at   time.Time
	err  error
}

func newServer(opts serverOptions) *server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.StoreTimeout <= 0 {
		opts.StoreTimeout = 5 * time.Second
	}
	return &server{opts: opts, log: opts.Logger}
}

// Handler returns the routes wrapped with the region headers and request logging.
func (s *server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.handleIndex)
	mux.HandleFunc("GET /static/{path...}", s.handleStatic)
	mux.HandleFunc("GET /healthz", s.handleHealthz)
	mux.HandleFunc("POST /orders", s.handleCreateOrder)
	mux.HandleFunc("GET /orders", s.handleListOrders)
	mux.HandleFunc("GET /orders/{id}", s.handleGetOrder)
	return s.withCommon(mux)
}

// withCommon stamps the region headers on every response and logs one line
// per request.
func (s *server) withCommon(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		w.Header().Set(headerRegion, s.opts.Region)
		w.Header().Set(headerInstance, s.opts.Instance)
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Int64("bytes", rec.bytes),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
		)
	})
}

// statusRecorder remembers the status and size of a response.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (s *server) handleIndex(w http.ResponseWriter, r *http.Request) {
	s.serveSite(w, r, siteIndexKey)
}

func (s *server) handleStatic(w http.ResponseWriter, r *http.Request) {
	p := r.PathValue("path")
	if !validSitePath(p) {
		http.NotFound(w, r)
		return
	}
	s.serveSite(w, r, siteStaticPrefix+p)
}

// validSitePath accepts clean relative paths naming a file.
func validSitePath(p string) bool {
	if p == "" || strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || strings.ContainsRune(p, '\\') {
		return false
	}
	if path.Clean(p) != p {
		return false
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." || seg == "." {
			return false
		}
	}
	return true
}

// serveSite answers with one object of the site: 404 when absent, 502 when the
// store fails.
func (s *server) serveSite(w http.ResponseWriter, r *http.Request, key string) {
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.StoreTimeout)
	defer cancel()
	body, contentType, _, err := s.opts.Store.Get(ctx, key)
	switch {
	case errors.Is(err, ErrNotFound):
		http.NotFound(w, r)
		return
	case err != nil:
		s.log.WarnContext(r.Context(), "site object unavailable", "key", key, "err", err)
		http.Error(w, "object store unavailable", http.StatusBadGateway)
		return
	}
	if contentType == "" {
		contentType = mime.TypeByExtension(path.Ext(key))
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// handleHealthz answers 200 while the process serves. The second line reports
// the last background store check; in strict mode a failed check gives 503.
func (s *server) handleHealthz(w http.ResponseWriter, _ *http.Request) {
	last := s.lastCheck()
	status, first, second := http.StatusOK, "ok", "store: unknown"
	if last.done {
		second = "store: ok"
		if last.err != nil {
			second = "store: unreachable since " + last.at.UTC().Format(time.RFC3339)
			if s.opts.HealthzStrict {
				status, first = http.StatusServiceUnavailable, "unavailable"
			}
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, first+"\n"+second+"\n")
}

func (s *server) lastCheck() storeCheck {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// checkStore probes the store once and records the outcome. A missing key
// still proves the store answers.
func (s *server) checkStore(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.StoreTimeout)
	defer cancel()
	var err error
	if p, ok := s.opts.Store.(storePinger); ok {
		err = p.Ping(ctx)
	} else if _, _, _, err = s.opts.Store.Get(ctx, siteIndexKey); errors.Is(err, ErrNotFound) {
		err = nil
	}

	s.mu.Lock()
	prev := s.last
	if err == nil || prev.err == nil {
		// Keep the time of the first failure of a streak.
		s.last.at = s.opts.Now()
	}
	s.last.done, s.last.err = true, err
	s.mu.Unlock()

	switch {
	case err != nil && prev.err == nil:
		s.log.WarnContext(ctx, "object store unreachable", "err", err)
	case err == nil && prev.err != nil:
		s.log.InfoContext(ctx, "object store reachable again")
	}
	return err
}

// runStoreChecks probes the store now and then every interval until ctx is
// cancelled.
func (s *server) runStoreChecks(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if ctx.Err() != nil {
			return
		}
		_ = s.checkStore(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers with {"error": msg}.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
