package main

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestCreateOrder(t *testing.T) {
	store := newMemStore()
	h := newTestServer(t, store)
	rec := do(t, h, http.MethodPost, "/orders", `{"client":"drill-1","seq":42,"item":"Concert A","qty":2}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("status = %d, want 201 (body %q)", rec.Code, rec.Body)
	}
	if got := rec.Header().Get("Location"); got != "/orders/drill-1-000000000042" {
		t.Errorf("Location = %q", got)
	}
	var receipt map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &receipt); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"id": "drill-1-000000000042", "region": "seoul", "acceptedAt": "2026-11-22T03:04:05.123456789Z"}
	if !reflect.DeepEqual(receipt, want) {
		t.Errorf("receipt = %v, want %v", receipt, want)
	}

	obj, ok := store.object("orders/drill-1-000000000042.json")
	if !ok {
		t.Fatal("order object not stored")
	}
	if obj.contentType != "application/json" {
		t.Errorf("content type = %q", obj.contentType)
	}
	wantMeta := map[string]string{"client": "drill-1", "seq": "42", "region": "seoul",
		"accepted-at": "2026-11-22T03:04:05.123456789Z", "instance": "web-1"}
	if !reflect.DeepEqual(obj.meta, wantMeta) {
		t.Errorf("metadata = %v, want %v", obj.meta, wantMeta)
	}
	var stored order
	if err := json.Unmarshal(obj.body, &stored); err != nil {
		t.Fatal(err)
	}
	wantOrder := order{ID: "drill-1-000000000042", Client: "drill-1", Seq: 42, Item: "Concert A", Qty: 2,
		Region: "seoul", Instance: "web-1", AcceptedAt: testNow}
	if !reflect.DeepEqual(stored, wantOrder) {
		t.Errorf("stored order = %+v, want %+v", stored, wantOrder)
	}
}

func TestCreateOrderDefaultsQty(t *testing.T) {
	store := newMemStore()
	rec := do(t, newTestServer(t, store), http.MethodPost, "/orders", `{"client":"c","seq":0}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("status = %d (body %q)", rec.Code, rec.Body)
	}
	obj, _ := store.object("orders/c-000000000000.json")
	var stored order
	if err := json.Unmarshal(obj.body, &stored); err != nil || stored.Qty != 1 {
		t.Errorf("stored = %+v (%v), want qty 1", stored, err)
	}
}

// TestCreateOrderIdempotent retries the same write, as a drill client does
// after a timeout: the order lands on the same key and is not duplicated.
func TestCreateOrderIdempotent(t *testing.T) {
	store := newMemStore()
	h := newTestServer(t, store)
	body := `{"client":"drill-1","seq":7,"item":"x"}`
	var ids []string
	for range 3 {
		rec := do(t, h, http.MethodPost, "/orders", body)
		if rec.Code != http.StatusCreated {
			t.Fatalf("status = %d (body %q)", rec.Code, rec.Body)
		}
		var r orderReceipt
		if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	if ids[0] != ids[1] || ids[1] != ids[2] {
		t.Errorf("retried ids differ: %v", ids)
	}
	keys, _ := store.List(t.Context(), "orders/")
	if len(keys) != 1 {
		t.Errorf("stored keys = %v, want exactly one", keys)
	}
}

func TestCreateOrderRejects(t *testing.T) {
	tests := []struct {
		name, body string
		wantStatus int
		wantErr    string
	}{
		{"empty body", ``, 400, "body is empty"},
		{"not json", `client=a`, 400, "invalid JSON"},
		{"truncated", `{"client":"a"`, 400, "invalid JSON"},
		{"array", `[1]`, 400, "invalid JSON"},
		{"unknown field", `{"client":"a","seq":1,"price":10}`, 400, `unknown field "price"`},
		{"trailing object", `{"client":"a","seq":1}{"client":"b","seq":2}`, 400, "single JSON object"},
		{"trailing garbage", `{"client":"a","seq":1} x`, 400, "invalid JSON"},
		{"missing client", `{"seq":1}`, 400, "client is required"},
		{"client with slash", `{"client":"a/b","seq":1}`, 400, "client must match"},
		{"client with space", `{"client":"a b","seq":1}`, 400, "client must match"},
		{"client too long", `{"client":"` + strings.Repeat("a", 65) + `","seq":1}`, 400, "client must match"},
		{"missing seq", `{"client":"a"}`, 400, "seq is required"},
		{"negative seq", `{"client":"a","seq":-1}`, 400, "seq must be >= 0"},
		{"seq over 12 digits", `{"client":"a","seq":1000000000000}`, 400, "seq must be <="},
		{"fractional seq", `{"client":"a","seq":1.5}`, 400, "invalid JSON"},
		{"string seq", `{"client":"a","seq":"1"}`, 400, "invalid JSON"},
		{"zero qty", `{"client":"a","seq":1,"qty":0}`, 400, "qty must be between"},
		{"huge qty", `{"client":"a","seq":1,"qty":1000}`, 400, "qty must be between"},
		{"long item", `{"client":"a","seq":1,"item":"` + strings.Repeat("i", 257) + `"}`, 400, "item must be at most"},
		{"oversize body", `{"client":"a","seq":1,"item":"` + strings.Repeat("i", maxOrderBody) + `"}`, 413, "body exceeds 65536 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newMemStore()
			rec := do(t, newTestServer(t, store), http.MethodPost, "/orders", tt.body)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %q)", rec.Code, tt.wantStatus, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			var e struct{ Error string }
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || !strings.Contains(e.Error, tt.wantErr) {
				t.Errorf("error = %q (%v), want it to contain %q", e.Error, err, tt.wantErr)
			}
			if store.puts != 0 {
				t.Errorf("store got %d puts for a rejected order", store.puts)
			}
		})
	}
}

