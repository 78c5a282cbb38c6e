package drill

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestMeasureRPO(t *testing.T) {
	fault := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	// w builds write seq acknowledged at fault+offset.
	w := func(seq int64, offset time.Duration) Write {
		return Write{Seq: seq, ID: fmt.Sprintf("c-%012d", seq), AckedAt: fault.Add(offset)}
	}
	sec := time.Second
	presentOf := func(seqs ...int64) map[string]bool {
		m := map[string]bool{}
		for _, s := range seqs {
			m[fmt.Sprintf("c-%012d", s)] = true
		}
		return m
	}
	var many []Write
	for i := range int64(30) {
		many = append(many, w(i+1, time.Duration(i-30)*sec))
	}
	tests := []struct {
		name    string
		acked   []Write
		present map[string]bool
		want    RPOResult
	}{
		{name: "no writes", want: RPOResult{}},
		{
			name:    "nothing lost",
			acked:   []Write{w(1, -3*sec), w(2, -2*sec), w(3, 5*sec)},
			present: presentOf(1, 2, 3),
			want:    RPOResult{Acked: 3, LastPresent: "c-000000000002", LastPresentAt: fault.Add(-2 * sec)},
		},
		{
			name:    "tail lost",
			acked:   []Write{w(1, -4*sec), w(2, -3*sec), w(3, -2*sec), w(4, -1*sec), w(5, 2*sec)},
			present: presentOf(1, 2, 5),
			want: RPOResult{Acked: 5, Missing: 2, MissingIDs: []string{"c-000000000003", "c-000000000004"},
				LastPresent: "c-000000000002", FirstMissing: "c-000000000003",
				LastPresentAt: fault.Add(-3 * sec), Span: 3 * sec},
		},
		{
			name:    "order of input does not matter",
			acked:   []Write{w(5, 2*sec), w(3, -2*sec), w(1, -4*sec), w(4, -1*sec), w(2, -3*sec)},
			present: presentOf(1, 2, 5),
			want: RPOResult{Acked: 5, Missing: 2, MissingIDs: []string{"c-000000000003", "c-000000000004"},
				LastPresent: "c-000000000002", FirstMissing: "c-000000000003",
				LastPresentAt: fault.Add(-3 * sec), Span: 3 * sec},
		},
		{
			name:    "write acked at the fault counts before it",
			acked:   []Write{w(1, -sec), w(2, 0)},
			present: presentOf(1),
			want: RPOResult{Acked: 2, Missing: 1, MissingIDs: []string{"c-000000000002"},
				LastPresent: "c-000000000001", FirstMissing: "c-000000000002",
				LastPresentAt: fault.Add(-sec), Span: sec},
		},
		{
			name:    "everything lost",
			acked:   []Write{w(1, -10*sec), w(2, -5*sec)},
			present: nil,
			want: RPOResult{Acked: 2, Missing: 2, MissingIDs: []string{"c-000000000001", "c-000000000002"},
				FirstMissing: "c-000000000001", Span: 10 * sec},
		},
		{
			name:    "hole before the newest present write",
			acked:   []Write{w(1, -5*sec), w(2, -4*sec), w(3, -500*time.Millisecond)},
			present: presentOf(1, 3),
			want: RPOResult{Acked: 3, Missing: 1, MissingIDs: []string{"c-000000000002"},
				LastPresent: "c-000000000003", FirstMissing: "c-000000000002",
				LastPresentAt: fault.Add(-500 * time.Millisecond), Span: 500 * time.Millisecond},
		},
		{
			name:    "missing after the fault is counted but is no RPO",
			acked:   []Write{w(1, -sec), w(2, sec), w(3, 2*sec)},
			present: presentOf(1, 3),
			want: RPOResult{Acked: 3, Missing: 1, MissingAfterFault: 1, MissingIDs: []string{"c-000000000002"},
				LastPresent: "c-000000000001", LastPresentAt: fault.Add(-sec)},
		},
		{
			name:    "missing IDs capped at 20",
			acked:   many,
			present: presentOf(1),
			want: RPOResult{Acked: 30, Missing: 29, MissingIDs: idsOf(many[1:21]),
				LastPresent: "c-000000000001", FirstMissing: "c-000000000002",
				LastPresentAt: fault.Add(-30 * sec), Span: 30 * sec},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := MeasureRPO(tc.acked, tc.present, fault)
			if !equalRPO(got, tc.want) {
				t.Errorf("MeasureRPO =\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

func idsOf(ws []Write) []string {
	ids := make([]string, len(ws))
	for i, w := range ws {
		ids[i] = w.ID
	}
	return ids
}

func equalRPO(a, b RPOResult) bool {
	return a.Acked == b.Acked && a.Missing == b.Missing && a.MissingAfterFault == b.MissingAfterFault &&
		slices.Equal(a.MissingIDs, b.MissingIDs) && a.LastPresent == b.LastPresent &&
		a.FirstMissing == b.FirstMissing && a.LastPresentAt.Equal(b.LastPresentAt) && a.Span == b.Span
}

func TestListOrders(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		want    []string
		wantErr string
	}{
		{name: "orders", status: 200,
			body: `{"client":"c","count":2,"ids":["c-000000000001","c-000000000003"],"seqs":[1,3]}`,
			want: []string{"c-000000000001", "c-000000000003"}},
		{name: "none", status: 200, body: `{"client":"c","count":0,"ids":[],"seqs":[]}`, want: []string{}},
		{name: "store down", status: 502, body: `{"error":"object store unavailable"}`, wantErr: "status 502"},
		{name: "other client", status: 200, body: `{"client":"d","count":0,"ids":[]}`, wantErr: `client "d"`},
		{name: "count mismatch", status: 200, body: `{"client":"c","count":3,"ids":["c-000000000001"]}`, wantErr: "count 3"},
		{name: "not json", status: 200, body: `<html>`, wantErr: "decode"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var gotQuery string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodGet || r.URL.Path != "/orders" {
					http.NotFound(w, r)
					return
				}
				gotQuery = r.URL.RawQuery
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			got, err := ListOrders(ctx, srv.URL+"/", "c")
			if gotQuery != "client=c" {
				t.Errorf("query %q, want client=c", gotQuery)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Errorf("ListOrders = %v, want %v", got, tc.want)
			}
			for _, id := range tc.want {
				if !got[id] {
					t.Errorf("ListOrders = %v, missing %s", got, id)
				}
			}
		})
	}
}

func TestListPresence(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"client":"c","count":2,"ids":["c-000000000001","c-000000000009"]}`))
	}))
	defer srv.Close()
	check := ListPresence(srv.URL, "c")
	got, err := check(t.Context(), []string{"c-000000000001", "c-000000000002"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"c-000000000001": true, "c-000000000002": false}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("presence = %v, want %v", got, want)
	}

	srv.Close()
	if _, err := check(t.Context(), []string{"c-000000000001"}); err == nil {
		t.Error("no error from a stopped server")
	}
}
