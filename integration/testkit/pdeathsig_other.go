//go:build !linux

package testkit

import "syscall"

// killWithParent: only Linux has Pdeathsig; elsewhere Stop must run.
func killWithParent() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
