package lb

import (
	"context"
	"net/http"
	"net/http/httputil"
)

// attempt is one try of one request against one backend; it travels in the
// request context from ServeHTTP to rewrite and proxyError.
type attempt struct {
	in      *http.Request // the inbound request, as received
	b       *backend
	retried bool
	failed  bool
}

type attemptKey struct{}

// ServeHTTP proxies r to a healthy target, or answers 503 when there is none.
func (lb *LB) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set(HeaderName, lb.cfg.Name)
	if lb.fenced.Load() && !readOnly(r.Method) {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "writes are fenced for a failover", http.StatusServiceUnavailable)
		return
	}
	b := lb.pick(nil)
	if b == nil {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "no healthy target", http.StatusServiceUnavailable)
		return
	}
	lb.serveVia(w, r, b, false)
}

// serveVia proxies r to b, which the caller has counted in flight. The
// request is cancelled if b is cut off at the end of its drain.
func (lb *LB) serveVia(w http.ResponseWriter, r *http.Request, b *backend, retried bool) {
	defer b.release()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(b.ctx, cancel)
	defer stop()
	a := &attempt{in: r, b: b, retried: retried}
	lb.proxy.ServeHTTP(w, r.WithContext(context.WithValue(ctx, attemptKey{}, a)))
	if a.failed {
		b.failed.Add(1)
	} else {
		b.served.Add(1)
	}
}

func (lb *LB) rewrite(pr *httputil.ProxyRequest) {
	a := pr.In.Context().Value(attemptKey{}).(*attempt)
	pr.SetURL(a.b.url)
	pr.Out.Host = pr.In.Host // transparent: the target sees the client's Host
	// Append to the client's X-Forwarded-For as ELB does.
	pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
	pr.SetXForwarded()
}

// proxyError handles a transport-level failure: a safe request (GET, HEAD,
// OPTIONS without a body) is retried once on another healthy target; any
// other answers 502, since its side effects may already have happened.
func (lb *LB) proxyError(w http.ResponseWriter, out *http.Request, err error) {
	a := out.Context().Value(attemptKey{}).(*attempt)
	a.failed = true
	if a.in.Context().Err() != nil { // client went away; nobody reads the answer
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	if !a.retried && retryable(a.in) {
		if b := lb.pick(a.b); b != nil {
			lb.log.Debug("retrying on another target", "from", a.b.target.ID, "to", b.target.ID, "err", err)
			lb.serveVia(w, a.in, b, true)
			return
		}
	}
	lb.log.Warn("proxy failed", "target_id", a.b.target.ID, "method", a.in.Method, "path", a.in.URL.Path, "err", err)
	http.Error(w, "bad gateway", http.StatusBadGateway)
}

func retryable(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return r.ContentLength == 0
	}
	return false
}

// pick chooses a healthy target other than exclude and counts it in flight,
// or returns nil if there is none.
func (lb *LB) pick(exclude *backend) *backend {
	for range 3 {
		b := lb.choose(*lb.active.Load(), exclude)
		if b == nil {
			return nil
		}
		b.inflight.Add(1)
		// Pairs with SetTargets (swap, then mark removed) and the drain
		// (mark removed, then read inflight): either the drain sees this
		// request or this request sees the removal and picks again.
		if !b.removed.Load() {
			return b
		}
		b.release()
	}
	return nil
}

func (lb *LB) choose(list []*backend, exclude *backend) *backend {
	eligible := func(b *backend) bool { return b != exclude && b.healthy() }
	switch lb.cfg.Algorithm {
	case LeastConnections:
		if len(list) == 0 {
			return nil
		}
		// Fewest in flight; the rotating start breaks ties round-robin.
		start := int((lb.rr.Add(1) - 1) % uint64(len(list)))
		var best *backend
		var bestN int64
		for i := range list {
			b := list[(start+i)%len(list)]
			if !eligible(b) {
				continue
			}
			if n := b.inflight.Load(); best == nil || n < bestN {
				best, bestN = b, n
			}
		}
		return best
	default:
		var buf [32]*backend
		healthy := buf[:0]
		for _, b := range list {
			if eligible(b) {
				healthy = append(healthy, b)
			}
		}
		if len(healthy) == 0 {
			return nil
		}
		return healthy[(lb.rr.Add(1)-1)%uint64(len(healthy))]
	}
}
