package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var errStoreDown = errors.New("connection refused")

// memObject is one object of memStore.
type memObject struct {
	body        []byte
	contentType string
	meta        map[string]string
}

// memStore is an in-memory objectStore. The fail* fields inject errors.
type memStore struct {
	mu      sync.Mutex
	objects map[string]memObject
	puts    int

	failPut  func(key string) error
	failGet  func(key string) error
	failList func(prefix string) error
}

func newMemStore() *memStore { return &memStore{objects: map[string]memObject{}} }

func (m *memStore) Put(ctx context.Context, key string, body []byte, contentType string, meta map[string]string) error {
	if m.failPut != nil {
		if err := m.failPut(key); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.puts++
	cp := map[string]string{}
	for k, v := range meta {
		cp[k] = v
	}
	m.objects[key] = memObject{body: bytes.Clone(body), contentType: contentType, meta: cp}
	return nil
}

func (m *memStore) Get(ctx context.Context, key string) ([]byte, string, map[string]string, error) {
	if m.failGet != nil {
		if err := m.failGet(key); err != nil {
			return nil, "", nil, err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objects[key]
	if !ok {
		return nil, "", nil, ErrNotFound
	}
	return bytes.Clone(o.body), o.contentType, o.meta, nil
}

func (m *memStore) List(ctx context.Context, prefix string) ([]string, error) {
	if m.failList != nil {
		if err := m.failList(prefix); err != nil {
			return nil, err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var keys []string
	for k := range m.objects {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(keys))) // the handler must not rely on order
	return keys, nil
}

func (m *memStore) object(key string) (memObject, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objects[key]
	return o, ok
}

var testNow = time.Date(2026, 11, 22, 3, 4, 5, 123456789, time.UTC)

func newTestServer(t *testing.T, store *memStore, mod ...func(*serverOptions)) http.Handler {
	t.Helper()
	opts := serverOptions{
		Region:       "seoul",
		Instance:     "web-1",
		Store:        store,
		Now:          func() time.Time { return testNow },
		StoreTimeout: time.Second,
	}
	for _, f := range mod {
		f(&opts)
	}
	return newServer(opts).Handler()
}

func do(t *testing.T, h http.Handler, method, target, body string) *httptest.ResponseRecorder {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestSite(t *testing.T) {
	tests := []struct {
		name       string
		objects    map[string]memObject
		failGet    error
		target     string
		wantStatus int
		wantType   string
		wantBody   string
	}{
		{
			name:       "index from bucket",
			objects:    map[string]memObject{"site/index.html": {body: []byte("<h1>Tickets</h1>"), contentType: "text/html; charset=utf-8"}},
			target:     "/",
			wantStatus: http.StatusOK, wantType: "text/html; charset=utf-8", wantBody: "<h1>Tickets</h1>",
		},
		{name: "index absent", target: "/", wantStatus: http.StatusNotFound},
		{
			name:       "static file",
			objects:    map[string]memObject{"site/static/style.css": {body: []byte("body{}"), contentType: "text/css"}},
			target:     "/static/style.css",
			wantStatus: http.StatusOK, wantType: "text/css", wantBody: "body{}",
		},
		{
			name:       "nested static file without content type",
			objects:    map[string]memObject{"site/static/img/logo.svg": {body: []byte("<svg/>")}},
			target:     "/static/img/logo.svg",
			wantStatus: http.StatusOK, wantType: "image/svg+xml", wantBody: "<svg/>",
		},
		{
			name:       "unknown extension without content type",
			objects:    map[string]memObject{"site/static/blob": {body: []byte{1, 2}}},
			target:     "/static/blob",
			wantStatus: http.StatusOK, wantType: "application/octet-stream", wantBody: "\x01\x02",
		},
		{name: "static absent", target: "/static/missing.js", wantStatus: http.StatusNotFound},
		{name: "static directory", target: "/static/", wantStatus: http.StatusNotFound},
		{name: "store down", failGet: errStoreDown, target: "/", wantStatus: http.StatusBadGateway, wantBody: "object store unavailable\n"},
		{name: "static store down", failGet: errStoreDown, target: "/static/style.css", wantStatus: http.StatusBadGateway},
		{name: "unknown page", target: "/nope", wantStatus: http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newMemStore()
			for k, v := range tt.objects {
				store.objects[k] = v
			}
			if tt.failGet != nil {
				store.failGet = func(string) error { return tt.failGet }
			}
			rec := do(t, newTestServer(t, store), http.MethodGet, tt.target, "")
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %q)", rec.Code, tt.wantStatus, rec.Body)
			}
			if tt.wantType != "" {
				if got := rec.Header().Get("Content-Type"); got != tt.wantType {
					t.Errorf("Content-Type = %q, want %q", got, tt.wantType)
				}
			}
			if tt.wantBody != "" && rec.Body.String() != tt.wantBody {
				t.Errorf("body = %q, want %q", rec.Body, tt.wantBody)
			}
		})
	}
}

func TestValidSitePath(t *testing.T) {
	tests := map[string]bool{
		"style.css":     true,
		"img/logo.svg":  true,
		"":              false,
		"/abs":          false,
		"dir/":          false,
		"../secret":     false,
		"a/../../b":     false,
		"a//b":          false,
		"./a":           false,
		`a\..\b`:        false,
		"a/./b":         false,
		"ok-name_1.js":  true,
		"deep/er/x.png": true,
	}
	for p, want := range tests {
		if got := validSitePath(p); got != want {
			t.Errorf("validSitePath(%q) = %v, want %v", p, got, want)
		}
	}
}

// TestRegionHeaders checks that every response, errors included, names the
// region and instance that answered.
func TestRegionHeaders(t *testing.T) {
	store := newMemStore()
	store.objects["site/index.html"] = memObject{body: []byte("hi"), contentType: "text/html"}
	down := newMemStore()
	down.failGet = func(string) error { return errStoreDown }
	down.failPut = func(string) error { return errStoreDown }
	down.failList = func(string) error { return errStoreDown }

	tests := []struct {
		name                 string
		store                *memStore
		method, target, body string
		wantStatus           int
	}{
		{"index", store, "GET", "/", "", 200},
		{"healthz", store, "GET", "/healthz", "", 200},
		{"create", store, "POST", "/orders", `{"client":"c","seq":1}`, 201},
		{"get", store, "GET", "/orders/c-000000000001", "", 200},
		{"list", store, "GET", "/orders?client=c", "", 200},
		{"bad order", store, "POST", "/orders", `{`, 400},
		{"missing order", store, "GET", "/orders/c-000000000002", "", 404},
		{"unknown route", store, "GET", "/admin", "", 404},
		{"wrong method", store, "DELETE", "/orders", "", 405},
		{"oversize", store, "POST", "/orders", `{"item":"` + strings.Repeat("x", maxOrderBody) + `"}`, 413},
		{"site store down", down, "GET", "/", "", 502},
		{"get store down", down, "GET", "/orders/c-000000000001", "", 502},
		{"list store down", down, "GET", "/orders?client=c", "", 502},
		{"create store down", down, "POST", "/orders", `{"client":"c","seq":1}`, 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(t, newTestServer(t, tt.store), tt.method, tt.target, tt.body)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %q)", rec.Code, tt.wantStatus, rec.Body)
			}
			if got := rec.Header().Get(headerRegion); got != "seoul" {
				t.Errorf("%s = %q, want seoul", headerRegion, got)
			}
			if got := rec.Header().Get(headerInstance); got != "web-1" {
				t.Errorf("%s = %q, want web-1", headerInstance, got)
			}
		})
	}
}

