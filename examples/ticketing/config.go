package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"
)

// config is the command line of the ticketing app. Every flag falls back to an
// environment variable so that a supervisor can configure instances without
// rewriting their command.
type config struct {
	// Addr is the listen address host:port (default 127.0.0.1:8080).
	Addr string
	// Region names the region this instance serves; it is written on every
	// response and stored order (default: S3Region).
	Region string
	// Bucket is the region's bucket holding the site and the orders (required).
	Bucket string
	// S3Endpoint is the object store URL; empty means real AWS S3.
	S3Endpoint string
	// S3Region is the signing region of the object store (default us-east-1).
	S3Region string
	// InstanceID identifies this process in responses (default host-pid).
	InstanceID string
	// HealthzStrict makes /healthz answer 503 when the last store check failed.
	HealthzStrict bool
	// StoreCheckInterval is how often the store is probed for /healthz (default 5s).
	StoreCheckInterval time.Duration
	// StoreTimeout bounds every store call made for a request (default 5s).
	StoreTimeout time.Duration
}

// parseConfig reads flags from args, with defaults taken from getenv.
// It returns flag.ErrHelp when -h or --help was asked for.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	env := func(keys ...string) string {
		for _, k := range keys {
			if v := getenv(k); v != "" {
				return v
			}
		}
		return ""
	}
	or := func(v, def string) string {
		if v == "" {
			return def
		}
		return v
	}

	strict := false
	if v := env("PILOTLIGHT_HEALTHZ_STRICT"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return config{}, fmt.Errorf("ticketing: parse env PILOTLIGHT_HEALTHZ_STRICT: %w", err)
		}
		strict = b
	}

	var cfg config
	fs := flag.NewFlagSet("ticketing", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Addr, "addr", or(env("PILOTLIGHT_ADDR"), "127.0.0.1:8080"), "listen address host:port (env PILOTLIGHT_ADDR)")
	fs.StringVar(&cfg.Region, "region", env("PILOTLIGHT_REGION"), "region name written on every response (env PILOTLIGHT_REGION; default: --s3-region)")
	fs.StringVar(&cfg.Bucket, "bucket", env("PILOTLIGHT_BUCKET"), "bucket holding site/ and orders/ (required; env PILOTLIGHT_BUCKET)")
	fs.StringVar(&cfg.S3Endpoint, "s3-endpoint", env("PILOTLIGHT_S3_ENDPOINT", "AWS_ENDPOINT_URL_S3"), "object store URL; empty means AWS S3 (env PILOTLIGHT_S3_ENDPOINT, AWS_ENDPOINT_URL_S3)")
	fs.StringVar(&cfg.S3Region, "s3-region", or(env("AWS_REGION"), "us-east-1"), "object store signing region (env AWS_REGION)")
	fs.StringVar(&cfg.InstanceID, "instance-id", env("PILOTLIGHT_INSTANCE_ID"), "instance identifier written on every response (env PILOTLIGHT_INSTANCE_ID; default host-pid)")
	fs.BoolVar(&cfg.HealthzStrict, "healthz-strict", strict, "answer 503 on /healthz when the last store check failed (env PILOTLIGHT_HEALTHZ_STRICT)")
	fs.DurationVar(&cfg.StoreCheckInterval, "store-check-interval", 5*time.Second, "interval of the background store reachability check")
	fs.DurationVar(&cfg.StoreTimeout, "store-timeout", 5*time.Second, "timeout of each store call made for a request")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return config{}, err
		}
		return config{}, fmt.Errorf("ticketing: parse flags: %w", err)
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("ticketing: parse flags: unexpected argument %q", fs.Arg(0))
	}
	if cfg.Region == "" {
		cfg.Region = cfg.S3Region
	}
	if err := cfg.validate(); err != nil {
		return config{}, err
	}
	return cfg, nil
}

func (c config) validate() error {
	switch {
	case c.Bucket == "":
		return errors.New("ticketing: validate flags: --bucket is required")
	case c.Addr == "":
		return errors.New("ticketing: validate flags: --addr must not be empty")
	case c.StoreCheckInterval <= 0:
		return fmt.Errorf("ticketing: validate flags: --store-check-interval must be > 0, got %s", c.StoreCheckInterval)
	case c.StoreTimeout <= 0:
		return fmt.Errorf("ticketing: validate flags: --store-timeout must be > 0, got %s", c.StoreTimeout)
	}
	return nil
}
