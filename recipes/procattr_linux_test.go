package recipes_test

import "syscall"

// killWithParent makes the kernel kill the JVM if the test binary dies first.
func killWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
