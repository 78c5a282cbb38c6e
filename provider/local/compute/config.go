package compute

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/pilotlight/pilotlight/backoff"
)

// Template describes how to start one instance of a service.
type Template struct {
	// Command is the argv; each element is a text/template executed with Vars.
	Command []string
	// Env adds variables to the instance environment; values are templates.
	Env map[string]string
	// Port is the TCP port every instance listens on (default 8080).
	Port int
}

// Vars are the values available to Template.Command and Template.Env.
type Vars struct {
	Bin      string // directory holding the service binaries
	Addr     string // host:port the instance must listen on
	Host     string // the instance's own loopback host
	Port     int    // Template.Port
	Region   string // region name
	Zone     string // zone label, e.g. seoul-a
	ID       string // instance ID
	Service  string // service name
	Endpoint string // object-store endpoint URL of the region
	StateDir string // pilotlight state directory
}

// Credentials are the object-store keys handed to instances through the
// environment. They are never logged.
type Credentials struct {
	AccessKey string
	SecretKey string
	// Region is the signing region exported as AWS_REGION (default: the group's Region).
	Region string
}

// LogValue redacts the secret key when Credentials are logged.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("access_key", c.AccessKey), slog.String("secret_key", "REDACTED"))
}

// String redacts the secret key.
func (c Credentials) String() string {
	return fmt.Sprintf("{AccessKey:%s SecretKey:REDACTED Region:%s}", c.AccessKey, c.Region)
}

// BackoffConfig controls the delay before new starts while instances crash in a loop.
type BackoffConfig struct {
	// Initial is the delay after the first early failure (default 500ms).
	Initial time.Duration
	// Max caps the delay (default 30s).
	Max time.Duration
	// Reset is how long an instance must stay up for the failure streak to be
	// forgotten; failures of instances that were up longer do not count (default 30s).
	Reset time.Duration
	// Jitter is the relative random spread applied to each delay, 0..1 (default 0.2).
	Jitter float64
}

// delay returns the backoff before the next start after streak consecutive
// early failures; r is a random number in [0,1).
func (b BackoffConfig) delay(streak int, r float64) time.Duration {
	if streak <= 0 {
		return 0
	}
	d := backoff.Exp(b.Initial, b.Max, streak)
	d = time.Duration(float64(d) * (1 - b.Jitter + 2*b.Jitter*r))
	return min(d, b.Max)
}

// Clock is the time source of a Group.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// GroupConfig configures a Group.
type GroupConfig struct {
	Service string
	Region  string
	// Zones are the zone labels instances are spread over: each new instance
	// goes to the least-populated zone, ties broken round-robin.
	Zones    []string
	Template Template
	// Bin, Endpoint and StateDir are passed to templates as Vars.
	Bin, Endpoint, StateDir string
	Credentials             Credentials
	// Addrs hands out one host per instance; required.
	Addrs AddrAllocator
	// LogDir receives <id>.log per instance (default StateDir/<region>/instances).
	LogDir string
	// Desired is the initial number of instances.
	Desired int
	Backoff BackoffConfig
	// StartTimeout is how long an instance may take to accept TCP on its Addr
	// before it is replaced (default 15s).
	StartTimeout time.Duration
	// StopTimeout is the grace period between SIGTERM and SIGKILL (default 5s).
	StopTimeout time.Duration
	Logger      *slog.Logger // nil discards
	Clock       Clock        // nil is the system clock
}

func (c *GroupConfig) setDefaults() {
	if c.Template.Port == 0 {
		c.Template.Port = 8080
	}
	if c.LogDir == "" && c.StateDir != "" {
		c.LogDir = filepath.Join(c.StateDir, c.Region, "instances")
	}
	if c.Backoff.Initial <= 0 {
		c.Backoff.Initial = 500 * time.Millisecond
	}
	if c.Backoff.Max <= 0 {
		c.Backoff.Max = 30 * time.Second
	}
	if c.Backoff.Max < c.Backoff.Initial {
		c.Backoff.Max = c.Backoff.Initial
	}
	if c.Backoff.Reset <= 0 {
		c.Backoff.Reset = 30 * time.Second
	}
	if c.Backoff.Jitter <= 0 || c.Backoff.Jitter > 1 {
		c.Backoff.Jitter = 0.2
	}
	if c.StartTimeout <= 0 {
		c.StartTimeout = 15 * time.Second
	}
	if c.StopTimeout <= 0 {
		c.StopTimeout = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = realClock{}
	}
}

func (c *GroupConfig) validate() error {
	var errs []error
	if c.Service == "" {
		errs = append(errs, errors.New("service name is empty"))
	}
	if c.Region == "" {
		errs = append(errs, errors.New("region is empty"))
	}
	if len(c.Zones) == 0 {
		errs = append(errs, errors.New("no zones"))
	}
	if c.Addrs == nil {
		errs = append(errs, errors.New("no address allocator"))
	}
	if c.LogDir == "" {
		errs = append(errs, errors.New("neither log dir nor state dir set"))
	}
	if c.Desired < 0 {
		errs = append(errs, fmt.Errorf("desired count %d is negative", c.Desired))
	}
	if c.Template.Port < 0 || c.Template.Port > 65535 {
		errs = append(errs, fmt.Errorf("port %d out of range", c.Template.Port))
	}
	return errors.Join(errs...)
}
