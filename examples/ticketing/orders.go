package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Limits of an order.
const (
	maxOrderBody = 64 << 10 // bytes of a POST /orders body
	maxSeq       = 999_999_999_999
	maxItemLen   = 256
	maxQty       = 100
	ordersPrefix = "orders/"
)

var (
	clientPattern  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	orderIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}-[0-9]{12}$`)
	seqPattern     = regexp.MustCompile(`^[0-9]{12}$`)
)

// orderRequest is the body of POST /orders.
type orderRequest struct {
	Client string `json:"client"`
	Seq    *int64 `json:"seq"`
	Item   string `json:"item"`
	Qty    *int   `json:"qty"`
}

// order is an accepted order as stored in orders/<id>.json.
type order struct {
	ID         string    `json:"id"`
	Client     string    `json:"client"`
	Seq        int64     `json:"seq"`
	Item       string    `json:"item"`
	Qty        int       `json:"qty"`
	Region     string    `json:"region"`
	Instance   string    `json:"instance,omitempty"`
	AcceptedAt time.Time `json:"acceptedAt"`
}

// orderReceipt is the answer to an acknowledged POST /orders.
type orderReceipt struct {
	ID         string    `json:"id"`
	Region     string    `json:"region"`
	AcceptedAt time.Time `json:"acceptedAt"`
}

// orderList is the answer to GET /orders?client=X.
type orderList struct {
	Client string   `json:"client"`
	Count  int      `json:"count"`
	IDs    []string `json:"ids"`
	Seqs   []int64  `json:"seqs"`
}

// orderID is the deterministic ID of a client's write: a retry of the same
// sequence number lands on the same key, and IDs sort by sequence.
func orderID(client string, seq int64) string {
	return fmt.Sprintf("%s-%012d", client, seq)
}

func orderKey(id string) string { return ordersPrefix + id + ".json" }

// validate checks the fields of an order request.
func (req orderRequest) validate() error {
	switch {
	case req.Client == "":
		return errors.New("client is required")
	case !clientPattern.MatchString(req.Client):
		return errors.New("client must match [A-Za-z0-9_-]{1,64}")
	case req.Seq == nil:
		return errors.New("seq is required")
	case *req.Seq < 0:
		return errors.New("seq must be >= 0")
	case *req.Seq > maxSeq:
		return fmt.Errorf("seq must be <= %d", int64(maxSeq))
	case len(req.Item) > maxItemLen:
		return fmt.Errorf("item must be at most %d bytes", maxItemLen)
	case req.Qty != nil && (*req.Qty < 1 || *req.Qty > maxQty):
		return fmt.Errorf("qty must be between 1 and %d", maxQty)
	}
	return nil
}

// decodeOrder reads one strict JSON order from the request body.
func decodeOrder(w http.ResponseWriter, r *http.Request) (orderRequest, int, error) {
	var req orderRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxOrderBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(&req)
	if err == nil {
		// Exactly one JSON value: anything after it is an error.
		var next json.RawMessage
		if extra := dec.Decode(&next); extra != io.EOF {
			err = errors.New("body must hold a single JSON object")
			if extra != nil {
				err = extra
			}
		}
	}
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return req, http.StatusRequestEntityTooLarge, fmt.Errorf("body exceeds %d bytes", tooBig.Limit)
	case errors.Is(err, io.EOF):
		return req, http.StatusBadRequest, errors.New("body is empty")
	case err != nil:
		return req, http.StatusBadRequest, fmt.Errorf("invalid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if err := req.validate(); err != nil {
		return req, http.StatusBadRequest, err
	}
	return req, 0, nil
}

// handleCreateOrder stores an order and answers 201 only after the store
// acknowledged it; any store failure is 503 so the client does not count it.
func (s *server) handleCreateOrder(w http.ResponseWriter, r *http.Request) {
	req, status, err := decodeOrder(w, r)
	if err != nil {
		writeError(w, status, err.Error())
		return
	}
	o := order{
		ID:         orderID(req.Client, *req.Seq),
		Client:     req.Client,
		Seq:        *req.Seq,
		Item:       req.Item,
		Qty:        1,
		Region:     s.opts.Region,
		Instance:   s.opts.Instance,
		AcceptedAt: s.opts.Now().UTC(),
	}
	if req.Qty != nil {
		o.Qty = *req.Qty
	}
	body, err := json.Marshal(o)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "encode order")
		return
	}
	meta := map[string]string{
		"client":      o.Client,
		"seq":         strconv.FormatInt(o.Seq, 10),
		"region":      o.Region,
		"accepted-at": o.AcceptedAt.Format(time.RFC3339Nano),
	}
	if o.Instance != "" {
		meta["instance"] = o.Instance
	}

	ctx, cancel := context.WithTimeout(r.Context(), s.opts.StoreTimeout)
	defer cancel()
	if err := s.opts.Store.Put(ctx, orderKey(o.ID), append(body, '\n'), "application/json", meta); err != nil {
		s.log.WarnContext(r.Context(), "order not stored", "id", o.ID, "err", err)
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "order not stored: object store unavailable")
		return
	}
	w.Header().Set("Location", "/orders/"+o.ID)
	writeJSON(w, http.StatusCreated, orderReceipt{ID: o.ID, Region: o.Region, AcceptedAt: o.AcceptedAt})
}

// handleGetOrder answers with the stored order.
func (s *server) handleGetOrder(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !orderIDPattern.MatchString(id) {
		writeError(w, http.StatusBadRequest, "id must be <client>-<12-digit seq>")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.StoreTimeout)
	defer cancel()
	body, _, _, err := s.opts.Store.Get(ctx, orderKey(id))
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, "order "+id+" not found")
		return
	case err != nil:
		s.log.WarnContext(r.Context(), "order unavailable", "id", id, "err", err)
		writeError(w, http.StatusBadGateway, "object store unavailable")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// handleListOrders answers with the IDs of every stored order of one client,
// in sequence order.
func (s *server) handleListOrders(w http.ResponseWriter, r *http.Request) {
	client := r.URL.Query().Get("client")
	if !clientPattern.MatchString(client) {
		writeError(w, http.StatusBadRequest, "query parameter client must match [A-Za-z0-9_-]{1,64}")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.StoreTimeout)
	defer cancel()
	prefix := ordersPrefix + client + "-"
	keys, err := s.opts.Store.List(ctx, prefix)
	if err != nil {
		s.log.WarnContext(r.Context(), "orders unavailable", "client", client, "err", err)
		writeError(w, http.StatusBadGateway, "object store unavailable")
		return
	}
	list := orderList{Client: client, IDs: []string{}, Seqs: []int64{}}
	for _, key := range keys {
		// The prefix of client "a" also matches client "a-b": keep only keys
		// whose remainder is exactly a sequence number.
		rest, ok := strings.CutPrefix(key, prefix)
		if !ok {
			continue
		}
		digits, ok := strings.CutSuffix(rest, ".json")
		if !ok || !seqPattern.MatchString(digits) {
			continue
		}
		seq, err := strconv.ParseInt(digits, 10, 64)
		if err != nil {
			continue
		}
		list.IDs = append(list.IDs, client+"-"+digits)
		list.Seqs = append(list.Seqs, seq)
	}
	sort.Sort(byID(list))
	list.Count = len(list.IDs)
	writeJSON(w, http.StatusOK, list)
}

// byID sorts an orderList's parallel slices by ID (and so by sequence).
type byID orderList

func (l byID) Len() int           { return len(l.IDs) }
func (l byID) Less(i, j int) bool { return l.IDs[i] < l.IDs[j] }
func (l byID) Swap(i, j int) {
	l.IDs[i], l.IDs[j] = l.IDs[j], l.IDs[i]
	l.Seqs[i], l.Seqs[j] = l.Seqs[j], l.Seqs[i]
}
