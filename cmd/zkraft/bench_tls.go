package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/spf13/cobra"
)

// benchTLS are bench's flags for a secure client port: the server's CA, and a
// client certificate when the server wants one (ssl.clientAuth=need, ZooKeeper's
// default).
type benchTLS struct {
	ca, cert, key string
}

func (b *benchTLS) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&b.ca, "tls-ca", "", "connect over TLS, trusting the CA certificates in this PEM file")
	cmd.Flags().StringVar(&b.cert, "tls-cert", "", "client certificate (PEM) to present over TLS")
	cmd.Flags().StringVar(&b.key, "tls-key", "", "its private key (PEM)")
}

// dialer is go-zookeeper's dialer for TLS, nil without --tls-ca.
func (b *benchTLS) dialer() (zk.Dialer, error) {
	if b.ca == "" {
		if b.cert != "" || b.key != "" {
			return nil, fmt.Errorf("--tls-cert and --tls-key need --tls-ca")
		}
		return nil, nil
	}
	pem, err := os.ReadFile(b.ca)
	if err != nil {
		return nil, fmt.Errorf("--tls-ca: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--tls-ca: no certificate in %s", b.ca)
	}
	cfg := &tls.Config{RootCAs: roots}
	if b.cert != "" || b.key != "" {
		pair, err := tls.LoadX509KeyPair(b.cert, b.key)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	dial := func(network, address string, timeout time.Duration) (net.Conn, error) {
		c := cfg.Clone()
		if host, _, err := net.SplitHostPort(address); err == nil {
			c.ServerName = host // the server's certificate must name the host dialled
		}
		return tls.DialWithDialer(&net.Dialer{Timeout: timeout}, network, address, c)
	}
	return dial, nil
}

// benchConnect opens a session and waits until the server has established it.
func benchConnect(servers []string, dial zk.Dialer) (*zk.Conn, error) {
	withDialer := func(*zk.Conn) {} // go-zookeeper's own dialer
	if dial != nil {
		withDialer = zk.WithDialer(dial)
	}
	c, events, err := zk.Connect(servers, 10*time.Second, zk.WithLogInfo(false), zk.WithLogger(quietZKLogger{}), withDialer)
	if err != nil {
		return nil, err
	}
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				return c, nil
			}
			if ev.State == zk.StateAuthFailed {
				c.Close()
				return nil, fmt.Errorf("connect %v: %v", servers, ev.State)
			}
		case <-timeout:
			c.Close()
			return nil, fmt.Errorf("connect %v: no session within 30s", servers)
		}
	}
}

// quietZKLogger drops go-zookeeper's log lines (reconnects during a benchmark would
// interleave with its output).
type quietZKLogger struct{}

func (quietZKLogger) Printf(string, ...any) {}
