package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"time"
)

// benchFloor is the machine's floor for one durable write of one session: a write
// cannot be acknowledged sooner than one fsync of the log plus one round trip to the
// client.
type benchFloor struct {
	FsyncP50 time.Duration `json:"fsync_p50_ns"`
	FsyncP99 time.Duration `json:"fsync_p99_ns"`
	RTTP50   time.Duration `json:"rtt_p50_ns"`
	RTTP99   time.Duration `json:"rtt_p99_ns"`
}

// measureFloor times 200 appends of 128 bytes each followed by fsync in a file in
// dir (removed after), and 2,000 round trips of 16 bytes over a loopback TCP
// connection.
func measureFloor(dir string) (benchFloor, error) {
	var f benchFloor
	file, err := os.CreateTemp(dir, ".zkraft-bench-fsync-")
	if err != nil {
		return f, fmt.Errorf("floor: %w", err)
	}
	defer os.Remove(file.Name())
	defer file.Close()
	rec := make([]byte, 128)
	var syncs []time.Duration
	for range 200 {
		t := time.Now()
		if _, err := file.Write(rec); err != nil {
			return f, fmt.Errorf("floor: write: %w", err)
		}
		if err := file.Sync(); err != nil {
			return f, fmt.Errorf("floor: fsync: %w", err)
		}
		syncs = append(syncs, time.Since(t))
	}
	f.FsyncP50, f.FsyncP99 = quantiles(syncs)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return f, fmt.Errorf("floor: %w", err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c) // echo until the client closes
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return f, fmt.Errorf("floor: %w", err)
	}
	defer c.Close()
	msg, back := make([]byte, 16), make([]byte, 16)
	var rtts []time.Duration
	for range 2000 {
		t := time.Now()
		if _, err := c.Write(msg); err != nil {
			return f, fmt.Errorf("floor: loopback write: %w", err)
		}
		if _, err := io.ReadFull(c, back); err != nil {
			return f, fmt.Errorf("floor: loopback read: %w", err)
		}
		rtts = append(rtts, time.Since(t))
	}
	f.RTTP50, f.RTTP99 = quantiles(rtts)
	return f, nil
}

func quantiles(d []time.Duration) (p50, p99 time.Duration) {
	slices.Sort(d)
	return d[len(d)/2], d[len(d)*99/100]
}
