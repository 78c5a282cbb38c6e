package dns

import (
	"errors"
	"net"
	"time"

	mdns "github.com/miekg/dns"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// batchSize is the most datagrams read, or written, by one system call.
const batchSize = 64

// headerSize is the size of a DNS message header.
const headerSize = 12

// oobSize fits the destination-address control message of either family.
var oobSize = max(len(ipv4.NewControlMessage(ipv4.FlagDst|ipv4.FlagInterface)),
	len(ipv6.NewControlMessage(ipv6.FlagDst|ipv6.FlagInterface)))

// udpLoop serves one UDP socket: it reads queries in batches (recvmmsg on
// Linux), answers them inline and sends the replies of a batch together
// (sendmmsg). Buffers belong to the loop and are reused across batches.
type udpLoop struct {
	s       *Server
	conn    *ipv4.PacketConn // its batch calls work for sockets of both families
	pktinfo bool             // bound to a wildcard address: reply from the query's destination
	in      []ipv4.Message
	out     []ipv4.Message
	outBuf  [][]byte // packed replies, one per slot

	// cache holds packed replies by query (all but its ID): the same
	// question with the same flags and EDNS gets the same bytes back while
	// the configuration and the health generation are unchanged (see
	// Server.healthGeneration); entries also expire after cacheTTL.
	cache map[string]cachedReply
	now   int64 // unix nanoseconds at the start of the batch
}

// cachedReply is a packed reply and what it was computed under.
type cachedReply struct {
	reply   []byte
	table   *table
	gen     uint64
	expires int64
}

// Bounds of the reply cache of a UDP loop.
const (
	cacheEntries = 4096
	cacheTTL     = int64(250 * time.Millisecond)
)

// newUDPLoop prepares the loop of socket c.
func newUDPLoop(s *Server, c net.PacketConn) *udpLoop {
	l := &udpLoop{
		s:      s,
		conn:   ipv4.NewPacketConn(c),
		in:     make([]ipv4.Message, batchSize),
		out:    make([]ipv4.Message, 0, batchSize),
		outBuf: make([][]byte, batchSize),
		cache:  make(map[string]cachedReply),
	}
	if a, ok := c.LocalAddr().(*net.UDPAddr); ok && a.IP.IsUnspecified() {
		// As miekg/dns does: ask for the destination address of each query
		// so that the reply leaves from it; either family may refuse.
		err6 := ipv6.NewPacketConn(c).SetControlMessage(ipv6.FlagDst|ipv6.FlagInterface, true)
		err4 := l.conn.SetControlMessage(ipv4.FlagDst|ipv4.FlagInterface, true)
		l.pktinfo = err6 == nil || err4 == nil
	}
	for i := range l.in {
		l.in[i].Buffers = [][]byte{make([]byte, mdns.MaxMsgSize)}
		if l.pktinfo {
			l.in[i].OOB = make([]byte, oobSize)
		}
		l.outBuf[i] = make([]byte, maxUDPSize)
	}
	return l
}

// serve answers queries until the socket is closed, which ends it without
// error.
func (l *udpLoop) serve() error {
	defer l.conn.Close()
	for {
		for i := range l.in {
			l.in[i].OOB = l.in[i].OOB[:cap(l.in[i].OOB)]
		}
		n, err := l.conn.ReadBatch(l.in, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		l.out = l.out[:0]
		l.now = time.Now().UnixNano()
		for i := range n {
			l.handle(i)
		}
		l.flush()
	}
}

// handle answers the query in slot i, queueing the reply if there is one.
// It treats malformed queries as miekg/dns's server does: a datagram
// shorter than a header or with QR set is dropped, one that does not
// unpack is answered FORMERR.
func (l *udpLoop) handle(i int) {
	msg := &l.in[i]
	b := msg.Buffers[0][:msg.N]
	if len(b) < headerSize || b[2]&0x80 != 0 { // too short, or a response
		return
	}
	var p []byte
	tbl := l.s.table.Load()
	gen, cacheOK := l.s.healthGeneration()
	if c, ok := l.cache[string(b[2:])]; cacheOK && ok && c.table == tbl && c.gen == gen && l.now < c.expires {
		p = append(l.outBuf[i][:0], c.reply...)
		p[0], p[1] = b[0], b[1] // the query's ID
	} else {
		r := new(mdns.Msg)
		var m *mdns.Msg
		cacheable := false
		if err := r.Unpack(b); err != nil {
			r.SetRcodeFormatError(r)
			r.Zero = false
			r.Ns, r.Answer, r.Extra = nil, nil, nil
			m = r
		} else if m, cacheable = l.s.reply(r, true); m == nil {
			return
		}
		var err error
		if p, err = m.PackBuffer(l.outBuf[i]); err != nil {
			return // unpackable answer: the client retries, as before
		}
		if cacheable && cacheOK {
			if len(l.cache) >= cacheEntries {
				clear(l.cache)
			}
			l.cache[string(b[2:])] = cachedReply{reply: append([]byte(nil), p...), table: tbl, gen: gen, expires: l.now + cacheTTL}
		}
	}
	var oob []byte
	if l.pktinfo {
		oob = correctSource(msg.OOB[:msg.NN])
	}
	l.out = append(l.out, ipv4.Message{Buffers: [][]byte{p}, Addr: msg.Addr, OOB: oob})
}

// flush sends the queued replies, skipping one that the kernel refuses
// (such as to an unreachable address) so that the rest still go out.
func (l *udpLoop) flush() {
	for off := 0; off < len(l.out); {
		n, err := l.conn.WriteBatch(l.out[off:], 0)
		switch {
		case err != nil:
			if errors.Is(err, net.ErrClosed) {
				return
			}
			off++ // the first unsent reply failed; the client retries
		case n == 0:
			return
		default:
			off += n
		}
	}
}

// correctSource returns the control message that makes a reply leave from
// the destination address of the query described by oob, or nil.
func correctSource(oob []byte) []byte {
	var dst net.IP
	cm6 := new(ipv6.ControlMessage)
	if cm6.Parse(oob) == nil && cm6.Dst != nil {
		dst = cm6.Dst
	} else if cm4 := new(ipv4.ControlMessage); cm4.Parse(oob) == nil && cm4.Dst != nil {
		dst = cm4.Dst
	}
	switch {
	case dst == nil:
		return nil
	case dst.To4() == nil:
		return (&ipv6.ControlMessage{Src: dst}).Marshal()
	default:
		return (&ipv4.ControlMessage{Src: dst}).Marshal()
	}
}
