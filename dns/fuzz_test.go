package dns

import (
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// FuzzServeDNS feeds arbitrary DNS messages to the handler: it must not
// panic, must answer quickly and must never answer a response.
func FuzzServeDNS(f *testing.F) {
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{"www.shop.test.", mdns.TypeA}, {"docs.shop.test.", mdns.TypeA}, {"big.shop.test.", mdns.TypeTXT},
		{"x.wild.shop.test.", mdns.TypeANY}, {"loop1.shop.test.", mdns.TypeA}, {"example.com.", mdns.TypeNS}} {
		m := new(mdns.Msg)
		m.SetQuestion(q.name, q.qtype)
		m.SetEdns0(1232, true)
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, true)
	}
	src := newFakeSource()
	s, err := NewServer(testConfig(), src, Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte, udp bool) {
		m := new(mdns.Msg)
		if m.Unpack(b) != nil {
			t.Skip()
		}
		w := &fakeWriter{udp: udp}
		start := time.Now()
		s.ServeDNS(w, m)
		if d := time.Since(start); d > time.Second {
			t.Fatalf("ServeDNS took %s", d)
		}
		if m.Response && w.msg != nil {
			t.Fatal("answered a response")
		}
		if w.msg == nil {
			return
		}
		out, err := w.msg.Pack()
		if err != nil {
			return // e.g. a question name too long to repack; the writer reports it
		}
		if udp && len(out) > maxUDPSize {
			t.Fatalf("UDP answer of %d bytes", len(out))
		}
	})
}
