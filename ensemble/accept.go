package ensemble

import (
	"errors"
	"log/slog"
	"net"
	"syscall"
	"time"
)

// Accept loops (the client port's and the peer port's) must not die quietly: a member
// that stops accepting and still looks healthy is worse than one that stops.
const (
	acceptRetryMin = 5 * time.Millisecond
	acceptRetryMax = time.Second
)

// serveAccept accepts on ln and hands each connection to handle, until done closes
// (it returns nil) or ln fails for good (it returns the error). Temporary errors (out
// of file descriptors, out of buffer memory, a connection aborted before it was
// accepted) are retried after a pause of 5 ms doubling to 1 s, as net/http's
// Server.Serve does, and logged at most once per quietInterval.
func serveAccept(ln net.Listener, done <-chan struct{}, quiet *quietLog, log *slog.Logger, port string, handle func(net.Conn)) error {
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err == nil {
			delay = 0
			handle(c)
			continue
		}
		select {
		case <-done:
			return nil
		default:
		}
		if !temporaryAcceptErr(err) {
			return err
		}
		delay = min(max(2*delay, acceptRetryMin), acceptRetryMax)
		if ok, n := quiet.allow("accept on the "+port, time.Now()); ok {
			msg := "accept failed on the " + port + "; retrying"
			if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				msg += " (out of file descriptors: raise the limit, ulimit -n, or lower maxClientCnxns)"
			}
			log.Warn(msg, "err", err, "retry_in", delay, "repeats", n)
		}
		select {
		case <-done:
			return nil
		case <-time.After(delay):
		}
	}
}

// temporaryAcceptErr tells an Accept error that may pass from a broken listener.
func temporaryAcceptErr(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, e := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM,
		syscall.ECONNABORTED, syscall.ECONNRESET, syscall.EINTR, syscall.EAGAIN} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