func TestRequestLog(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	h := newTestServer(t, newMemStore(), func(o *serverOptions) { o.Logger = logger })
	do(t, h, http.MethodGet, "/orders/x-000000000007", "")

	var line struct {
		Msg, Method, Path string
		Status            int
		DurationMS        *float64 `json:"duration_ms"`
	}
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("log is not one JSON line: %v: %q", err, buf.String())
	}
	if line.Msg != "request" || line.Method != "GET" || line.Path != "/orders/x-000000000007" || line.Status != 404 || line.DurationMS == nil {
		t.Errorf("log line = %+v", line)
	}
}

func TestHealthz(t *testing.T) {
	tests := []struct {
		name       string
		strict     bool
		checks     []error // store outcomes, in order, before the probe
		wantStatus int
		wantBody   string
	}{
		{"no check yet", false, nil, 200, "ok\nstore: unknown\n"},
		{"store ok", false, []error{nil}, 200, "ok\nstore: ok\n"},
		{"store down lenient", false, []error{errStoreDown}, 200, "ok\nstore: unreachable since 2026-11-22T03:04:05Z\n"},
		{"store down strict", true, []error{errStoreDown}, 503, "unavailable\nstore: unreachable since 2026-11-22T03:04:05Z\n"},
		{"store back strict", true, []error{errStoreDown, nil}, 200, "ok\nstore: ok\n"},
		{"no check yet strict", true, nil, 200, "ok\nstore: unknown\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newMemStore()
			var next atomic.Int32
			store.failGet = func(string) error { return tt.checks[next.Add(1)-1] }
			srv := newServer(serverOptions{Region: "seoul", Store: store, HealthzStrict: tt.strict,
				Now: func() time.Time { return testNow }})
			for range tt.checks {
				_ = srv.checkStore(t.Context())
			}
			rec := do(t, srv.Handler(), http.MethodGet, "/healthz", "")
			if rec.Code != tt.wantStatus || rec.Body.String() != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", rec.Code, rec.Body, tt.wantStatus, tt.wantBody)
			}
		})
	}
}

