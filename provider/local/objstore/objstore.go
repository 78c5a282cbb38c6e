// Package objstore runs a region's local S3-compatible object store.
//
// The store is github.com/versity/versitygw with its posix backend: objects
// live as files under a directory, versions in a sibling directory and
// metadata in extended attributes (or a sidecar directory when the file
// system has none). Requests are authenticated with SigV4 against one root
// key pair. versitygw allows a single gateway per process and changes the
// working directory, so pilotlight always runs the store in a child process
// (`pilotlight store serve`, see [Start]); [Serve] is what that child runs.
//
// Layout under Options.Dir:
//
//	data/      buckets and objects (the gateway root)
//	versions/  older object versions of versioned buckets
//	meta/      sidecar metadata, only when xattrs are unsupported
package objstore

import (
	"crypto/rand"
	"errors"
	"log/slog"
	"net"
)

// Defaults used when the corresponding Options field is empty.
const (
	DefaultListen = "127.0.0.1:9000"
	DefaultRegion = "us-east-1"
	// HealthPath answers GET without authentication: 503 while the store
	// starts, 200 once it serves and its start-up buckets exist.
	HealthPath = "/healthz"
)

// Environment variables that carry the root credentials to a child store.
const (
	EnvAccessKey = "AWS_ACCESS_KEY_ID"
	EnvSecretKey = "AWS_SECRET_ACCESS_KEY"
)

// Options configures one object store.
type Options struct {
	// Dir is the state directory of the store (required). It is made
	// absolute before the gateway starts.
	Dir string
	// Listen is the host:port the S3 API listens on (default 127.0.0.1:9000).
	Listen string
	// AccessKey and SecretKey are the root credentials (required by Serve).
	AccessKey, SecretKey string
	// Region is the region reported to clients and used for SigV4
	// (default us-east-1).
	Region string
	// Buckets are created when the store starts; an existing bucket is fine.
	Buckets []string
	// Versioning enables versioning on Buckets. ParseServeArgs sets it unless
	// --no-versioning is given; a zero Options leaves it off. Buckets created
	// through the S3 API can always be versioned with PutBucketVersioning.
	Versioning bool
	// EventWebhookURL, when set, receives bucket event notifications
	// (S3-style JSON records) as HTTP POSTs. The URL must be reachable when
	// the store starts: versitygw posts a test event then.
	EventWebhookURL string
	// Logger receives the store's own log lines (nil discards them).
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Listen == "" {
		o.Listen = DefaultListen
	}
	if o.Region == "" {
		o.Region = DefaultRegion
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

func (o Options) validate() error {
	switch {
	case o.Dir == "":
		return errors.New("state directory is required")
	case o.AccessKey == "" || o.SecretKey == "":
		return errors.New("access key and secret key are required")
	}
	if _, _, err := net.SplitHostPort(o.Listen); err != nil {
		return err
	}
	return nil
}

// Endpoint returns the http:// URL a local client uses to reach a store
// listening on listen. An unspecified host (":9000", "0.0.0.0:9000") maps to
// the loopback address.
func Endpoint(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "http://" + listen
	}
	switch ip := net.ParseIP(host); {
	case host == "":
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified() && ip.To4() != nil:
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified():
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// Generate returns random root credentials: a 20-character access key and a
// 40-character secret key, both from crypto/rand.
func Generate() (access, secret string) {
	access = rand.Text()[:20]
	secret = (rand.Text() + rand.Text())[:40]
	return access, secret
}