// TestCreateOrderStoreFailure: a write the store did not acknowledge must
// never be answered 201.
func TestCreateOrderStoreFailure(t *testing.T) {
	tests := []struct {
		name    string
		failPut func(string) error
		timeout time.Duration
	}{
		{name: "store error", failPut: func(string) error { return errStoreDown }},
		{name: "store slower than timeout", timeout: 20 * time.Millisecond, failPut: func(string) error {
			time.Sleep(50 * time.Millisecond) // the context expires meanwhile
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newMemStore()
			store.failPut = tt.failPut
			h := newTestServer(t, store, func(o *serverOptions) {
				if tt.timeout > 0 {
					o.StoreTimeout = tt.timeout
				}
			})
			rec := do(t, h, http.MethodPost, "/orders", `{"client":"c","seq":3}`)
			if rec.Code != http.StatusServiceUnavailable {
				t.Fatalf("status = %d, want 503 (body %q)", rec.Code, rec.Body)
			}
			if rec.Header().Get("Retry-After") == "" {
				t.Error("missing Retry-After")
			}
			if strings.Contains(rec.Body.String(), `"id"`) {
				t.Errorf("failure body looks like a receipt: %q", rec.Body)
			}
			if _, ok := store.object("orders/c-000000000003.json"); ok {
				t.Error("order stored although the put failed")
			}
		})
	}
}

func TestGetOrder(t *testing.T) {
	store := newMemStore()
	h := newTestServer(t, store)
	if rec := do(t, h, http.MethodPost, "/orders", `{"client":"c","seq":5,"item":"Show"}`); rec.Code != 201 {
		t.Fatalf("create: %d %q", rec.Code, rec.Body)
	}

	rec := do(t, h, http.MethodGet, "/orders/c-000000000005", "")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("get: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	var got order
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.ID != "c-000000000005" || got.Item != "Show" || got.Region != "seoul" || !got.AcceptedAt.Equal(testNow) {
		t.Errorf("order = %+v", got)
	}

	tests := []struct {
		name, id   string
		failGet    error
		wantStatus int
	}{
		{"absent", "c-000000000006", nil, 404},
		{"short seq", "c-5", nil, 400},
		{"bad client", "c.d-000000000005", nil, 400},
		{"store down", "c-000000000005", errStoreDown, 502},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store.failGet = nil
			if tt.failGet != nil {
				store.failGet = func(string) error { return tt.failGet }
			}
			rec := do(t, h, http.MethodGet, "/orders/"+tt.id, "")
			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d (body %q)", rec.Code, tt.wantStatus, rec.Body)
			}
		})
	}
}

func TestListOrders(t *testing.T) {
	store := newMemStore()
	h := newTestServer(t, store)
	for _, b := range []string{
		`{"client":"drill","seq":10}`,
		`{"client":"drill","seq":2}`,
		`{"client":"drill-1","seq":1}`, // shares the prefix "orders/drill-"
		`{"client":"other","seq":1}`,
	} {
		if rec := do(t, h, http.MethodPost, "/orders", b); rec.Code != 201 {
			t.Fatalf("create %s: %d", b, rec.Code)
		}
	}
	_ = store.Put(context.Background(), "orders/drill-junk.json", []byte("{}"), "application/json", nil)

	tests := []struct {
		name, query string
		failList    error
		wantStatus  int
		want        orderList
	}{
		{"client with two orders", "client=drill", nil, 200, orderList{Client: "drill", Count: 2,
			IDs: []string{"drill-000000000002", "drill-000000000010"}, Seqs: []int64{2, 10}}},
		{"client with dash", "client=drill-1", nil, 200, orderList{Client: "drill-1", Count: 1,
			IDs: []string{"drill-1-000000000001"}, Seqs: []int64{1}}},
		{"client without orders", "client=nobody", nil, 200, orderList{Client: "nobody", IDs: []string{}, Seqs: []int64{}}},
		{"missing client", "", nil, 400, orderList{}},
		{"bad client", "client=a/b", nil, 400, orderList{}},
		{"store down", "client=drill", errStoreDown, 502, orderList{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store.failList = nil
			if tt.failList != nil {
				store.failList = func(string) error { return tt.failList }
			}
			rec := do(t, h, http.MethodGet, "/orders?"+tt.query, "")
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %q)", rec.Code, tt.wantStatus, rec.Body)
			}
			if tt.wantStatus != 200 {
				return
			}
			var got orderList
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("list = %+v, want %+v", got, tt.want)
			}
		})
	}
}
