package objstore

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	if v == "" {
		return errors.New("empty value")
	}
	*l = append(*l, v)
	return nil
}

// ParseServeArgs parses the flags of `store serve`:
//
//	--dir DIR             state directory (required)
//	--listen ADDR         listen address (default 127.0.0.1:9000)
//	--region NAME         region (default us-east-1)
//	--bucket NAME         bucket to create at start-up (repeatable)
//	--access-key KEY      root access key (default $AWS_ACCESS_KEY_ID, else generated)
//	--secret-key KEY      root secret key (default $AWS_SECRET_ACCESS_KEY, else generated)
//	--event-webhook URL   POST bucket event notifications to URL
//	--no-versioning       do not enable versioning on --bucket buckets
//
// env looks up environment variables (os.Getenv; nil means none are set).
// generated reports whether the secret key was generated, in which case it
// must be shown to the user once.
func ParseServeArgs(args []string, env func(string) string) (o Options, generated bool, err error) {
	if env == nil {
		env = func(string) string { return "" }
	}
	fs := flag.NewFlagSet("store serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var buckets stringList
	var noVersioning bool
	fs.StringVar(&o.Dir, "dir", "", "state directory (required)")
	fs.StringVar(&o.Listen, "listen", DefaultListen, "listen address host:port")
	fs.StringVar(&o.Region, "region", DefaultRegion, "region name")
	fs.Var(&buckets, "bucket", "bucket to create at start-up (repeatable)")
	fs.StringVar(&o.AccessKey, "access-key", "", "root access key (default $"+EnvAccessKey+", else generated)")
	fs.StringVar(&o.SecretKey, "secret-key", "", "root secret key (default $"+EnvSecretKey+", else generated)")
	fs.StringVar(&o.EventWebhookURL, "event-webhook", "", "URL that receives bucket event notifications")
	fs.BoolVar(&noVersioning, "no-versioning", false, "do not enable versioning on --bucket buckets")
	if err := fs.Parse(args); err != nil {
		return Options{}, false, fmt.Errorf("objstore: parse serve flags: %w", err)
	}
	if fs.NArg() > 0 {
		return Options{}, false, fmt.Errorf("objstore: parse serve flags: unexpected argument %q", fs.Arg(0))
	}
	if o.Dir == "" {
		return Options{}, false, errors.New("objstore: parse serve flags: --dir is required")
	}
	o.Buckets = buckets
	o.Versioning = !noVersioning
	if o.AccessKey == "" {
		o.AccessKey = env(EnvAccessKey)
	}
	if o.SecretKey == "" {
		o.SecretKey = env(EnvSecretKey)
	}
	access, secret := Generate()
	if o.AccessKey == "" {
		o.AccessKey = access
	}
	if o.SecretKey == "" {
		o.SecretKey, generated = secret, true
	}
	return o, generated, nil
}

// ServeMain is `pilotlight store serve`: it parses args (with the process
// environment as fallback), prints the endpoint and access key to stdout (and the secret key
// only when it was generated), then serves until ctx is cancelled. Log lines
// go to stdout as well.
func ServeMain(ctx context.Context, args []string, stdout io.Writer) error {
	o, generated, err := ParseServeArgs(args, os.Getenv)
	if err != nil {
		return err
	}
	o.Logger = slog.New(slog.NewTextHandler(stdout, nil)).With("component", "objstore")
	line := fmt.Sprintf("endpoint %s access-key %s", Endpoint(o.Listen), o.AccessKey)
	if generated {
		line += " secret-key " + o.SecretKey
	}
	if _, err := fmt.Fprintln(stdout, line); err != nil {
		return fmt.Errorf("objstore: print endpoint: %w", err)
	}
	return Serve(ctx, o)
}
