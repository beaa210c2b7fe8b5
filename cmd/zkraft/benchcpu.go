package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuMeter reads the CPU time (user + system) of this process and of the local
// server processes named with --cpu-of, so that a run reports what each side spent
// per operation: on a machine the load shares with the servers, throughput is
// bounded by the sum of the two.
type cpuMeter struct{ pids []int }

// cpuTimes is one reading: the bench's own CPU time, the servers' total, and the
// part of it the servers spent in the kernel (system time: syscalls, the network
// stack, fsync), which tells what a leaner server process could still save.
type cpuTimes struct{ self, servers, serversSys time.Duration }

// clockTick is the unit of /proc/PID/stat's utime and stime (USER_HZ, 100 on every
// Linux architecture Go supports).
const clockTick = 10 * time.Millisecond

// parsePids reads --cpu-of's comma-separated process ids.
func parsePids(s string) ([]int, error) {
	var pids []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		pid, err := strconv.Atoi(f)
		if err != nil || pid <= 0 {
			return nil, fmt.Errorf("--cpu-of %q: want comma-separated process ids", s)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// read takes a reading; a server process that cannot be read is an error (it
// exited, or this is not Linux).
func (m cpuMeter) read() (cpuTimes, error) {
	var t cpuTimes
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return t, fmt.Errorf("getrusage: %w", err)
	}
	t.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	for _, pid := range m.pids {
		d, sys, err := procCPU(pid)
		if err != nil {
			return t, err
		}
		t.servers += d
		t.serversSys += sys
	}
	return t, nil
}

// procCPU is process pid's CPU time so far (user + system), all its threads, and
// the system part, from /proc/PID/stat.
func procCPU(pid int) (total, sys time.Duration, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("--cpu-of %d: %w", pid, err)
	}
	// The command name, in parentheses, may hold spaces: the fields count from the
	// last ')'. utime and stime are fields 14 and 15, the 12th and 13th after it.
	i := bytes.LastIndexByte(b, ')')
	var f []string
	if i >= 0 {
		f = strings.Fields(string(b[i+1:]))
	}
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("--cpu-of %d: unexpected /proc/%d/stat", pid, pid)
	}
	var ticks [2]int64 // utime, stime
	for i, s := range f[11:13] {
		if ticks[i], err = strconv.ParseInt(s, 10, 64); err != nil {
			return 0, 0, fmt.Errorf("--cpu-of %d: unexpected /proc/%d/stat: %w", pid, pid, err)
		}
	}
	return time.Duration(ticks[0]+ticks[1]) * clockTick, time.Duration(ticks[1]) * clockTick, nil
}

// cpuSpan measures the CPU spent between start and stop of a run's timed phase.
type cpuSpan struct {
	m     cpuMeter
	start cpuTimes
	err   error
}

func (m cpuMeter) begin() *cpuSpan {
	s := &cpuSpan{m: m}
	s.start, s.err = m.read()
	return s
}

// end fills the result's CPU figures (none if a reading failed: the servers' are
// left out when none were named).
func (s *cpuSpan) end(r *benchResult) error {
	if s.err != nil {
		return s.err
	}
	now, err := s.m.read()
	if err != nil {
		return err
	}
	r.CPU = now.self - s.start.self
	if len(s.m.pids) > 0 {
		r.ServerCPU = now.servers - s.start.servers
		r.ServerSysCPU = now.serversSys - s.start.serversSys
	}
	return nil
}

// perOp is a CPU time per operation of the run, for reading.
func perOp(d time.Duration, ops int) time.Duration {
	if ops == 0 {
		return 0
	}
	return (d / time.Duration(ops)).Round(100 * time.Nanosecond)
}
