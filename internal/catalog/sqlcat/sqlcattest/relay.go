package sqlcattest

import (
	"net"
	"net/url"
	"sync"
	"testing"
)

// Relay is a TCP relay to a database server that a test can cut (the
// server is gone: open connections drop, new ones are refused), freeze
// (the server or the network goes silent: nothing passes, nothing is
// closed) and restore, on the same address.
type Relay struct {
	t      testing.TB
	target string
	addr   string

	mu     sync.Mutex
	l      net.Listener
	conns  []net.Conn
	frozen bool
	thaw   chan struct{} // closed when a freeze ends
}

// NewRelay relays to the server of conn (a database URL) and returns the
// relay and conn pointed at it; it is cut when the test ends.
func NewRelay(t testing.TB, conn string) (*Relay, string) {
	t.Helper()
	u, err := url.Parse(conn)
	if err != nil {
		t.Fatalf("relay: %v", err)
	}
	r := &Relay{t: t, target: u.Host, addr: "127.0.0.1:0", thaw: make(chan struct{})}
	r.Restore()
	t.Cleanup(r.Cut)
	u.Host = r.addr
	return r, u.String()
}

// Restore listens again and lets everything pass.
func (r *Relay) Restore() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.frozen {
		r.frozen = false
		close(r.thaw)
	}
	if r.l != nil {
		return
	}
	l, err := net.Listen("tcp", r.addr)
	if err != nil {
		r.t.Fatalf("relay listen on %s: %v", r.addr, err)
	}
	r.l, r.addr = l, l.Addr().String()
	go r.accept(l)
}

func (r *Relay) accept(l net.Listener) {
	for {
		in, err := l.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", r.target)
		if err != nil {
			in.Close()
			continue
		}
		r.mu.Lock()
		r.conns = append(r.conns, in, out)
		r.mu.Unlock()
		go r.pipe(out, in)
		go r.pipe(in, out)
	}
}

// pipe copies from src to dst, holding data back while frozen.
func (r *Relay) pipe(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			r.mu.Lock()
			frozen, thaw := r.frozen, r.thaw
			r.mu.Unlock()
			if frozen {
				<-thaw
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Freeze holds back everything sent either way until Restore or Cut.
func (r *Relay) Freeze() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.frozen {
		r.frozen = true
		r.thaw = make(chan struct{})
	}
}

// Cut closes the listener and every relayed connection.
func (r *Relay) Cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.l != nil {
		r.l.Close()
		r.l = nil
	}
	for _, c := range r.conns {
		c.Close()
	}
	r.conns = nil
	if r.frozen {
		r.frozen = false
		close(r.thaw)
	}
}
