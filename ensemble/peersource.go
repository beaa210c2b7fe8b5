package ensemble

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// peerSource is the address this member dials the others from: the host of its own
// server line, which is what their peerGate expects a connection from it to come
// from. Left to itself the kernel picks the source by route, and that can be another
// of the host's addresses (on loopback, 127.0.0.1 for a member at 127.0.0.2). When
// the host is no address of this machine (a NAT or proxy in between) it dials
// unbound.
type peerSource struct {
	ip      net.IP
	unbound atomic.Bool // binding to ip failed: the host is not local
}

// newPeerSource resolves the host of this member's peer address; nil (dial
// unbound) for a wildcard host or one that does not resolve.
func newPeerSource(peerAddr string) *peerSource {
	host, _, err := net.SplitHostPort(peerAddr)
	if err != nil || host == "" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil {
		ctx, cancel := context.WithTimeout(context.Background(), gateLookup)
		defer cancel()
		addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
		if err != nil || len(addrs) == 0 {
			return nil
		}
		ip = addrs[0].IP
	}
	if ip.IsUnspecified() {
		return nil
	}
	return &peerSource{ip: ip}
}

func (p *peerSource) dial(addr string, timeout time.Duration) (net.Conn, error) {
	if p == nil || p.unbound.Load() {
		return net.DialTimeout("tcp", addr, timeout)
	}
	d := net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: p.ip}}
	c, err := d.Dial("tcp", addr)
	if errors.Is(err, syscall.EADDRNOTAVAIL) || err != nil && strings.Contains(err.Error(), "mismatched local address type") {
		p.unbound.Store(true)
		return net.DialTimeout("tcp", addr, timeout)
	}
	return c, err
}
