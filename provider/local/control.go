package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pilotlight/pilotlight/replicate/rpo"
)

// RoutingControl switches which side of the plan's failover records answers,
// like a routing control: the running `up` (or drill) implements it over its
// health registry and DNS server.
type RoutingControl interface {
	// SetActive pins record to role ("primary" or "recovery"); "" gives
	// the decision back to the health checks.
	SetActive(ctx context.Context, record, role string) error
	// Routing returns the state of every routed record.
	Routing() []RecordRouting
}

// RecordRouting is the routing state of one record.
type RecordRouting struct {
	Record string `json:"record"`
	// Pinned is the role the record is pinned to, "" when health decides.
	Pinned string `json:"pinned,omitempty"`
	// Health of the primary and recovery targets.
	Primary  string `json:"primary,omitempty"`
	Recovery string `json:"recovery,omitempty"`
	// Answer is the role the record answers with now.
	Answer string `json:"answer"`
}

// ReplicationControl runs and steers the plan's bucket replication.
type ReplicationControl interface {
	// Sync runs one full replication pass of every plan bucket from region
	// from to region to, and returns when it is done.
	Sync(ctx context.Context, from, to string) (SyncResult, error)
	// SetDirection makes continuous replication run from → to; empty
	// names pause it.
	SetDirection(ctx context.Context, from, to string) error
	// Replication returns the direction and the per-bucket RPO status.
	Replication() ReplicationState
}

// SyncResult is the outcome of one replication pass over the plan's buckets.
type SyncResult struct {
	From    string  `json:"from"`
	To      string  `json:"to"`
	Listed  int64   `json:"listed"`
	Copied  int64   `json:"copied"`
	Failed  int64   `json:"failed"`
	Seconds float64 `json:"seconds"`
}

// ReplicationState is the direction of continuous replication and the RPO
// of each bucket.
type ReplicationState struct {
	From    string       `json:"from,omitempty"`
	To      string       `json:"to,omitempty"`
	Paused  bool         `json:"paused"`
	Buckets []rpo.Status `json:"buckets"`
}

// Hooks connect the control API to the parts of a running `up` that live
// outside the deployment. Nil hooks answer 501.
type Hooks struct {
	Routing     RoutingControl
	Replication ReplicationControl
	// DNS is the address of the embedded DNS server ("" when none).
	DNS string
}

// controlRequest is the body of the control API's POST requests.
type controlRequest struct {
	InstanceType string `json:"instanceType,omitempty"`
	Count        int    `json:"count"`
	Key          string `json:"key,omitempty"`
	On           bool   `json:"on"`
	Available    bool   `json:"available"`
	Active       string `json:"active"`
	From         string `json:"from"`
	To           string `json:"to"`
}

// apiError is the body of a control API error; Code names the class.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error codes of the control API.
const (
	codeNoCapacity = "InsufficientInstanceCapacity"
	codeNotFound   = "NotFound"
	codeInvalid    = "InvalidRequest"
	codeInternal   = "InternalError"
	codeNotRunning = "NotImplemented"
	codeUnavail    = "Unavailable"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, code string, err error) {
	writeJSON(w, status, apiError{Code: code, Message: err.Error()})
}