func TestHealthzKeepsFirstFailureTime(t *testing.T) {
	store := newMemStore()
	store.failGet = func(string) error { return errStoreDown }
	now := testNow
	srv := newServer(serverOptions{Store: store, Now: func() time.Time { return now }})
	_ = srv.checkStore(t.Context())
	now = now.Add(time.Minute)
	_ = srv.checkStore(t.Context())
	if got := srv.lastCheck().at; !got.Equal(testNow) {
		t.Errorf("failure streak start = %v, want %v", got, testNow)
	}
}

// pingStore counts pings; the health check must prefer Ping to Get.
type pingStore struct {
	*memStore
	pings atomic.Int32
	err   error
}

func (p *pingStore) Ping(context.Context) error { p.pings.Add(1); return p.err }

func TestRunStoreChecks(t *testing.T) {
	store := &pingStore{memStore: newMemStore()}
	store.failGet = func(string) error { t.Error("Get used although Ping exists"); return nil }
	srv := newServer(serverOptions{Store: store})

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { srv.runStoreChecks(ctx, 5*time.Millisecond); close(done) }()

	deadline := time.After(5 * time.Second)
	for store.pings.Load() < 3 {
		select {
		case <-deadline:
			t.Fatalf("only %d checks ran", store.pings.Load())
		case <-time.After(time.Millisecond):
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("runStoreChecks did not return after cancel")
	}
	if c := srv.lastCheck(); !c.done || c.err != nil {
		t.Errorf("last check = %+v, want done without error", c)
	}
}

func TestStoreCheckNotFoundMeansReachable(t *testing.T) {
	srv := newServer(serverOptions{Store: newMemStore()}) // no site/index.html
	if err := srv.checkStore(t.Context()); err != nil {
		t.Fatalf("checkStore = %v, want nil for a missing key", err)
	}
}

// TestSiteFiles serves the real site/ through the handlers, keyed as the
// seed upload keys it, and checks that it has no external assets.
func TestSiteFiles(t *testing.T) {
	store := newMemStore()
	for file, ct := range map[string]string{"index.html": "text/html; charset=utf-8", "static/style.css": "text/css; charset=utf-8"} {
		b, err := os.ReadFile(filepath.Join("site", file))
		if err != nil {
			t.Fatal(err)
		}
		if regexp.MustCompile(`(src|href)="(https?:)?//`).Match(b) || bytes.Contains(b, []byte("@import")) {
			t.Errorf("site/%s references an external asset", file)
		}
		store.objects["site/"+file] = memObject{body: b, contentType: ct}
	}
	h := newTestServer(t, store)
	page := do(t, h, http.MethodGet, "/", "")
	if page.Code != 200 || !strings.Contains(page.Body.String(), `href="/static/style.css"`) ||
		!strings.Contains(page.Body.String(), "X-Pilotlight-Region") {
		t.Fatalf("index: %d, missing stylesheet link or region header use", page.Code)
	}
	if css := do(t, h, http.MethodGet, "/static/style.css", ""); css.Code != 200 {
		t.Errorf("style.css: %d", css.Code)
	}
}
