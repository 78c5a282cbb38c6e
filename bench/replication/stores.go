package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pilotlight/pilotlight/provider/local/objstore"
)

// Bucket names; every store serves in us-east-1.
const (
	smallBucket = "small"
	largeBucket = "large"
	lagBucket   = "lag"
	dstBucket   = "replica"
	region      = "us-east-1"
)

// bench holds what the benchmark started, to stop it at the end.
type bench struct {
	cfg            config
	log            *slog.Logger
	dir            string
	ownDir         bool
	access, secret string
	childEnv       []string // extra environment of the stores (tests: re-exec markers)

	mu     sync.Mutex
	stores []*store
	seq    int
}

// store is a running child store.
type store struct {
	name string
	dir  string
	proc *objstore.Process
}

func (s *store) endpoint() string { return s.proc.Endpoint() }

func newBench(c config, log *slog.Logger) (*bench, error) {
	if _, err := os.Stat(c.pilotlight); err != nil {
		return nil, fmt.Errorf("pilotlight binary: %w (build it with: go build -o bin/ ./cmd/pilotlight)", err)
	}
	b := &bench{cfg: c, log: log, dir: c.workDir}
	if b.dir == "" {
		d, err := os.MkdirTemp("", "pilotlight-bench-")
		if err != nil {
			return nil, fmt.Errorf("work directory: %w", err)
		}
		b.dir, b.ownDir = d, true
	} else if err := os.MkdirAll(b.dir, 0o755); err != nil {
		return nil, fmt.Errorf("work directory: %w", err)
	}
	b.access, b.secret = objstore.Generate()
	return b, nil
}

// startStore starts a fresh store (new directory) serving buckets, sending
// bucket events to webhook when it is not empty.
func (b *bench) startStore(ctx context.Context, name string, buckets []string, webhook string) (*store, error) {
	b.mu.Lock()
	b.seq++
	dir := filepath.Join(b.dir, fmt.Sprintf("%02d-%s", b.seq, name))
	b.mu.Unlock()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("start %s store: %w", name, err)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	p, err := objstore.Start(sctx, objstore.Spec{
		Exe:  b.cfg.pilotlight,
		Args: []string{"store", "serve"},
		Options: objstore.Options{
			Dir: filepath.Join(dir, "data"), Listen: addr, Region: region, Buckets: buckets,
			AccessKey: b.access, SecretKey: b.secret, Versioning: true, EventWebhookURL: webhook,
		},
		LogFile: filepath.Join(dir, "store.log"),
		Env:     b.childEnv,
	})
	if err != nil {
		return nil, fmt.Errorf("start %s store: %w", name, err)
	}
	s := &store{name: name, dir: dir, proc: p}
	b.mu.Lock()
	b.stores = append(b.stores, s)
	b.mu.Unlock()
	b.log.Info("store started", "store", name, "endpoint", p.Endpoint(), "buckets", strings.Join(buckets, ","))
	return s, nil
}

// stopStore stops s and, unless -keep, removes its data (large runs would
// otherwise fill the disk).
func (b *bench) stopStore(s *store) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.proc.Stop(ctx); err != nil {
		b.log.Warn("stop store", "store", s.name, "err", err)
	}
	_ = s.proc.Wait()
	b.mu.Lock()
	for i, x := range b.stores {
		if x == s {
			b.stores = append(b.stores[:i], b.stores[i+1:]...)
			break
		}
	}
	b.mu.Unlock()
	if !b.cfg.keep {
		_ = os.RemoveAll(s.dir)
	}
}

// close stops every store still running and removes the work directory
// when the benchmark created it.
func (b *bench) close() {
	b.mu.Lock()
	stores := append([]*store(nil), b.stores...)
	b.mu.Unlock()
	for _, s := range stores {
		b.stopStore(s)
	}
	if b.ownDir && !b.cfg.keep {
		_ = os.RemoveAll(b.dir)
	}
}

// client returns an SDK client for s with the benchmark's credentials.
func (b *bench) client(s *store) *s3.Client {
	hc := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns, t.MaxIdleConnsPerHost = 2*lagInFlight, 2*lagInFlight // keep connections of parallel requests
	})
	return objstore.NewClient(s.endpoint(), b.access, b.secret, region, func(o *s3.Options) { o.HTTPClient = hc })
}

// credsEnv is the extra environment of a pilotlight child process: the
// stores' keys (and, in tests, the re-exec markers).
func (b *bench) credsEnv() []string {
	env := []string{objstore.EnvAccessKey + "=" + b.access, objstore.EnvSecretKey + "=" + b.secret, "AWS_REGION=" + region}
	return append(env, b.childEnv...)
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// byteSize is a flag value such as 4KiB, 64MiB, 64M or 4096.
type byteSize int64

func (s *byteSize) String() string { return strconv.FormatInt(int64(*s), 10) }

func (s *byteSize) Set(v string) error {
	n, err := parseSize(v)
	if err != nil {
		return err
	}
	*s = byteSize(n)
	return nil
}

func parseSize(v string) (int64, error) {
	t := strings.TrimSpace(v)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSuffix(t, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("size %q: want a number of bytes with an optional KiB, MiB or GiB suffix", v)
	}
	return n * mult, nil
}
