package objstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/gofiber/fiber/v3"
	"github.com/versity/versitygw/backend/meta"
	"github.com/versity/versitygw/backend/posix"
	"github.com/versity/versitygw/embedgw"
	"github.com/versity/versitygw/s3api"
)

// Gateway limits, the versitygw command's defaults.
const (
	maxConnections      = 250000
	maxRequests         = 100000
	multipartMaxParts   = 10000
	copyObjectThreshold = 5 << 30 // S3's CopyObject limit
	readyTimeout        = 20 * time.Second
	pidHeader           = "X-Pilotlight-Store-Pid" // on health responses
)

// Serve runs the object store in this process until ctx is cancelled, then
// shuts it down and returns nil. It creates o.Buckets (and enables
// versioning on them when o.Versioning is set) as soon as the server
// listens; if that fails the server is stopped and the error returned.
// HealthPath answers 200 from then on.
//
// Serve changes the working directory of the process and only one store may
// run per process: use Start to run a store beside other work.
func Serve(ctx context.Context, o Options) error {
	o = o.withDefaults()
	if err := o.validate(); err != nil {
		return fmt.Errorf("objstore: serve %s: %w", o.Dir, err)
	}
	be, err := newBackend(o)
	if err != nil {
		return fmt.Errorf("objstore: serve %s: %w", o.Dir, err)
	}
	cfg := &embedgw.Config{
		RootUserAccess:    o.AccessKey,
		RootUserSecret:    o.SecretKey,
		Region:            o.Region,
		Ports:             []string{o.Listen},
		MaxConnections:    maxConnections,
		MaxRequests:       maxRequests,
		MultipartMaxParts: multipartMaxParts,
		Quiet:             true,
		KeepAlive:         true,
		EventWebhookURL:   o.EventWebhookURL,
	}
	// The health path answers 200 only once the buckets exist, so a caller
	// polling it (Start) sees a store that is ready for use.
	var ready atomic.Bool
	pid := strconv.Itoa(os.Getpid())
	listening := make(chan struct{})
	var once sync.Once
	cfg.S3Options = []s3api.Option{
		s3api.WithOnListen(func() { once.Do(func() { close(listening) }) }),
		s3api.WithRoute(http.MethodGet, HealthPath, func(c fiber.Ctx) error {
			c.Set(pidHeader, pid)
			if !ready.Load() {
				return c.SendStatus(http.StatusServiceUnavailable)
			}
			return c.SendStatus(http.StatusOK)
		}),
	}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- embedgw.RunVersityGW(runCtx, be, cfg) }()

	endpoint := Endpoint(o.Listen)
	o.Logger.Info("object store starting", "endpoint", endpoint, "dir", o.Dir, "region", o.Region)
	exited := false
	select {
	case <-listening:
		err = ensureBuckets(runCtx, o, endpoint)
	case err = <-done:
		exited = true
		if err == nil {
			err = errors.New("gateway exited before serving")
		}
	case <-runCtx.Done():
		err = runCtx.Err()
	}
	if err != nil {
		stop()
		if !exited {
			<-done
		}
		if ctx.Err() != nil {
			return nil // cancelled while starting: a clean shutdown
		}
		return fmt.Errorf("objstore: serve %s: %w", o.Listen, err)
	}
	ready.Store(true)
	o.Logger.Info("object store ready", "endpoint", endpoint, "buckets", len(o.Buckets))

	err = <-done
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("objstore: serve %s: %w", o.Listen, err)
	}
	o.Logger.Info("object store stopped", "endpoint", endpoint)
	return nil
}

// newBackend prepares the directory layout and opens the posix backend.
// Metadata goes to xattrs when the file system supports them, else (or when
// a sidecar directory already exists) to Dir/meta.
func newBackend(o Options) (*posix.Posix, error) {
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	versions := filepath.Join(dir, "versions")
	sidecar := filepath.Join(dir, "meta")
	for _, d := range []string{data, versions} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	opts := posix.PosixOpts{
		VersioningDir:       versions,
		CopyObjectThreshold: copyObjectThreshold,
	}
	var ms meta.MetadataStorer = meta.XattrMeta{}
	_, statErr := os.Stat(sidecar)
	if statErr == nil || (meta.XattrMeta{}).Test(data) != nil {
		if err := os.MkdirAll(sidecar, 0o700); err != nil {
			return nil, err
		}
		sc, err := meta.NewSideCar(sidecar)
		if err != nil {
			return nil, fmt.Errorf("sidecar metadata %s: %w", sidecar, err)
		}
		ms, opts.SideCarDir = sc, sidecar
	} else if !errors.Is(statErr, fs.ErrNotExist) {
		return nil, statErr
	}
	be, err := posix.New(data, ms, opts)
	if err != nil {
		return nil, fmt.Errorf("posix backend %s: %w", data, err)
	}
	return be, nil
}

// ensureBuckets creates o.Buckets through the S3 API of the running store,
// accepting buckets that already exist, and enables versioning on them when
// o.Versioning is set.
func ensureBuckets(ctx context.Context, o Options, endpoint string) error {
	if len(o.Buckets) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	c := NewClient(endpoint, o.AccessKey, o.SecretKey, o.Region)
	for _, b := range o.Buckets {
		_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)})
		var owned *types.BucketAlreadyOwnedByYou
		var apiErr smithy.APIError
		switch {
		case err == nil:
			o.Logger.Info("bucket created", "bucket", b)
		case errors.As(err, &owned),
			errors.As(err, &apiErr) && apiErr.ErrorCode() == "BucketAlreadyOwnedByYou":
		default:
			return fmt.Errorf("create bucket %s: %w", b, err)
		}
		if !o.Versioning {
			continue
		}
		_, err = c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
			Bucket:                  aws.String(b),
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
		})
		if err != nil {
			return fmt.Errorf("enable versioning on bucket %s: %w", b, err)
		}
	}
	return nil
}
