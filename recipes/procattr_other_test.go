//go:build !linux

package recipes_test

import "syscall"

func killWithParent() *syscall.SysProcAttr { return nil }
