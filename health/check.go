// Package health actively checks endpoints and decides, with hysteresis,
// whether each one is healthy.
//
// The pieces, from the bottom up:
//
//   - a Prober performs one HTTP(S) GET or TCP connect and returns a Result;
//   - a Tracker is the pure threshold state machine that turns a sequence of
//     pass/fail observations into State transitions;
//   - a Monitor runs a probe on an interval, feeds the Tracker and publishes
//     every transition as an Event to its subscribers;
//   - a Target watches one endpoint from several vantage points (one Monitor
//     each) and decides its state from their votes by a Rule (any, all,
//     majority, >N%), unless a manual Override forces it;
//   - a Registry runs many Targets by ID and fans out their events; it is
//     the Source the DNS server reads. FromPlan builds the Targets of a
//     plan's routing records, and WriteTable renders their Status.
package health

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Check types.
const (
	TypeHTTP  = "http"
	TypeHTTPS = "https"
	TypeTCP   = "tcp"
)

// BodyLimit is how many bytes of a response body are searched for Check.Body.
const BodyLimit = 5120

// Check describes one active health check of one endpoint.
type Check struct {
	// Type is "http", "https" or "tcp" (default "http").
	Type string
	// Target is the endpoint as host:port.
	Target string
	// Path is the HTTP(S) request path (default "/healthz").
	Path string
	// Host, when set, is sent as the Host header (and used as TLS server name).
	Host string
	// ExpectMin and ExpectMax bound the accepted HTTP status codes
	// (default 200..399; a redirect is not followed and counts as its status).
	ExpectMin, ExpectMax int
	// Body, when set, must occur within the first BodyLimit bytes of the body.
	Body string
	// Timeout bounds one probe, connect to last byte read (default 1s).
	Timeout time.Duration
	// InsecureSkipVerify disables certificate verification for "https".
	InsecureSkipVerify bool
}

// Result is the outcome of one probe.
type Result struct {
	OK      bool          `json:"ok"`
	Status  int           `json:"status"`        // HTTP status; 0 for tcp or when no response arrived
	Latency time.Duration `json:"latency"`       // time from start of the probe to its outcome
	Err     string        `json:"err,omitempty"` // short reason when !OK: "timeout", "connection refused", "status 503", ...
	At      time.Time     `json:"at"`            // when the probe started
}

// WithDefaults returns c with every zero field set to its documented default.
func (c Check) WithDefaults() Check {
	if c.Type == "" {
		c.Type = TypeHTTP
	}
	if c.Path == "" {
		c.Path = "/healthz"
	}
	if c.ExpectMin == 0 && c.ExpectMax == 0 {
		c.ExpectMin, c.ExpectMax = 200, 399
	}
	if c.Timeout <= 0 {
		c.Timeout = time.Second
	}
	return c
}

// Validate reports whether c (after defaults) can be probed. An empty Target
// is accepted so that a template check can be validated before targets exist.
func (c Check) Validate() error {
	c = c.WithDefaults()
	switch c.Type {
	case TypeHTTP, TypeHTTPS, TypeTCP:
	default:
		return fmt.Errorf("health: validate check %s: unsupported type %q (want http, https or tcp)", c.Target, c.Type)
	}
	if c.Target != "" {
		if _, _, err := net.SplitHostPort(c.Target); err != nil {
			return fmt.Errorf("health: validate check %s: target: %w", c.Target, err)
		}
	}
	if c.ExpectMin > c.ExpectMax {
		return fmt.Errorf("health: validate check %s: expect range %d..%d is empty", c.Target, c.ExpectMin, c.ExpectMax)
	}
	if c.Type != TypeTCP && !strings.HasPrefix(c.Path, "/") {
		return fmt.Errorf("health: validate check %s: path %q must start with /", c.Target, c.Path)
	}
	return nil
}

// Prober performs single probes of one Check. It is safe for concurrent use,
// but a Monitor never runs two probes of the same target at once.
type Prober struct {
	check  Check
	client *http.Client
	dialer net.Dialer
	err    error // configuration error reported by every probe
}

// NewProber returns a Prober for c with defaults applied. An invalid check is
// not an error here: every Probe then fails with the validation reason.
func NewProber(c Check) *Prober {
	c = c.WithDefaults()
	p := &Prober{check: c, err: c.Validate()}
	if c.Type == TypeHTTP || c.Type == TypeHTTPS {
		tlsConf := &tls.Config{InsecureSkipVerify: c.InsecureSkipVerify} //nolint:gosec // opt-in per check
		if c.Host != "" {
			if h, _, err := net.SplitHostPort(c.Host); err == nil {
				tlsConf.ServerName = h
			} else {
				tlsConf.ServerName = c.Host
			}
		}
		p.client = &http.Client{
			// A dedicated transport without keep-alives: every probe opens a
			// fresh connection, as a new client would, and nothing lingers.
			Transport: &http.Transport{
				Proxy:               nil,
				DialContext:         p.dialer.DialContext,
				TLSClientConfig:     tlsConf,
				DisableKeepAlives:   true,
				DisableCompression:  true,
				TLSHandshakeTimeout: c.Timeout,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return p
}

// Check returns the check this prober runs, with defaults applied.
func (p *Prober) Check() Check { return p.check }

// Probe runs one probe bounded by the check's Timeout and ctx. It never
// returns an error: failures are Results with OK false and a short Err.
func (p *Prober) Probe(ctx context.Context) Result {
	start := time.Now()
	r := Result{At: start}
	if p.err != nil {
		r.Err = p.err.Error()
		return r
	}
	ctx, cancel := context.WithTimeout(ctx, p.check.Timeout)
	defer cancel()
	if p.check.Type == TypeTCP {
		r = p.probeTCP(ctx, r)
	} else {
		r = p.probeHTTP(ctx, r)
	}
	r.Latency = time.Since(start)
	return r
}

func (p *Prober) probeTCP(ctx context.Context, r Result) Result {
	conn, err := p.dialer.DialContext(ctx, "tcp", p.check.Target)
	if err != nil {
		r.Err = reason(ctx, err)
		return r
	}
	_ = conn.Close()
	r.OK = true
	return r
}

func (p *Prober) probeHTTP(ctx context.Context, r Result) Result {
	u := p.check.Type + "://" + p.check.Target + p.check.Path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		r.Err = "bad request: " + err.Error()
		return r
	}
	if p.check.Host != "" {
		req.Host = p.check.Host
	}
	req.Header.Set("User-Agent", "pilotlight-health/1")
	resp, err := p.client.Do(req)
	if err != nil {
		r.Err = reason(ctx, err)
		return r
	}
	defer resp.Body.Close()
	r.Status = resp.StatusCode
	if r.Status < p.check.ExpectMin || r.Status > p.check.ExpectMax {
		r.Err = fmt.Sprintf("status %d", r.Status)
		return r
	}
	if p.check.Body != "" {
		head, err := io.ReadAll(io.LimitReader(resp.Body, BodyLimit))
		switch {
		case strings.Contains(string(head), p.check.Body):
		case err != nil:
			r.Err = "read body: " + reason(ctx, err)
			return r
		default:
			r.Err = "body mismatch"
			return r
		}
	}
	r.OK = true
	return r
}

// reason turns a probe error into a short, stable description.
func reason(ctx context.Context, err error) string {
	var certErr *tls.CertificateVerificationError
	var netErr net.Error
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.As(err, &certErr):
		return "tls: " + certErr.Err.Error()
	case errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		err = urlErr.Err
	}
	return err.Error()
}
