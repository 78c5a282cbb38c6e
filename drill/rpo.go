package drill

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// maxMissingIDs is how many missing IDs an RPOResult lists.
const maxMissingIDs = 20

// PresenceChecker reports which of ids the recovery region holds. It must
// return when ctx is canceled; an error means presence is unknown, not that
// the writes are missing.
type PresenceChecker func(ctx context.Context, ids []string) (present map[string]bool, err error)

// listClient lists orders once per drill: no keep-alive, so that no
// connection outlives the call.
var listClient = &http.Client{
	Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// orderList is the example app's answer to GET /orders?client=X.
type orderList struct {
	Client string   `json:"client"`
	Count  int      `json:"count"`
	IDs    []string `json:"ids"`
}

// ListOrders returns the IDs of every order of client stored behind the load
// balancer at baseURL ("http://127.0.2.2:8080"), from GET /orders?client=X.
func ListOrders(ctx context.Context, baseURL, client string) (map[string]bool, error) {
	u := strings.TrimSuffix(baseURL, "/") + "/orders?client=" + url.QueryEscape(client)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("drill: list orders %s: %w", u, err)
	}
	resp, err := listClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("drill: list orders %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("drill: list orders %s: status %d: %s", u, resp.StatusCode, strings.TrimSpace(string(msg)))
	}
	var list orderList
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return nil, fmt.Errorf("drill: list orders %s: decode: %w", u, err)
	}
	if list.Client != client || list.Count != len(list.IDs) {
		return nil, fmt.Errorf("drill: list orders %s: answer for client %q with count %d and %d ids",
			u, list.Client, list.Count, len(list.IDs))
	}
	present := make(map[string]bool, len(list.IDs))
	for _, id := range list.IDs {
		present[id] = true
	}
	return present, nil
}

// ListPresence returns a PresenceChecker that lists the orders of client at
// baseURL once per call.
func ListPresence(baseURL, client string) PresenceChecker {
	return func(ctx context.Context, ids []string) (map[string]bool, error) {
		all, err := ListOrders(ctx, baseURL, client)
		if err != nil {
			return nil, err
		}
		present := make(map[string]bool, len(ids))
		for _, id := range ids {
			present[id] = all[id]
		}
		return present, nil
	}
}

// RPOResult is the data loss of a failover, measured from acknowledged writes.
type RPOResult struct {
	Acked   int `json:"acked"`   // acknowledged writes, before and after the fault
	Missing int `json:"missing"` // acknowledged writes not present
	// MissingAfterFault counts missing writes acknowledged after the fault,
	// in the recovery region: always a bug, never replication lag.
	MissingAfterFault int      `json:"missingAfterFault"`
	MissingIDs        []string `json:"missingIds,omitempty"` // the first 20, in ack order
	// LastPresent is the newest write acknowledged at or before the fault
	// that is present; FirstMissing the oldest such write that is missing.
	LastPresent   string    `json:"lastPresent,omitempty"`
	FirstMissing  string    `json:"firstMissing,omitempty"`
	LastPresentAt time.Time `json:"lastPresentAt,omitzero"`
	// Span is the measured RPO: fault − LastPresentAt when a write
	// acknowledged before the fault is missing, 0 otherwise. With no write
	// present at all it is fault − the oldest acknowledged write, a lower
	// bound. Older holes (a missing write acknowledged before LastPresent)
	// show in FirstMissing and do not widen Span.
	Span time.Duration `json:"span"`
}

// MeasureRPO compares the acknowledged writes with the set present in the
// recovery region after a fault at time fault. A write acknowledged exactly
// at the fault counts as before it.
func MeasureRPO(acked []Write, present map[string]bool, fault time.Time) RPOResult {
	ws := slices.Clone(acked)
	slices.SortStableFunc(ws, func(a, b Write) int {
		return cmp.Or(a.AckedAt.Compare(b.AckedAt), cmp.Compare(a.Seq, b.Seq))
	})
	res := RPOResult{Acked: len(ws)}
	var oldestBefore time.Time
	missingBefore := false
	for _, w := range ws {
		before := !w.AckedAt.After(fault)
		if before && oldestBefore.IsZero() {
			oldestBefore = w.AckedAt
		}
		if present[w.ID] {
			if before {
				res.LastPresent, res.LastPresentAt = w.ID, w.AckedAt
			}
			continue
		}
		res.Missing++
		if len(res.MissingIDs) < maxMissingIDs {
			res.MissingIDs = append(res.MissingIDs, w.ID)
		}
		if !before {
			res.MissingAfterFault++
			continue
		}
		if !missingBefore {
			missingBefore = true
			res.FirstMissing = w.ID
		}
	}
	switch {
	case !missingBefore:
	case res.LastPresent != "":
		res.Span = fault.Sub(res.LastPresentAt)
	default:
		res.Span = fault.Sub(oldestBefore)
	}
	return res
}