// controlHandler serves the control API of a deployment.
func (d *Deployment) controlHandler(h Hooks) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, d.Status())
	})
	region := func(w http.ResponseWriter, r *http.Request) *Region {
		reg, err := d.Region(r.PathValue("region"))
		if err != nil {
			writeErr(w, http.StatusNotFound, codeNotFound, err)
			return nil
		}
		return reg
	}
	decode := func(w http.ResponseWriter, r *http.Request) (controlRequest, bool) {
		var req controlRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil {
			writeErr(w, http.StatusBadRequest, codeInvalid, fmt.Errorf("decode request: %w", err))
			return req, false
		}
		return req, true
	}
	mux.HandleFunc("GET /v1/regions/{region}/services/{service}", func(w http.ResponseWriter, r *http.Request) {
		reg := region(w, r)
		if reg == nil {
			return
		}
		sc, ok := reg.Scale(r.PathValue("service"))
		if !ok {
			writeErr(w, http.StatusNotFound, codeNotFound, fmt.Errorf("service %s is not running in region %s", r.PathValue("service"), reg.Name()))
			return
		}
		writeJSON(w, http.StatusOK, sc)
	})
	mux.HandleFunc("POST /v1/regions/{region}/services/{service}/scale", func(w http.ResponseWriter, r *http.Request) {
		reg := region(w, r)
		req, ok := decode(w, r)
		if reg == nil || !ok {
			return
		}
		if err := reg.ScaleService(r.Context(), r.PathValue("service"), req.InstanceType, req.Count); err != nil {
			if errors.Is(err, ErrNoCapacity) {
				writeErr(w, http.StatusConflict, codeNoCapacity, err)
				return
			}
			writeErr(w, http.StatusBadRequest, codeInvalid, err)
			return
		}
		d.log.Info("service scaled", "region", reg.Name(), "service", r.PathValue("service"), "type", req.InstanceType, "count", req.Count, "key", req.Key)
		sc, _ := reg.Scale(r.PathValue("service"))
		writeJSON(w, http.StatusOK, sc)
	})
	mux.HandleFunc("POST /v1/regions/{region}/fence", func(w http.ResponseWriter, r *http.Request) {
		reg := region(w, r)
		req, ok := decode(w, r)
		if reg == nil || !ok {
			return
		}
		reg.Fence(req.On)
		d.log.Info("region fence", "region", reg.Name(), "on", req.On)
		writeJSON(w, http.StatusOK, map[string]bool{"fenced": req.On})
	})
	mux.HandleFunc("POST /v1/regions/{region}/capacity", func(w http.ResponseWriter, r *http.Request) {
		reg := region(w, r)
		req, ok := decode(w, r)
		if reg == nil || !ok {
			return
		}
		if req.InstanceType == "" {
			writeErr(w, http.StatusBadRequest, codeInvalid, errors.New("instanceType is required"))
			return
		}
		reg.SetCapacity(req.InstanceType, req.Available)
		writeJSON(w, http.StatusOK, req)
	})
	mux.HandleFunc("GET /v1/regions/{region}/reachable", func(w http.ResponseWriter, r *http.Request) {
		reg := region(w, r)
		if reg == nil {
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		// One attempt: a reachability probe must answer fast, not retry.
		noRetry := func(o *s3.Options) { o.RetryMaxAttempts = 1 }
		if _, err := reg.Client().ListBuckets(ctx, &s3.ListBucketsInput{}, noRetry); err != nil {
			writeErr(w, http.StatusServiceUnavailable, codeUnavail, fmt.Errorf("region %s: object store %s: %w", reg.Name(), reg.StoreEndpoint(), err))
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"region": reg.Name(), "store": reg.StoreEndpoint()})
	})
	mux.HandleFunc("GET /v1/routing", func(w http.ResponseWriter, r *http.Request) {
		if h.Routing == nil {
			writeErr(w, http.StatusNotImplemented, codeNotRunning, errors.New("routing is not running"))
			return
		}
		writeJSON(w, http.StatusOK, h.Routing.Routing())
	})
	mux.HandleFunc("POST /v1/routing/{record}", func(w http.ResponseWriter, r *http.Request) {
		req, ok := decode(w, r)
		if !ok {
			return
		}
		if h.Routing == nil {
			writeErr(w, http.StatusNotImplemented, codeNotRunning, errors.New("routing is not running"))
			return
		}
		if err := h.Routing.SetActive(r.Context(), r.PathValue("record"), req.Active); err != nil {
			writeErr(w, http.StatusBadRequest, codeInvalid, err)
			return
		}
		d.log.Info("record pinned", "record", r.PathValue("record"), "active", req.Active)
		writeJSON(w, http.StatusOK, h.Routing.Routing())
	})
	mux.HandleFunc("GET /v1/replication", func(w http.ResponseWriter, r *http.Request) {
		if h.Replication == nil {
			writeErr(w, http.StatusNotImplemented, codeNotRunning, errors.New("replication is not running"))
			return
		}
		writeJSON(w, http.StatusOK, h.Replication.Replication())
	})
	mux.HandleFunc("POST /v1/replication/sync", func(w http.ResponseWriter, r *http.Request) {
		req, ok := decode(w, r)
		if !ok {
			return
		}
		if h.Replication == nil {
			writeErr(w, http.StatusNotImplemented, codeNotRunning, errors.New("replication is not running"))
			return
		}
		res, err := h.Replication.Sync(r.Context(), req.From, req.To)
		if err != nil {
			writeErr(w, http.StatusServiceUnavailable, codeUnavail, err)
			return
		}
		writeJSON(w, http.StatusOK, res)
	})
	mux.HandleFunc("POST /v1/replication/direction", func(w http.ResponseWriter, r *http.Request) {
		req, ok := decode(w, r)
		if !ok {
			return
		}
		if h.Replication == nil {
			writeErr(w, http.StatusNotImplemented, codeNotRunning, errors.New("replication is not running"))
			return
		}
		if err := h.Replication.SetDirection(r.Context(), req.From, req.To); err != nil {
			writeErr(w, http.StatusBadRequest, codeInvalid, err)
			return
		}
		writeJSON(w, http.StatusOK, h.Replication.Replication())
	})
	mux.HandleFunc("GET /v1/faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, d.Faults())
	})
	mux.HandleFunc("POST /v1/faults", func(w http.ResponseWriter, r *http.Request) {
		var spec FaultSpec
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&spec); err != nil {
			writeErr(w, http.StatusBadRequest, codeInvalid, fmt.Errorf("decode fault: %w", err))
			return
		}
		f, err := d.InjectFault(r.Context(), spec)
		if err != nil {
			writeErr(w, http.StatusBadRequest, codeInvalid, err)
			return
		}
		writeJSON(w, http.StatusCreated, f)
	})
	mux.HandleFunc("DELETE /v1/faults/{id}", func(w http.ResponseWriter, r *http.Request) {
		// The rollback must finish even if the caller goes away.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), time.Minute)
		defer cancel()
		if err := d.RollbackFault(ctx, r.PathValue("id")); err != nil {
			if errors.Is(err, ErrUnknownFault) {
				writeErr(w, http.StatusNotFound, codeNotFound, err)
				return
			}
			writeErr(w, http.StatusInternalServerError, codeInternal, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"rolledBack": r.PathValue("id")})
	})
	return mux
}
