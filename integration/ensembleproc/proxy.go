package ensembleproc

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Network is a userspace TCP proxy in front of every member's peer port: the server
// lines name the proxy, the member listens behind it. It tells which member opened a
// connection by the process that owns its socket (/proc), so it can cut any link
// between two members, in either direction, without root.
type Network struct {
	e   *Ensemble
	lns []net.Listener
	wg  sync.WaitGroup

	mu      sync.Mutex
	pids    []int           // member index → pid, 0 while down
	blocked map[[2]int]bool // {from, to} member indexes
	links   map[*link]struct{}
	closed  bool
	cuts    int // connections refused or cut
	unknown int // connections whose opener could not be told
}

type link struct {
	from, to   int // from is -1 when the opener could not be told
	down, back net.Conn
}

func startNetwork(t testing.TB, e *Ensemble) *Network {
	t.Helper()
	n := &Network{e: e, pids: make([]int, len(e.Members)), blocked: map[[2]int]bool{}, links: map[*link]struct{}{}}
	for i, m := range e.Members {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", m.PeerPort))
		if err != nil {
			n.Close()
			t.Fatalf("peer proxy for member %d: %v", m.ID, err)
		}
		n.lns = append(n.lns, ln)
		n.wg.Add(1)
		go n.accept(i, ln)
	}
	t.Cleanup(n.Close)
	return n
}

// Close stops the proxies and cuts every link.
func (n *Network) Close() {
	n.mu.Lock()
	n.closed = true
	for _, ln := range n.lns {
		ln.Close()
	}
	for l := range n.links {
		l.down.Close()
		l.back.Close()
	}
	n.mu.Unlock()
	n.wg.Wait()
}

func (n *Network) setPid(i, pid int) {
	n.mu.Lock()
	n.pids[i] = pid
	n.mu.Unlock()
}

// Partition cuts every link between members of different groups (member indexes);
// a member in no group is cut from all. Connections across the cut are closed now and
// refused from then on, until Heal or the next Partition.
func (n *Network) Partition(groups ...[]int) {
	side := map[int]int{}
	for g, ms := range groups {
		for _, i := range ms {
			side[i] = g + 1
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.blocked = map[[2]int]bool{}
	for a := range n.pids {
		for b := range n.pids {
			if a != b && (side[a] == 0 || side[a] != side[b]) {
				n.blocked[[2]int{a, b}] = true
			}
		}
	}
	n.cutLocked()
}

// Isolate cuts member i from all others.
func (n *Network) Isolate(i int) {
	var rest []int
	for j := range n.pids {
		if j != i {
			rest = append(rest, j)
		}
	}
	n.Partition(rest)
}

// Heal lets every member reach every other again.
func (n *Network) Heal() {
	n.mu.Lock()
	n.blocked = map[[2]int]bool{}
	n.mu.Unlock()
}

// Cuts is how many connections the proxies refused or cut.
func (n *Network) Cuts() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cuts
}

// Unidentified is how many connections came from no member's process the proxies
// could find.
func (n *Network) Unidentified() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.unknown
}

func (n *Network) cutLocked() {
	for l := range n.links {
		if n.blockedLocked(l.from, l.to) {
			l.down.Close()
			l.back.Close()
			delete(n.links, l)
			n.cuts++
		}
	}
}

// blockedLocked: a connection from an unknown opener is cut while any partition holds.
func (n *Network) blockedLocked(from, to int) bool {
	if from < 0 {
		return len(n.blocked) > 0
	}
	return n.blocked[[2]int{from, to}]
}

func (n *Network) accept(to int, ln net.Listener) {
	defer n.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		from := n.opener(c)
		if from == openerGone {
			// The dialer closed its end before the proxy accepted (a member that
			// gave up on the peer): nothing to carry, and nobody to tell.
			c.Close()
			continue
		}
		n.mu.Lock()
		if from < 0 {
			n.unknown++
		}
		if n.closed || n.blockedLocked(from, to) {
			n.cuts++
			n.mu.Unlock()
			c.Close()
			continue
		}
		n.mu.Unlock()
		back, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", n.e.Members[to].ListenPort))
		if err != nil {
			c.Close() // the member is down: the dialer sees a closed connection
			continue
		}
		l := &link{from: from, to: to, down: c, back: back}
		n.mu.Lock()
		if n.closed || n.blockedLocked(from, to) {
			n.mu.Unlock()
			c.Close()
			back.Close()
			continue
		}
		n.links[l] = struct{}{}
		n.mu.Unlock()
		n.wg.Add(2)
		go n.pipe(l, c, back)
		go n.pipe(l, back, c)
	}
}

func (n *Network) pipe(l *link, dst, src net.Conn) {
	defer n.wg.Done()
	io.Copy(dst, src)
	dst.Close()
	src.Close()
	n.mu.Lock()
	delete(n.links, l)
	n.mu.Unlock()
}

// openerGone is opener's answer for a connection whose other end no process holds
// any more: the socket is gone, or orphaned (closed by its owner, inode 0 in
// /proc/net/tcp).
const openerGone = -2

// opener finds the member whose process owns the other end of c (a loopback
// connection): the socket with c's remote port as its local port, by inode, among
// the members' open files. -1 when a live socket is held by none of them;
// openerGone when its owner closed it already.
func (n *Network) opener(c net.Conn) int {
	ra, ok1 := c.RemoteAddr().(*net.TCPAddr)
	la, ok2 := c.LocalAddr().(*net.TCPAddr)
	if !ok1 || !ok2 {
		return -1
	}
	inode := socketInode(ra.Port, la.Port)
	if inode == "" || inode == "0" {
		return openerGone
	}
	n.mu.Lock()
	pids := append([]int(nil), n.pids...)
	n.mu.Unlock()
	want := "socket:[" + inode + "]"
	for i, pid := range pids {
		if pid == 0 {
			continue
		}
		dir := fmt.Sprintf("/proc/%d/fd", pid)
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if l, err := os.Readlink(dir + "/" + fd.Name()); err == nil && l == want {
				return i
			}
		}
	}
	if again := socketInode(ra.Port, la.Port); again != inode {
		return openerGone // closed while the files were searched
	}
	return -1
}

// socketInode is the inode of the TCP socket whose local port is local and remote
// port remote, from /proc/net/tcp and tcp6.
func socketInode(local, remote int) string {
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) < 10 || hexPort(fs[1]) != local || hexPort(fs[2]) != remote {
				continue
			}
			fh.Close()
			return fs[9]
		}
		fh.Close()
	}
	return ""
}

func hexPort(addr string) int {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return -1
	}
	p, err := strconv.ParseInt(addr[i+1:], 16, 32)
	if err != nil {
		return -1
	}
	return int(p)
}
